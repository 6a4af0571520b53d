"""The code interpreter's sandbox against the escapes issue 24 lists, one test each.

Each escape is tried inside the sandbox; where the same code would succeed outside it
(a readable file, a listening socket), the test also runs it open, as a control that the
attempt itself works. Where this machine cannot make namespaces, each test checks the
refusal instead and is skipped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from danlu.agent.isolation import Isolation
from danlu.agent.sandbox import (
    SandboxResult,
    SandboxSettings,
    SandboxUnavailable,
    run_code,
)
from danlu.errors import InvalidRequest

TIGHT = SandboxSettings(
    cpu_seconds=5,
    memory_bytes=512 << 20,
    file_bytes=1 << 20,
    processes=16,
    wall_seconds=10,
    output_bytes=4096,
)
NO_NAMESPACES = Isolation(unshare="/nonexistent/unshare")


@pytest.fixture(scope="module")
def isolation() -> Isolation:
    return Isolation()  # probed once for the module


def sandboxed(isolation: Isolation, code: str, **settings) -> SandboxResult:
    """Run `code` confined, or check the refusal and skip where nothing can be confined."""
    limits = replace(TIGHT, **settings)
    if not isolation.available:
        with pytest.raises(SandboxUnavailable, match="allow_network=True"):
            run_code(code, limits, isolation)
        pytest.skip(f"no namespaces here ({isolation.problem}); the refusal was checked")
    result = run_code(code, limits, isolation)
    assert result.confined
    return result


def run_open(code: str, **settings) -> SandboxResult:
    """The same code with no namespaces: the control that an escape attempt works."""
    return run_code(code, replace(TIGHT, allow_network=True, **settings), NO_NAMESPACES)


def test_a_computation_prints_its_answer(isolation):
    code = "import os\nopen(os.devnull, 'w').write('x')\nprint(sum(i * i for i in range(1000)))"
    result = sandboxed(isolation, code)
    assert result.stdout == "332833500\n", result.observation()
    assert result.ok and result.exit_code == 0 and result.signal is None
    assert result.observation().startswith("exit code 0")


def test_reading_a_file_outside_the_folder_fails(isolation, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the launch codes")
    code = f"""
try:
    print(open({str(secret)!r}).read())
except OSError as exc:
    print("refused:", type(exc).__name__)
"""
    assert "the launch codes" in run_open(code).stdout
    result = sandboxed(isolation, code)
    assert "the launch codes" not in result.stdout
    assert result.stdout.startswith("refused:")


def test_a_socket_gets_nowhere(isolation):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = f"""
import socket
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=2) as conn:
        conn.sendall(b"escaped")
    print("connected")
except OSError as exc:
    print("refused:", exc)
"""
        result = sandboxed(isolation, code)
        assert result.stdout.startswith("refused:"), result.observation()
        server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            server.accept()  # nothing got through, not even a handshake
        assert run_open(code).stdout == "connected\n"
        conn, _ = server.accept()
        with conn:
            assert conn.recv(16) == b"escaped"


def test_a_fork_bomb_is_contained(isolation):
    marker = f"danlu-fork-bomb-{os.getpid()}"
    code = f"""
import os  # {marker}
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
    started = time.monotonic()
    result = sandboxed(isolation, code, wall_seconds=2)
    assert result.timed_out and time.monotonic() - started < 6
    assert not _processes_with(marker), "processes of the bomb outlived the sandbox"
    assert subprocess.run(["true"], check=False).returncode == 0


def test_a_process_that_leaves_the_session_ends_with_the_run(isolation):
    marker = f"danlu-runaway-{os.getpid()}"
    code = f"""
import os, time  # {marker}
if os.fork() == 0:
    os.setsid()
    time.sleep(60)
print("left one behind")
"""
    result = sandboxed(isolation, code)
    assert result.stdout == "left one behind\n" and not result.timed_out
    assert not _processes_with(marker)


def test_a_memory_bomb_is_stopped_by_the_limit(isolation):
    code = "blob = bytearray(2 << 30)\nprint('allocated', len(blob))"
    result = sandboxed(isolation, code, memory_bytes=256 << 20)
    assert "allocated" not in result.stdout
    assert "MemoryError" in result.stderr and result.exit_code == 1


def test_an_endless_sleep_is_stopped_by_the_wall_clock(isolation):
    started = time.monotonic()
    result = sandboxed(isolation, "import time\nwhile True: time.sleep(1)", wall_seconds=1)
    assert result.timed_out and result.signal == signal.SIGKILL
    assert time.monotonic() - started < 4
    assert result.observation().startswith("stopped: still running at the time limit")


def test_a_busy_loop_is_stopped_by_the_cpu_limit(isolation):
    result = sandboxed(isolation, "while True: pass", cpu_seconds=1)
    assert result.signal == signal.SIGXCPU and not result.timed_out
    assert "CPU time limit" in result.observation()


def test_a_huge_file_is_stopped_by_the_file_size_limit(isolation):
    code = """
import os
try:
    with open("huge", "wb") as file:
        for _ in range(64):
            file.write(b"x" * (1 << 20))
except OSError as exc:
    print("refused:", exc.strerror)
print(os.path.getsize("huge"))
"""
    result = sandboxed(isolation, code, file_bytes=1 << 20)
    assert result.stdout.splitlines() == ["refused: File too large", str(1 << 20)]


def test_output_is_truncated(isolation):
    result = sandboxed(isolation, "print('x' * 100_000)", output_bytes=1000)
    assert result.stdout == "x" * 1000 and result.stdout_truncated
    assert not result.stderr_truncated
    assert result.observation().endswith("[… output truncated]")


def test_passed_in_files_are_readable(isolation, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    code = "import os\nprint(sorted(os.listdir()))\nprint(open('data.csv').read(), end='')"
    result = sandboxed(isolation, code, files=(data,))
    assert result.stdout == "['data.csv']\na,b\n1,2\n"


def test_the_working_folder_is_removed(isolation):
    code = "import os\nos.makedirs('locked/in')\nos.chmod('locked', 0)\nprint(os.getcwd())"
    result = sandboxed(isolation, code)
    folder = Path(result.stdout.strip())
    assert folder.name == "work" and not folder.parent.exists()


def test_without_namespaces_it_refuses_unless_the_network_is_allowed():
    with pytest.raises(SandboxUnavailable) as refused:
        run_code("print(1)", TIGHT, NO_NAMESPACES)
    assert "/nonexistent/unshare did not run" in refused.value.message
    assert "allow_network=True" in refused.value.hint
    assert refused.value.status == 503
    result = run_open("print(6 * 7)")
    assert result.stdout == "42\n" and not result.confined


def test_settings_are_checked():
    with pytest.raises(InvalidRequest, match="memory_bytes"):
        SandboxSettings(memory_bytes=0)
    with pytest.raises(InvalidRequest, match="same name"):
        SandboxSettings(files=(Path("a/x.txt"), Path("b/x.txt")))
    with pytest.raises(InvalidRequest, match="name of its own"):
        SandboxSettings(files=(Path(".."),))
    assert SandboxSettings(files="data.csv").files == (Path("data.csv"),)


def test_code_an_argument_cannot_carry_is_refused():
    for code, why in (("#" + "x" * 200_000, "bytes"), ("print(1)\0", "NUL")):
        with pytest.raises(InvalidRequest, match=why):
            run_code(code, TIGHT, NO_NAMESPACES)


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # ended while we looked
    return found
