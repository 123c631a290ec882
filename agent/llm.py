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

from diffcrew.agent import apierrors, models
from diffcrew.agent import script as scripts
from diffcrew.agent.errors import BudgetExceeded, ModelError, UsageError
from diffcrew.agent.events import Emit, ModelCalled, ModelRetrying, ignore
from diffcrew.agent.ledger import Ledger
from diffcrew.agent.limits import AdaptiveLimit, RetryPolicy
from diffcrew.agent.pricing import cost_of
from diffcrew.agent.transcript import Transcript
from diffcrew.agent.types import Usage
from diffcrew.tools import credentials
from diffcrew.tools.tokens import estimate_tokens
from diffcrew.tools.redact import Redactor, mask_url

KEY_VARIABLES = credentials.NAMES
# The smallest max_tokens worth sending when --max-cost bounds a call: models that think before they
# answer spend output tokens on it (the API's smallest thinking budget is 1,024), and a tool call
# cut at max_tokens is thrown away. Roles whose answers are longer ask for more.
MIN_TOKENS = 2048
COUNT_TIMEOUT = 30.0  # seconds for a token count: it only saves money, so it must not hold a run up


@dataclass(frozen=True)
class ModelRequest:
    """One Messages API call, as the roles describe it (model-protocol.md v2, §1).

    `tool_choice` is always `auto`: the current models refuse a forced one, so the system prompt
    names the tool that ends the turn and the role checks that it was called. No prefill and no
    sampling parameters are ever sent. `effort` becomes `output_config.effort` on models that
    document it; `max_tokens` covers thinking plus the answer and is capped at the model's limit.
    """

    role: str
    model: str
    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    max_tokens: int
    path: str | None = None
    effort: str | None = None
    stream: bool = True
    min_tokens: int = MIN_TOKENS  # --max-cost may lower max_tokens down to this, never below
    # Called once the answer has begun (the prompt is read, so its cache entry can be read by others).
    on_start: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def body(self) -> dict[str, Any]:
        """The request as sent on the wire (without transport options)."""
        body: dict[str, Any] = {"model": self.model, "max_tokens": models.output_cap(self.model, self.max_tokens),
                                "system": self.system, "messages": self.messages, "tools": self.tools,
                                "tool_choice": {"type": "auto"}}
        effort = models.effort_for(self.model, self.effort)
        if effort is not None:
            body["output_config"] = {"effort": effort}
        return body

    @cached_property
    def input_tokens(self) -> int:
        """A rough count of the input tokens, for the cost cap and the provider's token quota
        (worked out once per request: a worker's body holds the whole shared context)."""
        return estimate_tokens(json.dumps(self.body()))


@dataclass(frozen=True)
class ModelReply:
    """A model answer: content blocks as plain dicts (exactly as the API sent them, thinking
    included), stop reason, usage, and the refusal's explanation when there is one."""

    content: list[dict[str, Any]]
    stop_reason: str
    usage: Usage
    ratelimit: dict[str, str] = field(default_factory=dict)  # the anthropic-ratelimit-* headers
    refusal: str = ""

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
    env = {**os.environ, **credentials.held()} if env is None else env
    if not any(env.get(name) for name in KEY_VARIABLES):
        raise UsageError("no API key: set ANTHROPIC_API_KEY (export ANTHROPIC_API_KEY=sk-ant-...); "
                         "`diffcrew demo` shows the whole pipeline without one")


def _usage_of(raw: Any) -> Usage:
    def get(name: str) -> int:
        value = raw.get(name) if isinstance(raw, dict) else getattr(raw, name, 0)
        return int(value or 0)
    return Usage(get("input_tokens"), get("output_tokens"), get("cache_read_input_tokens"),
                 get("cache_creation_input_tokens"), calls=1)


# The fields the API takes back for each block type it sends; any other block type is kept whole.
_WIRE_FIELDS = {"text": ("type", "text", "citations"), "thinking": ("type", "thinking", "signature"),
                "redacted_thinking": ("type", "data"), "tool_use": ("type", "id", "name", "input")}


def wire_blocks(blocks: list[Any]) -> list[dict[str, Any]]:
    """An answer's content blocks as plain dicts the API accepts back unchanged: every block, in
    order (thinking blocks with their signatures: a missing or altered one is refused)."""
    plain: list[dict[str, Any]] = []
    for block in blocks:
        data = block if isinstance(block, dict) else block.model_dump(mode="json", exclude_none=True)
        fields = _WIRE_FIELDS.get(str(data.get("type")))
        plain.append({k: data[k] for k in fields if data.get(k) is not None} if fields else
                     {k: v for k, v in data.items() if v is not None})
    return plain


