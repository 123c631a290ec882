"""The fake Messages API at the model seam: a `ModelClient` that answers in-process, as strictly
as the HTTP server.

    client = SeamClient(turns)
    report = run_change(options, progress, make_client=lambda: client)
    assert [r.key for r in client.requests] == [...]

Every `ModelRequest.body()` goes through `core.FakeApi`, the same code the server runs: the API's
request rules (`rules.validate`), the check of the thinking blocks it emitted (`thinking.py`), and
the scripted answer with its signed thinking blocks and usage (`answers.py`), the simulated cache
included. A refused request raises what `AnthropicClient` raises for that HTTP answer (the
`ModelError` of `apierrors.classify`, with the API's message), so a flow sees the same failure
either way. Requests are recorded as the server records them (`requests`, `events`).

What needs the wire is not here: fault entries (HTTP errors, dropped connections, cut streams),
latency, rate limits and streaming. A script holding a fault entry is refused: use the server.
"""

from __future__ import annotations

import json
from typing import Any

from diffcrew.agent.apierrors import classify
from diffcrew.agent.errors import ModelError
from diffcrew.agent.llm.protocol import (ModelReply, ModelRequest, TransientModelError, readable, refusal_of,
                                         usage_of, wire_blocks)
from diffcrew.agent.script import ScriptError

from .answers import public
from .core import FakeApi, RecordedRequest, Turns
from .rules import ApiError
from .wire import request_id


def model_error(error: ApiError) -> ModelError:
    """What `AnthropicClient` raises for the error answer the server would send for `error`."""
    body = {"type": "error", "error": {"type": error.error_type, "message": error.message}, "request_id": request_id()}
    verdict = classify(error.status, body)
    if verdict.transient:
        return TransientModelError(str(verdict.error), verdict.retry_after, verdict.throttled)
    return verdict.error


class SeamClient(FakeApi):
    """A `ModelClient` answering from a script through the fake API's rules, with no transport."""

    def set_script(self, script: Turns | str | None) -> None:
        super().set_script(script)
        if any(fault for runs in self._faults.values() for fault in runs):
            raise ScriptError("the script holds fault entries, which need the wire: use the `server` fixture")

    def env(self) -> dict[str, str]:
        """What the CLI needs to run with this client (a key for `require_api_key`; no base URL)."""
        return {"ANTHROPIC_API_KEY": "test-key"}

    def _record(self, request: ModelRequest, endpoint: str) -> RecordedRequest:
        # a copy as the wire makes it: JSON only, and no list the conversation may change later
        body: dict[str, Any] = json.loads(json.dumps(request.body()))
        if endpoint == "count_tokens":
            body.pop("max_tokens")
        elif request.stream:
            body["stream"] = True  # as the SDK sends it
        return RecordedRequest.of(body, {}, endpoint)

    async def call(self, request: ModelRequest) -> ModelReply:
        record = self._record(request, "messages")
        plan = self.cache_plan(record)
        with self._lock:
            self.arrive(record, plan)
        try:
            message = self.answer(record)
            self.begin_answer(record, message)
        except ApiError as exc:
            record.status, record.error = exc.status, exc.message
            raise model_error(exc) from None
        finally:
            with self._lock:
                self.events.append(("done", record.key))
        if request.on_start is not None:
            request.on_start()
        shown = public(message)
        return ModelReply(readable(wire_blocks(shown["content"])), shown["stop_reason"], usage_of(shown["usage"]),
                          refusal=refusal_of(shown))

    async def count_tokens(self, request: ModelRequest) -> int:
        try:
            return self.count(self._record(request, "count_tokens"))
        except ApiError as exc:
            raise model_error(exc) from None

    async def aclose(self) -> None:
        return None
