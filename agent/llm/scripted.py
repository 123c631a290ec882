"""The scripted client: answers from a diffcrew script (`agent/script.py`), with no key and no
network. The demo, `diffcrew replay` and the tests at the model seam use it."""

from __future__ import annotations

import asyncio
from typing import Any

from diffcrew.agent import script as scripts
from diffcrew.agent.errors import ModelError
from diffcrew.agent.llm.protocol import ModelReply, ModelRequest, readable, refusal_of, usage_of, wire_blocks


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
        return ModelReply(readable(wire_blocks(reply["content"])), reply["stop_reason"], usage_of(reply["usage"]),
                          refusal=refusal_of(reply))

    async def count_tokens(self, request: ModelRequest) -> int:
        """The offline estimate, which is no less than what a script's usage bills for the request."""
        return request.input_tokens

    async def aclose(self) -> None:
        return None
