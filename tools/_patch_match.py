"""Matching a hunk side against the file: the per-tier line keys, the file index, and choosing.

Owns what "equal" means at each tier and the index that keeps every tier linear in the
file's size. Every key only forgets whitespace (and, at the punctuation tier, which of two
look-alike punctuation characters was written), never a word, identifier or number: two
lines whose keys are equal have the same non-whitespace characters, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from diffcrew.tools._patch_parse import Hunk, HunkLine
from diffcrew.tools._patch_shift import IndentShift

NEAR = 5  # a stated line this close to exactly one candidate picks it...
CLEAR = 2 * NEAR  # ...when no other candidate is this close: else the numbers do not tell them apart
Mapping = list[int | None]  # per line of a hunk side: its file line, or None (a blank line the file lacks)

# Look-alike punctuation models write for the file's ASCII (or the reverse): each maps to ASCII.
_PUNCT = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2026": "...", "\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " ",
})


LOOKALIKES = frozenset(chr(k) for k in _PUNCT)


def ws_key(text: str) -> str:
    """Leading whitespace kept, the rest's runs collapsed and its end stripped."""
    body = text.lstrip(" \t")
    return text[: len(text) - len(body)] + " ".join(body.split())


def content_key(text: str) -> str:
    """Every whitespace run collapsed, ends stripped: only the words and their order remain."""
    return " ".join(text.split())


def punct_key(text: str) -> str:
    """content_key with look-alike punctuation (smart quotes, dashes, ellipsis, odd spaces) as ASCII."""
    return " ".join(text.translate(_PUNCT).split())


# tier -> (line key, probe key for the index and which index): blank lines are skipped at these tiers.
_NOISY: dict[str, tuple[Callable[[str], str], str]] = {
    "whitespace": (ws_key, "loose"), "indent": (content_key, "loose"), "punctuation": (punct_key, "punct"),
}


@dataclass(frozen=True)
class Placement:
    """Where a hunk goes. start/end: 0-based span of file lines it covers (end exclusive)."""

    tier: str
    start: int
    end: int
    lines: tuple[HunkLine, ...]  # the hunk lines to apply (trimmed ones left out)
    mapping: tuple[int | None, ...]  # per line: its file line for ' ' and '-', None otherwise
    shift: IndentShift | None = None
    origin: int | None = None  # trimmed: where the untrimmed hunk's old side would start

    def change_end(self) -> int:
        """Where the hunk's last change ends: a later hunk may start here, sharing the context after it."""
        pos = last = self.start
        for line, target in zip(self.lines, self.mapping):
            if line.kind == "+":
                last = pos
            elif target is not None:
                pos = target + 1
                last = pos if line.kind == "-" else last
        return last


@dataclass(frozen=True)
class Hint:
    """What the hunks already placed say about where this one goes; it only ever breaks ties."""

    expected: int | None  # 0-based: the @@ line moved by the offset the hunk before landed at
    floor: int = 0  # 0-based: where the hunks before it end (diff hunks come in file order)

    @classmethod
    def of(cls, hunk: Hunk, offset: int = 0, floor: int = 0) -> Hint:
        return cls(None if hunk.old_start is None else hunk.old_start - 1 + offset, floor)


@dataclass(frozen=True)
class Ambiguous:
    tier: str
    starts: tuple[int, ...]  # 1-based


@dataclass(frozen=True)
class Unclear:
    """A hunk that fits one place ignoring indentation, but whose added lines' indentation is not known:
    the matched lines around them are off from the file's by different amounts."""

    tier: str
    start: int  # 1-based
    end: int  # 1-based, inclusive


class FileIndex:
    """The file's lines plus lazily built lookups, shared by all hunks of one patch.

    Three dicts serve every tier: exact text -> lines, content_key -> lines and punct_key ->
    lines. Each tier's key refines one of them, so candidates come from a dict lookup and
    only they are checked with the tier's key.
    """

    def __init__(self, lines: Sequence[str], final_newline: bool = True) -> None:
        self.lines = lines
        self.final_newline = final_newline  # whether the file's last line ends with a newline
        self._where: dict[str, dict[str, list[int]]] = {}
        self._rank: list[int] | None = None  # file line -> position among non-blank lines (-1: blank)
        self._rows: list[int] | None = None  # the non-blank file lines, in order

    def where(self, kind: str) -> dict[str, list[int]]:
        """kind "exact", "loose" (content_key) or "punct" (punct_key): key -> file lines, built once."""
        if kind not in self._where:
            if kind == "punct":
                self._where[kind] = _merged(self.where("loose"))
            else:
                keys = self.lines if kind == "exact" else [content_key(s) for s in self.lines]
                self._where[kind] = _positions(keys)
        return self._where[kind]

    def has_all(self, texts: Sequence[str]) -> bool:
        """Whether every non-blank text occurs in the file at the loosest tier (a cheap necessary test)."""
        where = self.where("punct")
        return all(punct_key(t) in where for t in texts if t.strip())

    def ascii(self) -> bool:
        """Whether the file is plain ASCII: then the punctuation tier finds what the indent tier does."""
        return self.where("punct") is self.where("loose")

    def solid(self) -> tuple[list[int], list[int]]:
        """(rows, rank): the non-blank lines, and each file line's position among them."""
        if self._rows is None or self._rank is None:
            self._rows, self._rank = [], [-1] * len(self.lines)
            for i, text in enumerate(self.lines):
                if text.strip():
                    self._rank[i] = len(self._rows)
                    self._rows.append(i)
        return self._rows, self._rank


def _positions(keys: Sequence[str]) -> dict[str, list[int]]:
    where: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        where.setdefault(k, []).append(i)
    return where


