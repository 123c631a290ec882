"""What the user sees while a run works: the flow's progress events in, lines or a live display out.

The flow (agent/run.py) reports progress as the events of agent/events.py (the context read,
explorations, the plan, each worker's state, check rounds, warnings, and from the model seam one
event per model call and per retry), and asks once for a go-ahead after planning: a view is the
run's `Progress`, and turns all that into output on stderr:

- `PlainView`: one line per event, the same text every time and no escape codes when stderr is
  not a terminal (CI logs and the tests read these lines);
- `LiveView` (agent/liveview.py): on a terminal, a rich live display of the plan, one line per
  worker with its state, attempts, tokens and cost so far, and the run's totals;
- `QuietView`: nothing but the prompt (and the plan it asks about).

`-v` adds a line per model call and per retry, and the output of failing checks.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap
from typing import TYPE_CHECKING, Callable, assert_never

import click

from diffcrew.agent import colour
from diffcrew.agent.events import (ChecksDone, ChecksRunning, ContextRead, Event, Explored, ModelCalled, ModelRetrying,
                                   Planned, Reviewed, Reviewing, Warned, WorkerFinished, WorkerRepairing,
                                   WorkerRunning)
from diffcrew.agent.pricing import UNPRICED, money

if TYPE_CHECKING:
    from diffcrew.agent.types import Plan
    from diffcrew.sandbox.checks import CheckResult

Prompt = Callable[[str, "Plan"], bool]  # the question, and the plan it asks about
Write = Callable[[str], None]


class View:
    """The interface the CLI picks from: a context manager around the run, and the run's `Progress`.

    Subclasses implement `emit`; `confirm` asks `prompt` (None: never ask) about the plan.
    """

    def __init__(self, *, verbose: bool = False, prompt: Prompt | None = None) -> None:
        self.verbose = verbose
        self.prompt = prompt

    def emit(self, event: Event) -> None:
        raise NotImplementedError

    def confirm(self, plan: "Plan") -> bool:
        return True if self.prompt is None else self.prompt(confirm_question(plan), plan)

    def close(self) -> None:
        """Stop drawing; everything printed after this goes below the view's output."""

    def __enter__(self) -> "View":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PlainView(View):
    """One line per event on stderr (styles, if any, are dropped where agent/colour.py says no colour)."""

    def __init__(self, *, verbose: bool = False, prompt: Prompt | None = None, write: Write | None = None) -> None:
        super().__init__(verbose=verbose, prompt=prompt)
        self.write = write or _to_stderr

    def emit(self, event: Event) -> None:
        for line in event_lines(event, self.verbose):
            self.write(line)


class QuietView(PlainView):
    """Only the result: no progress; the plan is shown only when the user is asked about it."""

    def emit(self, event: Event) -> None:
        return None

    def confirm(self, plan: "Plan") -> bool:
        if self.prompt is not None:
            for line in plan_lines(plan):
                self.write(line)
        return super().confirm(plan)


def choose_view(*, quiet: bool, verbose: bool, ask: bool, terminal: bool | None = None) -> View:
    """Quiet if asked; a live display when stderr is a terminal (not TERM=dumb) that may show colour
    (agent/colour.py: not with NO_COLOR or --color never); plain lines otherwise."""
    prompt = _ask_on_stderr if ask else None
    if quiet:
        return QuietView(prompt=prompt)
    if terminal is None:
        terminal = sys.stderr.isatty() and os.environ.get("TERM") != "dumb" and colour.enabled(sys.stderr)
    if terminal:
        from diffcrew.agent.liveview import LiveView  # imports rich: only when a live display is drawn

        return LiveView.on_stderr(verbose=verbose, prompt=prompt)
    return PlainView(verbose=verbose, prompt=prompt)


def _to_stderr(line: str) -> None:
    colour.echo(line, err=True)


ANSWERS = "y: start the workers · n: stop here (nothing more is spent) · v: show the whole plan"


def _ask_on_stderr(question: str, plan: "Plan") -> bool:
    """Ask as `git add -p` does: y (the default) or n; v shows the whole plan, instructions uncut,
    and asks again; anything else (? included) lists the answers."""
    while True:
        answer = click.prompt(f"{question} [Y/n/v]", default="y", show_default=False, err=True)
        match answer.strip().lower():
            case "y" | "yes":
                return True
            case "n" | "no":
                return False
            case "v" | "view":
                for line in full_plan_lines(plan, shutil.get_terminal_size().columns):
                    click.echo(line, err=True)
            case _:
                click.echo(ANSWERS, err=True)


def confirm_question(plan: "Plan") -> str:
    return f"Start {worker_count(plan)} worker(s)?"


def worker_count(plan: "Plan") -> int:
    """Deletes need no model: only modify/create edits get a worker."""
    return sum(1 for e in plan.edits if e.action != "delete")


# The plain view's lines, one `case` per event class. The live view prints some of them too.

def plan_lines(plan: "Plan") -> list[str]:
    lines = [click.style("Plan: ", bold=True) + plan.summary]
    lines += [f"  {e.action:<6} {e.path}: {' '.join(e.instructions.split())}" for e in plan.edits]
    return lines


