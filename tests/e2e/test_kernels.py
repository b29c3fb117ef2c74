#!/usr/bin/python3
"""test_kernels.py: the tracing e2e subset on other kernels, each booted in a VM (tests/vm/).

Every kernel in HTTPLAT_VM_KERNELS (default "stock": Debian 12's 6.1; `make test-kernels` adds
"backports", bookworm-backports' 6.12) is fetched and booted by tests/vm/vm.py, which runs
tests/vm/kernel_tests.py inside. Its PASS/FAIL lines come back prefixed with the kernel's
release (uname -r in the VM), so tests/run.py counts them; a summary names each kernel and the
hook path the tracer took there. When no VM can be made, one SKIP line says why.
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "vm"))
import vm  # noqa: E402

INNER = os.path.join(os.path.dirname(HERE), "vm", "kernel_tests.py")
VM_TIMEOUT = int(os.environ.get("HTTPLAT_VM_TIMEOUT", "900"))  # seconds per kernel


class Relay:
    """Prints the VM's lines: results prefixed with the release, the rest indented."""

    def __init__(self, release):
        self.release = release
        self.passed = self.failed = 0
        self.uname = None
        self.hooks = "not reported"

    def line(self, line):
        if line.startswith(("PASS ", "FAIL ")):
            self.passed += line.startswith("PASS ")
            self.failed += line.startswith("FAIL ")
            print(f"{line[:4]} [{self.release}] {line[5:]}", flush=True)
        elif line.startswith("KERNEL "):
            self.uname = line[7:].strip()
            print(f"  [{self.release}] uname -r: {self.uname}", flush=True)
        elif line.startswith("HOOKS "):
            self.hooks = line[6:].strip()
            print(f"  [{self.release}] hooks: {self.hooks}", flush=True)
        else:
            print(f"  [{self.release}] {line}", flush=True)

    def fail(self, what):
        self.failed += 1
        print(f"FAIL [{self.release}] {what}", flush=True)


def test_kernel(spec):
    """Boots one kernel and relays its results; returns (summary, failed) or None if skipped."""
    try:
        k = vm.prepare(spec)
    except vm.VMError as e:
        print(f"SKIP test_kernels[{spec}]: cannot get the kernel: {e}", flush=True)
        return None
    r = Relay(k["release"])
    print(f"  [{r.release}] {k['package']} {k['version']}, qemu -accel {vm.accel()}, "
          f"{vm.CPUS} vCPUs, {vm.MEM_MB} MiB", flush=True)
    t0 = time.monotonic()
    try:
        rc = vm.run(k, [vm.PY, INNER], timeout=VM_TIMEOUT, on_line=r.line)
        if rc != 0 and r.failed == 0:
            r.fail(f"kernel_tests.py exited with {rc} and named no failing test")
    except vm.VMError as e:
        first, _, rest = str(e).partition("\n")
        r.fail(f"vm: {first}")
        for ln in rest.splitlines():
            print(f"  [{r.release}] {ln}")
    if r.passed + r.failed == 0:
        r.fail("ran no test")
    if r.uname is not None and r.uname != r.release:
        r.fail(f"booted {r.uname}, not {r.release}")
    secs = time.monotonic() - t0
    return (f"{r.uname or r.release}: hooks: {r.hooks}; {r.passed} passed, {r.failed} failed "
            f"in {secs:.0f}s", r.failed)


def main():
    specs = os.environ.get("HTTPLAT_VM_KERNELS", "stock").split()
    if not specs:
        print("SKIP test_kernels: HTTPLAT_VM_KERNELS is empty")
        return 0
    missing = [p for p in (vm.QEMU, vm.BUSYBOX) if not os.access(p, os.X_OK)]
    if missing:
        print(f"SKIP test_kernels: no {' or '.join(missing)} (scripts/install-deps.sh installs "
              "qemu-system-x86 and busybox-static)")
        return 0
    results = [r for r in map(test_kernel, specs) if r]
    for summary, _ in results:
        print(f"kernel {summary}")
    return 1 if any(failed for _, failed in results) else 0


if __name__ == "__main__":
    sys.exit(main())
