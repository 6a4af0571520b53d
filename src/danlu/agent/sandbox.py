"""Run model-written Python in a child process that cannot do much harm.

`run_code(code, settings)`:
1. refuse unless namespaces can be made here, or the caller allowed the network;
2. make a fresh folder and copy the given files into it;
3. start `jail.py` (inside `unshare`'s namespaces when it can): it confines itself,
   sets the rlimits and becomes `python -I -c CODE`, in a session of its own;
4. read stdout and stderr up to `output_bytes` each, until the wall-clock limit, then
   kill the whole process group;
5. remove the folder, and return what happened as a `SandboxResult`.
What this does and does not guarantee is written down in docs/agent.md.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from danlu.agent.isolation import Isolation
from danlu.agent.output import CappedOutput, SandboxResult
from danlu.errors import DanluError, InvalidRequest

__all__ = ["SandboxFailed", "SandboxResult", "SandboxSettings", "SandboxUnavailable", "run_code"]

MAX_CODE_BYTES = 120_000  # one argv string, in UTF-8; Linux allows 128 KiB
JAIL = Path(__file__).with_name("jail.py")  # run as a script, never imported
NOBODY = 65534
GRACE_SECONDS = 2.0  # after the kill, how long the pipes may take to close
# read-only in the sandbox besides the Python install: the interpreter's libraries
SYSTEM_PATHS = ("/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailable(DanluError):
    """The code cannot be confined on this machine, and the caller did not allow it open."""

    status = 503
    code = "sandbox_unavailable"


class SandboxFailed(DanluError):
    """The sandbox could not be set up (a mount or a privilege drop was refused)."""

    status = 500
    code = "sandbox_failed"


@dataclass(frozen=True)
class SandboxSettings:
    """The limits one run of model-written code is held to."""

    # CPU seconds (RLIMIT_CPU): SIGXCPU at the limit, SIGKILL one second later
    cpu_seconds: int = 10
    # address space in bytes (RLIMIT_AS); an allocation past it raises MemoryError
    memory_bytes: int = 1 << 30
    # the largest file the code may write (RLIMIT_FSIZE); a write past it fails (EFBIG)
    file_bytes: int = 64 << 20
    # processes and threads of the sandbox's user (RLIMIT_NPROC); fork fails past it
    processes: int = 32
    # wall-clock seconds before the whole process group is killed
    wall_seconds: float = 30.0
    # bytes kept of stdout and of stderr, each; the rest is read and dropped
    output_bytes: int = 16 << 10
    # share the machine's network; also lets the code run where no namespace can be made
    allow_network: bool = False
    # files and folders copied into the fresh working folder, each under its own name
    files: tuple[Path, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "memory_bytes", "file_bytes", "processes", "output_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidRequest(f"sandbox {name} must be a positive integer, not {value!r}")
        if not self.wall_seconds > 0:
            raise InvalidRequest(f"sandbox wall_seconds must be positive, not {self.wall_seconds}")
        files = (self.files,) if isinstance(self.files, (str, Path)) else self.files
        object.__setattr__(self, "files", tuple(Path(f) for f in files))
        names = [f.name for f in self.files]
        if any(name in ("", ".", "..") for name in names):
            raise InvalidRequest(f"a sandbox file needs a name of its own: {names}")
        if len(set(names)) != len(names):
            raise InvalidRequest(f"two sandbox files have the same name: {names}")

    def limits(self) -> dict[str, int]:
        """The rlimits, by their names in the `resource` module."""
        return {
            "RLIMIT_CPU": self.cpu_seconds,
            "RLIMIT_AS": self.memory_bytes,
            "RLIMIT_FSIZE": self.file_bytes,
            "RLIMIT_NPROC": self.processes,
        }


def run_code(
    code: str, settings: SandboxSettings | None = None, isolation: Isolation | None = None
) -> SandboxResult:
    """Run `code` in the sandbox and return its output; see the module docstring."""
    settings = settings or SandboxSettings()
    _check_code(code)
    confined = _confinement(settings, isolation or Isolation())
    # root runs confined code as nobody (a real uid 0 ignores RLIMIT_NPROC); open code
    # runs as the caller, since nobody may not reach the interpreter outside the new root
    uid = NOBODY if os.geteuid() == 0 and confined is not None else None
    with _workspace(settings.files, uid) as (base, work):
        plan = _plan(settings, base, work, confined=confined is not None, uid=uid)
        argv = [sys.executable, "-I", str(JAIL), json.dumps(plan)]
        if confined is not None:
            argv = [*confined.command(settings.allow_network), *argv]
        return _run(argv, code, plan["env"], base, settings, confined=confined is not None)


def _check_code(code: str) -> None:
    """What an argv string can carry: UTF-8 without NUL, under MAX_CODE_BYTES."""
    try:
        size = len(code.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise InvalidRequest(f"the code is not valid Unicode text ({exc.reason})") from exc
    if size > MAX_CODE_BYTES:
        raise InvalidRequest(f"the code is {size:,} bytes; a run takes {MAX_CODE_BYTES:,}")
    if "\0" in code:
        raise InvalidRequest("the code contains a NUL character")


def _confinement(settings: SandboxSettings, isolation: Isolation) -> Isolation | None:
    if isolation.available:
        return isolation
    if settings.allow_network:
        return None
    raise SandboxUnavailable(
        f"cannot confine code on this machine: {isolation.problem}",
        hint="install util-linux and allow unprivileged user namespaces (sysctl "
        "kernel.unprivileged_userns_clone=1, or kernel.apparmor_restrict_unprivileged_userns=0 "
        "on Ubuntu); allow_network=True runs it anyway, able to reach the network and read "
        "every file you can",
    )


def _plan(
    settings: SandboxSettings, base: Path, work: Path, *, confined: bool, uid: int | None
) -> dict:
    """What jail.py is told: JSON, since it imports nothing of danlu."""
    readonly = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work)}
    env |= {"LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return {
        "confine": confined,
        "root": str(base / "root"),
        "work": str(work),
        "readonly": sorted(readonly | set(SYSTEM_PATHS)),
        "python": sys.executable,
        "env": env,
        "limits": settings.limits(),
        "uid": uid,
    }


@contextmanager
def _workspace(files: tuple[Path, ...], owner: int | None) -> Iterator[tuple[Path, Path]]:
    """A fresh folder holding `work/` (the copies) and `root/` (jail.py's mount point)."""
    base = Path(tempfile.mkdtemp(prefix="danlu-sandbox-"))
    try:
        work, root = base / "work", base / "root"
        work.mkdir()
        root.mkdir()
        for source in files:
            _copy_in(source, work / source.name)
        if owner is not None:  # root runs the code as nobody, who must own its folder
            for path in [work, *work.rglob("*")]:
                os.chown(path, owner, owner, follow_symlinks=False)
        yield base, work
    finally:
        _remove(base)


def _copy_in(source: Path, target: Path) -> None:
    try:
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)
    except OSError as exc:
        raise InvalidRequest(f"cannot copy {source} into the sandbox: {exc.strerror}") from exc


