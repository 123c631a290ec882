"""The SDK's import, started early in a daemon thread and awaited where Ctrl-C can still cancel the run.

Importing `anthropic` takes about a second, several on a loaded machine. The console script arms it
for `diffcrew run` (`arm`); the run starts it (`start`) once its input is checked, so that it overlaps
with git and the context and no usage error races it; the run then awaits `ready()` before it makes
its client. Awaiting matters for Ctrl-C: inside the event loop
asyncio turns the first Ctrl-C into a cancellation of the run's task, which lands only where the task
awaits. A plain `import anthropic` while the thread is importing it holds the event loop on the
import lock until the thread has finished (3.7 s measured on a loaded 2-core machine), and the
interruption with it. `ready()` polls instead, so the cancellation lands at once; the thread is a
daemon and nothing joins it. An interpreter that finalizes while that thread is inside an import
of C extensions may crash (SIGSEGV) or hang, so the console script ends such a process with
`os._exit` (`importing()` tells it to; agent/cli/group.py). While `ready()` waits, the first Ctrl-C
raises KeyboardInterrupt at once instead of asking asyncio to cancel the task: nothing has started
yet that a cancellation would have to wind down, and the wait cannot then outlive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
import sys
import threading
from typing import Iterator

MODULE = "anthropic"
POLL = 0.01  # seconds between looks at the import; the delay Ctrl-C may see while it runs

_done = threading.Event()
_thread: threading.Thread | None = None
_armed = False


def arm() -> None:
    """Let `start` begin the import (the console script, for `diffcrew run`)."""
    global _armed
    _armed = True


def start() -> None:
    """Start importing the SDK in a daemon thread, when armed (once; not when it is imported already)."""
    global _thread
    if not _armed or _thread is not None or MODULE in sys.modules:
        return
    _thread = threading.Thread(target=_import, name="sdk-import", daemon=True)
    _thread.start()


def _import() -> None:
    try:  # a failure is left for the client's own import to raise, in the run, as an error
        with contextlib.suppress(Exception):
            importlib.import_module(MODULE)
    finally:
        _done.set()


def importing() -> bool:
    """Whether the import `start` began is still under way (then the process must end by os._exit)."""
    return _thread is not None and _thread.is_alive()


async def ready() -> None:
    """Return once the import `start` began has ended (at once when none was started); the first
    Ctrl-C (or a signal forwarded as one) ends the wait with KeyboardInterrupt."""
    if _thread is None or _done.is_set():
        return
    with _interrupt_at_once():
        while not _done.is_set():
            await asyncio.sleep(POLL)


@contextlib.contextmanager
def _interrupt_at_once() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt within the block (main thread only), as asyncio's runner does
    on the second Ctrl-C; its handler is put back afterwards."""
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield  # not the main thread, or SIGINT ignored (a background job): left as it is
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
