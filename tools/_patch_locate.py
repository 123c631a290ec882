"""Locating hunks: the tiered, index-backed search for the one place a hunk's old side fits.

Owns the tiers (their normalizations, order and uniqueness rule), the per-file index
that keeps every tier linear in the file's size, indentation-shift measurement, the
already-applied check and outer-context trimming. It returns placements; it never
edits text and never words errors.

Tiers, in order: exact-line (exact, at the @@ line), exact, trailing-ws, whitespace
(runs collapsed, blank lines skipped on both sides), indent (leading whitespace
ignored but the shift must be uniform; added lines are re-indented by it),
already-applied (old side absent, new side present with every added line byte for
byte; never for a removal alone), trimmed (outer context dropped, at least one
unchanged line kept). The first tier with any candidate decides: one candidate wins; among
several, line numbers break ties only (see _choose): the expected line is the @@ line plus
the offset at which the hunk before it landed, as GNU patch carries it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from diffcrew.tools._patch_parse import Hunk, HunkLine

SEARCH_TIERS = ("exact", "trailing-ws", "whitespace", "indent")
_NOISY = frozenset({"whitespace", "indent"})  # tiers that skip blank lines on both sides
_NEAR = 5  # a stated line this close to exactly one candidate picks it
_TAB_SIZES = (4, 8, 2)  # 4 first: what models most often turn one tab into
Mapping = list[int | None]  # per line of a hunk side: its file line, or None (a blank line the file lacks)


def _ws_key(text: str) -> str:
    body = text.lstrip(" \t")
    return text[: len(text) - len(body)] + " ".join(body.split())


def _content_key(text: str) -> str:
    return " ".join(text.split())


_KEYS: dict[str, Callable[[str], str] | None] = {
    "exact": None, "trailing-ws": str.rstrip, "whitespace": _ws_key, "indent": _content_key,
}


@dataclass(frozen=True)
class IndentShift:
    """How the model's indentation relates to the file's: file width = model width + delta."""

    delta: int
    tab_size: int
    tabs: bool  # the file indents with tabs, so re-indented lines do too

    def apply(self, text: str) -> str:
        body = text.lstrip(" \t")
        if not body:
            return text  # a whitespace-only added line: nothing shows how to re-indent it, so keep it
        width = max(0, _width(text[: len(text) - len(body)], self.tab_size) + self.delta)
        lead = "\t" * (width // self.tab_size) + " " * (width % self.tab_size) if self.tabs else " " * width
        return lead + body


@dataclass(frozen=True)
class Placement:
    """Where a hunk goes. start/end: 0-based span of file lines it covers (end exclusive)."""

    tier: str
    start: int
    end: int
    lines: tuple[HunkLine, ...]  # the hunk lines to apply (trimmed ones left out)
    mapping: tuple[int | None, ...]  # per line: its file line for ' ' and '-', None otherwise
    shift: IndentShift | None = None


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


class FileIndex:
    """The file's lines plus lazily built lookups, shared by all hunks of one patch.

    Two dicts serve every tier: exact text -> lines, and squashed text (whitespace runs
    collapsed, ends stripped) -> lines. Each looser tier's key refines the squashed one,
    so candidates come from a dict lookup and only they are checked with the tier's key.
    """

    def __init__(self, lines: Sequence[str], final_newline: bool = True) -> None:
        self.lines = lines
        self.final_newline = final_newline  # whether the file's last line ends with a newline
        self._exact: dict[str, list[int]] | None = None
        self._loose: dict[str, list[int]] | None = None
        self._rank: list[int] | None = None  # file line -> position among non-blank lines (-1: blank)
        self._rows: list[int] | None = None  # the non-blank file lines, in order

    def exact(self) -> dict[str, list[int]]:
        if self._exact is None:
            self._exact = _positions(self.lines)
        return self._exact

    def loose(self) -> dict[str, list[int]]:
        if self._loose is None:
            self._loose = _positions([_content_key(s) for s in self.lines])
        return self._loose

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


def locate(hunk: Hunk, index: FileIndex, hint: Hint | None = None) -> Placement | Ambiguous | None:
    """The one place the hunk fits, the candidates when several fit equally, or None.

    Every candidate of a tier is found before one is chosen: an exact match at the stated line
    wins only as a tie-break ("exact-line"), never before uniqueness is checked.
    """
    hint = hint or Hint.of(hunk)
    old = [line.text for line in hunk.lines if line.kind != "+"]
    at = hint.expected
    if at is not None and at >= 0 and list(index.lines[at: at + len(old)]) == old:
        # The expected line wins every tie at the exact tier, so no other candidate can beat it.
        return _exact_tier(hunk, _place("exact", hunk.lines, list(range(at, at + len(old)))))
    for tier in SEARCH_TIERS:
        found = [_place(tier, hunk.lines, m) for m in match_side(tier, old, index)]
        if tier == "indent":
            found = _with_shift(found, index)
        if found:
            choice = _choose({p.start: p for p in reversed(found)}, hint, tier)
            return _exact_tier(hunk, choice) if tier == "exact" else choice
    return _already_applied(hunk, index) or _trimmed(hunk, index, hint)


def _exact_tier(hunk: Hunk, choice: Placement | Ambiguous) -> Placement | Ambiguous:
    """An exact placement at the hunk's own @@ line is reported as "exact-line"."""
    if isinstance(choice, Placement) and hunk.old_start == choice.start + 1:
        return replace(choice, tier="exact-line")
    return choice


def match_side(tier: str, texts: Sequence[str], index: FileIndex) -> list[Mapping]:
    """Every way the lines `texts` fit the file at this tier, as a file line per text."""
    if tier in _NOISY:
        return _match_noisy(tier, texts, index)
    key = _KEYS[tier]
    where, probe = (index.exact(), texts) if key is None else (index.loose(), [_content_key(t) for t in texts])
    anchor = _rarest(where, probe)
    if anchor is None:
        return []
    lines, size = index.lines, len(texts)
    pattern = list(texts) if key is None else [key(t) for t in texts]
    found = []
    for pos in where[probe[anchor]]:
        p = pos - anchor
        if p < 0 or p + size > len(lines):
            continue
        window = lines[p: p + size]
        if (list(window) if key is None else [key(s) for s in window]) == pattern:
            found.append(list(range(p, p + size)))
    return found


def _match_noisy(tier: str, texts: Sequence[str], index: FileIndex) -> list[Mapping]:
    """Like match_side, but blank lines on both sides are skipped, then paired up where they can be."""
    key = _KEYS[tier]
    assert key is not None
    solid = [j for j, t in enumerate(texts) if t.strip()]
    probe = [_content_key(texts[j]) for j in solid]
    anchor = _rarest(index.loose(), probe)
    if anchor is None:
        return []
    rows, rank = index.solid()
    lines, pattern = index.lines, [key(texts[j]) for j in solid]
    found = []
    for pos in index.loose()[probe[anchor]]:
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
        gap = range(fixed[a] + 1, fixed[b])  # type: ignore[operator]  # all blank: rows skip only blanks
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


def _place(tier: str, lines: Sequence[HunkLine], old_map: Mapping, shift: IndentShift | None = None) -> Placement:
    targets = iter(old_map)
    mapping = tuple(None if line.kind == "+" else next(targets) for line in lines)
    used = [t for t in mapping if t is not None]
    return Placement(tier, min(used), max(used) + 1, tuple(lines), mapping, shift)


def _choose(by_start: dict[int, Placement], hint: Hint, tier: str) -> Placement | Ambiguous:
    """One candidate wins; among several, the line numbers may break the tie, as GNU patch does.

    First the one at the expected line; else the one candidate that is both after the hunks
    already placed and within _NEAR lines of the expected line (each test is skipped when no
    candidate passes it, never when several do). Otherwise the hunk is ambiguous.
    """
    if len(by_start) == 1:
        return next(iter(by_start.values()))
    if hint.expected is not None and hint.expected in by_start:
        return by_start[hint.expected]
    starts = set(by_start)
    later = {s for s in starts if s >= hint.floor} or starts
    near = {s for s in starts if hint.expected is not None and abs(s - hint.expected) <= _NEAR} or starts
    both = later & near
    if len(both) == 1:
        return by_start[both.pop()]
    return Ambiguous(tier, tuple(s + 1 for s in sorted(by_start)))


