"""The in-process client (`fakes/seam.py`) refuses and answers exactly as the HTTP fake does.

Each test runs twice, once per transport: `AnthropicClient` (the real SDK) against the fake
server, and the seam client with no transport. Both sit behind the same `ModelClient` calls, so
the refusal each raises is the one a flow would see.
"""

from __future__ import annotations

import asyncio
import copy
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Iterator

import pytest

from apicalls import FORCED_TOOL_CHOICE, SUBMIT_PATCH, patch_turns, worker_body
from fakes.core import FakeApi
from fakes.seam import SeamClient
from fakes.server import FakeMessagesServer
from fakes.thinking import CANNOT_MODIFY

from diffcrew.agent.errors import ModelError
from diffcrew.agent.llm.protocol import ModelClient, ModelReply, ModelRequest, TransientModelError
from diffcrew.agent.script import ScriptError


@dataclass(frozen=True)
class RawRequest(ModelRequest):
    """A request whose body is given whole: what diffcrew itself never sends, to see it refused."""

    raw: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return copy.deepcopy(self.raw)


def raw(body: dict[str, Any]) -> RawRequest:
    return RawRequest(role="worker", model=body["model"], system=[], messages=[], tools=[], max_tokens=4096, raw=body)


Api = tuple[FakeApi, ModelClient]


@pytest.fixture(params=["server", "seam"])
def api(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """(the fake API that records, a client reaching it): over HTTP through the SDK, or in-process."""
    if request.param == "seam":
        seam = SeamClient(patch_turns("p1", "p2"))
        yield seam, seam
        return
    from diffcrew.agent.llm.anthropic_client import AnthropicClient

    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    with FakeMessagesServer(patch_turns("p1", "p2")) as server:
        yield server, AnthropicClient(base_url=server.url)


def play(client: ModelClient, steps: Callable[[ModelClient], Awaitable[Any]]) -> Any:
    """Run `steps` on `client` in one event loop (the SDK's client belongs to the loop it first ran in)."""
    async def run() -> Any:
        try:
            return await steps(client)
        finally:
            await client.aclose()
    return asyncio.run(run())


def refused(api: Api, steps: Callable[[ModelClient], Awaitable[Any]], message: str, status: int = 400,
            recorded: bool = True) -> None:
    """`steps` ends in a refusal: the ModelError a flow sees, with the API's message; recorded with
    `status` (a Messages call: token counts are not in `requests`)."""
    fake, client = api
    with pytest.raises(ModelError) as info:
        play(client, steps)
    assert not isinstance(info.value, TransientModelError)
    assert re.search(rf"HTTP {status}\)?: {re.escape(message)} \(", str(info.value)), info.value  # then type, id
    if recorded:
        assert fake.requests[-1].status == status and fake.requests[-1].error == message


def follow_up(body: dict[str, Any], reply: ModelReply) -> dict[str, Any]:
    """The next request of the tool loop: the answer as returned, then an error result for its call."""
    results = [{"type": "tool_result", "tool_use_id": b["id"], "content": "it does not apply", "is_error": True}
               for b in reply.tool_calls()]
    return dict(body, messages=[*body["messages"], {"role": "assistant", "content": reply.content},
                                {"role": "user", "content": results}])


SUMMARIZED = {"type": "adaptive", "display": "summarized"}


def test_both_answer_the_same_shapes_and_accept_an_echoed_loop(api: Api) -> None:
    async def steps(client: ModelClient) -> list[ModelReply]:
        body = worker_body(thinking=SUMMARIZED)
        first = await client.call(raw(body))
        return [first, await client.call(raw(follow_up(body, first)))]

    first, second = play(api[1], steps)
    for reply, patch in ((first, "p1"), (second, "p2")):
        thinking, call = reply.content
        assert thinking["type"] == "thinking" and thinking["signature"] and thinking["thinking"].startswith("Turn ")
        assert call["name"] == "submit_patch" and call["input"] == {"patch": patch}
        assert reply.stop_reason == "tool_use" and reply.usage.output_tokens > 0
    assert [r.status for r in api[0].requests] == [200, 200]


def test_both_refuse_a_forced_tool_choice(api: Api) -> None:
    body = worker_body(tool_choice={"type": "tool", "name": SUBMIT_PATCH["name"]})
    refused(api, lambda client: client.call(raw(body)), FORCED_TOOL_CHOICE)


def test_both_refuse_forced_tool_choice_with_extended_thinking(api: Api) -> None:
    body = worker_body("claude-sonnet-4-6", tool_choice={"type": "any"}, thinking={"type": "enabled", "budget_tokens": 2048})
    refused(api, lambda client: client.call(raw(body)), "Thinking may not be enabled when tool_choice forces tool use.")


@pytest.mark.parametrize("edit, message", [
    (lambda block: dict(block, thinking="edited"), f"messages.1.content.0: {CANNOT_MODIFY}"),
    (lambda block: dict(block, signature="Zm9yZ2Vk"), "messages.1.content.0: Invalid `signature` in `thinking` block"),
], ids=["text", "signature"])
def test_both_refuse_a_modified_thinking_block(api: Api, edit: Callable[[dict], dict], message: str) -> None:
    async def steps(client: ModelClient) -> None:
        body = worker_body(thinking=SUMMARIZED)
        follow = follow_up(body, await client.call(raw(body)))
        follow["messages"][1]["content"][0] = edit(follow["messages"][1]["content"][0])
        await client.call(raw(follow))

    refused(api, steps, message)


def test_both_refuse_a_dropped_thinking_block_within_tool_use(api: Api) -> None:
    async def steps(client: ModelClient) -> None:
        body = worker_body(thinking=SUMMARIZED)
        follow = follow_up(body, await client.call(raw(body)))
        del follow["messages"][1]["content"][0]
        await client.call(raw(follow))

    refused(api, steps, f"messages.1.content.0: {CANNOT_MODIFY}")


def test_both_refuse_an_unknown_model_with_404(api: Api) -> None:
    refused(api, lambda client: client.call(raw(worker_body("claude-test"))), "model: claude-test", status=404)


def test_both_report_an_exhausted_script_as_the_fake_s_400(api: Api) -> None:
    async def steps(client: ModelClient) -> None:
        body = worker_body()
        for _ in range(3):
            body = follow_up(body, await client.call(raw(body)))

    refused(api, steps, "fake server: the script has 2 answer(s) for 'worker:a.py'; turn 3 was asked for")


def test_both_count_tokens_after_the_same_validation(api: Api) -> None:
    counted: list[int] = []

    async def steps(client: ModelClient) -> None:
        counted.append(await client.count_tokens(raw(worker_body())))
        await client.count_tokens(raw(worker_body(tool_choice={"type": "any"})))

    refused(api, steps, FORCED_TOOL_CHOICE, recorded=False)
    assert counted[0] > 0 and api[0].requests == []


def test_the_seam_refuses_a_script_with_faults() -> None:
    with pytest.raises(ScriptError, match="need the wire"):
        SeamClient({"orchestrator": [{"http_error": 529}, {"text": "hi"}]})
