"""Defaults that two layers must agree on, where the lower layer cannot be imported at start-up."""

from __future__ import annotations

from diffcrew.agent import config
from diffcrew.sandbox import checks


def test_the_check_timeout_default_is_the_sandbox_one() -> None:
    assert config.DEFAULT_CHECK_TIMEOUT == checks.DEFAULT_CHECK_TIMEOUT == checks.Check("x", None).timeout

