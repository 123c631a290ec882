"""The fake Messages API without a transport: what the HTTP server (`server.py`) and the in-process
client (`seam.py`) share, so that both refuse and answer exactly alike.

`FakeApi` owns the script (answers and fault runs, see server.py "Fault turns"), the recording of
requests (`RecordedRequest`, `requests`, `events`), the validation of a body (`rules.validate`,
then the `ThinkingLedger`'s check of the thinking blocks it emitted), the answer
(`answers.build_answer`: thinking blocks signed, usage as the API reports it) and the simulated
prompt cache (`cache.py`). A request the API refuses, or one the script has no answer for, raises
`ApiError` with the status, type and message the server sends; the transports only carry it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from diffcrew.agent.script import FORMAT, ScriptError, is_fault, key_for_request, load_script, turn_index

from .answers import build_answer
from .cache import CachePlan, CacheUse, prompt_tokens
from .models import rules_for
from .rules import ApiError, Request, validate
from .thinking import ThinkingLedger

Turns = dict[str, list[dict[str, Any]]]
# A script with answers but no "review" list gets this one approval for it: the review is on by
# default, and most tests are about the other roles. A test of the review scripts it.
APPROVAL: dict[str, Any] = {"tool": "approve_change", "input": {"note": "The change does what the request asks."}}


@dataclass
class RecordedRequest:
    key: str | None
    turn: int
    body: dict
    headers: dict[str, str]
    stream: bool
    status: int = 0
    endpoint: str = "messages"
    error: str = ""  # the message of the error answer, if one was sent
    fault: dict | None = field(default=None, repr=False)  # the fault entry played, if any
    arrived: float = field(default_factory=time.monotonic)  # time.monotonic() on arrival (for benchmarks)
    ratelimit: dict[str, str] = field(default_factory=dict, repr=False)  # anthropic-ratelimit-* sent back
    usage: dict[str, Any] = field(default_factory=dict, repr=False)  # the usage reported, once a message is sent
    cache: CacheUse | None = field(default=None, repr=False)  # simulate_cache: looked up on arrival

    @classmethod
    def of(cls, body: dict[str, Any], headers: dict[str, str], endpoint: str = "messages") -> "RecordedRequest":
        """The record of a request body: its script key and turn index as far as they can be told."""
        try:
            key: str | None = key_for_request(body)
        except ScriptError:
            key = None
        try:
            index = turn_index(body)
        except Exception:  # a malformed messages list; validation reports it
            index = 0
        return cls(key, index, body, headers, bool(body.get("stream")), endpoint=endpoint)


class FakeApi:
    """A scripted Messages API as plain calls: validate a body, answer it, simulate the cache."""

    cache_lookback: int = 20  # simulate_cache: blocks before a breakpoint also checked for a hit

    def __init__(self, script: Turns | str | None = None, *, simulate_cache: bool = True) -> None:
        self.simulate_cache = simulate_cache
        self.cache_entries: dict[str, float] = {}  # prefix hash -> time.monotonic() it became available
        self.requests: list[RecordedRequest] = []
        self.events: list[tuple[str, str | None]] = []  # ("arrived" | "answered" | "done", key), in order
        self.ledger = ThinkingLedger()  # the thinking blocks emitted, checked when they come back
        self._lock = threading.Lock()
        self.set_script(script)

    # -- script --------------------------------------------------------------------------
    def set_script(self, script: Turns | str | None) -> None:
        """Replace the script (turns dict, whole script document, JSON text, or None) and restart fault counts."""
        if script is None:
            turns: Turns = {}
        elif isinstance(script, str):
            turns = load_script(script)
        elif isinstance(script, dict) and script.get("format") == FORMAT and isinstance(script.get("turns"), dict):
            turns = script["turns"]
        else:
            turns = script
        if not isinstance(turns, dict) or not all(isinstance(v, list) for v in turns.values()):
            raise ScriptError("script turns must map keys to lists of turns")
        if turns and "review" not in turns:
            turns = {**turns, "review": [dict(APPROVAL)]}
        answers: Turns = {}
        faults: dict[str, list[list[dict[str, Any]]]] = {}
        for key, entries in turns.items():
            runs: list[list[dict[str, Any]]] = [[]]
            answers[key] = []
            for entry in entries:
                if is_fault(entry):
                    runs[-1].append(entry)
                else:
                    answers[key].append(entry)
                    runs.append([])
            faults[key] = runs
        with self._lock:
            self.turns = turns
            self._answers = answers
            self._faults = faults
            self._seen: dict[tuple[str, int], int] = {}

    def fault_for(self, key: str, index: int) -> dict[str, Any] | None:
        """Count one more request for (key, index); the fault it must get, if any. Holds the lock."""
        runs = self._faults.get(key) or []
        n = self._seen.get((key, index), 0)
        self._seen[(key, index)] = n + 1
        for fault in runs[index] if index < len(runs) else []:
            times = int(fault.get("times", 1))
            if n < times:
                return fault
            n -= times
        return None

    # -- one request ---------------------------------------------------------------------
    def cache_plan(self, record: RecordedRequest) -> CachePlan | None:
        """The prompt's cache breakpoints, when the cache is simulated (worked out outside the lock)."""
        return CachePlan.of(record.body) if self.simulate_cache else None

    def arrive(self, record: RecordedRequest, plan: CachePlan | None, admitted: bool = True) -> None:
        """Record a Messages request; an admitted one also counts for its fault run and looks its
        prompt up in the cache. Holds the lock."""
        self.requests.append(record)
        self.events.append(("arrived", record.key))
        if not admitted:
            return
        record.fault = self.fault_for(record.key, record.turn) if record.key is not None else None
        if plan is not None:
            model = rules_for(record.body.get("model") or "")
            record.cache = plan.lookup(self.cache_entries, self.cache_lookback, model.cache_minimum if model else 0)

    def validated(self, record: RecordedRequest) -> Request:
        """The request checked against the API's rules and the thinking blocks this API emitted."""
        request = validate(record.body, record.endpoint)
        self.ledger.check(record.body, request)
        return request

    def answer(self, record: RecordedRequest) -> dict[str, Any]:
        """The scripted message for a validated request; `ApiError` for one the API refuses, and a
        400 `invalid_request_error` "fake server: ..." for one the script has no answer for."""
        request = self.validated(record)
        with self._lock:
            answers = self._answers
        try:
            return build_answer(answers, record.body, request, self.ledger)
        except ScriptError as exc:
            raise ApiError(400, "invalid_request_error", f"fake server: {exc}") from None

    def count(self, record: RecordedRequest) -> int:
        """The answer of count_tokens: the prompt's estimated size, after the same validation."""
        self.validated(record)
        return prompt_tokens(record.body)

    def begin_answer(self, record: RecordedRequest, message: dict[str, Any]) -> None:
        """The response with `message` begins: apply and record its usage, make its prefixes available."""
        record.status = 200
        with self._lock:
            self.events.append(("answered", record.key))
        if record.cache is not None:
            message["usage"] = {**(message.get("usage") or {}), **record.cache.usage}
        record.usage = dict(message.get("usage") or {})
        if record.cache is not None:
            now = time.monotonic()
            with self._lock:
                for digest in record.cache.writes:
                    self.cache_entries.setdefault(digest, now)
