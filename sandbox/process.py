"""Running one check command: a shell in the workspace, no stdin, a scrubbed environment, a timeout.

The command gets its own session (process group), so a timeout or an interrupted run kills the
command and everything it started, not just the shell. What leaves the group (`setsid`, a double
fork) is found by a tag in its environment, `<pid>.<start time>-<random>` of the diffcrew process,
and killed when the check ends (kill_tagged); after a kill -9, the next run's prune_stale kills what
carries the dead run's prefix. Output (stdout and stderr interleaved) goes to a temporary file
(in the state folder: tools/scratch.py) rather than a pipe, so a chatty command can never block on
a full pipe and a grandchild that keeps the pipe open can never hang us after the kill.

The environment is an allowlist (sandbox.checkenv): the model key and the user's other credentials
must not reach a test suite that may phone home, nor a pre-commit hook downloaded from the internet,
nor the user's repository through an inherited GIT_DIR (diffcrew may itself be run from a git hook).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Mapping

from diffcrew.sandbox.checkenv import scrubbed_env
from diffcrew.tools.liveness import start_time
from diffcrew.tools.scratch import scratch_file

OUTPUT_CAP = 2_000_000  # bytes kept from the end of a command's output; enough for any verdict
KILL_GRACE_S = 2.0
TAG = "DIFFCREW_CHECK"  # in every check's environment: finds what escaped its process group


@dataclass(frozen=True)
class Outcome:
    """How one command ended: status is pass | fail | timeout | error (could not run at all)."""

    status: str
    exit_code: int | None
    output: str
    duration_s: float


_running: set[int] = set()  # process groups of the checks running now, in this process
_stopping = threading.Event()


def stop_all() -> None:
    """The run is being interrupted: kill every running check's process group, start no new one."""
    _stopping.set()
    for pgid in list(_running):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run_command(command: str, cwd: Path, timeout: float, common_dir: Path, env: Mapping[str, str] | None = None,
                on_start: Callable[[int | None], None] | None = None) -> Outcome:
    """Run `command` through the shell in `cwd`; kill its whole process group at the timeout. The
    output is captured in the state folder of the repository whose git common dir is `common_dir`."""
    started = time.monotonic()
    if _stopping.is_set():
        return Outcome("error", None, "not started: the run was interrupted", 0.0)
    with scratch_file(common_dir) as sink:
        tag = f"{run_tag(os.getpid())}-{secrets.token_hex(8)}"
        try:
            proc = subprocess.Popen(command, shell=True, cwd=cwd, stdin=subprocess.DEVNULL, stdout=sink,
                                    stderr=subprocess.STDOUT, env={**scrubbed_env(env), TAG: tag},
                                    start_new_session=True)
        except OSError as exc:
            return Outcome("error", None, f"could not start the check: {exc}", time.monotonic() - started)
        _running.add(proc.pid)
        if on_start:
            on_start(proc.pid)
        try:
            status, code = _wait(proc, timeout)
        finally:
            # Also on KeyboardInterrupt: never leave a check running behind us.
            _kill_group(proc)
            kill_tagged(tag)
            _running.discard(proc.pid)
            if on_start:
                on_start(None)
        duration = time.monotonic() - started
        output = _read_tail(sink)
    if status == "timeout":
        output += f"\n[diffcrew: killed after the {timeout:g}s timeout]"
    elif code in (126, 127):
        status = "error"  # the shell could not find or execute the command: the check, not the change
    return Outcome(status, code, output, duration)


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[str, int | None]:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", None
    return ("pass" if code == 0 else "fail"), code


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """TERM the group, give the shell a moment to clean up, then KILL whatever is left in the group.

    We wait on the shell, not on the group: an orphaned grandchild can linger as a zombie where
    init does not reap, and the group would look alive until the grace period ran out.
    """
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=KILL_GRACE_S)
        except subprocess.TimeoutExpired:
            pass


def kill_tagged(tag: str, rounds: int = 20, prefix: bool = False) -> int:
    """SIGKILL every process whose environment carries TAG=tag (TAG=tag... with `prefix`): what a check
    left running outside its process group (`setsid`, a double fork), which killpg cannot reach.
    Returns how many were killed.

    Repeated until none is left, since a dying daemon's children are found in the next round. Only
    processes this user may signal are seen (/proc/PID/environ is readable by its owner); without
    /proc there is nothing to scan.
    """
    needle = f"\0{TAG}={tag}".encode() + (b"" if prefix else b"\0")
    killed = 0
    for _ in range(rounds):
        found = [pid for pid in _pids() if needle in _environ(pid)]
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        if not found:
            break
        time.sleep(0.01)
    return killed


def run_tag(pid: int, start: int | None = None) -> str:
    """The prefix of the tags of process `pid`'s checks: its pid and start time (PID reuse)."""
    return f"{pid}.{start if start is not None else start_time(pid)}"


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()]
    except OSError:
        return []


def _environ(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return b"\0" + handle.read()
    except OSError:
        return b""


def _read_tail(sink: IO[bytes]) -> str:
    size = sink.seek(0, os.SEEK_END)
    sink.seek(max(0, size - OUTPUT_CAP))
    text = sink.read().decode("utf-8", "replace")
    return (f"[diffcrew: {size - OUTPUT_CAP} earlier bytes dropped]\n" + text) if size > OUTPUT_CAP else text
