"""Secret-looking strings are replaced before text goes to a model, and put back in what returns.

Each distinct secret gets a stable token (`[REDACTED-SECRET-1]`, ...) for the whole run, so the
same file reads the same in every prompt (prompt caching still works) and a diff whose context
copies the token still applies once the token is restored. Besides the patterns, the exact
values of the credential variables in the environment are always redacted.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

_PATTERNS = [re.compile(p) for p in (
    r"sk-ant-[A-Za-z0-9_\-]{20,}",
    r"sk-(?:proj-)?[A-Za-z0-9_\-]{32,}",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",
    r"\bgithub_pat_[A-Za-z0-9_]{40,}\b",
    r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    r"\bAIza[0-9A-Za-z_\-]{35}\b",
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----",
)]
# `api_key = "..."`-style assignments: only the quoted value is redacted.
_ASSIGNED = re.compile(r"(?i)\b(?:api[_-]?key|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|password|passwd)"
                       r"\b\s*[:=]\s*[\"']([^\"'\s]{12,})[\"']")
_TOKEN = re.compile(r"\[REDACTED-SECRET-\d+\]")
ENV_SECRETS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


class Redactor:
    """Replaces secrets by stable tokens and restores them; safe to share between workers."""

    def __init__(self, extra: tuple[str, ...] | None = None) -> None:
        values = extra if extra is not None else tuple(os.environ.get(n, "") for n in ENV_SECRETS)
        self._exact = tuple(v for v in values if len(v) >= 8)
        self._tokens: dict[str, str] = {}   # secret -> token
        self._secrets: dict[str, str] = {}  # token -> secret
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        """How many distinct secrets were redacted so far."""
        return len(self._tokens)

    def _token(self, secret: str) -> str:
        with self._lock:
            if secret not in self._tokens:
                token = f"[REDACTED-SECRET-{len(self._tokens) + 1}]"
                self._tokens[secret], self._secrets[token] = token, secret
            return self._tokens[secret]

    def redact(self, text: str) -> str:
        for value in self._exact:
            if value in text:
                text = text.replace(value, self._token(value))
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: self._token(m.group(0)), text)
        return _ASSIGNED.sub(self._assigned, text)

    def _assigned(self, match: re.Match[str]) -> str:
        value = match.group(1)
        if _TOKEN.fullmatch(value):  # already redacted by a pattern above
            return match.group(0)
        return match.group(0).replace(value, self._token(value))

    def restore(self, text: str) -> str:
        return _TOKEN.sub(lambda m: self._secrets.get(m.group(0), m.group(0)), text)

    def redact_value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value (a request's messages, a tool input)."""
        return _walk(value, self.redact)

    def restore_value(self, value: Any) -> Any:
        return _walk(value, self.restore)


def _walk(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, change) for k, v in value.items()}
    return value
