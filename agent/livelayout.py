"""How the live view's rows and totals fit a terminal of any size (agent/liveview.py draws them).

Two rules, whatever the terminal:

- the totals line is always on screen and never cut: on a narrow terminal its optional parts
  (what the run is exploring, the estimate, the tokens, the clock) give way first, and if the
  counts and the cost still do not fit on one line they go on two, never behind an `…`;
- the rows fit the height left above it: when there are more files than lines, the finished
  ones collapse into one `✓ N done` line (then the failed ones into `✗ N failed`, then the queued
  into `· N queued`), and the running rows left over into `… N more running`.

File names too long for the width are cut in the middle (`src/pkg/…/module.py`), which keeps
the directory they start in and the file's own name.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len

SEPARATOR = " · "
ELLIPSIS = "…"


def middle_cut(text: str, width: int) -> str:
    """`text` in at most `width` cells, cut in the middle with `…` (more of the end is kept)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    keep = width - 1
    head = keep // 3
    tail = keep - head
    start, end = text[:head], text[len(text) - tail:] if tail else ""
    while cell_len(start) + cell_len(end) > keep and end:  # wide characters take two cells
        end = end[1:]
    return start + ELLIPSIS + end


def end_cut(text: str, width: int) -> str:
    """`text` in at most `width` cells, its end cut with `…`."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    cut = text[: width - 1]
    while cell_len(cut) > width - 1:
        cut = cut[:-1]
    return cut + ELLIPSIS


LEVELS = 6  # the layouts of the totals line, from the most detailed (0) to the barest (5)


@dataclass(frozen=True)
class Segment:
    """A part of the totals line in each layout: `forms[level]` (the last form for the levels after
    it); None where the layout leaves it out."""

    forms: tuple[str | None, ...]

    def at(self, level: int) -> str | None:
        return self.forms[min(level, len(self.forms) - 1)]


def pack(segments: list[Segment], width: int, lead: str = "") -> list[str]:
    """The totals as few lines as fit `width` cells: the most detailed layout that fits on one line,
    else the barest one wrapped at the separators (so a count or the cost is never cut)."""
    for level in range(LEVELS):
        line = lead + SEPARATOR.join(layout_parts(segments, level))
        if cell_len(line) <= width:
            return [line]
    parts = layout_parts(segments, LEVELS - 1)
    lines = [lead + parts[0]]
    for number, part in enumerate(parts[1:], 2):
        if cell_len(lines[-1] + SEPARATOR + part) + (2 if number < len(parts) else 0) <= width:
            lines[-1] += SEPARATOR + part
        else:
            lines[-1] += " ·"
            lines.append("  " + part)
    return lines


def layout_parts(segments: list[Segment], level: int) -> list[str]:
    return [text for text in (s.at(level) for s in segments) if text is not None]


@dataclass(frozen=True)
class Fold:
    """Which rows the live region shows: `shown` in plan order, and a count for each folded state."""

    shown: tuple[str, ...]
    folded: tuple[tuple[str, int], ...]  # (state, count): done, failed, queued, more running


def fold_rows(states: dict[str, str], room: int) -> Fold:
    """At most `room` lines for the rows: every row if they fit, else finished rows folded first."""
    if len(states) <= room:
        return Fold(tuple(states), ())
    order = ("done", "failed", "queued")
    folded: dict[str, int] = {}
    shown = dict(states)
    for state in order:
        if len(shown) + len(folded) <= room:
            break
        count = sum(1 for s in shown.values() if s == state)
        if count:
            folded[state] = count
            shown = {p: s for p, s in shown.items() if s != state}
    lines = len(shown) + len(folded)
    if lines > room:  # still too many running rows: keep the first ones and count the rest
        keep = max(0, room - len(folded) - 1)
        rest = list(shown)[keep:]
        folded["running"] = len(rest)
        shown = {p: shown[p] for p in list(shown)[:keep]}
    return Fold(tuple(shown), tuple((state, folded[state]) for state in (*order, "running") if state in folded))
