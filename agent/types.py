"""Frozen dataclasses passed between the roles: plan, per-file results, usage and the run report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["modify", "create", "delete"]
ACTIONS: tuple[str, ...] = ("modify", "create", "delete")
REPORT_VERSION = 2  # of the `--json` report: schemas/run-report.v2.schema.json


@dataclass(frozen=True)
class FileEdit:
    """One planned change to one file."""

    path: str
    action: Action
    instructions: str


@dataclass(frozen=True)
class Plan:
    """The orchestrator's decomposition of a request into per-file edits."""

    summary: str
    edits: tuple[FileEdit, ...]

    @classmethod
    def from_tool_input(cls, data: Any) -> "Plan":
        """Build a plan from `plan_edits` input; ValueError says what is malformed (for the re-ask)."""
        if not isinstance(data, dict):
            raise ValueError("plan_edits input must be an object with 'summary' and 'edits'")
        summary, edits = data.get("summary"), data.get("edits")
        if not isinstance(summary, str) or not summary.strip():
            raise ValueError("'summary' must be a non-empty string")
        if not isinstance(edits, list) or not edits:
            raise ValueError("'edits' must be a non-empty list")
        parsed = []
        for i, item in enumerate(edits, 1):
            if not isinstance(item, dict):
                raise ValueError(f"edit {i} must be an object with path, action and instructions")
            path, action, text = item.get("path"), item.get("action"), item.get("instructions", "")
            if not isinstance(path, str) or not path.strip():
                raise ValueError(f"edit {i} has no 'path'")
            if action not in ACTIONS:
                raise ValueError(f"edit {i} ({path}): 'action' must be one of {', '.join(ACTIONS)}, not {action!r}")
            if not isinstance(text, str):
                raise ValueError(f"edit {i} ({path}): 'instructions' must be a string")
            parsed.append(FileEdit(path=path.strip(), action=action, instructions=text.strip()))
        return cls(summary=summary.strip(), edits=tuple(parsed))

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary,
                "edits": [{"path": e.path, "action": e.action, "instructions": e.instructions} for e in self.edits]}


@dataclass(frozen=True)
class Usage:
    """Token counts of one or more model calls."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    calls: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                     self.cache_read_tokens + other.cache_read_tokens,
                     self.cache_write_tokens + other.cache_write_tokens, self.calls + other.calls)

    def to_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cache_read_tokens": self.cache_read_tokens, "cache_write_tokens": self.cache_write_tokens,
                "calls": self.calls}


@dataclass(frozen=True)
class FileResult:
    """What became of one planned file: its new text (None for a delete), or why it failed."""

    path: str
    action: Action
    new_text: str | None = None
    patch: str = ""
    error: str | None = None
    attempts: int = 0
    tiers: tuple[str, ...] = ()
    note: str | None = None  # the worker's `note`: what else the change needs outside this file

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RunReport:
    """Everything a run produced, for the CLI's text or JSON output."""

    run_id: str
    status: Literal["ok", "partial", "failed", "dry-run"]
    exit_code: int
    request: str
    repo: str
    base: str
    base_ref: str
    branch: str | None
    commit: str | None
    plan: Plan | None
    results: tuple[FileResult, ...]
    usage_by_role: dict[str, Usage]
    cost_usd: float | None
    duration_s: float
    diffstat: str = ""
    diff: str = ""
    message: str = ""
    warnings: tuple[str, ...] = ()
    transcript: str = ""
    errors: tuple[str, ...] = field(default_factory=tuple)
    checks: tuple[dict[str, Any], ...] = ()
    remote: str | None = None
    reviews: tuple[dict[str, Any], ...] = ()  # per round: round, verdict, note, edits (each with `added`)

    def to_dict(self) -> dict[str, Any]:
        """The machine report printed by `--json` (schemas/run-report.v2.schema.json)."""
        return {
            "version": REPORT_VERSION, "run_id": self.run_id, "status": self.status, "exit_code": self.exit_code,
            "request": self.request, "repo": self.repo, "base": self.base, "base_ref": self.base_ref,
            "branch": self.branch, "commit": self.commit, "remote": self.remote,
            "plan": self.plan.to_dict() if self.plan else None,
            "reviews": [{**review, "edits": [dict(e) for e in review["edits"]]} for review in self.reviews],
            "files": [{"path": r.path, "action": r.action, "status": "ok" if r.ok else "failed",
                       "attempts": r.attempts, "tiers": list(r.tiers), "error": r.error, "note": r.note}
                      for r in self.results],
            "usage": {role: u.to_dict() for role, u in self.usage_by_role.items()},
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
            "duration_s": round(self.duration_s, 3), "diffstat": self.diffstat, "diff": self.diff,
            "checks": list(self.checks),
            "message": self.message, "warnings": list(self.warnings), "errors": list(self.errors),
            "transcript": self.transcript,
        }
