"""Replays: a recorded run's transcript becomes a script for the scripted model.

Every call in a transcript holds the request as sent and the answer as received. Keyed by role,
file and turn (the number of assistant turns in the request), the answers form a diffcrew script
(`diffcrew.agent.script`), so the whole pipeline can run again with no key and no network, in
any order the workers happen to run, and produce the same tree.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from diffcrew.agent.config import ALIASES, RunOptions
from diffcrew.agent.errors import UsageError
from diffcrew.agent.runref import find_transcript
from diffcrew.agent.script import script_key, turn_index
from diffcrew.agent.transcript import entry_of, read_transcript
from diffcrew.tools.git import GitRepo

FINISHED = ("ok", "partial", "dry-run")  # the end statuses of a run whose every call was answered
NOTHING_BILLED = {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}


def script_from_transcript(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The answers of every successful call, as script turns keyed by role, file and turn. A replay
    spends nothing, so its answers bill no tokens: its report costs $0, not the original's again."""
    slots: dict[str, dict[int, dict[str, Any]]] = {}
    for entry in entries:
        if entry.get("kind") != "call" or "reply" not in entry:
            continue  # a failed attempt: its retry, if any, is recorded after it
        reply = entry["reply"]
        key = script_key(entry["role"], entry.get("path"))
        slots.setdefault(key, {})[turn_index(entry["request"])] = {
            "content": reply["content"], "stop_reason": reply["stop_reason"], "usage": dict(NOTHING_BILLED)}
    return {key: [turns[i] for i in sorted(turns)] for key, turns in slots.items()}


def replay_options(entries: list[dict[str, Any]], repo: Path, branch: str | None) -> RunOptions:
    """The recorded run's options, on its recorded base commit, onto a new branch, never pushed."""
    start = next((e for e in entries if e.get("kind") == "start"), None)
    if start is None:
        raise UsageError("the transcript has no start record; it cannot be replayed")
    known = {f.name for f in fields(RunOptions)}
    options = start.get("options") or {}
    options = {ALIASES.get(k, k): v for k, v in options.items()}  # recorded under the old names
    recorded: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if k in known}
    recorded.setdefault("review_rounds", 0)  # recorded before the review existed: it had none
    recorded.update(request=start["request"], repo=repo, base=start["base"], branch=branch, dry_run=False,
                    push=None)
    return RunOptions(**recorded)


def unanswered(entries: list[dict[str, Any]]) -> list[str]:
    """Where a run that did not finish had a model call fail for good (what a replay cannot play)."""
    end = entry_of(entries, "end", last=True)
    if end.get("status") in FINISHED:
        return []  # a failed review or summary is played as it happened: without an answer
    failed = [str(e.get("path") or e.get("role")) for e in entries if e.get("kind") == "call" and "error" in e]
    return list(dict.fromkeys(failed))


def load_replay(repo: GitRepo, run: str, branch: str | None) -> tuple[RunOptions, dict[str, list[dict[str, Any]]]]:
    path = find_transcript(repo, run)
    entries = read_transcript(path)
    retried = entry_of(entries, "start").get("retry_of")
    if retried:
        raise UsageError(f"run {path.stem} is a retry of run {retried}: it made no plan and reused that run's "
                         "finished files, so it cannot be replayed on its own")
    missing = unanswered(entries)
    if missing:
        raise UsageError(f"run {path.stem} failed where a model call got no answer ({', '.join(missing)}); a replay "
                         f"plays only recorded answers and would stop there: `diffcrew retry {path.stem}` runs the "
                         "failed workers again and reuses the rest")
    return replay_options(entries, repo.root, branch), script_from_transcript(entries)
    return replay_options(entries, repo.root, branch), script_from_transcript(entries)
