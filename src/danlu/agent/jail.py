"""The sandbox's first process: confine itself, then become the model's Python.

Run as a script (`python -I jail.py PLAN REPORT_FD CODE`), standard library only, never
imported by danlu. Inside the namespaces `unshare` made (mount, pid, and net unless allowed):
1. build a new root on a small tmpfs: the working folder read-write, the Python install
   and /usr, /lib* read-only and nosuid, /dev/null, /dev/zero, /dev/urandom, a fresh /proc;
2. move it over / and chroot into it, so the old root has no path left to it;
3. drop privileges: to the uid the plan names (the machine's root runs confined code
   as `nobody`), or else every capability; no_new_privs either way;
4. set the rlimits, start `python -I -c CODE` in the working folder and wait for it.
Without namespaces (allowed only with network allowed) steps 1–2 are skipped.
How it ended goes to the report pipe (REPORT_FD) as JSON, `{"returncode": N}` or
`{"setup_failed": "why"}`, so the code's own output cannot be mistaken for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
# statvfs flag → the mount flag a read-only remount must keep (the kernel refuses to
# clear flags locked by a more privileged namespace)
KEPT_FLAGS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME}
KEPT_FLAGS |= {2048: MS_NODIRATIME, 4096: MS_RELATIME}
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
DEVICES = ("null", "zero", "urandom", "random")

libc = ctypes.CDLL(None, use_errno=True)


def check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    check(
        libc.mount(
            source and source.encode(),
            target.encode(),
            fstype and fstype.encode(),
            ctypes.c_ulong(flags),
            data.encode() or None,
        ),
        f"mount {target}",
    )


READONLY = MS_RDONLY | MS_NOSUID | MS_NODEV
DEVICE = MS_NOSUID | MS_NOEXEC
WRITABLE = MS_NOSUID | MS_NODEV


def bind(source: str, target: str, flags: int) -> None:
    """Bind `source` at `target` with `flags` (READONLY, DEVICE, WRITABLE)."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(source, target, None, MS_BIND | MS_REC)
    kept = sum(flag for bit, flag in KEPT_FLAGS.items() if os.statvfs(target).f_flag & bit)
    mount(None, target, None, MS_BIND | MS_REMOUNT | flags | kept)


def build_root(root: str, plan: dict) -> None:
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("sandbox", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    for path in plan["readonly"]:
        inside = root + path
        if os.path.islink(path) and os.path.dirname(path) == "/":
            os.symlink(os.readlink(path), inside)  # /lib -> usr/lib on merged-/usr systems
        elif os.path.exists(path) and not os.path.lexists(inside):
            bind(path, inside, READONLY)
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            bind(f"/dev/{name}", f"{root}/dev/{name}", DEVICE)
    os.makedirs(root + "/proc")
    with contextlib.suppress(OSError):  # shows this pid namespace; some containers refuse
        mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    bind(plan["work"], root + plan["work"], WRITABLE)
    os.chdir(root)
    mount(root, "/", None, MS_MOVE)
    os.chroot(".")
    mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def drop_privileges(uid: int | None, last_capability: int) -> None:
    for cap in range(last_capability + 1):  # fails quietly where CAP_SETPCAP is missing
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    if uid is not None:  # setting every uid clears the capabilities
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    else:  # a user namespace's root, or a plain user: keep the uid, lose every capability
        _clear_capabilities()
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _clear_capabilities() -> None:
    class Header(ctypes.Structure):
        _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))

    class Data(ctypes.Structure):
        _fields_ = (("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32))
        _fields_ += (("inheritable", ctypes.c_uint32),)

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two Data words
    check(libc.capset(ctypes.byref(header), (Data * 2)()), "capset")


def set_limits(limits: dict[str, int]) -> None:
    """`limits`: value by resource name, "RLIMIT_CPU" and the like."""
    for name, value in limits.items():
        slack = 1 if name == "RLIMIT_CPU" else 0  # SIGXCPU first, SIGKILL a second later
        resource.setrlimit(getattr(resource, name), (value, value + slack))


def run(plan: dict, code: str) -> int:
    """Confine, then run the code as a child and wait for it: the exit code, or -signal.

    The code is not pid 1 of the namespace (pid 1 ignores most signals, SIGXCPU
    included), and when this process ends the kernel kills whatever the code left."""
    with open("/proc/sys/kernel/cap_last_cap") as file:
        last_capability = int(file.read())
    if plan["confine"]:
        build_root(plan["root"], plan)
    drop_privileges(plan["uid"], last_capability)
    set_limits(plan["limits"])
    os.chdir(plan["work"])
    child = os.fork()
    if child == 0:
        try:
            os.execve(plan["python"], [plan["python"], "-I", "-c", code], plan["env"])
        except OSError as exc:
            print(f"danlu sandbox: cannot start {plan['python']}: {exc}", file=sys.stderr)
        finally:
            os._exit(127)
    while True:  # as pid 1, orphans of the code are reaped here too
        pid, status = os.waitpid(-1, 0)
        if pid == child:
            return os.waitstatus_to_exitcode(status)


def main(plan: dict, report_fd: int, code: str) -> None:
    os.set_inheritable(report_fd, False)
    with os.fdopen(report_fd, "w") as report:
        try:
            outcome = {"returncode": run(plan, code)}
        except OSError as exc:
            outcome = {"setup_failed": str(exc)}
        report.write(json.dumps(outcome))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
