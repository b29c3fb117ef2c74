#!/usr/bin/python3
"""kernel_tests.py: the tracing e2e subset, run inside the test VM by tests/e2e/test_kernels.py.

Prints "KERNEL <release>" and "HOOKS <what the tracer said>" for the host, then PASS/FAIL lines:
BTF is there, the BPF object loads (else the verifier's verdict, the instruction and the source
line it rejected, and the e2e tests are not run), the hook path suits the kernel, then the
test_trace.py, test_run.py and test_tls.py tests below. Also usable by hand: `tests/vm/vm.py run --
tests/vm/kernel_tests.py`.
"""
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HTTPLAT = os.path.join(ROOT, "httplat")
PY = "/usr/bin/python3"
E2E = os.path.join(ROOT, "tests", "e2e")
# both uvicorn stacks (each runs the full mix: keep-alive, pipelining, split heads, uploads,
# streaming, client gone, garbage), a worker config of each kind, a connection older than the
# tracer, a server started after it, a killed app, the text output; then rows into PostgreSQL;
# then one HTTPS mix
SUBSET = [
    ("test_trace.py", ["asyncio_h11", "uvloop_httptools", "workers_3", "gunicorn_uvicorn_worker",
                       "preexisting_keepalive_connection", "server_started_after_httplat",
                       "app_dies_before_responding", "text_output_and_summary"]),
    ("test_run.py", ["test_rows_match_requests", "test_outage_loses_nothing"]),
    # HTTPS served by uvicorn: the libssl uprobes and the TLS binding on this kernel
    ("test_tls.py", ["asyncio_h11"]),
]
SOCK_TP = "/sys/kernel/tracing/events/sock/sock_recv_length"  # Linux 6.3+


def result(name, ok, why=""):
    print(f"PASS {name}" if ok else f"FAIL {name}: {why}", flush=True)
    return ok


def verifier_summary(log):
    """The lines of a libbpf -vv log that say what failed, and where."""
    lines = log.splitlines()
    out = [ln for ln in lines if re.match(r"libbpf: prog '.*': (BPF program load failed|failed)", ln)]
    # the verdict: the last lines of the first failing program's log, up to "processed N insns"
    try:
        end = next(i for i, ln in enumerate(lines) if ln.startswith("processed ")
                   and "insns" in ln)
    except StopIteration:
        return out + lines[-20:]
    src = next((lines[i] for i in range(end, 0, -1) if lines[i].startswith("; ")), None)
    verdict = lines[max(0, end - 4):end + 1]
    return out + (["last source line: " + src] if src else []) + verdict


def check_load():
    """Loads the BPF object (trace -v for a second); returns (loaded, stderr)."""
    p = subprocess.run([HTTPLAT, "trace", "-v", "--duration", "1"], capture_output=True,
                       text=True, timeout=300)
    if p.returncode == 0 and "tracing" in p.stderr:
        return result("bpf_load", True), p.stderr
    first = next((ln for ln in p.stderr.splitlines() if ln.startswith("httplat:")),
                 f"exit {p.returncode}")
    result("bpf_load", False, first)
    vv = subprocess.run([HTTPLAT, "trace", "-vv", "--duration", "1"], capture_output=True,
                        text=True, timeout=300)
    for ln in verifier_summary(vv.stderr):
        print("  | " + ln)
    print("  (the whole log: tests/vm/vm.py run -- ./httplat trace -vv --duration 1)")
    return False, p.stderr


def check_hooks(stderr):
    """The hook path the tracer reported (-v), against what this kernel offers."""
    line = next((ln for ln in stderr.splitlines() if re.search(r"\bhooks?:", ln)), None)
    has_tp = os.path.isdir(SOCK_TP)
    print(f"INFO sock:sock_recv_length tracepoint: {'present' if has_tp else 'absent'}")
    if line is None:
        print("HOOKS (not reported: this httplat prints no 'hooks:' line with -v)")
        return
    hooks = re.split(r"\bhooks?:\s*", line, maxsplit=1)[1]
    print(f"HOOKS {hooks}")
    fallback = "fallback" in hooks
    result("hook_path", fallback != has_tp,
           f"'{hooks}' on a kernel where sock_recv_length is {'present' if has_tp else 'absent'}")


def run_e2e(script, names):
    t0 = time.monotonic()
    p = subprocess.Popen([PY, os.path.join(E2E, script)] + names, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, errors="replace")
    seen = 0
    for line in p.stdout:
        print(line.rstrip("\n"), flush=True)
        seen += line.startswith(("PASS ", "FAIL "))
    rc = p.wait()
    if seen < len(names):
        result(script, False, f"exit {rc} after {seen} of {len(names)} tests")
    print(f"INFO {script}: {time.monotonic() - t0:.0f}s")


def main():
    print(f"KERNEL {os.uname().release}", flush=True)
    if os.environ.get("HTTPLAT_VM_ACCEL") == "tcg":
        # emulated: everything ~5-10x slower than on the host (scheduling gaps too)
        os.environ.setdefault("HTTPLAT_TEST_SLOWDOWN", "4")
        print(f"INFO emulated CPU (tcg): wall-clock bounds and scheduling allowances x{os.environ['HTTPLAT_TEST_SLOWDOWN']}")
    result("btf", os.path.exists("/sys/kernel/btf/vmlinux"), "no /sys/kernel/btf/vmlinux")
    loaded, stderr = check_load()
    if not loaded:
        print("SKIP e2e subset: the BPF object did not load")
        return 1
    check_hooks(stderr)
    for script, names in SUBSET:
        run_e2e(script, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
