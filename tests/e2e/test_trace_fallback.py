#!/usr/bin/python3
"""test_trace_fallback.py: every tracing test of test_trace.py again on the fallback data path
(raw_syscalls:sys_exit, as kernels 5.17-6.2 get it), forced with --hooks syscall."""
import os
import runpy
import sys

os.environ["HTTPLAT_TEST_HOOKS"] = "syscall"
here = os.path.dirname(os.path.abspath(__file__))
sys.argv[0] = os.path.join(here, "test_trace.py")
runpy.run_path(sys.argv[0], run_name="__main__")
