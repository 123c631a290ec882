"""The SDK's import, started early in a daemon thread and awaited where Ctrl-C can still cancel the run.

Importing `anthropic` takes about a second, several on a loaded machine. `diffcrew run` starts it at
once (`start`, from the console script), so that it overlaps with git and the context; the run then
awaits `ready()` before it makes its client. Awaiting matters for Ctrl-C: inside the event loop
asyncio turns the first Ctrl-C into a cancellation of the run's task, which lands only where the task
awaits. A plain `import anthropic` while the thread is importing it holds the event loop on the
import lock until the thread has finished (3.7 s measured on a loaded 2-core machine), and the
interruption with it. `ready()` polls instead, so the cancellation lands at once; the thread is a
daemon and nothing joins it, so the process exits with the import still under way.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
import threading

MODULE = "anthropic"
POLL = 0.01  # seconds between looks at the import; the delay Ctrl-C may see while it runs

_done = threading.Event()
_thread: threading.Thread | None = None


def start() -> None:
    """Start importing the SDK in a daemon thread (once; not when it is imported already)."""
    global _thread
    if _thread is not None or MODULE in sys.modules:
        return
    _thread = threading.Thread(target=_import, name="sdk-import", daemon=True)
    _thread.start()


def _import() -> None:
    try:  # a failure is left for the client's own import to raise, in the run, as an error
        with contextlib.suppress(Exception):
            importlib.import_module(MODULE)
    finally:
        _done.set()


async def ready() -> None:
    """Return once the import `start` began has ended (at once when none was started); cancellable
    at every moment."""
    while _thread is not None and not _done.is_set():
        await asyncio.sleep(POLL)
