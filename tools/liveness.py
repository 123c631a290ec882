"""Whether the process that made something (a sandbox's record, a scratch entry) still runs.

A pid alone is not enough: after a kill -9 the pid may be reused by an unrelated process, so the
owner is known by its pid and its start time (clock ticks since boot, from /proc). Where there is
no /proc, `kill(pid, 0)` is trusted.
"""

from __future__ import annotations

import os
from pathlib import Path


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc), or None where there is no /proc."""
    state = _proc_stat(pid)
    return None if state is None else state[1]


def process_alive(pid: int, start: int | None) -> bool:
    """Whether process `pid`, started at `start` (None: not known), still runs on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, belongs to another user
    state = _proc_stat(pid)
    if state is None:
        return True  # no /proc: trust kill(0)
    if state[0] in ("Z", "X"):
        return False
    # A different start time means the PID was reused by an unrelated process.
    return start is None or start == state[1]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks) from /proc, or None where there is no /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[19])