def full_plan_lines(plan: "Plan", width: int = 100) -> list[str]:
    """The whole plan, each file's instructions uncut (their own lines kept, wrapped to `width`)."""
    lines = [click.style("Plan: ", bold=True) + plan.summary]
    for edit in plan.edits:
        lines.append(f"  {edit.action:<6} {edit.path}")
        for paragraph in edit.instructions.strip().splitlines() or [""]:
            lines += textwrap.wrap(paragraph, max(20, width - 1), initial_indent="         ",
                                   subsequent_indent="         ") or [""]
    return lines


def estimate_line(event: Planned) -> str:
    """The line under the plan: how many workers (and whether a review follows), and what they should cost."""
    cost = money(event.total_cost, UNPRICED, estimate=True)
    if event.reviewed:
        return (f"  {worker_count(event.plan)} worker(s) and a review, estimated cost {cost} "
                "(before repairs and amendments)")
    return f"  {worker_count(event.plan)} worker(s), estimated cost {cost} (before repairs)"


def event_lines(event: Event, verbose: bool = False) -> list[str]:
    """The plain view's lines for one event (none for calls and retries without -v)."""
    match event:
        case ContextRead(files=files, tokens=tokens):
            return [f"diffcrew: read {files} tracked files (~{tokens} tokens of context)"]
        case Explored(tool=tool, input=given, path=path):
            head = f"  worker  {path}: explore " if path else "  explore "
            return [head + f"{tool} " + " ".join(f"{k}={v!r}" for k, v in given.items())]
        case Planned(plan=plan):
            return [*plan_lines(plan), estimate_line(event)]
        case WorkerRunning() | WorkerRepairing() | WorkerFinished():
            return [worker_line(event)]
        case ChecksRunning(round=number, names=names):
            return [f"  checks  round {number + 1}: {', '.join(names)}"]
        case ChecksDone(results=results):
            return _checks_done(results, verbose)
        case Reviewing(round=number):
            return [f"  review  round {number}: reviewing the combined change"]
        case Reviewed():
            return review_lines(event)
        case Warned(message=message):
            return [click.style("warning: ", fg="yellow") + message]
        case ModelCalled():
            return [_call_line(event)] if verbose else []
        case ModelRetrying(error=error, attempt=attempt):
            return [f"  retry   {event.caller}: " + click.style(error, fg="yellow") + f" (retry {attempt})"] \
                if verbose else []
        case _:
            assert_never(event)


def review_lines(event: Reviewed) -> list[str]:
    """The review's verdict; an amendment with one line per file (+ a new file, > a follow-up)."""
    head = f"  review  round {event.round}: "
    if event.approved:
        return [head + click.style("approved", fg="green") + (f" ({event.note})" if event.note else "")]
    lines = [head + click.style("asked for more", fg="yellow") + f": {event.note}"]
    lines += [f"    {'+' if e.path in event.added else '>'} {e.action:<6} {e.path}: {' '.join(e.instructions.split())}"
              for e in event.edits]
    return lines


def worker_line(event: WorkerRunning | WorkerRepairing | WorkerFinished) -> str:
    head = f"  worker  {event.path}: "
    match event:
        case WorkerRunning():
            return head + "running"
        case WorkerRepairing(problem=problem):
            return head + click.style("repairing", fg="yellow") + f" ({problem})"
        case WorkerFinished(ok=ok, attempts=attempts, error=error):
            tail = f" after {attempts} attempt(s)" if attempts else ""
            word = click.style("done", fg="green") if ok else click.style("failed", fg="red")
            return head + word + tail + (f": {error}" if error else "")
        case _:
            assert_never(event)


def _checks_done(results: "tuple[CheckResult, ...]", verbose: bool) -> list[str]:
    lines = []
    for check in results:
        lines.append(check_line(check))
        if verbose and check.status != "pass" and check.output.strip():
            lines += ["    " + line for line in check.output.rstrip().splitlines()]
    return lines


def check_line(check: "CheckResult") -> str:
    colour = "green" if not check.new_failure else "red"
    note = "" if check.new_failure or check.status == "pass" else " (failed on the base too)"
    if check.status == "error" and not check.new_failure:
        # It could not run at all (not found, not executable) on either side: nothing was checked.
        said = next((line.strip() for line in reversed(check.output.splitlines()) if line.strip()
                     and not line.startswith("[diffcrew:")), "")
        note = " (could not run, on the base either: nothing was checked" + (f"; {said[:120]})" if said else ")")
    return (f"  check   {check.name}: " + click.style(check.status, fg=colour)
            + f"{note} in {check.duration_s:.1f} s")


def _call_line(event: ModelCalled) -> str:
    usage = event.usage
    total_in = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    cached = f" ({usage.cache_read_tokens:,} from cache)" if usage.cache_read_tokens else ""
    return (f"  call    {event.caller}: {total_in:,} in{cached} / {usage.output_tokens:,} out tokens, "
            f"{money(event.cost, 'cost unknown')}, {event.seconds:.1f} s")


_STAT_LINE = re.compile(r"^(?P<head>.*\|\s*\d+ )(?P<plus>\+*)(?P<minus>-*)$")


def colour_diffstat(diffstat: str) -> str:
    """`git diff --stat` with its + runs green and - runs red (click drops the colour where agent/colour.py says)."""
    lines = []
    for line in diffstat.rstrip("\n").splitlines():
        match = _STAT_LINE.match(line)
        if match:
            plus, minus = match["plus"], match["minus"]
            line = (match["head"] + (click.style(plus, fg="green") if plus else "")
                    + (click.style(minus, fg="red") if minus else ""))
        lines.append(line)
    return "\n".join(lines)
