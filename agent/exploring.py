"""Read-only exploration, shared by the roles that may look around before they answer: the planner
(agent/orchestrator.py) and the workers (agent/worker.py).

A turn's exploration calls are answered from the base commit by tools/explore.py, in a thread: a
search may take up to SEARCH_TIMEOUT_S, and --timeout or Ctrl-C kill it (agent/offloop.py). Each
answer becomes a `tool_result` and an `Explored` event (with the worker's file for a worker).
Paths are held to what the role may read (`ExploreSource.allowed`: RepoContext.text_paths, from
which secrets and denied paths are already gone); what goes to the model is redacted by the model
seam (agent/llm/tracked.py) like every other block.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, AbstractSet, Any

from diffcrew.agent.events import Emit, Explored
from diffcrew.agent.offloop import off_loop
from diffcrew.tools.explore import answer_tool, stop_searches

if TYPE_CHECKING:
    from diffcrew.agent.llm.protocol import ModelReply
    from diffcrew.tools.git import GitRepo

Found = dict[str, tuple[str, bool]]  # tool_use id -> (the answer's text, whether it is an error)


@dataclass(frozen=True)
class ExploreSource:
    """What exploration reads: the repository at the base commit, and the paths it may show."""

    repo: GitRepo
    base: str
    allowed: AbstractSet[str]


def exploring(reply: ModelReply, names: frozenset[str]) -> bool:
    """Whether the turn only calls exploration tools among `names` (and was not cut off)."""
    calls = reply.tool_calls()
    return bool(calls) and reply.stop_reason != "max_tokens" and all(c.get("name") in names for c in calls)


async def answer_calls(source: ExploreSource, calls: list[dict[str, Any]]) -> Found:
    """Answer a turn's exploration calls from the base commit, off the event loop; cancelling the
    caller (--timeout, Ctrl-C) kills a running search and answers the rest `interrupted`."""
    stopped = threading.Event()

    def answer_all() -> Found:
        return {c["id"]: ("interrupted", True) if stopped.is_set() else
                answer_tool(source.repo, source.base, c["name"], c.get("input") or {}, source.allowed)
                for c in calls}

    def stop() -> None:
        stopped.set()
        stop_searches()

    return await off_loop(answer_all, on_cancel=stop)


def tool_result(call: dict[str, Any], found: Found, emit: Emit, path: str | None = None) -> dict[str, Any]:
    """The tool_result of one exploration call answered by `answer_calls`, reported as `Explored`
    (`path`: the worker's file, None for the planner)."""
    text, is_error = found[call["id"]]
    emit(Explored(call["name"], call.get("input") or {}, path))
    return {"type": "tool_result", "tool_use_id": call["id"], "is_error": is_error, "content": text}
