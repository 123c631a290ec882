"""The live view of a run on a terminal, drawn with rich (imported only when a terminal shows it).

`Board` is the state the display shows, updated from the flow's events and nothing else: the
plan, one row per planned file (queued / running / repairing / checking / done / failed, with
attempts, tokens and cost so far), and the tallies per role. `LiveView` draws it in a rich
`Live` region under the lines that stay: the plan, warnings, check results and, with `-v`, one
line per model call. The region is stopped while the user is asked to proceed, and replaced
by a final static table when the run ends.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, assert_never

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.constrain import Constrain
from rich.live import Live
from rich.table import Table
from rich.text import Text

from diffcrew.agent.livelayout import middle_cut, render_board, status_lines
from diffcrew.agent.events import (ChecksDone, ChecksRunning, ContextRead, Event, Explored, ModelCalled, ModelRetrying,
                                   Planned, Reviewed, Reviewing, Warned, WorkerFinished, WorkerRepairing,
                                   WorkerRunning)
from diffcrew.agent.types import Plan
from diffcrew.agent.view import Prompt, View, estimate_line, event_lines, full_plan_lines

# Events whose plain lines stay on screen above the live region (explorations too with -v; model
# calls and retries print only with -v); the plan is drawn as a table. Worker progress is the region.
_LOGGED = (ContextRead, Warned, ModelCalled, ModelRetrying, ChecksDone, Reviewed)
_ACTION_STYLE = {"modify": "yellow", "create": "green", "delete": "red"}


@dataclass
class Tally:
    """Model calls, tokens (input counts cache reads and writes) and cost; cost None once unknown."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = 0.0

    def add(self, call: ModelCalled) -> None:
        usage = call.usage
        self.calls += 1
        self.input_tokens += usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        self.output_tokens += usage.output_tokens
        self.cost = None if self.cost is None or call.cost is None else self.cost + call.cost


@dataclass
class Row:
    """One planned file."""

    path: str
    action: str
    state: str = "queued"
    attempts: int = 0
    tally: Tally = field(default_factory=Tally)
    note: str = ""
    origin: str = ""  # what the review made of the file: added by it, or given a follow-up


