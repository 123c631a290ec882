"""The run's progress, as data: one frozen class per event, and the `Progress` a caller supplies.

The flow (agent/run.py, agent/crew.py, agent/synthesizer.py), the workers, the planner and the model seam
(agent/llm/tracked.py's TrackedClient) emit these; the listeners (the plain and live views, `--stream-json`
(agent/streamjson.py), `diffcrew fix`, the transcript's record of explorations) `match` on the classes.
Adding an event here without handling it in a view is a mypy error (each view ends its `match` with
`assert_never`).

Order in a run: `ContextRead`, then `Explored` per planner tool call, `Planned` (and the go-ahead,
`Progress.confirm`), `WorkerRunning` / `Explored` (with the file) / `WorkerRepairing` / `WorkerFinished`
per file, `ChecksRunning` / `ChecksDone` per check round, `Reviewing` / `Reviewed` per review round (an
amendment's workers then run again, and so on), `Warned` at any point, and from the model seam
`ModelCalled` per call and `ModelRetrying` per retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, Union

if TYPE_CHECKING:
    from diffcrew.agent.types import FileEdit, FileResult, Plan, Usage
    from diffcrew.sandbox.checks import CheckResult


@dataclass(frozen=True)
class ContextRead:
    """The repository's context was read: how many tracked files, and its size in tokens."""

    files: int
    tokens: int


@dataclass(frozen=True)
class Explored:
    """The planner, or the worker of `path`, called a read-only exploration tool with this input."""

    tool: str
    input: dict[str, Any]
    path: str | None = None  # the worker's file; None for the planner


@dataclass(frozen=True)
class Planned:
    """The plan, and what it should cost before repairs (None: unknown): its workers, and, when the
    run reviews the change (`reviewed`), the first review too (`review_cost`)."""

    plan: Plan
    estimated_cost: float | None  # the workers'
    reviewed: bool = False
    review_cost: float | None = None

    @property
    def total_cost(self) -> float | None:
        """The estimate shown with the plan: the workers', plus the review's when there is one."""
        if not self.reviewed or self.estimated_cost is None:
            return self.estimated_cost
        return None if self.review_cost is None else self.estimated_cost + self.review_cost


@dataclass(frozen=True)
class WorkerRunning:
    path: str


@dataclass(frozen=True)
class WorkerRepairing:
    """A worker's patch is going back to it: it did not apply, or a check failed."""

    path: str
    problem: str


@dataclass(frozen=True)
class WorkerFinished:
    """A file's result (a worker's patch or revision; a delete, with no attempts)."""

    path: str
    ok: bool
    attempts: int
    error: str | None = None

    @property
    def state(self) -> str:
        return "done" if self.ok else "failed"

    @classmethod
    def of(cls, result: FileResult) -> WorkerFinished:
        return cls(result.path, result.ok, result.attempts, result.error)


@dataclass(frozen=True)
class ChecksRunning:
    """A check round started (`round` counts from 0) with these checks."""

    round: int
    names: tuple[str, ...]


@dataclass(frozen=True)
class ChecksDone:
    results: tuple[CheckResult, ...]


@dataclass(frozen=True)
class Reviewing:
    """The orchestrator's review of the combined change started (`round` counts from 1)."""

    round: int


@dataclass(frozen=True)
class Reviewed:
    """The review's verdict: approval (no edits), or an amendment with its edits, of which
    `added` are new files (the rest are follow-ups for planned files)."""

    round: int
    note: str
    edits: tuple[FileEdit, ...] = ()
    added: tuple[str, ...] = ()

    @property
    def approved(self) -> bool:
        return not self.edits

    def to_dict(self) -> dict[str, Any]:
        """The round as the run report's `reviews` and `--stream-json` give it."""
        return {"round": self.round, "verdict": "approved" if self.approved else "amended", "note": self.note,
                "edits": [{"path": e.path, "action": e.action, "instructions": e.instructions,
                           "added": e.path in self.added} for e in self.edits]}


@dataclass(frozen=True)
class Warned:
    message: str


@dataclass(frozen=True)
class _ModelEvent:
    """What the model seam's events share: the caller (a role, and a worker's file) and the model."""

    role: str
    path: str | None
    model: str

    @property
    def caller(self) -> str:
        """The caller as the lines name it: `orchestrator`, `worker path`."""
        return f"{self.role} {self.path}" if self.path else self.role


@dataclass(frozen=True)
class ModelCalled(_ModelEvent):
    """One model call went through: its tokens, cost (None: unpriced) and duration."""

    usage: Usage
    cost: float | None
    seconds: float


@dataclass(frozen=True)
class ModelRetrying(_ModelEvent):
    """A call failed transiently and is retried (`attempt` counts from 1)."""

    attempt: int
    error: str


Event = Union[ContextRead, Explored, Planned, WorkerRunning, WorkerRepairing, WorkerFinished, ChecksRunning,
              ChecksDone, Reviewing, Reviewed, Warned, ModelCalled, ModelRetrying]
Emit = Callable[[Event], None]


class Progress(Protocol):
    """How the flow talks to its caller: progress events, and the go-ahead after planning."""

    def emit(self, event: Event) -> None: ...

    def confirm(self, plan: Plan) -> bool: ...


def ignore(event: Event) -> None:
    """An `Emit` for callers that do not report progress."""
