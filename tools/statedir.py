"""Where diffcrew keeps its state: `<git-common-dir>/diffcrew/` (transcripts, caches, worktree records).

A repository whose git directory this user cannot write (another user's checkout, a read-only
mount) would otherwise fail at the first write, deep in a run, with a traceback. `writable_state`
tries once, up front, and says what is wrong in one line (a UsageError, exit 2).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from diffcrew.tools.errors import UsageError


def writable_state(common_dir: Path) -> Path:
    """`<common_dir>/diffcrew`, created if needed, after proving a file can be created in it."""
    state = common_dir / "diffcrew"
    try:
        state.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".probe-", dir=state)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"cannot write to {state} ({reason}): diffcrew keeps its transcripts and caches there; "
                         "run it as a user who can write the repository's .git directory") from None
    return state