@dataclass
class Board:
    """What the live view shows, kept up to date from the run's events."""

    clock: Callable[[], float] = time.monotonic
    plan: Plan | None = None
    estimated_cost: float | None = None  # of the roles in `estimated_roles` (Planned.total_cost)
    estimated_roles: tuple[str, ...] = ("worker",)
    rows: dict[str, Row] = field(default_factory=dict)
    by_role: dict[str, Tally] = field(default_factory=dict)
    planning: bool = False
    checks: str = ""          # the checks running now, if any
    activity: str = ""        # the latest exploration
    retrying: str = ""        # the latest retry, until that caller's call goes through
    reviewing: str = ""       # the review under way, if any (its verdict is printed above the region)
    started: float = 0.0
    waited: float = 0.0       # spent at the go-ahead prompt, left out of the elapsed time

    def __post_init__(self) -> None:
        self.started = self.clock()

    def apply(self, event: Event) -> None:
        match event:
            case ContextRead():
                self.planning = True
            case Explored(tool=tool, input=given, path=path):
                what = f"{tool} " + " ".join(f"{k}={v!r}" for k, v in given.items())
                if path is None:
                    self.activity = what
                else:  # a worker reading before its patch: shown on its file's row
                    self.rows.setdefault(path, Row(path, "modify")).note = what
            case Planned(plan=plan, reviewed=reviewed):
                self.plan, self.estimated_cost, self.activity = plan, event.total_cost, ""
                self.estimated_roles = ("worker", "review") if reviewed else ("worker",)
                self.rows = {e.path: Row(e.path, e.action) for e in plan.edits}
            case WorkerRunning() | WorkerRepairing() | WorkerFinished():
                self._worker(event)
            case ChecksRunning() | ChecksDone():
                self._checks(event)
            case Reviewing(round=number):
                self.reviewing = f"reviewing the combined change (round {number})"
            case Reviewed():
                self._reviewed(event)
            case ModelCalled():
                self._called(event)
            case ModelRetrying(error=error):
                self.retrying = f"retrying {event.caller}: {error}"
            case Warned():
                pass  # printed above the region; the board does not change
            case _:
                assert_never(event)

    def _worker(self, event: WorkerRunning | WorkerRepairing | WorkerFinished) -> None:
        row = self.rows.setdefault(event.path, Row(event.path, "modify"))
        match event:
            case WorkerRunning():
                row.state, row.note = "running", ""
            case WorkerRepairing(problem=problem):
                row.state, row.note = "repairing", problem
            case WorkerFinished(attempts=attempts, error=error):
                row.state, row.note = event.state, error or ""
                row.attempts = max(row.attempts, attempts)

    def _reviewed(self, event: Reviewed) -> None:
        """An amendment's files get rows (new files) or go back in the queue (follow-ups), marked with
        where they came from for the rest of the run."""
        self.reviewing = ""
        for edit in event.edits:
            row = self.rows.setdefault(edit.path, Row(edit.path, edit.action))
            row.state, row.note = "queued", ""
            row.origin = f"added by review {event.round}" if edit.path in event.added else \
                f"follow-up from review {event.round}"

    def _checks(self, event: ChecksRunning | ChecksDone) -> None:
        if isinstance(event, ChecksRunning):
            self.checks, before, after = f"checks round {event.round + 1}: {', '.join(event.names)}", "done", "checking"
        else:
            self.checks, before, after = "", "checking", "done"
        for row in self.rows.values():
            if row.state == before:
                row.state = after

    def _called(self, call: ModelCalled) -> None:
        self.by_role.setdefault(call.role, Tally()).add(call)
        if self.retrying.startswith(f"retrying {call.caller}:"):
            self.retrying = ""
        row = self.rows.get(call.path or "") if call.role == "worker" else None
        if row is not None:
            row.tally.add(call)
            row.attempts = max(row.attempts, row.tally.calls)

    def total(self) -> Tally:
        total = Tally()
        for tally in self.by_role.values():
            total.calls += tally.calls
            total.input_tokens += tally.input_tokens
            total.output_tokens += tally.output_tokens
            total.cost = None if total.cost is None or tally.cost is None else total.cost + tally.cost
        return total

    def spent(self) -> float | None:
        """What the roles of the plan's estimate have cost so far (None once a cost is unknown)."""
        cost: float | None = 0.0
        for role in self.estimated_roles:
            used = self.by_role.get(role, Tally()).cost
            cost = None if cost is None or used is None else cost + used
        return cost

    def elapsed(self) -> float:
        """Seconds since the run started, less the time spent waiting for the user's go-ahead."""
        return self.clock() - self.started - self.waited

    def phase(self, short: bool = False) -> str:
        """What the run is doing now, in a few words (`short`: fewer, for a narrow terminal)."""
        if self.checks:
            return self.checks.partition(":")[0] if short else self.checks
        if self.reviewing:
            return f"review round {self.reviewing.rpartition(' ')[2].rstrip(')')}" if short else self.reviewing
        if self.rows:
            done = sum(1 for r in self.rows.values() if r.state in ("done", "failed"))
            if done < len(self.rows):
                return f"{done}/{len(self.rows)} done" if short else f"workers {done}/{len(self.rows)} finished"
            return "finishing"
        return "planning" if self.planning else "reading" if short else "reading the repository"


def render_plan(event: Planned, *, cut: bool = True, width: int = 100) -> RenderableType:
    """The plan as it arrives: its summary, one line per file (instructions cut to fit, or wrapped
    in full when `cut` is False), the estimate. On a terminal too narrow for a file's path and some
    of its instructions side by side, the whole plan puts the instructions under the path, and the
    cut one shows the paths alone (cut in the middle)."""
    plan = event.plan
    longest = max((cell_len(e.path) for e in plan.edits), default=0)
    beside = width - 9 - longest >= 30  # "  modify " and 30 cells of instructions
    if not cut and not beside:
        lines = [Text.from_ansi(line) for line in full_plan_lines(plan, width)]
        return Group(*lines, Text(estimate_line(event)))
    edits = Table.grid(padding=(0, 1))
    edits.add_column(no_wrap=True)
    edits.add_column(no_wrap=True)
    edits.add_column()
    for edit in plan.edits:
        instructions = Text(" ".join(edit.instructions.split()), style="dim", no_wrap=cut, overflow="ellipsis")
        edits.add_row(Text(f"  {edit.action:<6}", style=_ACTION_STYLE.get(edit.action, "")),
                      edit.path if beside else middle_cut(edit.path, width - 9), instructions if beside else "")
    return Group(Text.assemble(("Plan: ", "bold"), plan.summary), edits, Text(estimate_line(event)))


PLAN_HINT = "  (instructions cut to fit: answer v to see the whole plan)"


ECHO_ROOM = 2  # columns left free at the right of the live region (for an echoed ^C)


