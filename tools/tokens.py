"""The one offline token estimate: about four characters a token, rounded up.

Used for context budgets, the cost estimate shown before a run, the cost cap's estimate of a call,
and the usage the scripted model reports. Rounding up (not down) means an estimate is never below
the four-characters rule, so a budget or a cost cap errs on the safe side, and any non-empty text
counts as at least one token.
"""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 4


def tokens_in(chars: int) -> int:
    """The estimated tokens of a text `chars` characters (or bytes) long."""
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def estimate_tokens(value: Any) -> int:
    """The estimated tokens of a text, or of any other value as its JSON text."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return tokens_in(len(text))
