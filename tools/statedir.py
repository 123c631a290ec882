"""Where diffcrew keeps its state: `<git-common-dir>/diffcrew/` (transcripts, caches, worktree records).

The one owner of that layout: every other module asks these functions for its folder or file
instead of joining "diffcrew" to a git directory itself.

    <git-common-dir>/diffcrew/
        runs/<run-id>.jsonl      transcripts (`runs_dir`, `transcript_path`)
        cache/<kind>/...         the context cache and the check cache (`cache_dir`)
        worktrees/               records of the run's worktrees (`worktrees_dir`)
        sandboxes/<name>/        the run's worktrees themselves, where checks run (`sandboxes_dir`)
        tmp/                     throwaway files: a git index, a command's input or output
                                 (`scratch_dir`; made and pruned by `tools/scratch.py`)
        redaction.key            the repository's redaction key (`redaction_key_path`)

A repository whose git directory this user cannot write (another user's checkout, a read-only
mount) would otherwise fail at the first write, deep in a run, with a traceback. `writable_state`
tries once, up front, and says what is wrong in one line (a UsageError, exit 2).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from diffcrew.tools.errors import UsageError

STATE_FOLDER = "diffcrew"
SANDBOXES = "sandboxes"
SANDBOX_PREFIX = "diffcrew-wt-"  # every sandbox's folder name starts so (prune and the verdict rely on it)


def state_dir(common_dir: os.PathLike[str] | str) -> Path:
    """`<common_dir>/diffcrew`: the folder that holds everything diffcrew keeps for a repository."""
    return Path(common_dir) / STATE_FOLDER


def runs_dir(common_dir: os.PathLike[str] | str) -> Path:
    """The folder of the run transcripts."""
    return state_dir(common_dir) / "runs"


def transcript_path(common_dir: os.PathLike[str] | str, run_id: str) -> Path:
    """The transcript file of run `run_id`."""
    return runs_dir(common_dir) / f"{run_id}.jsonl"


def cache_dir(common_dir: os.PathLike[str] | str, *kind: str) -> Path:
    """A cache folder: `cache_dir(d, "checks")`, `cache_dir(d, FORMAT)`."""
    return state_dir(common_dir).joinpath("cache", *kind)


def worktrees_dir(common_dir: os.PathLike[str] | str) -> Path:
    """The folder of the records of diffcrew's worktrees."""
    return state_dir(common_dir) / "worktrees"


def sandboxes_dir(common_dir: os.PathLike[str] | str) -> Path:
    """The folder of the run's worktrees (sandboxes): inside the git directory, so nothing is written
    outside the repository and `git status` never shows them."""
    return state_dir(common_dir) / SANDBOXES


def scratch_dir(common_dir: os.PathLike[str] | str) -> Path:
    """The folder of throwaway files, instead of the system temp directory (see tools/scratch.py)."""
    return state_dir(common_dir) / "tmp"


def redaction_key_path(common_dir: os.PathLike[str] | str) -> Path:
    """The file holding the repository's redaction key."""
    return state_dir(common_dir) / "redaction.key"


def writable_state(common_dir: Path) -> Path:
    """`<common_dir>/diffcrew`, created if needed, after proving a file can be created in it."""
    state = state_dir(common_dir)
    try:
        state.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".probe-", dir=state)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as exc:
        raise unwritable(state, exc) from None
    return state


def unwritable(folder: Path, exc: OSError) -> UsageError:
    """The one-line error for a state folder that cannot be written."""
    reason = exc.strerror or type(exc).__name__
    return UsageError(f"cannot write to {folder} ({reason}): diffcrew keeps its transcripts and caches there; "
                      "run it as a user who can write the repository's .git directory")
