"""Blocking work run off the event loop, so that --timeout and Ctrl-C still reach the run.

A check, a `git grep` or the patch engine on a hostile answer can take seconds or minutes; on the
event loop they would freeze every timer, every other worker and the interrupt. `off_loop` runs
the work in the default executor and, when the awaiting task is cancelled (--timeout, Ctrl-C,
SIGTERM), calls `on_cancel` (which must make the work end soon: kill its process, set a flag) and
waits for the thread before re-raising, so that nothing still runs once the caller cleans up.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Callable, TypeVar

T = TypeVar("T")


async def off_loop(work: Callable[[], T], on_cancel: Callable[[], None] = lambda: None) -> T:
    """The result of `work()`, computed in a thread; see the module docstring for cancellation."""
    future = asyncio.get_running_loop().run_in_executor(None, work)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        on_cancel()
        with contextlib.suppress(Exception):
            await future
        raise
