#!/usr/bin/python3
"""vm.py: boots a Debian kernel under qemu on this machine's own root filesystem.

The kernel is Debian's package (apt-get download + dpkg-deb -x into build/vm/, never installed).
The root is this machine's / shared read-only over virtio-9p under a tmpfs overlay, so the VM runs
the very httplat binary, Python packages, uvicorn and PostgreSQL the host has, and writes go to
memory. A tiny initramfs (busybox-static, the 9p/virtio/overlay modules of the same kernel, and
tests/vm/init) mounts that root and hands over to tests/vm/guest.py, which mounts /proc & co,
brings up loopback (the only network) and runs one command or a shell. qemu uses KVM where
the CPU has hardware virtualization, its own emulation (TCG) otherwise: see kvm_usable().

  vm.py prepare [-k KERNEL]            download and unpack the kernel (cached); print its release
  vm.py run [-k KERNEL] -- CMD [ARG..] boot, run CMD in the VM (cwd: the repo), relay its output
                                       (the VM's ttyS1), exit with its status
  vm.py shell [-k KERNEL]              boot to a root shell on the serial console (Ctrl-A X quits)

KERNEL: stock (the kernel Debian 12's linux-image-amd64 points at; the default), backports (the
same from bookworm-backports, through a private apt list in build/vm/apt/; the host's apt sources
are not touched), or a package name such as linux-image-6.1.0-57-amd64.
"""
import argparse
import ctypes
import json
import lzma
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "tests", "vm")
CACHE = os.path.join(ROOT, "build", "vm")
QEMU = "/usr/bin/qemu-system-x86_64"
BUSYBOX = "/bin/busybox"
PY = "/usr/bin/python3"
CPUS, MEM_MB = 2, 2048
# what the initramfs needs to reach the root: virtio-pci, 9p over virtio, overlayfs, and a
# virtio RNG so early getrandom() callers (Python) never wait for entropy
MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay", "virtio_rng"]
EXIT_MARK = "HTTPLAT_VM_EXIT "
BACKPORTS_LIST = ("deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                  "http://deb.debian.org/debian bookworm-backports main\n")


class VMError(Exception):
    pass


def log(msg):
    print(f"vm: {msg}", file=sys.stderr, flush=True)


# ---- the kernel package ----

def _apt_opts(spec):
    """apt options for a kernel spec: the host's lists, or the private backports list."""
    if spec != "backports":
        return []
    d = os.path.join(CACHE, "apt")
    return ["-o", f"Dir::Etc::SourceList={d}/sources.list", "-o", "Dir::Etc::SourceParts=-",
            "-o", f"Dir::State::Lists={d}/lists", "-o", f"Dir::Cache={d}/cache",
            "-o", "APT::Get::List-Cleanup=0"]


def _backports_update():
    """apt-get update of the private backports list, at most once a day."""
    d = os.path.join(CACHE, "apt")
    stamp = os.path.join(d, "updated")
    if os.path.exists(stamp) and time.time() - os.path.getmtime(stamp) < 86400:
        return
    os.makedirs(os.path.join(d, "lists", "partial"), exist_ok=True)
    os.makedirs(os.path.join(d, "cache", "archives", "partial"), exist_ok=True)
    with open(os.path.join(d, "sources.list"), "w") as f:
        f.write(BACKPORTS_LIST)
    r = subprocess.run(["apt-get", "-qq"] + _apt_opts("backports") + ["update"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise VMError(f"apt-get update (bookworm-backports) failed: {r.stderr.strip()[-300:]}")
    open(stamp, "w").close()


def resolve(spec):
    """Kernel spec -> Debian package name; remembers the answer for offline reruns."""
    if spec.startswith("linux-image-"):
        return spec
    if spec not in ("stock", "backports"):
        raise VMError(f"unknown kernel {spec!r}: stock, backports or linux-image-...")
    memo = os.path.join(CACHE, f"{spec}.pkg")
    try:
        if spec == "backports":
            _backports_update()
        out = subprocess.run(["apt-cache"] + _apt_opts(spec) + ["depends", "linux-image-amd64"],
                             capture_output=True, text=True, check=True).stdout
        m = re.search(r"Depends: (linux-image-\S+)", out)
        if not m:
            raise VMError(f"linux-image-amd64 ({spec}) names no kernel package: {out!r}")
        pkg = m.group(1)
    except (VMError, subprocess.CalledProcessError, OSError) as e:
        if os.path.exists(memo):  # offline: the kernel we used last time
            with open(memo) as f:
                pkg = f.read().strip()
            log(f"{e}; using the cached {pkg}")
            return pkg
        raise VMError(f"cannot resolve the {spec} kernel: {e}")
    os.makedirs(CACHE, exist_ok=True)
    with open(memo, "w") as f:
        f.write(pkg + "\n")
    return pkg


def _download(spec, pkg):
    """The package's .deb in build/vm/debs/ (downloaded once)."""
    debs = os.path.join(CACHE, "debs")
    os.makedirs(debs, exist_ok=True)
    have = [f for f in os.listdir(debs) if f.startswith(pkg + "_") and f.endswith(".deb")]
    if have:
        return os.path.join(debs, sorted(have)[-1])
    log(f"downloading {pkg}")
    r = subprocess.run(["apt-get", "-qq"] + _apt_opts(spec) + ["download", pkg], cwd=debs,
                       capture_output=True, text=True)
    have = [f for f in os.listdir(debs) if f.startswith(pkg + "_") and f.endswith(".deb")]
    if r.returncode != 0 or not have:
        raise VMError(f"apt-get download {pkg} failed: {r.stderr.strip()[-300:]}")
    return os.path.join(debs, have[0])


def modinfo(path):
    """The .modinfo key=value pairs of a kernel module (ELF64, little-endian)."""
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        data = lzma.decompress(data)
    elif path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise VMError(f"{path}: not a little-endian ELF64 module")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    secs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = secs[shstrndx][4]
    for name_off, _, _, _, off, size, *_ in secs:
        end = data.index(b"\0", names + name_off)
        if data[names + name_off:end] == b".modinfo":
            info = {}
            for kv in data[off:off + size].split(b"\0"):
                k, sep, v = kv.partition(b"=")
                if sep:
                    info.setdefault(k.decode(), v.decode(errors="replace"))
            return info, data
    return {}, data


def _modname(filename):
    return re.sub(r"\.ko(\.xz|\.zst|\.gz)?$", "", os.path.basename(filename)).replace("-", "_")


def _module_closure(moddir, wanted):
    """Modules (name, decompressed bytes) to insmod in order; built-in ones are skipped."""
    builtin = set()
    bpath = os.path.join(moddir, "modules.builtin")
    if os.path.exists(bpath):
        with open(bpath) as f:
            builtin = {_modname(line.strip()) for line in f if line.strip()}
    files = {}
    for d, _, fs in os.walk(os.path.join(moddir, "kernel")):
        for fn in fs:
            if re.search(r"\.ko(\.xz|\.zst)?$", fn):
                files[_modname(fn)] = os.path.join(d, fn)
    order, seen = [], set()

    def visit(name, chain):
        name = name.replace("-", "_")
        if name in seen or name in builtin:
            return
        if name not in files:
            raise VMError(f"module {name} (for {' <- '.join(chain)}) neither built in nor shipped")
        info, data = modinfo(files[name])
        seen.add(name)
        for dep in filter(None, info.get("depends", "").split(",")):
            visit(dep, chain + [dep])
        order.append((name, data))

    for w in wanted:
        visit(w, [w])
    return order


def _prune(spec, keep_pkg):
    """Removes the kernels (and .debs) that spec named before Debian moved it to keep_pkg."""
    for rel in os.listdir(CACHE):
        meta = os.path.join(CACHE, rel, "kernel.json")
        if not os.path.exists(meta):
            continue
        with open(meta) as f:
            k = json.load(f)
        if k["spec"] == spec and k["package"] != keep_pkg:
            log(f"removing {k['package']}, superseded by {keep_pkg}")
            shutil.rmtree(os.path.join(CACHE, rel), ignore_errors=True)
            debs = os.path.join(CACHE, "debs")
            for deb in os.listdir(debs):
                if deb.startswith(k["package"] + "_"):
                    os.unlink(os.path.join(debs, deb))


def prepare(spec):
    """Kernel spec -> build/vm/<release>/ with vmlinuz, config and the initramfs modules."""
    pkg = resolve(spec)
    for rel in os.listdir(CACHE) if os.path.isdir(CACHE) else []:
        meta = os.path.join(CACHE, rel, "kernel.json")
        if os.path.exists(meta):
            with open(meta) as f:
                k = json.load(f)
            if k["package"] == pkg:
                k["dir"] = os.path.join(CACHE, rel)  # the worktree may have moved
                return k
    deb = _download(spec, pkg)
    log(f"unpacking {os.path.basename(deb)}")
    tmp = tempfile.mkdtemp(prefix="unpack-", dir=CACHE)
    try:
        subprocess.run(["dpkg-deb", "-x", deb, tmp], check=True)
        vmlinuz = [f for f in os.listdir(os.path.join(tmp, "boot")) if f.startswith("vmlinuz-")]
        if len(vmlinuz) != 1:
            raise VMError(f"{deb}: want one boot/vmlinuz-*, found {vmlinuz}")
        release = vmlinuz[0][len("vmlinuz-"):]
        moddir = next((p for p in (os.path.join(tmp, "lib", "modules", release),
                                   os.path.join(tmp, "usr", "lib", "modules", release))
                       if os.path.isdir(p)), None)
        if moddir is None:
            raise VMError(f"{deb}: no modules for {release}")
        with open(os.path.join(tmp, "boot", f"config-{release}")) as f:
            config = f.read()
        if "CONFIG_DEBUG_INFO_BTF=y" not in config:
            log(f"warning: {release} is built without BTF; httplat cannot load there")
        mods = _module_closure(moddir, MODULES)
        out = os.path.join(CACHE, release)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(os.path.join(out, "modules"))
        shutil.copy(os.path.join(tmp, "boot", vmlinuz[0]), os.path.join(out, "vmlinuz"))
        with open(os.path.join(out, "config"), "w") as f:
            f.write(config)
        for name, data in mods:
            with open(os.path.join(out, "modules", name + ".ko"), "wb") as f:
                f.write(data)
        deb_version = os.path.basename(deb).split("_")[1]
        k = {"spec": spec, "package": pkg, "version": deb_version, "release": release,
             "modules": [n for n, _ in mods]}
        with open(os.path.join(out, "kernel.json"), "w") as f:
            json.dump(k, f, indent=1)
        _prune(spec, pkg)
        return dict(k, dir=out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- the initramfs (uncompressed newc cpio, written here: no cpio binary needed) ----

def _cpio_entry(ino, name, mode, data=b"", rdev=(0, 0)):
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join(f"{v:08x}" for v in (
        ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0))
    out = hdr.encode() + name_b
    out += b"\0" * (-len(out) % 4) + data
    return out + b"\0" * (-len(out) % 4)


def build_initramfs(k):
    """busybox, /init and the modules, as build/vm/<release>/initramfs.cpio (rebuilt each boot)."""
    files = [(d, 0o040755, b"", (0, 0)) for d in ("bin", "dev", "etc", "lib", "lib/modules",
                                                  "proc", "sys", "lower", "rw", "newroot")]
    files.append(("dev/console", 0o020600, b"", (5, 1)))  # init's first stdout
    for src, dst, mode in ((BUSYBOX, "bin/busybox", 0o100755),
                           (os.path.join(HERE, "init"), "init", 0o100755)):
        with open(src, "rb") as f:
            files.append((dst, mode, f.read(), (0, 0)))
    for name in k["modules"]:
        with open(os.path.join(k["dir"], "modules", name + ".ko"), "rb") as f:
            files.append((f"lib/modules/{name}.ko", 0o100644, f.read(), (0, 0)))
    files.append(("etc/modules", 0o100644, "".join(n + "\n" for n in k["modules"]).encode(),
                  (0, 0)))
    files.append(("TRAILER!!!", 0, b"", (0, 0)))
    path = os.path.join(k["dir"], "initramfs.cpio")
    with open(path, "wb") as f:
        for ino, (name, mode, data, rdev) in enumerate(files, 1):
            f.write(_cpio_entry(ino, name, mode, data, rdev))
    return path


# ---- booting ----

def kvm_usable():
    """/dev/kvm opens and the CPU has hardware virtualization (VT-x/AMD-V).

    A /dev/kvm without it (this machine kind's is kvm_pvm, nested paravirtual KVM) runs an
    unmodified kernel such as Debian's only by emulating its kernel mode: measured here, 6.1
    did not finish decompressing in 10 minutes; booted as an uncompressed vmlinux it took 14 s
    to reach its memory set-up, which it reaches in 0.1 s under qemu's own emulation.
    """
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError:
        return False
    with open("/proc/cpuinfo") as f:
        flags = next((line.split() for line in f if line.startswith("flags")), [])
    return "vmx" in flags or "svm" in flags


def accel():
    """kvm or tcg: HTTPLAT_VM_ACCEL=kvm|tcg forces one."""
    forced = os.environ.get("HTTPLAT_VM_ACCEL", "")
    if forced in ("kvm", "tcg"):
        return forced
    return "kvm" if kvm_usable() else "tcg"


def _qemu_cmd(k, job_path, mode, console_log):
    if not os.access(QEMU, os.X_OK):
        raise VMError(f"{QEMU} missing (scripts/install-deps.sh installs qemu-system-x86)")
    if not os.access(BUSYBOX, os.X_OK):
        raise VMError(f"{BUSYBOX} missing (scripts/install-deps.sh installs busybox-static)")
    kvm = accel() == "kvm"
    append = ["console=ttyS0", "panic=-1", "random.trust_cpu=on",
              f"httplat.guest={os.path.join(HERE, 'guest.py')}", f"httplat.job={job_path}",
              f"httplat.mode={mode}", "quiet"]
    cmd = [QEMU, "-machine", "pc", "-accel", "kvm" if kvm else "tcg,thread=multi,tb-size=512",
           "-cpu", "host" if kvm else "max", "-smp", str(CPUS), "-m", str(MEM_MB),
           "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-nic", "none",
           "-kernel", os.path.join(k["dir"], "vmlinuz"), "-initrd", build_initramfs(k),
           "-append", " ".join(append),
           "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,"
           "multidevs=remap",
           "-device", "virtio-rng-pci"]
    if mode == "run":
        cmd += ["-chardev", f"file,id=con,path={console_log}", "-serial", "chardev:con",
                "-chardev", "stdio,id=job,signal=off", "-serial", "chardev:job"]
    else:
        cmd += ["-serial", "mon:stdio"]
    return cmd


def _die_with_parent():
    """qemu's preexec: SIGKILL when the process that started it dies (a killed test run)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _write_job(job):
    d = os.path.join(CACHE, "jobs")
    os.makedirs(d, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="job-", suffix=".json", dir=d)
    with os.fdopen(fd, "w") as f:
        json.dump(job, f)
    return path


def _console_tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return "(no console log)"


def run(k, argv, timeout=600, on_line=None, env=None):
    """Boots kernel k and runs argv inside; each output line goes to on_line (default: print).

    Returns the command's exit status; raises VMError if the VM died or timed out first
    (the message ends with the tail of the kernel console).
    """
    console_log = os.path.join(k["dir"], "console.log")
    job = {"mode": "run", "argv": argv, "cwd": ROOT,
           "env": {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                   "HTTPLAT_VM_ACCEL": accel(), **(env or {})}}
    job_path = _write_job(job)
    on_line = on_line or (lambda line: print(line, flush=True))
    proc = subprocess.Popen(_qemu_cmd(k, job_path, "run", console_log), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_die_with_parent)
    errs = []
    err_reader = threading.Thread(target=lambda: errs.extend(proc.stderr), daemon=True)
    err_reader.start()
    timer = threading.Timer(timeout, lambda: proc.poll() is None and proc.kill())
    timer.start()
    status, blank = None, False
    try:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n").replace("\r", "")
            if line.startswith(EXIT_MARK):  # preceded by a newline of its own: drop it
                status = int(line[len(EXIT_MARK):])
                blank = False
                continue
            if blank:
                on_line("")
            blank = line == ""
            if not blank:
                on_line(line)
        proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.unlink(job_path)
    err_reader.join(5)
    if status is None:
        why = (f"timed out after {timeout}s" if proc.returncode == -signal.SIGKILL
               else f"qemu exited with {proc.returncode} before the command finished")
        qerr = b"".join(errs).decode(errors="replace").strip()
        raise VMError(f"{k['release']}: {why}" + (f"\nqemu: {qerr}" if qerr else "") +
                      f"\nconsole ({console_log}):\n{_console_tail(console_log)}")
    return status


def shell(k):
    size = shutil.get_terminal_size((80, 24))
    job = {"mode": "shell", "cwd": ROOT, "rows": size.lines, "cols": size.columns,
           "env": {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
                   "TERM": os.environ.get("TERM", "vt100"), "HTTPLAT_VM_ACCEL": accel()}}
    job_path = _write_job(job)
    print(f"vm: booting {k['release']} ({k['package']} {k['version']}); Ctrl-A X quits, "
          "Ctrl-A C is the qemu monitor", flush=True)
    try:
        return subprocess.call(_qemu_cmd(k, job_path, "shell", None), preexec_fn=_die_with_parent)
    finally:
        os.unlink(job_path)


def main():
    ap = argparse.ArgumentParser(usage="%(prog)s prepare|run|shell [-k KERNEL] [-- CMD [ARG...]]",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=("prepare", "run", "shell"))
    ap.add_argument("-k", "--kernel", default=os.environ.get("HTTPLAT_VM_KERNEL") or "stock",
                    help="stock (default), backports, or a linux-image-* package name")
    ap.add_argument("--timeout", type=int, default=600, help="seconds (run); default 600")
    args = sys.argv[1:]
    cut = args.index("--") if "--" in args else len(args)
    a = ap.parse_args(args[:cut])
    a.argv = args[cut + 1:]
    try:
        k = prepare(a.kernel)
        if a.command == "prepare":
            print(f"{k['release']} ({k['package']} {k['version']}) in {k['dir']}")
            return 0
        if a.command == "shell":
            return shell(k)
        if not a.argv:
            ap.error("run needs a command: vm.py run -- CMD [ARG...]")
        return run(k, a.argv, a.timeout)
    except VMError as e:
        log(str(e))
        return 125


if __name__ == "__main__":
    sys.exit(main())
