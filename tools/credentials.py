"""The model credentials: read once at startup, then out of reach of every process diffcrew starts.

A check runs code the model wrote, as the same user. Three layers keep the key from it:
- the credential variables leave `os.environ` (and the C environment), so no child, not even a
  git filter or a tool that forgets to scrub its environment, inherits them;
- their values are wiped in place in the process's initial environment block, which is what
  `/proc/<pid>/environ` shows whatever `os.environ` says now;
- on Linux the process is made non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`), so another process of
  the same user can no longer open `/proc/<pid>/environ` or `/proc/<pid>/mem` (root can still).
The values stay in this module for the SDK client, the redactor and the key check.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import MutableMapping

NAMES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
_PR_SET_DUMPABLE = 4
_held: dict[str, str] = {}


def seal(environ: MutableMapping[str, str] = os.environ) -> None:
    """Take the credentials out of the environment (for this invocation) and lock the process."""
    global _held
    held: dict[str, str] = {}
    for name in NAMES:
        value = environ.get(name)
        if value is None:
            continue
        if value:
            held[name] = value
        _wipe_c_environment(name)
        del environ[name]
    _held = held  # replaced, not merged: an invocation without a key has none
    _no_dump()


def get(name: str) -> str | None:
    """A credential's value: the sealed one, else (before sealing, e.g. in a library use) the environment's."""
    return _held.get(name) or os.environ.get(name) or None


def held() -> dict[str, str]:
    """Every credential variable that is set, with its value."""
    return {name: value for name in NAMES if (value := get(name) or "")}


def _wipe_c_environment(name: str) -> None:
    """Overwrite `name`'s value in the C environment strings, the initial block included."""
    try:
        libc = ctypes.CDLL(None)
        entries = ctypes.POINTER(ctypes.c_void_p).in_dll(libc, "environ")
    except (OSError, ValueError, AttributeError):
        return
    prefix = name.encode() + b"="
    index = 0
    while entries[index]:
        address = entries[index]
        entry = ctypes.string_at(address)
        if entry.startswith(prefix):
            ctypes.memset(address + len(prefix), 0, len(entry) - len(prefix))
        index += 1


def _no_dump() -> None:
    """Linux: other processes of this user may no longer read this one's environ, memory or fds."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass
