"""Indentation shifts: how far, and with which characters, a model's indentation is off the file's.

Owns the measurement of a shift from (file line, hunk line) pairs that matched ignoring
whitespace, and the re-indentation of added lines by it. A uniform shift (every pair agrees)
is the "indent" tier's; when the pairs disagree line by line ("drift"), the shift most pairs
agree on is used, and no shift when no single shift has the most votes: a hunk whose added
lines were written right and whose context drifted line by line keeps its added lines as
written, and a hunk shifted as a whole (a line or two drifting further) moves with its majority.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from diffcrew.tools._patch_parse import HunkLine

TAB_SIZES = (4, 8, 2)  # 4 first: what models most often turn one tab into
Pair = tuple[str, str]  # (file line, hunk line), both non-blank


@dataclass(frozen=True)
class IndentShift:
    """How the model's indentation relates to the file's: file width = model width + delta."""

    delta: int
    tab_size: int
    tabs: bool  # the file indents with tabs, so re-indented lines do too

    def fits(self, lines: Sequence[HunkLine]) -> bool:
        """Whether every non-blank added line has room for the shift: an added line written further left
        than the shift takes off was not shifted like the context, so where it goes is not known."""
        return self.delta >= 0 or all(
            width_of(indent_of(line.text), self.tab_size) + self.delta >= 0
            for line in lines if line.kind == "+" and line.text.strip()
        )

    def apply(self, text: str) -> str:
        body = text.lstrip(" \t")
        if not body:
            return text  # a whitespace-only added line: nothing shows how to re-indent it, so keep it
        lead = text[: len(text) - len(body)]
        if self.delta == 0 and ("\t" in lead) == self.tabs:
            return text  # already the file's width and style: alignment spaces after tabs survive
        width = max(0, width_of(lead, self.tab_size) + self.delta)
        lead = "\t" * (width // self.tab_size) + " " * (width % self.tab_size) if self.tabs else " " * width
        return lead + body


def indent_of(text: str) -> str:
    return text[: len(text) - len(text.lstrip(" \t"))]


def width_of(indent: str, tab_size: int) -> int:
    col = 0
    for ch in indent:
        col = (col // tab_size + 1) * tab_size if ch == "\t" else col + 1
    return col


def steady(runs: Iterable[Sequence[tuple[str, Pair]]], shift: IndentShift) -> bool:
    """Whether each run of added lines, moved by `shift`, keeps its place in the nesting around it.

    runs: per run of added lines, its bounds: (first added line, nearest matched non-blank line
    above it as (file line, hunk line)) and (last added line, nearest below). In the hunk an added
    line is deeper than (by 2 columns or more), level with or shallower than such a neighbour; moved
    by the shift it must be the same in the file for at least one of the two, and for both when the
    two neighbours are off from the file by amounts more than a column apart (a block flattened or
    half-indented beside the run: the run may be off by either amount). A uniform shift keeps both;
    a voted one ("drift") keeps the one that drifted with the majority, and when neither did, whether
    the added lines go inside a block or after it is not known.
    """
    return all(
        not run or (all if _torn(run, shift.tab_size) else any)(_kept(added, pair, shift) for added, pair in run)
        for run in runs
    )


def aligned(runs: Iterable[Sequence[tuple[str, Pair]]], shift: IndentShift) -> bool:
    """Whether no run of added lines, moved by a voted shift, lands one column off every neighbour it has:
    a vote won by lines that drifted a column moves the added lines by that column too (three context
    lines a space deeper, the added line and `return` right: the added line went a column left of both)."""
    size = shift.tab_size
    return all(
        not run or any(
            abs(max(0, width_of(indent_of(added), size) + shift.delta) - width_of(indent_of(file_line), size)) != 1
            for added, (file_line, _) in run)
        for run in runs
    )


def _torn(run: Sequence[tuple[str, Pair]], size: int) -> bool:
    """Whether the run's two neighbours are off from the file by amounts more than a column apart (one
    block half-indented, or flattened to the level of the next): the run may have been written off by
    either amount, so which one is not known and it must keep its nesting against both."""
    if len(run) < 2:
        return False
    (_, (file_above, hunk_above)), (_, (file_below, hunk_below)) = run[0], run[-1]
    above = width_of(indent_of(file_above), size) - width_of(indent_of(hunk_above), size)
    below = width_of(indent_of(file_below), size) - width_of(indent_of(hunk_below), size)
    return abs(above - below) > 1  # one column is drift, as in _nesting


def _kept(added: str, pair: Pair, shift: IndentShift) -> bool:
    size = shift.tab_size
    file_line, hunk_line = pair
    width = width_of(indent_of(added), size)
    moved = max(0, width + shift.delta)
    hunk_side = width - width_of(indent_of(hunk_line), size)
    file_side = moved - width_of(indent_of(file_line), size)
    return _nesting(hunk_side) == _nesting(file_side)


def _nesting(difference: int) -> int:
    """Deeper (1), level (0) or shallower (-1): one column is drift (a space lost or gained), not a level."""
    return 0 if abs(difference) <= 1 else 1 if difference > 0 else -1


def uniform(pairs: Sequence[Pair]) -> IndentShift | None:
    """The one shift every pair agrees on (at the first tab size where they all do), or None."""
    tabs = any("\t" in indent_of(f) for f, _ in pairs)
    for size in TAB_SIZES:
        deltas = {width_of(indent_of(f), size) - width_of(indent_of(h), size) for f, h in pairs}
        if len(deltas) <= 1:
            return IndentShift(deltas.pop() if deltas else 0, size, tabs)
    return None


def voted(pairs: Sequence[Pair]) -> IndentShift:
    """The shift most pairs agree on, at the tab size with the largest such majority; 0 on a tie."""
    tabs = any("\t" in indent_of(f) for f, _ in pairs)
    best: tuple[int, int, int] | None = None  # (votes, delta, tab size)
    for size in TAB_SIZES:
        votes = Counter(width_of(indent_of(f), size) - width_of(indent_of(h), size) for f, h in pairs)
        if not votes:
            return IndentShift(0, TAB_SIZES[0], tabs)
        top = max(votes.values())
        tied = sorted((d for d in votes if votes[d] == top), key=abs)
        delta = tied[0] if len(tied) == 1 or tied[0] == 0 else 0
        if best is None or votes[delta] > best[0]:
            best = (votes[delta], delta, size)
    assert best is not None
    return IndentShift(best[1], best[2], tabs)
