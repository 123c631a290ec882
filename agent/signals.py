"""SIGTERM and SIGHUP end a run the way Ctrl-C does (issue 13, item 20).

A terminal closing (SIGHUP), `kill`, `timeout` or a CI runner cancelling a job (SIGTERM) must leave
the repository as Ctrl-C does: workers cancelled, the sandbox worktree removed with every check
process killed, and the transcript closed with an end record. Inside `like_ctrl_c()` both signals
are forwarded to whatever handles SIGINT at that moment (asyncio's runner cancels its main task;
outside the event loop, KeyboardInterrupt), and the signal is remembered so that the exit code
says which one it was: 128 + the signal's number, as a shell reports it (130 for Ctrl-C).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType
from typing import Iterator

FORWARDED = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)
_received: list[int] = []


def _forward(signum: int, frame: FrameType | None) -> None:
    _received.append(signum)
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored (a background job): interrupt all the same
        raise KeyboardInterrupt


@contextlib.contextmanager
def like_ctrl_c() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP interrupt like Ctrl-C (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _forward) for signum in FORWARDED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def interrupt_code() -> int:
    """The exit code of the interruption: 128 + the last forwarded signal, else 130 (SIGINT)."""
    return 128 + (_received[-1] if _received else signal.SIGINT)


def interrupt_reason() -> str:
    """'interrupted', or 'terminated by SIGTERM' when a forwarded signal caused it."""
    return f"terminated by {signal.Signals(_received[-1]).name}" if _received else "interrupted"


@contextlib.contextmanager
def deferred() -> Iterator[list[int]]:
    """Within the block, SIGINT, SIGTERM and SIGHUP are only recorded (in the yielded list), so that
    a short sequence of writes is never cut in the middle; the caller acts on them afterwards."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {signum: signal.signal(signum, lambda n, _f: received.append(n))
                for signum in (signal.SIGINT, *FORWARDED)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