class LiveView(View):
    """A rich live display on a terminal; lines that should stay are printed above it.

    One re-entrant lock covers the board, every print and every redraw: rich's own refresh
    thread would redraw while a line is being printed above the region (from the run's thread)
    and leave a stale copy of the region behind, so the redraws come from our ticker instead.
    """

    def __init__(self, console: Console, *, verbose: bool = False, prompt: Prompt | None = None,
                 clock: Callable[[], float] = time.monotonic, refresh_per_second: float = 8) -> None:
        super().__init__(verbose=verbose, prompt=prompt)
        self.console = console
        self.board = Board(clock=clock)
        self._lock = threading.RLock()
        self._live: Live | None = None
        self._closed = threading.Event()
        self._interval = 1 / refresh_per_second
        self._ticker: threading.Thread | None = None

    @classmethod
    def on_stderr(cls, *, verbose: bool = False, prompt: Prompt | None = None) -> "LiveView":
        # Drawn only where agent/colour.py allows colour (choose_view): rich must not read NO_COLOR
        # itself, or `--color always` would lose its colours under it.
        return cls(Console(stderr=True, highlight=False, no_color=False), verbose=verbose, prompt=prompt)

    @property
    def active(self) -> bool:
        """Whether the live region is being drawn now."""
        return self._live is not None

    def render(self, *, final: bool = False) -> RenderableType:
        """The live region, two columns short of the terminal: a `^C` the terminal echoes after
        its last line must not wrap, or the region moves down a line and erasing it leaves a
        stale line behind."""
        with self._lock:
            width = self.width
            return Constrain(render_board(self.board, final=final, width=width, height=self.console.height - 1),
                             width=width)

    @property
    def width(self) -> int:
        return max(20, self.console.width - ECHO_ROOM)

    def emit(self, event: Event) -> None:
        logged = isinstance(event, _LOGGED) or (isinstance(event, Explored) and self.verbose)
        with self._lock:
            self.board.apply(event)
            if isinstance(event, Planned):
                self._print_plan(event)
            elif logged:
                for line in event_lines(event, self.verbose):
                    self.console.print(Text.from_ansi(line))
            self._start()
            self._redraw()

    def _print_plan(self, event: Planned) -> None:
        """The whole plan when it fits the terminal (with room left for the prompt and the table),
        else one line per file, and a hint when the user is about to be asked about it."""
        whole = render_plan(event, cut=False, width=self.width)
        height = len(self.console.render_lines(whole, self.console.options.update(width=self.width), pad=False))
        if height + 4 <= self.console.height:
            self.console.print(whole)
            return
        self.console.print(render_plan(event, width=self.width))
        if self.prompt is not None:
            self.console.print(Text(PLAN_HINT, style="dim"))

    def confirm(self, plan: Plan) -> bool:
        """Ask with the region stopped (a prompt inside a redrawn region would be overwritten); the
        time spent answering is left out of the elapsed time."""
        if self.prompt is None:
            return True
        self._stop()
        asked = self.board.clock()
        try:
            return super().confirm(plan)
        finally:
            with self._lock:
                self.board.waited += self.board.clock() - asked
            self._start()

    def close(self) -> None:
        """Stop the region and leave the final table (and totals) on screen."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._ticker is not None:
            self._ticker.join()
        self._stop()
        with self._lock:
            board = self.board
            if any(row.state != "queued" for row in board.rows.values()):
                final: RenderableType | None = render_board(board, final=True, width=self.width)
            else:  # nothing started (declined, or failed while planning): the totals at most
                final = Group(*status_lines(board, True, self.width)) if board.by_role else None
            if final is not None:
                self.console.print(final)
                self.console.print()

    def __enter__(self) -> "LiveView":
        self._start()
        return self

    def _start(self) -> None:
        with self._lock:
            if self._live is not None or self._closed.is_set():
                return
            self._live = Live(console=self.console, get_renderable=self.render, transient=True,
                              auto_refresh=False, redirect_stdout=False)
            self._live.start(refresh=True)
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, name="diffcrew-live", daemon=True)
                self._ticker.start()

    def _stop(self) -> None:
        with self._lock:
            live, self._live = self._live, None
            if live is not None:
                live.stop()

    def _redraw(self) -> None:
        with self._lock:
            if self._live is not None:
                self._live.refresh()

    def _tick(self) -> None:
        """Redraw a few times a second (the spinner and the clock move between events)."""
        while not self._closed.wait(self._interval):
            self._redraw()
