"""What the history says about a commit's files: which change together, which changed lately, and
which past commits were asked for in words like the request's (their subjects).

Read once per base commit from `git log --name-only` (trees only, so a partial clone fetches
nothing) over its last DEPTH non-merge commits, and cached by the commit id, so a warm run on the
same base reads nothing. Commits touching more than MAX_FILES files (renames, formatting sweeps)
say little about which files belong together and are left out of the pairs.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffcrew.tools.ctxcache import ContextCache, read_record, write_atomic
from diffcrew.tools.git import NO_LAZY_FETCH
from diffcrew.tools.gitconst import local_git

DEPTH = 1000
MAX_FILES = 12
KEEP = 8


@dataclass(frozen=True)
class History:
    """The base's recent commits, newest first: each one's paths changed, and its subject."""

    commits: tuple[tuple[str, ...], ...]
    subjects: tuple[str, ...] = ()

    def like(self, request: str, limit: int = 5) -> list[tuple[float, int]]:
        """(similarity in 0..1, commit index) of the past commits whose subjects share the request's
        rarest words, most similar first: a version bump finds the last bumps, a fix in the parser
        the last fixes there."""
        query = set(subject_terms(request))
        if not query or not self.subjects:
            return []
        terms = [set(subject_terms(s)) for s in self.subjects]
        df: dict[str, int] = {}
        for found in terms:
            for term in found & query:
                df[term] = df.get(term, 0) + 1
        n = len(terms)
        idf = {t: math.log(1.0 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) for t in query}
        total = sum(idf.values()) or 1.0
        rated = [(sum(idf[t] for t in found & query) / total, i) for i, found in enumerate(terms) if found & query]
        return sorted(rated, key=lambda r: (-r[0], r[1]))[:limit]

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
    path = target / "history" / f"{base}-{DEPTH}-s" if isinstance(target, Path) and is_id else None
    cached: Any = read_record(path) if path is not None else None
    if isinstance(cached, tuple) and len(cached) == 2:
        return History(*cached)
    proc = local_git(root, "log", "--no-merges", "--name-only", "--no-renames", "--format=%x00%s", f"-{DEPTH}",
                     base, "--", env={**NO_LAZY_FETCH, "GIT_OPTIONAL_LOCKS": "0"})
    text = proc.stdout.decode("utf-8", "replace") if proc is not None and proc.returncode == 0 else ""
    blocks = [block.split("\n", 1) for block in text.split("\0")[1:]]
    commits = tuple(tuple(line for line in (b[1] if len(b) > 1 else "").splitlines() if line) for b in blocks)
    subjects = tuple(b[0] for b in blocks)
    if path is not None:
        write_atomic(path, (commits, subjects))
        _prune(path.parent)
    return History(commits, subjects)


class HistoryLoad:
    """load_history started now in a thread (its `git log` runs alongside the tree's search); read
    with result()."""

    def __init__(self, root: Path, base: str, store: ContextCache) -> None:
        self._found: list[History] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._load, args=(root, base, store), daemon=True)
        self._thread.start()

    def _load(self, root: Path, base: str, store: ContextCache) -> None:
        try:
            self._found.append(load_history(root, base, store))
        except BaseException as error:  # raised in the caller's thread, by result()
            self._error.append(error)

    def result(self) -> History:
        self._thread.join()
        if self._error:
            raise self._error[0]
        return self._found[0]


_VERSION = re.compile(r"\bv?\d+(?:\.\d+)+\S*")
_TERM = re.compile(r"[a-z][a-z0-9_]+|#version")
_STOP = frozenset("the and for with from into that this then are was not but use add fix fixes fixed when "
                  "also only more some".split())


def subject_terms(text: str) -> list[str]:
    """A subject's words, lower-cased; every version number is one word, '#version'."""
    return [t for t in _TERM.findall(_VERSION.sub(" #version ", text.lower())) if t not in _STOP]


def _prune(directory: Path) -> None:
    """Keep the histories of the KEEP most recently used bases (another run may prune too: harmless)."""
    try:
        found = sorted(directory.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in found[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
