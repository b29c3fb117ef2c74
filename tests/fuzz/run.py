#!/usr/bin/python3
"""run.py: runs every libFuzzer target for a bounded time, one "PASS fuzz_x" / "FAIL fuzz_x" line each.

Usage: tests/fuzz/run.py [BUILD_DIR]   (default build/fuzz, made by `make fuzz-bins`)
Env:   FUZZ_SECONDS   time per target (default 3; `make fuzz` passes 60)
       FUZZ_TARGETS   comma-separated names (conn,decode...) to run only those

Each target starts from its committed seeds (tests/fuzz/corpus/<target>/, which include every
input that once crashed it) plus the inputs earlier runs found (BUILD_DIR/corpus/<target>/, kept
between runs, never committed). A crash, leak, sanitizer report, timeout or broken invariant is a
FAIL naming the input, saved in BUILD_DIR/crashes/<target>/ with the command that replays it.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run_target(binary, build, seconds):
    name = os.path.basename(binary)
    target = name[len("fuzz_"):]
    seeds = os.path.join(HERE, "corpus", target)
    work = os.path.join(build, "corpus", target)
    crashes = os.path.join(build, "crashes", target)
    os.makedirs(work, exist_ok=True)
    os.makedirs(crashes, exist_ok=True)
    cmd = [binary, f"-max_total_time={seconds}", "-timeout=10", "-rss_limit_mb=2048",
           "-max_len=8192", "-print_final_stats=1", f"-artifact_prefix={crashes}/"]
    dict_file = os.path.join(HERE, target + ".dict")
    if os.path.exists(dict_file):
        cmd.append(f"-dict={dict_file}")
    cmd += [work] + ([seeds] if os.path.isdir(seeds) else [])
    before = set(os.listdir(crashes))
    start = time.monotonic()
    # libFuzzer's own time limit ends the run; this one only catches a hung harness
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace", timeout=seconds + 120, cwd=build)
        out, rc = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout if isinstance(e.stdout, str) else (e.stdout or b"").decode(errors="replace")
        rc = -1
    took = time.monotonic() - start
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", out)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", out)
    corpus = len(os.listdir(work))
    summary = (f"{runs.group(1) if runs else '?'} runs in {took:.0f}s, "
               f"cov {cov[-1][0] if cov else '?'}, corpus {corpus}")
    new = sorted(set(os.listdir(crashes)) - before)
    if rc == 0 and not new:
        print(f"PASS fuzz_{target} ({summary})")
        return True
    # the report: what broke and where, not libFuzzer's chatter
    keep = [l for l in out.splitlines()
            if re.search(r"invariant broken|ERROR:|runtime error|SUMMARY|==\d+==|^\s+#\d+ .* in "
                         r"(?!fuzzer::|__sanitizer|__interceptor|std::|main |_start|__libc)", l)]
    for line in keep[:40]:
        print("  " + line)
    for n in new:
        path = os.path.join(crashes, n)
        print(f"  input: {path} (replay: {binary} {path})")
    print(f"FAIL fuzz_{target}: exit status {rc} ({summary})")
    return False


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "fuzz"))
    seconds = int(os.environ.get("FUZZ_SECONDS", "3"))
    only = [t for t in os.environ.get("FUZZ_TARGETS", "").split(",") if t]
    bins = sorted(b for b in glob.glob(os.path.join(build, "fuzz_*")) if os.access(b, os.X_OK))
    if only:
        bins = [b for b in bins if os.path.basename(b)[len("fuzz_"):] in only]
    if not bins:
        print(f"FAIL fuzz: no fuzz_* targets in {build} (make fuzz-bins)")
        return 1
    if not shutil.which("llvm-symbolizer"):
        os.environ.setdefault("ASAN_SYMBOLIZER_PATH", "/usr/bin/llvm-symbolizer-14")
    ok = True
    for b in bins:
        ok = run_target(b, build, seconds) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
