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


def steady(bounds: Iterable[tuple[str, Pair]], shift: IndentShift) -> bool:
    """Whether the added lines, moved by `shift`, keep their place in the nesting around them.

    bounds: (added line, its nearest matched non-blank neighbour in the hunk as (file line, hunk
    line)), for the first added line of each run with the line above it and the last with the line
    below it. In the hunk the added line is deeper than, level with or shallower than that
    neighbour; moved by the shift it must be the same in the file. A uniform shift always keeps
    that; a voted one ("drift") may not, where the context around the added lines is off by other
    amounts than the majority, and then whether they go inside a block or after it is not known.
    """
    size = shift.tab_size
    for added, (file_line, hunk_line) in bounds:
        width = width_of(indent_of(added), size)
        moved = max(0, width + shift.delta)
        hunk_side = width - width_of(indent_of(hunk_line), size)
        file_side = moved - width_of(indent_of(file_line), size)
        if (hunk_side > 0) != (file_side > 0) or (hunk_side < 0) != (file_side < 0):
            return False
    return True


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
