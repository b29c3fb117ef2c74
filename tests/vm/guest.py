#!/usr/bin/python3
"""guest.py: PID 1 of the test VM (tests/vm/vm.py), started by tests/vm/init on the overlay root.

Mounts the kernel's filesystems, brings up loopback (the VM's only network), then runs the job
named by httplat.job= on the kernel command line: a command whose output goes to ttyS1 followed
by an exit marker, or a login shell on the console. Reaps orphans meanwhile; powers off after.
"""
import ctypes
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
import time
import traceback
import tty

EXIT_MARK = "HTTPLAT_VM_EXIT "  # vm.py waits for this line
MOUNTS = [  # type, target, options (after /proc); the root has every mount point but /dev/*
    ("sysfs", "/sys", ""),
    ("devtmpfs", "/dev", "mode=0755"),
    ("devpts", "/dev/pts", "mode=0620,ptmxmode=0666"),
    ("tmpfs", "/dev/shm", "mode=1777"),
    ("tmpfs", "/run", "mode=0755"),
    ("tmpfs", "/tmp", "mode=1777"),  # the host's /tmp is not the VM's
    ("tmpfs", "/var/tmp", "mode=1777"),
    ("tracefs", "/sys/kernel/tracing", ""),
    ("debugfs", "/sys/kernel/debug", ""),
    ("bpf", "/sys/fs/bpf", "mode=0700"),
    ("cgroup2", "/sys/fs/cgroup", ""),
]
LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC
libc = ctypes.CDLL(None, use_errno=True)


def say(msg):
    """To the kernel console (the console log in `vm.py run`, the terminal in `vm.py shell`)."""
    os.write(2, f"httplat-vm: {msg}\n".encode())


def mount_all(keep):
    """Mounts MOUNTS, but no tmpfs over the directory tree that holds keep (the repo)."""
    for fstype, target, opts in MOUNTS:
        if fstype == "tmpfs" and (keep + "/").startswith(target + "/"):
            continue
        os.makedirs(target, exist_ok=True)
        if libc.mount(fstype.encode(), target.encode(), fstype.encode(), 0,
                      opts.encode() if opts else None) != 0:
            say(f"mount {fstype} on {target}: {os.strerror(ctypes.get_errno())}")


def cmdline_arg(name):
    with open("/proc/cmdline") as f:
        for arg in f.read().split():
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def job_env(job):
    env = {"HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb", "USER": "root", "LOGNAME": "root"}
    env.update(job.get("env", {}))
    return env


def wait_for(child):
    """Reaps every child (orphans are ours) until child exits; returns its exit code."""
    while True:
        pid, status = os.wait()
        if pid == child.pid:
            return os.waitstatus_to_exitcode(status)


def end_others():
    """SIGTERM, then SIGKILL, to whatever the job left running; reaps them."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(-1, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    time.sleep(0.05)
            except ChildProcessError:
                return


def run_job(job):
    out = os.open("/dev/ttyS1", os.O_RDWR | os.O_NOCTTY)
    tty.setraw(out)  # no \n -> \r\n, no echo
    try:
        child = subprocess.Popen(job["argv"], cwd=job["cwd"], env=job_env(job),
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 start_new_session=True)
    except OSError as e:
        os.write(out, f"httplat-vm: cannot run {job['argv'][0]}: {e.strerror}\n".encode())
        rc = 127
    else:
        rc = wait_for(child)
        end_others()
    os.write(out, f"\n{EXIT_MARK}{rc}\n".encode())
    termios.tcdrain(out)


def run_shell(job):
    con = os.open("/dev/ttyS0", os.O_RDWR | os.O_NOCTTY)
    fcntl.ioctl(con, termios.TIOCSWINSZ, struct.pack("HHHH", job["rows"], job["cols"], 0, 0))
    with open("/proc/sys/kernel/osrelease") as f:
        release = f.read().strip()
    os.write(con, (f"\nhttplat test VM: Linux {release}, {os.cpu_count()} CPUs; the host's root "
                   "read-only under a tmpfs overlay (writes are lost at power-off), loopback only.\n"
                   "  ./httplat trace -v      (-vv: libbpf and the verifier log)\n"
                   "  bpftool prog; ls /sys/kernel/tracing/events/sock\n"
                   "exit (or Ctrl-A X) powers the VM off.\n\n").encode())
    child = subprocess.Popen(["/bin/bash", "--login"], cwd=job["cwd"], env=job_env(job),
                             stdin=con, stdout=con, stderr=con, start_new_session=True,
                             preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    wait_for(child)
    end_others()


def main():
    try:
        libc.mount(b"proc", b"/proc", b"proc", 0, None)  # for the command line
        with open(cmdline_arg("httplat.job")) as f:
            job = json.load(f)
        mount_all(job["cwd"])
        libc.sethostname(b"httplat-vm", 10)
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        if job["mode"] == "shell":
            run_shell(job)
        else:
            run_job(job)
    except Exception:
        say("stage-2 init failed:\n" + traceback.format_exc())
    os.sync()
    libc.reboot(LINUX_REBOOT_CMD_POWER_OFF)
    say(f"power-off failed: {os.strerror(ctypes.get_errno())}")
    with open("/proc/sysrq-trigger", "w") as f:
        f.write("o")
    time.sleep(10)


if __name__ == "__main__":
    sys.exit(main())
