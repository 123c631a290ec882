"""`--stream-json`: the run's progress as one JSON object per line on stdout, as it happens.

`StreamView` is a run's `Progress` (a View): it writes a `start` line when the run begins, one
line per event of agent/events.py (`event_record`: one `case` per event class, so mypy reports an
event this module does not handle), and wraps the plain view that keeps the human-readable lines on
stderr (-q: none). The CLI prints the run report last, on one line (agent/cli/output.py), as
`--json` prints it. The shapes are schemas/run-events.v1.schema.json; the plan, a review, a check
and a call's usage have the run report's shapes (schemas/run-report.v2.schema.json).

Strings in the events go through a redactor keyed like the run's (tools/redact.py), so that a
secret a check printed, say, is replaced by the same token as in the report.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, assert_never

import click

from diffcrew.agent.events import (ChecksDone, ChecksRunning, ContextRead, Event, Explored, ModelCalled, ModelRetrying,
                                   Planned, Reviewed, Reviewing, Warned, WorkerFinished, WorkerRepairing,
                                   WorkerRunning)
from diffcrew.agent.view import View, worker_count

if TYPE_CHECKING:
    from diffcrew.agent.types import Plan

STREAM_VERSION = 1  # of the lines: schemas/run-events.v1.schema.json
Write = Callable[[str], None]


def _usd(cost: float | None) -> float | None:
    return None if cost is None else round(cost, 6)


def event_record(event: Event) -> dict[str, Any]:
    """The JSON object of one event (without `elapsed_s`, which the view adds)."""
    match event:
        case ContextRead(files=files, tokens=tokens):
            return {"type": "context", "files": files, "tokens": tokens}
        case Explored(tool=tool, input=given, path=path):
            return {"type": "explore", "tool": tool, "input": given, "path": path}
        case Planned(plan=plan, reviewed=reviewed):
            return {"type": "plan", "plan": plan.to_dict(), "workers": worker_count(plan), "reviewed": reviewed,
                    "estimated_cost_usd": _usd(event.total_cost), "worker_cost_usd": _usd(event.estimated_cost),
                    "review_cost_usd": _usd(event.review_cost)}
        case WorkerRunning(path=path):
            return _worker(path, "running")
        case WorkerRepairing(path=path, problem=problem):
            return _worker(path, "repairing", problem=problem)
        case WorkerFinished(path=path, attempts=attempts, error=error):
            return _worker(path, event.state, attempts=attempts, error=error)
        case ChecksRunning(round=number, names=names):
            return {"type": "checks_started", "round": number + 1, "names": list(names)}
        case ChecksDone(results=results):
            return {"type": "checks", "results": [check.to_dict() for check in results]}
        case Reviewing(round=number):
            return {"type": "review_started", "round": number}
        case Reviewed():
            return {"type": "review", "review": event.to_dict()}
        case Warned(message=message):
            return {"type": "warning", "message": message}
        case ModelCalled(usage=usage, cost=cost, seconds=seconds):
            return {"type": "model_call", **_caller(event), "usage": usage.to_dict(), "cost_usd": _usd(cost),
                    "seconds": seconds}
        case ModelRetrying(attempt=attempt, error=error):
            return {"type": "model_retry", **_caller(event), "attempt": attempt, "error": error}
        case _:
            assert_never(event)


def _worker(path: str, state: str, *, problem: str | None = None, attempts: int | None = None,
            error: str | None = None) -> dict[str, Any]:
    return {"type": "worker", "path": path, "state": state, "problem": problem, "attempts": attempts, "error": error}


def _caller(event: ModelCalled | ModelRetrying) -> dict[str, Any]:
    return {"role": event.role, "path": event.path, "model": event.model}


class StreamView(View):
    """JSON lines on stdout for every event, around `inner` (the plain or quiet view on stderr).

    Never asks: a program reads the stream. Lines are written whole and flushed, one at a time
    (events may come from several threads)."""

    def __init__(self, inner: View, repo: Path, *, write: Write | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(verbose=inner.verbose)
        self.inner = inner
        self.repo = repo
        self.write = write or _to_stdout
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._redact: Callable[[Any], Any] | None = None

    def __enter__(self) -> "StreamView":
        self.inner.__enter__()
        self._started = self._clock()
        self._line({"type": "start", "version": STREAM_VERSION})
        return self

    def emit(self, event: Event) -> None:
        self.inner.emit(event)
        self._line(self._redactor()(event_record(event)))

    def confirm(self, plan: "Plan") -> bool:
        return True

    def close(self) -> None:
        self.inner.close()

    def _line(self, record: dict[str, Any]) -> None:
        with self._lock:
            elapsed = round(self._clock() - self._started, 3)
            self.write(json.dumps({**record, "elapsed_s": elapsed}, ensure_ascii=False, default=str))

    def _redactor(self) -> Callable[[Any], Any]:
        """The run's redaction key is made before its first event; read it then, once."""
        if self._redact is None:
            from diffcrew.tools.git import GitRepo
            from diffcrew.tools.redact import Redactor, repository_key

            self._redact = Redactor(key=repository_key(GitRepo(self.repo).common_dir)).redact_value
        return self._redact


def _to_stdout(line: str) -> None:
    click.echo(line, color=False)
