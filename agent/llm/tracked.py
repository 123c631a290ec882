"""Tracking: `TrackedClient` wraps any `ModelClient` with what a run needs around each call.

Secrets are redacted from requests (`SentForms` keeps a conversation append-only) and restored in
replies; usage and cost go to the run's ledger (`agent/ledger.py`, priced by `agent/pricing.py`);
each call is appended to the transcript and reported as a progress event; the call budget, the
concurrency limit and the retries (`agent/limits.py`) apply here.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any

from diffcrew.agent.errors import BudgetExceeded, ModelError
from diffcrew.agent.events import Emit, ModelCalled, ModelRetrying, ignore
from diffcrew.agent.ledger import Ledger
from diffcrew.agent.limits import AdaptiveLimit, RetryPolicy
from diffcrew.agent.llm.protocol import ModelClient, ModelReply, ModelRequest, TransientModelError
from diffcrew.agent.pricing import cost_of
from diffcrew.agent.transcript import Transcript
from diffcrew.tools.redact import Redactor


class SentForms:
    """Each block of a conversation as it was first sent, redacted: later requests send it the same.

    A conversation is append-only: the current models bind their thinking to every earlier block,
    so a block must not change between requests. The redactor learns secrets as the run goes, and
    redacting the history again would rewrite an earlier block once a secret in it became known
    later (it has gone out already; rewriting it only makes the next request a 400). Blocks are
    keyed by their content without `cache_control`, whose mark moves from turn to turn.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._forms: dict[str, Any] = {}

    def message(self, message: dict[str, Any]) -> dict[str, Any]:
        content = message.get("content")
        if isinstance(content, str):
            return {**message, "content": self._form(content)}
        return {**message, "content": self.blocks(content) if isinstance(content, list) else content}

    def blocks(self, blocks: list[Any]) -> list[Any]:
        return [self._block(b) for b in blocks]

    def _block(self, block: Any) -> Any:
        if not isinstance(block, dict) or "cache_control" not in block:
            return self._form(block)
        bare = {k: v for k, v in block.items() if k != "cache_control"}
        return {**self._form(bare), "cache_control": block["cache_control"]}

    def _form(self, value: Any) -> Any:
        key = json.dumps(value, sort_keys=True, ensure_ascii=False)
        if key not in self._forms:
            self._forms[key] = self._redactor.redact_value(value)
        return self._forms[key]


class TrackedClient:
    """Wraps a client: secrets are redacted from every request and restored in every reply, every
    call is tallied in the ledger and appended to the transcript (redacted, as sent), and the
    run's call budget is enforced."""

    def __init__(self, inner: ModelClient, ledger: Ledger, transcript: Transcript | None,
                 redactor: Redactor | None = None, max_calls: int | None = None,
                 limit: AdaptiveLimit | None = None, retry: RetryPolicy | None = None,
                 emit: Emit = ignore) -> None:
        self._inner = inner
        self.limit = limit
        self.retry = retry or RetryPolicy()
        self.ledger = ledger
        self._transcript = transcript
        self._redactor = redactor
        self._max_calls = max_calls
        self._calls = 0
        self._emit = emit  # the run's progress: ModelCalled per call, ModelRetrying per retry
        self._sent = SentForms(redactor) if redactor is not None else None

    async def call(self, request: ModelRequest) -> ModelReply:
        self._calls += 1
        if self._max_calls is not None and self._calls > self._max_calls:
            raise BudgetExceeded(f"the run reached its limit of {self._max_calls} model calls (--max-calls); "
                                 "no branch was made")
        request, reserved = await self.ledger.admit(self._redacted(request), self._inner.count_tokens)
        started = time.monotonic()
        try:
            reply = await self._retrying(request)
        except BaseException as exc:
            self.ledger.release(reserved)
            if isinstance(exc, ModelError):
                self._record(request, started, error=str(exc))
            raise
        self.ledger.add(request.role, request.model, reply.usage, reserved)
        self._record(request, started, reply=reply)
        self._emit(ModelCalled(request.role, request.path, request.model, reply.usage,
                               cost_of(request.model, reply.usage), round(time.monotonic() - started, 3)))
        if self._redactor is not None:
            reply = replace(reply, content=self._redactor.restore_value(reply.content))
        return reply

    async def count_tokens(self, request: ModelRequest) -> int:
        return await self._inner.count_tokens(self._redacted(request))

    def _redacted(self, request: ModelRequest) -> ModelRequest:
        if self._sent is None:
            return request
        return replace(request, system=self._sent.blocks(request.system),
                       messages=[self._sent.message(m) for m in request.messages])

    async def _retrying(self, request: ModelRequest) -> ModelReply:
        """One call, retried on transient failures: the call gives its place in the concurrency
        limit back while it waits, and a 429/529 lowers the limit for everyone."""
        attempt = epoch = 0
        tokens = request.input_tokens if self.limit is not None and self.limit.quota.counts_tokens() else 0
        while True:
            try:
                if self.limit is None:
                    return await self._inner.call(request)
                async with self.limit.slot(tokens) as epoch:
                    try:
                        reply = await self._inner.call(request)
                    except TransientModelError as exc:
                        self.limit.observe(exc.ratelimit)
                        raise
                    self.limit.observe(reply.ratelimit)
                    self.limit.succeeded()
                return reply
            except TransientModelError as exc:
                if exc.throttled and self.limit is not None:
                    self.limit.throttled(epoch)
                if not self.retry.take(attempt):
                    plural = "y" if attempt == 1 else "ies"
                    raise ModelError(f"{exc} (gave up after {attempt} retr{plural}; "
                                     f"{self.retry.used} used this run)") from exc
                self._emit(ModelRetrying(request.role, request.path, request.model, attempt + 1, str(exc)))
                await asyncio.sleep(self.retry.delay(attempt, exc.retry_after))
                attempt += 1

    def _record(self, request: ModelRequest, started: float, *, reply: ModelReply | None = None,
                error: str | None = None) -> None:
        if self._transcript is None:
            return
        entry: dict[str, Any] = {"kind": "call", "role": request.role, "path": request.path,
                                 "seconds": round(time.monotonic() - started, 3), "request": request.body()}
        if reply is not None:
            # (the transcript redacts every entry it writes: the run's one owner of that rule)
            entry["reply"] = {"content": reply.content, "stop_reason": reply.stop_reason,
                              "usage": reply.usage.to_dict()}
        if error is not None:
            entry["error"] = error
        self._transcript.append(entry)

    async def aclose(self) -> None:
        await self._inner.aclose()
