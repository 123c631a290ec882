"""What an error answer of the Messages API means for diffcrew: retry it, or say what to do.

A pure mapping from what the service sent (HTTP status, the error body, headers) to a verdict,
so the rules of model-protocol.md §2 are in one place and testable without a network:
- 408, 409, 429, 5xx and 529 are transient (retried with backoff, honouring `retry-after`);
- an `error` event inside a 200 stream is classified by `error.type`: `overloaded_error`,
  `api_error`, `rate_limit_error` (and `timeout_error`) are transient, the others are not;
- "prompt is too long" is ContextTooLong: the line names the size and what to lower;
- every line shows the service's own message, never the SDK's repr of the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from diffcrew.agent.conversation import CONTEXT_ADVICE, ContextTooLong
from diffcrew.agent.errors import ModelError

TRANSIENT_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})
_TOO_LONG = re.compile(r"prompt is too long:?\s*(\d+)\s*tokens?\s*>\s*(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    transient: bool
    error: ModelError
    retry_after: float | None = None
    throttled: bool = False  # a 429 / 529 / overloaded: the concurrency limit should step back


def error_parts(body: Any) -> tuple[str, str, str]:
    """(error type, the service's message, request id) from an error body, as far as it has them."""
    if isinstance(body, Mapping):
        error = body.get("error")
        inner: Mapping[str, Any] = error if isinstance(error, Mapping) else body
        kind = str(inner.get("type") or "")
        message = str(inner.get("message") or "")
        return kind, message, str(body.get("request_id") or "")
    return "", "" if body is None else str(body), ""


def retry_after_of(headers: Mapping[str, str] | None) -> float | None:
    value = (headers or {}).get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def classify(status: int, body: Any, headers: Mapping[str, str] | None = None, where: str = "") -> Verdict:
    """The verdict on one error answer (status 200 means an `error` event inside a stream)."""
    kind, message, request_id = error_parts(body)
    message = " ".join(message.split()) or f"HTTP {status}"
    said = f"{message} ({kind}{', ' + request_id if request_id else ''})" if kind else message
    if status == 200:
        transient = kind in TRANSIENT_TYPES
        return Verdict(transient, ModelError(f"the model service broke off its answer: {said}"),
                       retry_after_of(headers), kind in ("overloaded_error", "rate_limit_error"))
    too_long = _TOO_LONG.search(message)
    if status in (400, 413) and (too_long or "prompt is too long" in message.lower()):
        size = (f"{int(too_long.group(1)):,} tokens, over the model's {int(too_long.group(2)):,}" if too_long
                else message)
        return Verdict(False, ContextTooLong(f"the prompt is too long for the model ({size}); {CONTEXT_ADVICE}"))
    transient = status in (408, 409, 429) or status >= 500
    return Verdict(transient, ModelError(_line(status, kind, said, where)), retry_after_of(headers),
                   status in (429, 529))


def _line(status: int, kind: str, said: str, where: str) -> str:
    if status == 401:
        at = f" at {where}" if where else ""
        return f"the model service{at} rejected the API key (HTTP 401): check ANTHROPIC_API_KEY"
    if status == 403:
        return f"the API key may not do this (HTTP 403): {said}"
    if status == 404 and "model" in said.lower():
        return (f"the model service does not know that model (HTTP 404): {said}; pass another --orchestrator-model, "
                "--worker-model or --synthesizer-model")
    if status == 529 or kind == "overloaded_error":
        return f"the model service is overloaded (HTTP {status}): {said}"
    if status == 429:
        return f"the model service's rate limit was reached (HTTP 429): {said}"
    return f"the model service answered HTTP {status}: {said}"
