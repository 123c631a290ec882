"""What the user sees while a run works: the flow's progress events in, lines or a live display out.

The flow (agent/run.py) reports progress as events: `context`, `explore`, `plan`, `worker`
(running / repairing / done / failed), `checks`, `warning`, and, from the model seam, `usage`
(one per model call: role, path, tokens, cost) and `retry`. It asks once for a go-ahead after
planning. A view turns all that into output on stderr:

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
import sys
from typing import TYPE_CHECKING, Any, Callable

import click

from diffcrew.agent.pricing import UNPRICED, money

if TYPE_CHECKING:
    from diffcrew.agent.run import RunHooks
    from diffcrew.agent.types import Plan
    from diffcrew.sandbox.checks import CheckResult

Prompt = Callable[[str], bool]
Write = Callable[[str], None]


class View:
    """The interface the CLI picks from: a context manager around the run that supplies its hooks.

    Subclasses implement `event`; `confirm` asks `prompt` (None: never ask) about the plan.
    """

    def __init__(self, *, verbose: bool = False, prompt: Prompt | None = None) -> None:
        self.verbose = verbose
        self.prompt = prompt

    def event(self, kind: str, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def confirm(self, plan: "Plan") -> bool:
        return True if self.prompt is None else self.prompt(confirm_question(plan))

    def hooks(self) -> "RunHooks":
        from diffcrew.agent.run import RunHooks

        return RunHooks(event=self.event, confirm=self.confirm)

    def close(self) -> None:
        """Stop drawing; everything printed after this goes below the view's output."""

    def __enter__(self) -> "View":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PlainView(View):
    """One line per event on stderr (styles, if any, are dropped by click when it is not a terminal)."""

    def __init__(self, *, verbose: bool = False, prompt: Prompt | None = None, write: Write | None = None) -> None:
        super().__init__(verbose=verbose, prompt=prompt)
        self.write = write or _to_stderr

    def event(self, kind: str, data: dict[str, Any]) -> None:
        for line in event_lines(kind, data, self.verbose):
            self.write(line)


class QuietView(PlainView):
    """Only the result: no progress; the plan is shown only when the user is asked about it."""

    def event(self, kind: str, data: dict[str, Any]) -> None:
        return None

    def confirm(self, plan: "Plan") -> bool:
        if self.prompt is not None:
            for line in plan_lines(plan):
                self.write(line)
        return super().confirm(plan)


def choose_view(*, quiet: bool, verbose: bool, ask: bool, terminal: bool | None = None) -> View:
    """Quiet if asked; a live display when stderr is a terminal (not TERM=dumb); plain lines otherwise."""
    prompt = _ask_on_stderr if ask else None
    if quiet:
        return QuietView(prompt=prompt)
    if terminal is None:
        terminal = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    if terminal:
        from diffcrew.agent.liveview import LiveView  # imports rich: only when a live display is drawn

        return LiveView.on_stderr(verbose=verbose, prompt=prompt)
    return PlainView(verbose=verbose, prompt=prompt)


def _to_stderr(line: str) -> None:
    click.echo(line, err=True)


def _ask_on_stderr(question: str) -> bool:
    return click.confirm(question, default=True, err=True)


def confirm_question(plan: "Plan") -> str:
    return f"Start {worker_count(plan)} worker(s)?"


def worker_count(plan: "Plan") -> int:
    """Deletes need no model: only modify/create edits get a worker."""
    return sum(1 for e in plan.edits if e.action != "delete")


# The plain view's lines, one function per event kind. The live view prints some of them too.

def plan_lines(plan: "Plan") -> list[str]:
    lines = [click.style("Plan: ", bold=True) + plan.summary]
    lines += [f"  {e.action:<6} {e.path}: {' '.join(e.instructions.split())}" for e in plan.edits]
    return lines


def estimate_line(data: dict[str, Any]) -> str:
    """The line under the plan: how many workers, and what they should cost."""
    cost = data.get("estimated_cost")
    return f"  {worker_count(data['plan'])} worker(s), estimated cost {money(cost, UNPRICED, estimate=True)} (before repairs)"


