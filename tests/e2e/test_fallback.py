#!/usr/bin/python3
"""test_fallback.py: the tracing suites again on the fallback data path (raw_syscalls:sys_exit,
as kernels 5.17-6.2 get it), forced with --hooks syscall on this kernel. Each suite's
PASS/FAIL lines are relayed, tagged [hooks=syscall]."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = ("test_trace.py", "test_pipeline.py", "test_split.py", "test_tls.py")


def main():
    env = dict(os.environ, HTTPLAT_TEST_HOOKS="syscall")
    rc = 0
    for suite in SUITES:
        p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, suite)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           errors="replace")
        sys.stdout.write(p.stdout)
        if p.returncode and "FAIL " not in p.stdout:
            print(f"FAIL {suite} [hooks=syscall]: exit status {p.returncode}")
        rc |= p.returncode
    return 1 if rc else 0


if __name__ == "__main__":
    sys.exit(main())
