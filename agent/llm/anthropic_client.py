"""The Anthropic client: the Messages API through the official SDK, and the credential check
that comes before it.

This is the only code in diffcrew that calls `anthropic` (`diffcrew doctor` loads it only for its
version), and it imports the SDK lazily, when a client is made: commands that need no model
(`diffcrew --help`, `log`, `apply`) never pay for it.
"""

from __future__ import annotations

import os
from typing import Any

from diffcrew.agent import apierrors
from diffcrew.agent.errors import ModelError, UsageError
from diffcrew.agent.llm.protocol import (UNREADABLE, ModelReply, ModelRequest, TransientModelError, readable,
                                         refusal_of, usage_of, wire_blocks)
from diffcrew.tools import credentials
from diffcrew.tools.redact import mask_url

KEY_VARIABLES = credentials.NAMES
COUNT_TIMEOUT = 30.0  # seconds for a token count: it only saves money, so it must not hold a run up


def require_api_key(env: dict[str, str] | None = None) -> None:
    """Fail early, before anything is written, when no credential variable is set."""
    env = {**os.environ, **credentials.held()} if env is None else env
    if not any(env.get(name) for name in KEY_VARIABLES):
        raise UsageError("no API key: set ANTHROPIC_API_KEY (export ANTHROPIC_API_KEY=sk-ant-...); "
                         "`diffcrew demo` shows the whole pipeline without one")


def ratelimit_headers(headers: Any) -> dict[str, str]:
    """The `anthropic-ratelimit-*` headers of an HTTP answer, if any."""
    if headers is None:
        return {}
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("anthropic-ratelimit-")}


async def _final_message(stream: Any) -> Any:
    """The streamed message; the SDK's ValueError for a tool input it cannot parse (jiter refuses
    a lone surrogate escape) becomes a ModelError saying so in one line."""
    try:
        return await stream.get_final_message()
    except ValueError as exc:
        cause = str(exc.__cause__ or exc).splitlines()[0][:200]
        raise ModelError(UNREADABLE.format(detail=f"a tool input is not valid JSON ({cause})")) from None


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
        return ModelReply(readable(wire_blocks(message.content)), message.stop_reason, usage_of(message.usage),
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
