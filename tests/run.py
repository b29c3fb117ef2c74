#!/usr/bin/python3
"""run.py: runs the unit test binaries and the end-to-end tests, counts PASS/FAIL lines.

Every test program prints one line per test: "PASS name" or "FAIL name"; a program that
cannot run its tests here prints "SKIP name: why" (listed before the total, not counted as
passed). A program that dies or prints nothing counts as one failure.
Env: TESTS=substring runs only matching programs; E2E=0 skips end-to-end tests.
"""
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = int(os.environ.get("TEST_TIMEOUT", "900"))


def run(cmd, name):
    start = time.monotonic()
    print(f"== {name}", flush=True)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=TIMEOUT, text=True, errors="replace")
        out, rc = p.stdout, p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += f"\nFAIL {name}: timed out after {TIMEOUT}s\n"
        rc = -1
    passed = failed = 0
    skipped = []
    for line in out.splitlines():
        print("   " + line)
        if line.startswith("PASS "):
            passed += 1
        elif line.startswith("FAIL "):
            failed += 1
        elif line.startswith("SKIP "):
            skipped.append(line[5:])
    if rc != 0 and failed == 0:
        print(f"FAIL {name}: exit status {rc} with no failing test named")
        failed += 1
    if passed + failed == 0 and not skipped:
        print(f"FAIL {name}: ran no test")
        failed += 1
    print(f"   ({time.monotonic() - start:.1f}s)", flush=True)
    return passed, failed, skipped


def main():
    only = os.environ.get("TESTS", "")
    progs = [(b, [b]) for b in sys.argv[1:]]
    if os.environ.get("E2E", "1") != "0":
        for t in sorted(glob.glob(os.path.join(HERE, "e2e", "test_*.py"))):
            progs.append((t, ["/usr/bin/python3", t]))
    total_p = total_f = 0
    total_s = []
    for name, cmd in progs:
        if only and only not in name:
            continue
        p, f, s = run(cmd, os.path.relpath(name))
        total_p += p
        total_f += f
        total_s += s
    for s in total_s:
        print(f"SKIPPED {s}")
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main())