UNREADABLE = ("the model's answer could not be read: {detail}; a lone UTF-16 surrogate such as \\ud800 is "
              "valid JSON but no text can hold it. Try again, or choose another model")


def readable(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`blocks` unchanged, or a ModelError when some string in them holds a lone surrogate: such
    an answer could be neither sent back, written to the transcript nor applied to a file."""
    text = json.dumps(blocks, ensure_ascii=False)
    if any("\ud800" <= c <= "\udfff" for c in text):
        raise ModelError(UNREADABLE.format(detail="it holds a lone surrogate"))
    return blocks


async def _final_message(stream: Any) -> Any:
    """The streamed message; the SDK's ValueError for a tool input it cannot parse (jiter refuses
    a lone surrogate escape) becomes a ModelError saying so in one line."""
    try:
        return await stream.get_final_message()
    except ValueError as exc:
        cause = str(exc.__cause__ or exc).splitlines()[0][:200]
        raise ModelError(UNREADABLE.format(detail=f"a tool input is not valid JSON ({cause})")) from None


def refusal_of(message: Any) -> str:
    """The explanation a refusal carries (`stop_details`), if any."""
    details = message.get("stop_details") if isinstance(message, dict) else getattr(message, "stop_details", None)
    if details is None:
        return ""
    get = details.get if isinstance(details, dict) else lambda name: getattr(details, name, None)
    return " ".join(str(p) for p in (get("category"), get("explanation")) if p)


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
        self._client = anthropic.AsyncAnthropic(timeout=timeout, max_retries=0, base_url=base_url,
                                               api_key=credentials.get("ANTHROPIC_API_KEY"),
                                               auth_token=credentials.get("ANTHROPIC_AUTH_TOKEN"))

    async def call(self, request: ModelRequest) -> ModelReply:
        try:
            if request.stream:
                async with self._client.messages.stream(**request.body()) as stream:
                    if request.on_start is not None:
                        async for _first in stream:  # message_start: the prompt has been read
                            request.on_start()
                            break
                    message = await _final_message(stream)
                    headers = stream.response.headers
            else:
                raw = await self._client.messages.with_raw_response.create(**request.body())
                headers = raw.headers
                message = await raw.parse()
        except self._model_errors as exc:
            raise self._failure(exc) from exc
        if message.stop_reason is None:  # the stream closed cleanly before message_delta: a cut answer
            raise TransientModelError("the answer stream ended before the model finished (no stop reason)")
        return ModelReply(readable(wire_blocks(message.content)), message.stop_reason, _usage_of(message.usage),
                          ratelimit_headers(headers), refusal_of(message))

    async def count_tokens(self, request: ModelRequest) -> int:
        """The service's count of the request's input tokens (free; validated like a real call)."""
        body = {k: v for k, v in request.body().items() if k != "max_tokens"}
        try:
            counted = await self._client.messages.count_tokens(**body, timeout=min(self._timeout, COUNT_TIMEOUT))
        except self._model_errors as exc:
            raise self._failure(exc) from exc
        return int(counted.input_tokens)

    def _failure(self, exc: Exception) -> ModelError:
        """The SDK's exception as diffcrew's error: transient ones to be retried, the others final."""
        sdk = self._anthropic
        where = mask_url(str(self._client.base_url).rstrip("/"))  # never a password in an error line
        if isinstance(exc, sdk.APIStatusError):
            headers = exc.response.headers if exc.response is not None else None
            verdict = apierrors.classify(exc.status_code, exc.body, headers, where)
            if verdict.transient:
                return TransientModelError(str(verdict.error), verdict.retry_after, verdict.throttled,
                                           ratelimit_headers(headers))
            return verdict.error
        if isinstance(exc, sdk.APITimeoutError):
            return TransientModelError(f"the model did not answer within {self._timeout:g} s "
                                       "(raise --request-timeout if this persists)")
        if isinstance(exc, self._transport_errors):
            return TransientModelError(f"could not reach the model service at {where}: {exc}")
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
        return ModelReply(readable(wire_blocks(reply["content"])), reply["stop_reason"], _usage_of(reply["usage"]),
                          refusal=refusal_of(reply))

    async def count_tokens(self, request: ModelRequest) -> int:
        """The offline estimate, which is no less than what a script's usage bills for the request."""
        return request.input_tokens

    async def aclose(self) -> None:
        return None


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