def _merged(loose: dict[str, list[int]]) -> dict[str, list[int]]:
    """The punct_key index from the content_key one: only its non-ASCII keys need translating."""
    if all(k.isascii() for k in loose):
        return loose
    where: dict[str, list[int]] = {}
    for k, rows in loose.items():
        where.setdefault(k if k.isascii() else punct_key(k), []).extend(rows)
    for rows in where.values():
        rows.sort()
    return where


def match_side(tier: str, texts: Sequence[str], index: FileIndex) -> list[Mapping]:
    """Every way the lines `texts` fit the file at this tier, as a file line per text."""
    if tier == "punctuation" and index.ascii() and all(t.isascii() for t in texts):
        return []  # the same keys as the indent tier, which is always tried first
    if tier in _NOISY:
        return _match_noisy(tier, texts, index)
    where = index.where("exact" if tier == "exact" else "loose")
    probe = list(texts) if tier == "exact" else [content_key(t) for t in texts]
    anchor = _rarest(where, probe)
    if anchor is None:
        return []
    lines, size = index.lines, len(texts)
    pattern = list(texts) if tier == "exact" else [t.rstrip() for t in texts]
    found = []
    for pos in where[probe[anchor]]:
        p = pos - anchor
        if p < 0 or p + size > len(lines):
            continue
        window = lines[p: p + size]
        if (list(window) if tier == "exact" else [s.rstrip() for s in window]) == pattern:
            found.append(list[int | None](range(p, p + size)))
    return found


def _match_noisy(tier: str, texts: Sequence[str], index: FileIndex) -> list[Mapping]:
    """Like match_side, but blank lines on both sides are skipped, then paired up where they can be."""
    key, kind = _NOISY[tier]
    probe_key = punct_key if kind == "punct" else content_key
    solid = [j for j, t in enumerate(texts) if t.strip()]
    probe = [probe_key(texts[j]) for j in solid]
    where = index.where(kind)
    anchor = _rarest(where, probe)
    if anchor is None:
        return []
    rows, rank = index.solid()
    lines, pattern = index.lines, [key(texts[j]) for j in solid]
    found = []
    for pos in where[probe[anchor]]:
        p = rank[pos] - anchor
        if p < 0 or p + len(solid) > len(rows):
            continue
        if [key(lines[i]) for i in rows[p: p + len(solid)]] == pattern:
            fixed: Mapping = [None] * len(texts)
            for r, j in enumerate(solid):
                fixed[j] = rows[p + r]
            found.append(_fill_blanks(texts, fixed, solid, lines))
    return found


def _rarest(where: dict[str, list[int]], probe: Sequence[str]) -> int | None:
    """The position in `probe` whose key occurs least in the file; None if one does not occur."""
    anchor, fewest = None, 0
    for j, k in enumerate(probe):
        seen = where.get(k)
        if seen is None:
            return None
        if anchor is None or len(seen) < fewest:
            anchor, fewest = j, len(seen)
    return anchor


def _fill_blanks(texts: Sequence[str], fixed: Mapping, solid: list[int], lines: Sequence[str]) -> Mapping:
    """Pair the hunk's blank lines with the file's blank lines around and between the matched ones."""
    out = list(fixed)
    for a, b in zip(solid, solid[1:]):
        start, stop = fixed[a], fixed[b]
        assert start is not None and stop is not None  # the solid lines all have a file line
        gap = range(start + 1, stop)  # all blank: rows skip only blanks
        for j, f in zip(range(a + 1, b), gap):
            out[j] = f
    first = fixed[solid[0]]
    assert first is not None
    for back, j in enumerate(range(solid[0] - 1, -1, -1), 1):
        if first - back < 0 or lines[first - back].strip():
            break
        out[j] = first - back
    last = fixed[solid[-1]]
    assert last is not None
    for ahead, j in enumerate(range(solid[-1] + 1, len(texts)), 1):
        if last + ahead >= len(lines) or lines[last + ahead].strip():
            break
        out[j] = last + ahead
    return out


def place(tier: str, lines: Sequence[HunkLine], old_map: Mapping, shift: IndentShift | None = None) -> Placement:
    targets = iter(old_map)
    mapping = tuple(None if line.kind == "+" else next(targets) for line in lines)
    used = [t for t in mapping if t is not None]
    return Placement(tier, min(used), max(used) + 1, tuple(lines), mapping, shift)


def choose(by_start: dict[int, Placement], hint: Hint, tier: str) -> Placement | Ambiguous:
    """One candidate wins; among several, the line numbers may break the tie, as GNU patch does.

    First the one at the expected line; else the one candidate within NEAR lines of the expected
    line, unless another is within CLEAR lines too; among several within NEAR, the one after the hunks
    already placed. Otherwise the hunk is ambiguous: without a near stated line, the order of the
    hunks alone decides nothing (models send hunks out of order).
    """
    if len(by_start) == 1:
        return next(iter(by_start.values()))
    if hint.expected is not None and hint.expected in by_start:
        return by_start[hint.expected]
    starts = set(by_start)
    later = {s for s in starts if s >= hint.floor} or starts
    near = {s for s in starts if hint.expected is not None and abs(s - hint.expected) <= NEAR}
    if len(near) == 1 and any(abs(s - hint.expected) <= CLEAR for s in starts - near):  # type: ignore[operator]
        # 3 lines from one copy and 7 from another: a model's count off by a few lines says nothing.
        return Ambiguous(tier, tuple(s + 1 for s in sorted(by_start)))
    both = later & near  # the order of the hunks alone decides nothing: they may be out of order
    if len(both) == 1:
        return by_start[both.pop()]
    return Ambiguous(tier, tuple(s + 1 for s in sorted(by_start)))
