"""Which tracked file a diff header means: a pure function of the header's names and the tracked files.

Models write paths as they saw them: `/app/util.py` from inside a container, `/home/u/proj/src/x.py`,
a bare `util.py`, `util.py.orig` beside `util.py` (diff -u OLD NEW), `proj.orig/src/x.py` from two
directory trees. A header resolves only to the one tracked file it can mean; when several fit, it
is refused naming them. An exact tracked path always wins. Used by `diffcrew apply`; a benchmark
can call `resolve_names` with a repository's `git ls-files` list.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from diffcrew.tools.paths import path_problem

MAX_SHOWN = 5  # candidates named in a refusal


@dataclass(frozen=True)
class Resolution:
    """The outcome for one section: the file (None when refused) and what to tell the user."""

    path: str | None
    how: str  # "exact" | "suffix" | "base name" | "other name" | "ambiguous" | "none"
    written: str | None  # the header's name as written, when it differs from `path`
    candidates: tuple[str, ...] = ()  # the tracked files that fit, when several do

    @property
    def guessed(self) -> bool:
        return self.path is not None and self.how != "exact"


def resolve_name(name: str, tracked: Collection[str]) -> Resolution:
    """The one tracked file `name` (a/ b/ ./ already stripped) can mean.

    Exact path; else the longest tracked path that is a suffix of it at a '/' (as `patch -pN`
    would strip it: `/app/util.py` -> `util.py`); else, for a relative name, the tracked files
    that end with it (`util.py` -> `src/util.py`), which must be exactly one.
    """
    if name in tracked:
        return Resolution(name, "exact", None)
    if path_problem(name.lstrip("/")):  # '..', '.git', control characters: refused as written, never resolved
        return Resolution(None, "none", name)
    parts = name.lstrip("/").split("/")
    stripped = next((s for s in ("/".join(parts[-k:]) for k in range(len(parts) - 1, 0, -1)) if s in tracked), None)
    if name.startswith("/"):
        return Resolution(stripped, "suffix" if stripped else "none", name)
    # A relative name may have extra leading folders (tests/util.py -> util.py) or miss some
    # (tests/util.py -> src/tests/util.py): when both readings find a file, it is not known which.
    ending = "/" + "/".join(parts)
    hits = tuple(sorted(t for t in tracked if t.endswith(ending)))
    if stripped is not None and not hits:
        return Resolution(stripped, "suffix", name)
    if len(hits) == 1 and stripped is None:
        return Resolution(hits[0], "base name" if len(parts) == 1 else "suffix", name)
    candidates = (stripped, *hits) if stripped else hits
    return Resolution(None, "ambiguous" if candidates else "none", name, candidates)


def resolve_names(old: str | None, new: str | None, tracked: Collection[str]) -> Resolution:
    """The file a section with headers `old` and `new` (None: /dev/null or missing) patches.

    Like GNU patch with two different names (`--- util.py.orig` / `+++ util.py`): the one that
    exists, the new name when both do. Not for renames and copies, whose names are both meant.
    """
    names = [n for n in dict.fromkeys((new, old)) if n]
    if not names:
        return Resolution(None, "none", None)
    for name in names:  # an exact tracked path always wins, the new name first
        if name in tracked:
            return Resolution(name, "exact", None)
    results = [resolve_name(name, tracked) for name in names]
    found = [r for r in results if r.path is not None]
    if found:
        first = found[0]
        return first if len(names) == 1 or first.written == names[0] else _other(first, names)
    candidates = tuple(dict.fromkeys(c for r in results for c in r.candidates))
    written = " / ".join(names)
    return Resolution(None, "ambiguous" if candidates else "none", written, candidates)


def _other(result: Resolution, names: list[str]) -> Resolution:
    """The old name resolved where the new one did not: say so."""
    return Resolution(result.path, result.how, f"{names[1]} (the new name {names[0]} matches no tracked file)")


def describe(result: Resolution) -> str:
    """What the user reads: 'resolved /app/util.py to util.py, the only tracked file it can mean'."""
    if result.path is not None:
        return f"resolved {result.written} to {result.path}, the only tracked file it can mean"
    if result.candidates:
        return f"{result.written}: fits several tracked files ({listed(result.candidates)}); name one exactly"
    return f"{result.written}: matches no tracked file"


def listed(paths: Iterable[str]) -> str:
    """'a, b, c, d, e and 3 more'."""
    shown = list(paths)
    more = len(shown) - MAX_SHOWN
    return ", ".join(shown[:MAX_SHOWN]) + (f" and {more} more" if more > 0 else "")