def _plan(data: dict[str, Any], verbose: bool) -> list[str]:
    return [*plan_lines(data["plan"]), estimate_line(data)]


def _context(data: dict[str, Any], verbose: bool) -> list[str]:
    return [f"diffcrew: read {data['files']} tracked files (~{data['tokens']} tokens of context)"]


def _explore(data: dict[str, Any], verbose: bool) -> list[str]:
    detail = " ".join(f"{k}={v!r}" for k, v in data["input"].items())
    return [f"  explore {data['tool']} {detail}"]


def _worker(data: dict[str, Any], verbose: bool) -> list[str]:
    head = f"  worker  {data['path']}: "
    if data["state"] == "running":
        return [head + "running"]
    if data["state"] == "repairing":
        return [head + click.style("repairing", fg="yellow") + f" ({data['problem']})"]
    tail = f" after {data['attempts']} attempt(s)" if data.get("attempts") else ""
    word = click.style("done", fg="green") if data["state"] == "done" else click.style("failed", fg="red")
    reason = f": {data['error']}" if data.get("error") else ""
    return [head + word + tail + reason]


def _checks(data: dict[str, Any], verbose: bool) -> list[str]:
    if data["state"] == "running":
        return [f"  checks  round {data['round'] + 1}: {', '.join(data['names'])}"]
    lines = []
    for check in data["results"]:
        lines.append(check_line(check))
        if verbose and check.status != "pass" and check.output.strip():
            lines += ["    " + line for line in check.output.rstrip().splitlines()]
    return lines


def check_line(check: "CheckResult") -> str:
    colour = "green" if not check.new_failure else "red"
    note = "" if check.new_failure or check.status == "pass" else " (failed on the base too)"
    return (f"  check   {check.name}: " + click.style(check.status, fg=colour)
            + f"{note} in {check.duration_s:.1f} s")


def _warning(data: dict[str, Any], verbose: bool) -> list[str]:
    return [click.style("warning: ", fg="yellow") + data["message"]]


def who(data: dict[str, Any]) -> str:
    """The caller of a model call, as the lines name it: `orchestrator`, `worker path`."""
    return f"{data['role']} {data['path']}" if data.get("path") else str(data["role"])


def _usage(data: dict[str, Any], verbose: bool) -> list[str]:
    if not verbose:
        return []
    usage = data["usage"]
    total_in = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    cached = f" ({usage.cache_read_tokens:,} from cache)" if usage.cache_read_tokens else ""
    return [f"  call    {who(data)}: {total_in:,} in{cached} / {usage.output_tokens:,} out tokens, "
            f"{money(data.get('cost'), 'cost unknown')}, {data.get('seconds', 0.0):.1f} s"]


def _retry(data: dict[str, Any], verbose: bool) -> list[str]:
    if not verbose:
        return []
    return [f"  retry   {who(data)}: " + click.style(data["error"], fg="yellow") + f" (retry {data['attempt']})"]


_LINES: dict[str, Callable[[dict[str, Any], bool], list[str]]] = {
    "context": _context, "explore": _explore, "plan": _plan, "worker": _worker, "checks": _checks,
    "warning": _warning, "usage": _usage, "retry": _retry}


def event_lines(kind: str, data: dict[str, Any], verbose: bool = False) -> list[str]:
    """The plain view's lines for one event (none for kinds it does not know)."""
    lines = _LINES.get(kind)
    return lines(data, verbose) if lines else []


_STAT_LINE = re.compile(r"^(?P<head>.*\|\s*\d+ )(?P<plus>\+*)(?P<minus>-*)$")


def colour_diffstat(diffstat: str) -> str:
    """`git diff --stat` with its + runs green and - runs red (click drops the colour off a terminal)."""
    lines = []
    for line in diffstat.rstrip("\n").splitlines():
        match = _STAT_LINE.match(line)
        if match:
            plus, minus = match["plus"], match["minus"]
            line = (match["head"] + (click.style(plus, fg="green") if plus else "")
                    + (click.style(minus, fg="red") if minus else ""))
        lines.append(line)
    return "\n".join(lines)
