"""What the history says about a commit's files: which change together, and which changed lately.

Read once per base commit from `git log --name-only` (trees only, so a partial clone fetches
nothing) over its last DEPTH non-merge commits, and cached by the commit id, so a warm run on the
same base reads nothing. Commits touching more than MAX_FILES files (renames, formatting sweeps)
say little about which files belong together and are left out of the pairs.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffcrew.tools.ctxcache import ContextCache, _read, _write_atomic
from diffcrew.tools.git import NO_LAZY_FETCH

DEPTH = 1000
MAX_FILES = 12
KEEP = 8


@dataclass(frozen=True)
class History:
    """The base's recent commits, newest first, each as the tuple of paths it changed."""

    commits: tuple[tuple[str, ...], ...]

    def partners(self, path: str) -> tuple[int, dict[str, int]]:
        """How many commits changed `path`, and how often each other file changed with it."""
        together: dict[str, int] = {}
        seen = 0
        for files in self.commits:
            if path in files:
                seen += 1
                if len(files) <= MAX_FILES:
                    for other in files:
                        if other != path:
                            together[other] = together.get(other, 0) + 1
        return seen, together

    def last_changed(self) -> dict[str, int]:
        """path -> how many commits ago it last changed (0: in the base commit itself)."""
        found: dict[str, int] = {}
        for age, files in enumerate(self.commits):
            for path in files:
                found.setdefault(path, age)
        return found


def load_history(root: Path, base: str, store: ContextCache) -> History:
    """The base commit's history, from the cache or read now (an unreadable history is empty)."""
    target = getattr(store, "root", None)
    is_id = len(base) == 40 and all(c in "0123456789abcdef" for c in base)  # a ref name moves: not cached
    path = target / "history" / f"{base}-{DEPTH}" if isinstance(target, Path) and is_id else None
    cached: Any = _read(path) if path is not None else None
    if isinstance(cached, tuple):
        return History(cached)
    proc = subprocess.run(["git", "-C", str(root), "log", "--no-merges", "--name-only", "--no-renames",
                           "--format=%x00", f"-{DEPTH}", base, "--"], capture_output=True,
                          env={**os.environ, **NO_LAZY_FETCH, "GIT_OPTIONAL_LOCKS": "0"})
    text = proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else ""
    commits = tuple(tuple(line for line in block.splitlines() if line) for block in text.split("\0")[1:])
    if path is not None:
        _write_atomic(path, commits)
        _prune(path.parent)
    return History(commits)


def _prune(directory: Path) -> None:
    """Keep the histories of the KEEP most recently used bases (another run may prune too: harmless)."""
    try:
        found = sorted(directory.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in found[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