def _remove(base: Path) -> None:
    try:
        shutil.rmtree(base)
    except OSError:  # the code may have made folders it cannot list; open them and retry
        for folder, names, _ in os.walk(base):
            for name in names:
                if not os.path.islink(os.path.join(folder, name)):
                    os.chmod(os.path.join(folder, name), 0o700)
        shutil.rmtree(base, ignore_errors=True)


def _run(
    argv: list[str], code: str, env: dict, base: Path, settings: SandboxSettings, *, confined: bool
) -> SandboxResult:
    started = time.monotonic()
    stdout, stderr = CappedOutput(settings.output_bytes), CappedOutput(settings.output_bytes)
    report, report_end = os.pipe()  # jail.py's word on how the code ended
    try:
        child = subprocess.Popen(
            [*argv, str(report_end), code],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=base,
            pass_fds=(report_end,),
            start_new_session=True,  # its own process group, killed as one
        )
    except BaseException:
        os.close(report)
        raise
    finally:
        os.close(report_end)
    try:
        with child:
            timed_out = _drain(child, {child.stdout: stdout, child.stderr: stderr}, settings)
            _kill_group(child)  # whatever it left behind; the leader is not reaped yet
            returncode = child.wait()
        outcome = _outcome(report)
    finally:
        os.close(report)
    if "setup_failed" in outcome:
        raise SandboxFailed(
            f"the sandbox could not be set up: {outcome['setup_failed']}",
            hint="see docs/agent.md for what it needs",
        )
    returncode = outcome.get("returncode", returncode)  # unshare's status hides signals
    return SandboxResult.from_run(
        returncode, stdout, stderr, timed_out, time.monotonic() - started, confined
    )


def _outcome(report: int) -> dict:
    """jail.py's report; {} when it was killed before writing one."""
    try:
        return json.loads(os.read(report, 1 << 16) or b"{}")
    except ValueError:
        return {}


def _drain(child: subprocess.Popen, outputs: dict, settings: SandboxSettings) -> bool:
    """Read both pipes until they close; past the wall-clock limit kill the group.
    True when the limit was reached."""
    deadline, timed_out = time.monotonic() + settings.wall_seconds, False
    with selectors.DefaultSelector() as selector:
        for pipe, output in outputs.items():
            selector.register(pipe, selectors.EVENT_READ, output)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                if timed_out:
                    break  # something outside the group holds the pipes open
                timed_out, deadline = True, time.monotonic() + GRACE_SECONDS
                _kill_group(child)
                continue
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 1 << 16)
                if chunk:
                    key.data.add(chunk)
                else:
                    selector.unregister(key.fileobj)
    return timed_out


def _kill_group(child: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
