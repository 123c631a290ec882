"""Secret-looking strings are replaced before text goes to a model, and put back in what returns.

Each distinct secret gets a token derived from it with a keyed hash (`[REDACTED-SECRET-1f3a9c2b]`):
stable whatever order concurrent workers meet it in, and across runs of the same repository when
the same key is given (runs use a random key kept under the git directory), so the same file
reads the same in every prompt (prompt caching still works), a diff whose context copies the
token still applies once it is restored, and a replayed transcript restores the same secrets.
The key never leaves the machine, so a token says nothing about a short secret. Where the secrets
are is tools/secretrules.py's business; besides its rules, the exact values of the model credentials
and every secret met so far are always redacted, wherever they stand.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
from typing import Any

from diffcrew.tools import credentials, secretrules
from diffcrew.tools.statedir import redaction_key_path

_TOKEN = re.compile(r"\[REDACTED-SECRET-[0-9a-f]{12}\]")
ENV_SECRETS = credentials.NAMES


class Redactor:
    """Replaces secrets by stable tokens and restores them; safe to share between workers."""

    def __init__(self, extra: tuple[str, ...] | None = None, key: bytes | None = None) -> None:
        values = extra if extra is not None else tuple(credentials.held().values())
        self._key = key or secrets.token_bytes(32)
        self._exact = tuple(v for v in values if len(v) >= 8)
        self._tokens: dict[str, str] = {}   # secret -> token
        self._secrets: dict[str, str] = {}  # token -> secret
        self._memo: dict[str, str] = {}  # long text -> its redacted form
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        """How many distinct secrets were redacted so far."""
        return len(self._tokens)

    def _token(self, secret: str) -> str:
        with self._lock:
            if secret not in self._tokens:
                digest = hmac.new(self._key, secret.encode("utf-8"), hashlib.sha256).hexdigest()[:12]
                token = f"[REDACTED-SECRET-{digest}]"
                self._tokens[secret], self._secrets[token] = token, secret
                self._memo.clear()  # texts scanned before may hold this secret out of its context
            return self._tokens[secret]

    def redact(self, text: str) -> str:
        # The shared prompt block is the same string in every worker's request: scan it once.
        if len(text) >= 256 and text in self._memo:
            return self._memo[text]
        known_before = len(self._tokens)
        redacted = self._redact(text)
        if len(text) >= 256:
            with self._lock:
                if len(self._tokens) == known_before:  # a secret learned meanwhile cleared the memo
                    self._memo[text] = redacted
        return redacted

    def _redact(self, text: str) -> str:
        # First the rules (tools/secretrules.py), right to left so earlier spans keep their offsets.
        for begin, stop in reversed(secretrules.spans(text)):
            value = text[begin:stop]
            if not _TOKEN.fullmatch(value):
                text = text[:begin] + self._token(value) + text[stop:]
        # Then every secret met so far, wherever it stands (this text's own included, so a text is
        # consistent with itself): one found by its context (`password = "..."`) must not go out in
        # clear where the model echoed it without that context.
        with self._lock:
            known = sorted({*self._exact, *self._tokens}, key=len, reverse=True)
        for value in known:
            if value in text:
                text = text.replace(value, self._token(value))
        return text

    def restore(self, text: str) -> str:
        return _TOKEN.sub(lambda m: self._secrets.get(m.group(0), m.group(0)), text)

    def redact_value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value (a request's messages, a tool input)."""
        return _walk(value, self.redact)

    def restore_value(self, value: Any) -> Any:
        return _walk(value, self.restore)


# Blocks the model signed: they go back byte for byte or the API refuses the conversation, and
# they never reach a file, a commit or a prompt as text, so neither direction may touch them.
SIGNED_BLOCKS = ("thinking", "redacted_thinking")


def _walk(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    if isinstance(value, dict):
        if value.get("type") in SIGNED_BLOCKS:
            return value
        return {k: _walk(v, change) for k, v in value.items()}
    return value


def mask_url(url: str) -> str:
    """A URL as it may be shown: any user name and password replaced by `***`."""
    return re.sub(r"(?<=://)[^/\s@]+@", "***@", url)


def repository_key(git_dir: os.PathLike[str] | str) -> bytes:
    """The redaction key of a repository, created on first use (readable by its owner only)."""
    path = redaction_key_path(git_dir)
    try:
        with open(path, "rb") as handle:
            key = handle.read()
        if len(key) == 32:
            return key
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key
