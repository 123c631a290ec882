"""The model seam: one small async client interface, over the anthropic SDK or a script.

`ModelClient.call(ModelRequest) -> ModelReply` is all the roles see. `AnthropicClient` is the only
code in diffcrew that imports `anthropic` (lazily, so commands that need no model never pay for
it); `ScriptedClient` answers from a script (the demo, and later replays) with no key and no
network. `TrackedClient` wraps either to tally usage per role and write the transcript.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Callable, Protocol

from diffcrew.agent import script as scripts
from diffcrew.agent.errors import BudgetExceeded, ModelError, UsageError
from diffcrew.agent.ledger import Ledger
from diffcrew.agent.limits import AdaptiveLimit, RetryPolicy
from diffcrew.agent.pricing import cost_of
from diffcrew.agent.transcript import Transcript
from diffcrew.agent.types import Usage
from diffcrew.tools.context import estimate_tokens
from diffcrew.tools.redact import Redactor

KEY_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
# The smallest max_tokens worth sending when --max-cost bounds a call: models that think before they
# answer spend output tokens on it (the API's smallest thinking budget is 1,024), and a tool call
# cut at max_tokens is thrown away. Roles whose answers are longer ask for more.
MIN_TOKENS = 2048
COUNT_TIMEOUT = 30.0  # seconds for a token count: it only saves money, so it must not hold a run up


@dataclass(frozen=True)
class ModelRequest:
    """One Messages API call, as the roles describe it."""

    role: str
    model: str
    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    tool_choice: dict[str, Any]
    max_tokens: int
    path: str | None = None
    stream: bool = False
    min_tokens: int = MIN_TOKENS  # --max-cost may lower max_tokens down to this, never below
    # Called once the answer has begun (the prompt is read, so its cache entry can be read by others).
    on_start: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def body(self) -> dict[str, Any]:
        """The request as sent on the wire (without transport options)."""
        return {"model": self.model, "max_tokens": self.max_tokens, "system": self.system,
                "messages": self.messages, "tools": self.tools, "tool_choice": self.tool_choice}

    @cached_property
    def input_tokens(self) -> int:
        """A rough count of the input tokens, for the cost cap and the provider's token quota
        (worked out once per request: a worker's body holds the whole shared context)."""
        return estimate_tokens(json.dumps(self.body()))


@dataclass(frozen=True)
class ModelReply:
    """The parts of a model answer diffcrew uses: content blocks as plain dicts, stop reason, usage."""

    content: list[dict[str, Any]]
    stop_reason: str
    usage: Usage
    ratelimit: dict[str, str] = field(default_factory=dict)  # the anthropic-ratelimit-* headers

    def tool_calls(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == "tool_use"]

    def text(self) -> str:
        return "\n".join(b.get("text", "") for b in self.content if b.get("type") == "text")


class ModelClient(Protocol):
    async def call(self, request: ModelRequest) -> ModelReply: ...

    async def count_tokens(self, request: ModelRequest) -> int: ...

    async def aclose(self) -> None: ...


def require_api_key(env: dict[str, str] | None = None) -> None:
    """Fail early, before anything is written, when no credential variable is set."""
    env = dict(os.environ) if env is None else env
    if not any(env.get(name) for name in KEY_VARIABLES):
        raise UsageError("no API key: set ANTHROPIC_API_KEY (export ANTHROPIC_API_KEY=sk-ant-...); "
                         "`diffcrew demo` shows the whole pipeline without one")


def _usage_of(raw: Any) -> Usage:
    def get(name: str) -> int:
        value = raw.get(name) if isinstance(raw, dict) else getattr(raw, name, 0)
        return int(value or 0)
    return Usage(get("input_tokens"), get("output_tokens"), get("cache_read_input_tokens"),
                 get("cache_creation_input_tokens"), calls=1)


def _plain_blocks(blocks: list[Any]) -> list[dict[str, Any]]:
    """Keep text and tool_use blocks in the shape the API accepts back as an assistant turn."""
    plain: list[dict[str, Any]] = []
    for block in blocks:
        data = block if isinstance(block, dict) else block.model_dump()
        if data.get("type") == "text":
            plain.append({"type": "text", "text": data.get("text", "")})
        elif data.get("type") == "tool_use":
            plain.append({"type": "tool_use", "id": data["id"], "name": data["name"], "input": data.get("input")})
    return plain


class TransientModelError(ModelError):
    """A failure worth retrying (429, 5xx, 529, connection, timeout, a stream cut mid-way)."""

    def __init__(self, message: str, retry_after: float | None = None, throttled: bool = False,
                 ratelimit: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.throttled = throttled
        self.ratelimit = ratelimit or {}


def ratelimit_headers(headers: Any) -> dict[str, str]:
    """The `anthropic-ratelimit-*` headers of an HTTP answer, if any."""
    if headers is None:
        return {}
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("anthropic-ratelimit-")}


class AnthropicClient:
    """Calls the Messages API through the official SDK (async, streaming for long outputs).

    One call, one attempt: the SDK's own retries are off, and transient failures are raised as
    TransientModelError for TrackedClient to retry under the run's budget and its concurrency
    limit, so that every retry is counted, bounded and spaced.
    """

    def __init__(self, *, timeout: float = 600.0, base_url: str | None = None) -> None:
        import anthropic  # deferred: importing the SDK costs about a second
        import httpx2

        self._anthropic = anthropic
        self._transport_errors = (anthropic.APIConnectionError, httpx2.TransportError)
        self._model_errors = (anthropic.APIError, httpx2.HTTPError)
        self._timeout = timeout
        self._client = anthropic.AsyncAnthropic(timeout=timeout, max_retries=0, base_url=base_url)

    async def call(self, request: ModelRequest) -> ModelReply:
        try:
            if request.stream:
                async with self._client.messages.stream(**request.body()) as stream:
                    if request.on_start is not None:
                        async for _first in stream:  # message_start: the prompt has been read
                            request.on_start()
                            break
                    message = await stream.get_final_message()
                    headers = stream.response.headers
            else:
                raw = await self._client.messages.with_raw_response.create(**request.body())
                headers = raw.headers
                message = await raw.parse()
        except self._model_errors as exc:
            transient, retry_after = self._classify(exc)
            if transient:
                throttled = getattr(exc, "status_code", None) in (429, 529)
                response = getattr(exc, "response", None)
                raise TransientModelError(str(self._error(exc)), retry_after, throttled,
                                          ratelimit_headers(getattr(response, "headers", None))) from exc
            raise self._error(exc) from exc
        return ModelReply(_plain_blocks(message.content), message.stop_reason or "end_turn", _usage_of(message.usage),
                          ratelimit_headers(headers))

    async def count_tokens(self, request: ModelRequest) -> int:
        """The request's input tokens, from the token-counting endpoint (free of charge)."""
        try:
            counted = await self._client.messages.count_tokens(
                model=request.model, system=request.system, messages=request.messages, tools=request.tools,
                tool_choice=request.tool_choice, timeout=min(self._timeout, COUNT_TIMEOUT))
        except self._model_errors as exc:
            raise self._error(exc) from exc
        return int(counted.input_tokens)

    def _classify(self, exc: Exception) -> tuple[bool, float | None]:
        """(transient?, seconds the server asked us to wait)."""
        sdk = self._anthropic
        if isinstance(exc, sdk.APIStatusError):
            status = exc.status_code
            header = exc.response.headers.get("retry-after") if exc.response is not None else None
            try:
                retry_after = float(header) if header is not None else None
            except ValueError:
                retry_after = None
            return status in (408, 409, 429) or status >= 500, retry_after
        return isinstance(exc, self._transport_errors), None

    def _error(self, exc: Exception) -> ModelError:
        sdk = self._anthropic
        where = str(self._client.base_url).rstrip("/")
        if isinstance(exc, sdk.AuthenticationError):
            return ModelError(f"the model service at {where} rejected the API key (HTTP 401): check ANTHROPIC_API_KEY")
        if isinstance(exc, sdk.APITimeoutError):
            return ModelError(f"the model did not answer within {self._timeout:g} s; raise --request-timeout")
        if isinstance(exc, self._transport_errors):
            return ModelError(f"could not reach the model service at {where}: {exc}")
        if isinstance(exc, sdk.APIStatusError):
            return ModelError(f"the model service answered HTTP {exc.status_code}: {getattr(exc, 'message', exc)}")
        return ModelError(f"model call failed: {type(exc).__name__}: {exc}")

    async def aclose(self) -> None:
        await self._client.close()


class ScriptedClient:
    """Answers from a diffcrew script (see `diffcrew.agent.script`): deterministic, offline."""

    def __init__(self, turns: dict[str, list[dict[str, Any]]], *, delay: float = 0.0) -> None:
        self._turns = turns
        self._delay = delay

    async def call(self, request: ModelRequest) -> ModelReply:
        if request.on_start is not None:
            request.on_start()
        if self._delay:
            await asyncio.sleep(self._delay)
        try:
            reply = scripts.answer(self._turns, request.body())
        except scripts.ScriptError as exc:
            raise ModelError(f"scripted model: {exc}") from exc
        return ModelReply(_plain_blocks(reply["content"]), reply["stop_reason"], _usage_of(reply["usage"]))

    async def count_tokens(self, request: ModelRequest) -> int:
        """The offline estimate, which is no less than what a script's usage bills for the request."""
        return request.input_tokens

    async def aclose(self) -> None:
        return None


class TrackedClient:
    """Wraps a client: secrets are redacted from every request and restored in every reply, every
    call is tallied in the ledger and appended to the transcript (redacted, as sent), and the
    run's call budget is enforced."""

    def __init__(self, inner: ModelClient, ledger: Ledger, transcript: Transcript | None,
                 redactor: Redactor | None = None, max_calls: int | None = None,
                 limit: AdaptiveLimit | None = None, retry: RetryPolicy | None = None,
                 event: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self._inner = inner
        self.limit = limit
        self.retry = retry or RetryPolicy()
        self.ledger = ledger
        self._transcript = transcript
        self._redactor = redactor
        self._max_calls = max_calls
        self._calls = 0
        self._event = event  # the run's progress events: `usage` per call, `retry`

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
        self._notify("usage", request, usage=reply.usage, cost=cost_of(request.model, reply.usage),
                     seconds=round(time.monotonic() - started, 3))
        if self._redactor is not None:
            reply = replace(reply, content=self._redactor.restore_value(reply.content))
        return reply

    async def count_tokens(self, request: ModelRequest) -> int:
        return await self._inner.count_tokens(self._redacted(request))

    def _redacted(self, request: ModelRequest) -> ModelRequest:
        if self._redactor is None:
            return request
        return replace(request, system=self._redactor.redact_value(request.system),
                       messages=self._redactor.redact_value(request.messages))

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
                self._notify("retry", request, attempt=attempt + 1, error=str(exc))
                await asyncio.sleep(self.retry.delay(attempt, exc.retry_after))
                attempt += 1

    def _record(self, request: ModelRequest, started: float, *, reply: ModelReply | None = None,
                error: str | None = None) -> None:
        if self._transcript is None:
            return
        entry: dict[str, Any] = {"kind": "call", "role": request.role, "path": request.path,
                                 "seconds": round(time.monotonic() - started, 3), "request": request.body()}
        if reply is not None:
            content = reply.content if self._redactor is None else self._redactor.redact_value(reply.content)
            entry["reply"] = {"content": content, "stop_reason": reply.stop_reason, "usage": reply.usage.to_dict()}
        if error is not None:
            entry["error"] = error
        self._transcript.append(entry)

    def _notify(self, kind: str, request: ModelRequest, **data: Any) -> None:
        if self._event is not None:
            self._event(kind, {"role": request.role, "path": request.path, "model": request.model, **data})

    async def aclose(self) -> None:
        await self._inner.aclose()


def assistant_turn(reply: ModelReply) -> dict[str, Any]:
    """The reply as the assistant turn of the conversation (the API refuses empty content)."""
    return {"role": "assistant", "content": reply.content or [{"type": "text", "text": "(no answer)"}]}


def answer_turns(reply: ModelReply, problem: str) -> list[dict[str, Any]]:
    """The assistant turn and the follow-up that tells the model what was wrong (repair / re-ask).

    When the model called tools, every call gets a `tool_result` (the API requires one per call),
    flagged `is_error`; otherwise the follow-up is a plain user message.
    """
    assistant = assistant_turn(reply)
    calls = reply.tool_calls()
    if not calls:
        return [assistant, {"role": "user", "content": problem}]
    results = [{"type": "tool_result", "tool_use_id": c["id"], "is_error": True, "content": problem} for c in calls]
    return [assistant, {"role": "user", "content": results}]


def single_tool_call(reply: ModelReply, name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The one call of tool `name` in a reply, or the problem to send back instead."""
    if reply.stop_reason == "max_tokens":
        return None, (f"Your answer was cut off at the output token limit before the `{name}` call was complete. "
                      "Send a shorter answer: only the call, with a smaller input.")
    calls = reply.tool_calls()
    wanted = [c for c in calls if c.get("name") == name]
    if not calls:
        return None, f"You answered with text only. Call the `{name}` tool."
    if not wanted:
        other = ", ".join(sorted({str(c.get('name')) for c in calls}))
        return None, f"You called {other}; that tool is not available here. Call the `{name}` tool."
    if len(wanted) > 1:
        return None, f"You called `{name}` {len(wanted)} times; call it exactly once."
    if not isinstance(wanted[0].get("input"), dict) or not wanted[0]["input"]:
        return None, f"The `{name}` call had an empty or malformed input. Call it again with every required field."
    return wanted[0], None