def _with_shift(found: list[Placement], index: FileIndex) -> list[Placement]:
    """Keep the candidates whose indentation differs from the hunk's by one uniform shift."""
    kept = []
    for placement in found:
        pairs = [
            (index.lines[t], line.text)
            for line, t in zip(placement.lines, placement.mapping)
            if t is not None and line.text.strip()
        ]
        shift = _measure(pairs)
        if shift is not None:
            kept.append(replace(placement, shift=shift))
    return kept


def _indent(text: str) -> str:
    return text[: len(text) - len(text.lstrip(" \t"))]


def _width(indent: str, tab_size: int) -> int:
    col = 0
    for ch in indent:
        col = (col // tab_size + 1) * tab_size if ch == "\t" else col + 1
    return col


def _measure(pairs: list[tuple[str, str]]) -> IndentShift | None:
    tabs = any("\t" in _indent(f) for f, _ in pairs)
    for size in _TAB_SIZES:
        deltas = {_width(_indent(f), size) - _width(_indent(h), size) for f, h in pairs}
        if len(deltas) == 1:
            return IndentShift(deltas.pop(), size, tabs)
    return None


def _already_applied(hunk: Hunk, index: FileIndex) -> Placement | None:
    """The hunk's new side, found once while its old side is absent: the change is already there.

    Only added text is evidence: a hunk must add a non-blank line, and every added line must be in
    the file byte for byte (context may match loosely). A removal alone proves nothing (what it
    leaves is in the file either way), nor does a whitespace-only change matched at a loose tier.
    A hunk that sets the final-newline state must end at the file's end, in that state.
    """
    if not any(line.kind == "+" and line.text.strip() for line in hunk.lines):
        return None
    new_lines = [line for line in hunk.lines if line.kind != "-"]
    new = [line.text for line in new_lines]
    for tier in ("exact", "trailing-ws", "whitespace"):
        found = [m for m in match_side(tier, new, index) if _added_exact(new_lines, m, index)]
        spans = {min(t for t in m if t is not None): m for m in found}
        if not spans:
            continue
        start = next(iter(spans)) if len(spans) == 1 else None
        if start is None and hunk.new_start is not None and (hunk.new_start - 1) in spans:
            start = hunk.new_start - 1
        if start is None:
            return None
        end = max(t for t in spans[start] if t is not None) + 1
        if (hunk.old_no_eol or hunk.new_no_eol) and (
            end != len(index.lines) or index.final_newline == hunk.new_no_eol
        ):
            return None  # the diff changes the final newline, and the file is not in its new state
        return Placement("already-applied", start, end, (), ())
    return None


def _added_exact(new_lines: Sequence[HunkLine], mapping: Mapping, index: FileIndex) -> bool:
    return all(
        line.kind != "+" or (target is not None and index.lines[target] == line.text)
        for line, target in zip(new_lines, mapping)
    )


def _trimmed(hunk: Hunk, index: FileIndex, hint: Hint) -> Placement | Ambiguous | None:
    """Drop unchanged lines from the hunk's outer edges, fewest first, until it fits somewhere."""
    lines = hunk.lines
    changed = [k for k, line in enumerate(lines) if line.kind != " "]
    if not changed:
        return None
    lead, trail = changed[0], len(lines) - 1 - changed[-1]
    for total in range(1, lead + trail + 1):
        found: dict[int, Placement] = {}
        for cut_front in range(max(0, total - trail), min(total, lead) + 1):
            part = lines[cut_front: len(lines) - (total - cut_front)]
            if not any(line.kind == " " and line.text.strip() for line in part):
                continue  # never a match on changed lines alone
            old = [line.text for line in part if line.kind != "+"]
            for mapping in match_side("whitespace", old, index):
                placement = _place("trimmed", part, mapping)
                # Key by where the untrimmed hunk would start, so the @@ line can break ties.
                found.setdefault(placement.start - cut_front, placement)
        if found:
            choice = _choose(found, hint, "trimmed")
            if isinstance(choice, Ambiguous):
                return Ambiguous("trimmed", tuple(sorted(p.start + 1 for p in found.values())))
            return choice
    return None
