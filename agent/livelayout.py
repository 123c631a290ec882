"""How the live view's rows and totals fit a terminal of any size (agent/liveview.py draws them).

Two rules, whatever the terminal:

- the totals line is always on screen and never cut: on a narrow terminal its optional parts
  (what the run is exploring, the estimate, the tokens, the clock) give way first, and if the
  counts and the cost still do not fit on one line they go on two, never behind an `…`;
- the rows fit the height left above it: when there are more files than lines, the finished
  ones collapse into one `✓ N done` line (then the failed ones into `✗ N failed`, then the queued
  into `· N queued`), and the running rows left over into `· N more running`.

File names too long for the width are cut in the middle (`src/pkg/…/module.py`), which keeps
the directory they start in and the file's own name. `render_board` draws the live view's `Board`
by these rules: the worker table and the totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from diffcrew.agent.pricing import money

if TYPE_CHECKING:
    from diffcrew.agent.liveview import Board

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


ACTIVE = ("running", "repairing", "checking")
_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"  # a braille spinner, one frame per 80 ms
_LOOK = {"queued": ("·", "dim"), "running": ("", "cyan"), "repairing": ("", "yellow"),
         "checking": ("", "blue"), "done": ("✓", "green"), "failed": ("✗", "red")}
_ROLE_LABEL = {"worker": "workers", "review": "review"}


def spinner(now: float) -> str:
    return _FRAMES[int(now / 0.08) % len(_FRAMES)]


def tokens(count: int) -> str:
    """A token count in a few characters: 950, 12.3k, 1.2M."""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"


def render_board(board: Board, *, final: bool = False, width: int = 100, height: int | None = None) -> RenderableType:
    """The worker table (once there is a plan) and the run's totals, fitted to `width` columns and,
    live, to `height` lines (the final table shows every row; it goes to the scrollback)."""
    status = status_lines(board, final, width)
    parts: list[RenderableType] = []
    if board.rows:
        room = None if final or height is None else max(1, height - len(status) - 1)  # the header
        parts.append(_table(board, final, width, room))
    parts.extend(status)
    return Group(*parts)


_GAP = 2  # the table's columns are two cells apart


def _table(board: Board, final: bool, width: int, room: int | None) -> Table:
    """One row per planned file (finished rows folded into a count when they do not fit the height);
    columns give way on a narrow terminal (tokens, tries, the note), file names are cut in the middle."""
    fold = fold_rows({p: r.state for p, r in board.rows.items()}, room) if room is not None else \
        Fold(tuple(board.rows), ())
    cells: list[dict[str, Text | str]] = []
    for path in fold.shown:
        row = board.rows[path]
        symbol, style = _LOOK.get(row.state, ("?", ""))
        if row.state in ACTIVE:
            symbol = "·" if final else spinner(board.clock())
        used = row.tally.calls > 0
        cells.append({"": Text(symbol, style=style), "file": row.path,
                      "state": Text("stopped" if final and row.state in ACTIVE else row.state, style=style),
                      "tries": str(row.attempts) if row.attempts else "",
                      "tokens in/out": f"{tokens(row.tally.input_tokens)} / {tokens(row.tally.output_tokens)}"
                      if used else "",
                      "cost": money(row.tally.cost, "?") if used else "",
                      "note": " · ".join(n for n in (row.origin, row.note) if n)})
    above: list[dict[str, Text | str]] = []  # the finished ones above the rows, the waiting ones below
    for state, count in fold.folded:
        symbol, style = _LOOK.get(state, ("·", "cyan"))
        label = f"{count} more running" if state == "running" else f"{count} {state}"
        folded: dict[str, Text | str] = {"": Text(symbol or "·", style=style), "file": Text(label, style=style)}
        (above if state in ("done", "failed") else cells).append(folded)
    cells = above + cells
    columns = _columns(cells, width)
    table = Table(box=None, pad_edge=False, header_style="bold dim", show_edge=False)
    for name, size in columns.items():
        table.add_column("" if name == "note" else name, no_wrap=True, width=size if name in ("file", "note") else None,
                         justify="right" if name in ("tries", "tokens in/out", "cost") else "left",
                         style="dim" if name == "note" else "")
    for cell in cells:
        table.add_row(*(_fit(cell.get(name, ""), name, size) for name, size in columns.items()))
    return table


_OPTIONAL = ("tokens in/out", "tries", "note", "state")  # the columns a narrow terminal drops, first to last


def _columns(cells: list[dict[str, Text | str]], width: int) -> dict[str, int]:
    """The columns shown and the width of each; the file column gets what the others leave (at least
    24 cells, or the whole name), the note what the file names leave."""
    def size(name: str) -> int:
        return max([cell_len(name if name != "note" else "")] +
                   [cell_len(str(c.get(name, ""))) for c in cells if name != "file" or "state" in c])

    fixed = {n: size(n) for n in ("", "state", "tries", "tokens in/out", "cost")}
    longest = max([size("file"), *(cell_len(str(c["file"])) for c in cells)])
    note = size("note")
    shown = set(_OPTIONAL) if note else set(_OPTIONAL) - {"note"}

    def needed() -> int:
        widths = [w for n, w in fixed.items() if n in shown or n not in _OPTIONAL]
        return sum(widths) + _GAP * len(widths) + min(longest, 24) + (_GAP + min(note, 12) if "note" in shown else 0)

    for name in _OPTIONAL:  # until the file names (and some of the notes) fit
        if needed() <= width:
            break
        shown.discard(name)
    kept = {n: w for n, w in fixed.items() if n in shown or n not in _OPTIONAL}
    avail = width - sum(kept.values()) - _GAP * len(kept)
    file_width = max(4, min(longest, avail))
    if "note" in shown:
        file_width = max(4, min(longest, max(24, avail - _GAP - min(note, 24))))
    columns = {"": kept.pop(""), "file": file_width, **kept}
    if "note" in shown and avail - file_width - _GAP >= 8:
        columns["note"] = min(note, avail - file_width - _GAP)
    return columns


def _fit(value: Text | str, name: str, size: int) -> Text | str:
    if name == "file" and isinstance(value, str):
        return middle_cut(value, size)
    if name == "note" and isinstance(value, str):
        return end_cut(value, size)
    return value


def status_lines(board: Board, final: bool, width: int) -> list[Text]:
    """`⠙ workers 1/3 finished · 4 call(s) · 5.5k in / 580 out · $0.0167 · workers + review $0.0104
    (est. ~$0.0167) · 3.2 s` (what the estimate shown with the plan counts, spent so far, against it); when final,
    `total: ...` without the spinner and the phase. Fitted to `width` without cutting a count or
    the cost: the activity, the estimate, the tokens and the clock give way first."""
    total = board.total()
    lead = "total: " if final else spinner(board.clock()) + " "
    calls = Segment((f"{total.calls} call(s)",) * 4 + (f"{total.calls} calls",))
    segments = [calls, Segment((f"{tokens(total.input_tokens)} in / {tokens(total.output_tokens)} out",) * 3 + (None,)),
                Segment((money(total.cost),))]
    if board.plan is not None and board.estimated_cost is not None:
        segments.append(Segment((f"{' + '.join(_ROLE_LABEL[r] for r in board.estimated_roles)} "
                                 f"{money(board.spent())} (est. ~{money(board.estimated_cost)})", None)))
    segments.append(Segment((f"{board.elapsed():.1f} s",) * 5 + (None,)))
    if not final:  # the phase, with what it is doing (cut to the room the figures leave) while there is room
        phase, detail = board.phase(), board.retrying or board.activity
        forms: list[str | None] = []
        for level in (0, 1):
            room = width - cell_len(lead + phase + ": " + SEPARATOR.join(["", *layout_parts(segments, level)]))
            forms.append(phase if not detail else f"{phase}: {end_cut(detail, room) if room >= 12 else detail}")
        segments.insert(0, Segment((*forms, phase, phase, board.phase(short=True))))
    lines = []
    for number, line in enumerate(pack(segments, width, lead)):
        text = Text(no_wrap=True)
        if number == 0:
            text.append(lead, style="bold" if final else "cyan")
            line = line[len(lead):]
            if not final:
                phase_text, _, rest = line.partition(SEPARATOR)
                text.append(phase_text, style="bold")
                line = SEPARATOR + rest if rest else ""
        text.append(line, style="dim")
        lines.append(text)
    return lines
