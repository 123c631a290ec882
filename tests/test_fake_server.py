"""The fake Messages API server, exercised through the real anthropic SDK over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import anthropic
import httpx2
import pytest

try:  # tests/ on sys.path (pytest's default for a folder without __init__.py)
    from fakes.server import FakeMessagesServer, sse_events
except ImportError:  # tests/ imported as a package
    from tests.fakes.server import FakeMessagesServer, sse_events

from diffcrew.agent.script import FORMAT, reply_for_turn

MODEL = "claude-sonnet-5-5"  # diffcrew's default: thinks by default, refuses a forced tool_choice


def tool(name: str) -> dict:
    return {"name": name, "description": name, "input_schema": {"type": "object"}}


PLAN_INPUT = {
    "summary": 'Rename "foo" to bar — with a \\ backslash,\nnewlines, "quotes" and ünïcödé ✓',
    "edits": [{"path": "pkg/mod.py", "action": "modify", "instructions": "rename foo() to bar() " * 5},
              {"path": "pkg/new.py", "action": "create", "instructions": "add bar tests"},
              {"path": "old.py", "action": "delete", "instructions": ""}],
    "nested": {"n": [1, 2.5, -3, None, True, False, {}, []]},
}
PATCH_MOD = "--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1 +1 @@\n-def foo():\n+def bar():\n"
PATCH_NEW = "--- /dev/null\n+++ b/pkg/new.py\n@@ -0,0 +1 @@\n+import pkg.mod\n"

SCRIPT = {
    "orchestrator": [
        {"tool": "read_file", "input": {"path": "pkg/mod.py"}, "text": "Let me look first."},
        {"tool": "plan_edits", "input": PLAN_INPUT},
    ],
    "worker:pkg/mod.py": [{"tool": "submit_patch", "input": {"patch": PATCH_MOD}}],
    "worker:pkg/new.py": [{"tool": "submit_patch", "input": {"patch": PATCH_NEW}}],
    "synthesizer": [{"tool": "write_summary", "input": {"title": "Rename foo", "body": "Because."}}],
    "text": [{"text": "Plain words, " * 20}],
}
ORCH_TOOLS = [tool("read_file"), tool("search_code"), tool("plan_edits")]


def worker_prompt(path: str) -> str:
    return (f"Change request: rename foo\n\nFile: {path}\n\nInstructions: do it\n\n"
            "Other files in this change:\n- pkg/other.py (modify): also rename\n")


def worker_body(path: str) -> dict:
    return dict(model=MODEL, max_tokens=1024, tools=[tool("submit_patch")],
                tool_choice={"type": "auto"},
                messages=[{"role": "user", "content": worker_prompt(path)}])


def orch_body(*extra: dict) -> dict:
    return dict(model=MODEL, max_tokens=1024, tools=ORCH_TOOLS,
                messages=[{"role": "user", "content": "Rename foo to bar."}, *extra])


def client(server: FakeMessagesServer, retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=retries)


def tool_block(message):
    return next(b for b in message.content if b.type == "tool_use")


@pytest.fixture
def server():
    with FakeMessagesServer(SCRIPT) as srv:
        yield srv


# -- answers ------------------------------------------------------------------------------
def test_non_streaming_tool_use(server):
    raw = client(server).messages.with_raw_response.create(**orch_body(
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "read_file",
                                           "input": {"path": "pkg/mod.py"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "def foo(): ..."}]}))
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["request-id"].startswith("req_")
    message = raw.parse()
    block = tool_block(message)
    assert (block.name, block.input) == ("plan_edits", PLAN_INPUT)
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens > 0
    [rec] = server.requests
    assert (rec.key, rec.turn, rec.stream, rec.status) == ("orchestrator", 1, False, 200)
    assert rec.headers["authorization"] == "Bearer k"  # this SDK sends the key as a bearer token
    assert rec.body["tools"][2]["name"] == "plan_edits"


def test_stream_helper_reconstructs_tool_input(server):
    with client(server).messages.stream(**worker_body("pkg/mod.py")) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        final = stream.get_final_message()
    block = tool_block(final)
    assert (block.name, block.input) == ("submit_patch", {"patch": PATCH_MOD})
    assert final.stop_reason == "tool_use"
    # the same message as the non-streaming answer
    plain = client(server).messages.create(**worker_body("pkg/mod.py"))
    assert final.model_dump(exclude_none=True) == plain.model_dump(exclude_none=True)
    assert [(r.key, r.stream) for r in server.requests] == [("worker:pkg/mod.py", True), ("worker:pkg/mod.py", False)]

    with client(server).messages.stream(**orch_body()) as stream:  # text before the call
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == "Let me look first." and len(texts) > 1
    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]  # the model thinks first
    assert tool_block(final).input == {"path": "pkg/mod.py"}


def test_raw_stream_events(server):
    body = orch_body({"role": "assistant", "content": "I read it."}, {"role": "user", "content": "go on"})
    events = list(client(server).messages.create(**body, stream=True))
    types = [e.type for e in events]
    assert types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"]
    assert events[0].message.content == [] and events[0].message.usage.input_tokens > 0
    starts = [e for e in events if e.type == "content_block_start"]
    assert [s.content_block.type for s in starts] == ["thinking", "tool_use"]  # the model thinks first
    start = starts[1]
    assert start.content_block.input == {} and start.content_block.name == "plan_edits"
    deltas = [e.delta for e in events if e.type == "content_block_delta" and e.index == start.index]
    parts = [d.partial_json for d in deltas]
    assert len(parts) > 1 and all(d.type == "input_json_delta" for d in deltas)
    assert json.loads("".join(parts)) == PLAN_INPUT
    assert events[-2].delta.stop_reason == "tool_use" and events[-2].usage.output_tokens > 0


def test_wire_format_is_sse_and_chunked(server):
    payload = json.dumps({**worker_body("pkg/new.py"), "stream": True}).encode()
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=5) as sock:
        sock.sendall(b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"200" in head.split(b"\r\n")[0] and b"Transfer-Encoding: chunked" in head
    assert rest.endswith(b"0\r\n\r\n")
    assert b"event: message_start\ndata: {" in rest and b"event: ping\n" in rest
    assert server.requests[0].key == "worker:pkg/new.py"


def test_text_answers(server):
    body = dict(model=MODEL, max_tokens=50, tools=[tool("write_summary")],
                messages=[{"role": "user", "content": "x"}])
    server.set_script({"synthesizer": [{"text": "No tool today, " * 10}]})
    message = client(server).messages.create(**body)
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[1].text == "No tool today, " * 10
    assert message.stop_reason == "end_turn"
    with client(server).messages.stream(**body) as stream:
        assert stream.get_final_text() == "No tool today, " * 10


def test_async_client(server):
    async def run():
        aclient = anthropic.AsyncAnthropic(base_url=server.url, api_key="k", max_retries=0)
        plain, streamed = await asyncio.gather(
            aclient.messages.create(**worker_body("pkg/mod.py")),
            _astream(aclient, worker_body("pkg/new.py")))
        await aclient.close()
        return plain, streamed

    plain, streamed = asyncio.run(run())
    assert tool_block(plain).input == {"patch": PATCH_MOD}
    assert tool_block(streamed).input == {"patch": PATCH_NEW}
    assert sorted(r.key for r in server.requests) == ["worker:pkg/mod.py", "worker:pkg/new.py"]


async def _astream(aclient, body):
    async with aclient.messages.stream(**body) as stream:
        return await stream.get_final_message()


def test_sse_events_for_raw_content_and_empty_input():
    body = {"messages": []}
    message = reply_for_turn({"content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"},
                                          {"type": "tool_use", "id": "t", "name": "x", "input": {}}],
                              "stop_reason": "max_tokens"}, body, "k", 0)
    events = sse_events(message)
    deltas = [d["delta"] for t, d in events if t == "content_block_delta"]
    assert {"type": "signature_delta", "signature": "sig"} in deltas
    assert {"type": "input_json_delta", "partial_json": ""} in deltas
    assert events[-2][1]["delta"]["stop_reason"] == "max_tokens"


# -- keys and turns ----------------------------------------------------------------------
def test_key_derivation_for_each_role(server):
    c = client(server)
    assert tool_block(c.messages.create(**orch_body())).name == "read_file"
    assert tool_block(c.messages.create(**worker_body("pkg/new.py"))).input == {"patch": PATCH_NEW}
    assert tool_block(c.messages.create(**worker_body("pkg/mod.py"))).input == {"patch": PATCH_MOD}
    summary = c.messages.create(model=MODEL, max_tokens=100, tools=[tool("write_summary")],
                                tool_choice={"type": "auto"},
                                messages=[{"role": "user", "content": "File: is not read here\nwrite it"}])
    assert tool_block(summary).input == {"title": "Rename foo", "body": "Because."}
    assert [(r.key, r.turn, r.status) for r in server.requests] == [
        ("orchestrator", 0, 200), ("worker:pkg/new.py", 0, 200), ("worker:pkg/mod.py", 0, 200), ("synthesizer", 0, 200)]


def test_second_turn_after_tool_result(server):
    c = client(server)
    first = c.messages.create(**orch_body())
    call = tool_block(first)
    second = c.messages.create(**orch_body(
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "def foo(): ..."}]}))
    assert tool_block(second).name == "plan_edits" and tool_block(second).input == PLAN_INPUT
    assert [r.turn for r in server.requests] == [0, 1]  # turn_index: 0-based, the second scripted turn


def test_repair_round_for_worker_gets_next_turn():
    script = {"worker:a.py": [{"tool": "submit_patch", "input": {"patch": "bad"}},
                              {"tool": "submit_patch", "input": {"patch": "good"}}]}
    with FakeMessagesServer(json.dumps({"format": FORMAT, "turns": script})) as srv:  # JSON text works too
        c = client(srv)
        first = c.messages.create(**worker_body("a.py"))
        body = worker_body("a.py")
        body["messages"] += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_block(first).id,
                                                           "is_error": True, "content": "does not apply"}]}]
        assert tool_block(c.messages.create(**body)).input == {"patch": "good"}


# -- errors -------------------------------------------------------------------------------
def test_script_exhausted_is_bad_request(server):
    c = client(server, retries=2)
    c.messages.create(**worker_body("pkg/mod.py"))
    body = worker_body("pkg/mod.py")
    body["messages"] += [{"role": "assistant", "content": "done"}, {"role": "user", "content": "again"}]
    with pytest.raises(anthropic.BadRequestError) as info:
        c.messages.create(**body)
    assert "worker:pkg/mod.py" in str(info.value)
    assert info.value.body["error"]["type"] == "invalid_request_error"
    assert [r.status for r in server.requests] == [200, 400]  # not retried


def test_unknown_key_and_underivable_key_are_bad_requests(server):
    c = client(server)
    with pytest.raises(anthropic.BadRequestError, match="worker:nope.py"):
        c.messages.create(**worker_body("nope.py"))
    with pytest.raises(anthropic.BadRequestError, match="cannot tell the role"):
        c.messages.create(model=MODEL, max_tokens=10, tools=[tool("mystery")], messages=[{"role": "user", "content": "x"}])
    with pytest.raises(anthropic.BadRequestError, match="File:"):
        c.messages.create(model=MODEL, max_tokens=10, tools=[tool("submit_patch")],
                          messages=[{"role": "user", "content": "no file line"}])
    assert [(r.key, r.status) for r in server.requests] == [("worker:nope.py", 400), (None, 400), (None, 400)]


# -- concurrency --------------------------------------------------------------------------
def _parallel(fn, n: int) -> list:
    results: list = [None] * n
    def run(i):
        try:
            results[i] = fn(i)
        except Exception as exc:  # reported by the caller's asserts
            results[i] = exc
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return results


def test_concurrent_requests_overlap():
    paths = [f"f{i}.py" for i in range(5)]
    script = {f"worker:{p}": [{"tool": "submit_patch", "input": {"patch": p}}] for p in paths}
    with FakeMessagesServer(script, latency=0.3) as srv:
        srv.on_pause = Pauses(srv, hold=lambda r, stage: stage == "first" and len(srv.requests) < 5)
        c = client(srv)
        results = _parallel(lambda i: c.messages.create(**worker_body(paths[i])), 5)
    assert [tool_block(r).input["patch"] for r in results] == paths
    assert srv.peak_in_flight == 5  # was also: the five took < 1.0 s in all
    assert [e for e, _ in srv.events[:5]] == ["arrived"] * 5  # every one in flight before any answer


def test_latency_callable():
    calls = []
    def jitter():
        calls.append(1)
        return 0.01
    with FakeMessagesServer(SCRIPT, latency=jitter) as srv:
        client(srv).messages.create(**orch_body())
    assert calls == [1]


@pytest.mark.slow
def test_max_concurrent_rejects_with_retry_after_and_sdk_recovers():
    paths = [f"f{i}.py" for i in range(5)]
    script = {f"worker:{p}": [{"tool": "submit_patch", "input": {"patch": p}}] for p in paths}
    with FakeMessagesServer(script, latency=0.2, max_concurrent=2) as srv:
        # two slow requests hold both slots (until the third has come: not for a latency that a loaded
        # machine may outlast); a third without retries sees the 429
        srv.on_pause = Pauses(srv, hold=lambda record, stage: len(srv.requests) < 3)
        holders = [threading.Thread(target=client(srv).messages.create, kwargs=worker_body(p)) for p in paths[:2]]
        for t in holders:
            t.start()
        deadline = time.monotonic() + 10
        while srv.in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        with pytest.raises(anthropic.RateLimitError) as info:
            client(srv).messages.create(**worker_body(paths[2]))
        assert info.value.response.headers["retry-after"] == "0.05"
        assert info.value.body["error"]["type"] == "rate_limit_error"
        for t in holders:
            t.join(15)
        srv.on_pause = None

        c = client(srv, retries=20)
        results = _parallel(lambda i: c.messages.create(**worker_body(paths[i])), 5)
    assert [tool_block(r).input["patch"] for r in results] == paths
    assert srv.peak_in_flight == 2
    statuses = [r.status for r in srv.requests]
    assert statuses.count(200) == 7 and statuses.count(429) >= 2
    assert all(r.key and r.key.startswith("worker:") for r in srv.requests)


# -- fault turns ---------------------------------------------------------------------------
def test_overloaded_fault_then_answer():
    script = {"orchestrator": [{"http_error": 529, "retry_after": 0.01, "times": 1},
                               {"tool": "plan_edits", "input": PLAN_INPUT}]}
    with FakeMessagesServer(script) as srv:
        message = client(srv, retries=2).messages.create(**orch_body())
    assert tool_block(message).input == PLAN_INPUT
    assert [(r.turn, r.status) for r in srv.requests] == [(0, 529), (0, 200)]
    assert srv.requests[1].headers["x-stainless-retry-count"] == "1"


def test_fault_runs_attach_to_the_next_real_turn():
    script = {"orchestrator": [{"text": "zero"},
                               {"http_error": 429, "retry_after": 0.01, "times": 2},
                               {"http_error": 500, "message": "boom"},
                               {"text": "one"},
                               {"http_error": 529}]}
    second = orch_body({"role": "assistant", "content": "zero"}, {"role": "user", "content": "more"})
    third = orch_body({"role": "assistant", "content": "zero"}, {"role": "user", "content": "more"},
                      {"role": "assistant", "content": "one"}, {"role": "user", "content": "more"})
    with FakeMessagesServer(script) as srv:
        c = client(srv)
        assert c.messages.create(**orch_body()).content[-1].text == "zero"
        with pytest.raises(anthropic.RateLimitError) as info:
            c.messages.create(**second)
        assert info.value.response.headers["retry-after"] == "0.01"
        with pytest.raises(anthropic.RateLimitError):
            c.messages.create(**second)
        with pytest.raises(anthropic.InternalServerError, match="boom") as info:
            c.messages.create(**second)
        assert info.value.body["error"]["type"] == "api_error"
        assert c.messages.create(**second).content[-1].text == "one"
        assert c.messages.create(**second).content[-1].text == "one"  # faults are spent
        with pytest.raises(anthropic.OverloadedError):  # a trailing run plays for the turn past the end
            c.messages.create(**third)
        with pytest.raises(anthropic.BadRequestError, match="turn 3 was asked for"):
            c.messages.create(**third)
        srv.set_script(script)  # restarts the fault counts
        with pytest.raises(anthropic.RateLimitError):
            c.messages.create(**second)
    assert [r.status for r in srv.requests] == [200, 429, 429, 500, 200, 200, 529, 400, 429]


def test_drop_connection_and_cut_stream_are_retryable_failures():
    script = {"orchestrator": [{"drop_connection": True}, {"cut_stream": True},
                               {"tool": "plan_edits", "input": PLAN_INPUT}]}
    with FakeMessagesServer(script) as srv:
        with pytest.raises(anthropic.APIConnectionError):
            client(srv).messages.create(**orch_body())
        # a stream cut after its headers is not wrapped by the SDK: httpx2 raises while iterating
        with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
            with client(srv).messages.stream(**orch_body()) as stream:
                stream.get_final_message()
        with client(srv).messages.stream(**orch_body()) as stream:
            assert tool_block(stream.get_final_message()).input == PLAN_INPUT
    assert [r.status for r in srv.requests] == [0, 200, 200]


@pytest.mark.slow
def test_drop_connection_recovered_by_sdk_retry():
    script = {"orchestrator": [{"drop_connection": True}, {"tool": "plan_edits", "input": PLAN_INPUT}]}
    with FakeMessagesServer(script) as srv:
        assert tool_block(client(srv, retries=2).messages.create(**orch_body())).input == PLAN_INPUT
    assert [r.status for r in srv.requests] == [0, 200]


# -- lifecycle ----------------------------------------------------------------------------
def test_env_points_the_sdk_at_the_server(server, monkeypatch):
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    assert server.env() == {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "test-key"}
    assert server.url.startswith("http://127.0.0.1:")
    message = anthropic.Anthropic(max_retries=0).messages.create(**orch_body())
    assert tool_block(message).name == "read_file"
    assert server.requests[0].headers["authorization"] == "Bearer test-key"


def _stopped_within(srv: FakeMessagesServer, bound: float) -> bool:
    """Whether stop() returned within `bound` seconds: a hang guard far below the 30 s latency (was: < 1.0 s)."""
    stopper = threading.Thread(target=srv.stop, daemon=True)
    stopper.start()
    stopper.join(bound)
    return not stopper.is_alive()


def test_stop_is_prompt_with_open_connections_and_sleeping_requests():
    srv = FakeMessagesServer(SCRIPT, latency=30).start()
    c = client(srv)
    # Any error ends the call (the server stops under it): which one depends on when it lands.
    t = threading.Thread(target=lambda: pytest.raises(Exception, c.messages.create, **orch_body()),  # noqa: B017
                         daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while srv.in_flight < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert _stopped_within(srv, 10)
    t.join(10)
    assert not t.is_alive()
    assert srv.requests[0].status == 0 and ("answered", "orchestrator") not in srv.events  # woken, never answered
    srv.stop()  # idempotent


# -- time to first token -------------------------------------------------------------------
# Were: seconds from sending to each event, against windows around ttft and the latency. Now the
# delays the server waits (recorded by on_pause, not measured) and what the client had received
# while the server still held the rest of the answer.
class Pauses:
    """An on_pause hook: records (key, stage, seconds) and holds a request while hold(record, stage)
    is true, at most 10 s each; a hold that runs out is recorded in `ran_out` (the test then fails
    on that, never on a clock)."""

    def __init__(self, srv: FakeMessagesServer, hold=lambda record, stage: False) -> None:  # noqa: ANN001
        self.srv, self.hold, self.seen, self.ran_out = srv, hold, [], []

    def __call__(self, record, stage: str, seconds: float) -> None:  # noqa: ANN001
        self.seen.append((record.key, stage, pytest.approx(seconds)))
        deadline = time.monotonic() + 10
        while self.hold(record, stage):
            if time.monotonic() > deadline:
                self.ran_out.append((record.key, stage))
                return
            time.sleep(0.005)


def _held_stream(srv: FakeMessagesServer, body: dict) -> tuple[list, Pauses, int]:
    """(events, the pauses, in_flight when the first event came): the server holds the rest of the
    answer until the client has its first event, so a first event sent only with the rest runs out."""
    first = threading.Event()
    pauses = Pauses(srv, hold=lambda record, stage: stage == "rest" and not first.is_set())
    srv.on_pause = pauses
    events, in_flight = [], -1
    for event in client(srv).messages.create(**body, stream=True):
        if not events:
            in_flight = srv.in_flight
        events.append(event)
        first.set()
    return events, pauses, in_flight


def _wait_idle(srv: FakeMessagesServer) -> None:
    deadline = time.monotonic() + 10
    while srv.in_flight and time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.slow
def test_ttft_sends_the_first_events_early_and_the_rest_after_the_latency():
    with FakeMessagesServer(SCRIPT, latency=0.8, ttft=0.1) as srv:
        events, pauses, in_flight = _held_stream(srv, worker_body("pkg/mod.py"))
        _wait_idle(srv)
        assert srv.ttft == 0.1 and srv.in_flight == 0
    assert [e.type for e in events[:2]] == ["message_start", "content_block_start"]  # the SDK drops pings
    assert events[-1].type == "message_stop"
    key = "worker:pkg/mod.py"
    assert pauses.seen == [(key, "first", 0.1), (key, "rest", 0.8 - 0.1)]  # the rest after the latency in all
    assert pauses.ran_out == []  # the first events reached the client while the rest was held
    assert in_flight == 1  # still in flight while the stream is open
    assert srv.requests[0].status == 200


@pytest.mark.slow
def test_ttft_on_the_wire_headers_message_start_and_ping_come_first():
    payload = json.dumps({**worker_body("pkg/new.py"), "stream": True}).encode()
    with FakeMessagesServer(SCRIPT, latency=0.8, ttft=0.1) as srv:
        got_ping = threading.Event()
        srv.on_pause = pauses = Pauses(srv, hold=lambda record, stage: stage == "rest" and not got_ping.is_set())
        with socket.create_connection(("127.0.0.1", int(srv.url.rsplit(":", 1)[1])), timeout=15) as sock:
            sock.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
            early = b""
            while b"event: ping" not in early and (chunk := sock.recv(65536)):
                early += chunk
            got_ping.set()
            rest = b""
            while chunk := sock.recv(65536):
                rest += chunk
    assert b" 200 " in early.split(b"\r\n")[0] and b"event: message_start" in early
    assert b"content_block_start" not in early and b"content_block_start" in rest
    assert rest.endswith(b"0\r\n\r\n")
    key = "worker:pkg/new.py"  # was: ping within 0.09-0.6 s, the rest after >= 0.75 s
    assert pauses.seen == [(key, "first", 0.1), (key, "rest", 0.7)] and pauses.ran_out == []


@pytest.mark.slow
def test_ttft_none_and_non_streaming_keep_the_single_delay():
    with FakeMessagesServer(SCRIPT, latency=0.5) as srv:  # ttft None: nothing before the latency
        assert srv.ttft is None
        events, pauses, _ = _held_stream(srv, worker_body("pkg/mod.py"))
        assert events and pauses.seen == [("worker:pkg/mod.py", "first", 0.5), ("worker:pkg/mod.py", "rest", 0.0)]
    with FakeMessagesServer(SCRIPT, latency=0.5, ttft=0.05) as srv:  # not a stream: the whole latency
        srv.on_pause = pauses = Pauses(srv)
        raw = client(srv).messages.with_raw_response.create(**worker_body("pkg/mod.py"))
        assert tool_block(raw.parse()).input == {"patch": PATCH_MOD}
        assert pauses.seen == [("worker:pkg/mod.py", "first", 0.5)]  # was: >= 0.45 s measured


def test_ttft_longer_than_latency_sends_the_rest_at_once():
    with FakeMessagesServer(SCRIPT, latency=0.1, ttft=0.4) as srv:
        events, pauses, _ = _held_stream(srv, worker_body("pkg/mod.py"))
    assert events[-1].type == "message_stop"  # was: first >= 0.35 s, the rest within 0.3 s of it
    assert pauses.seen == [("worker:pkg/mod.py", "first", 0.4), ("worker:pkg/mod.py", "rest", 0.0)]


@pytest.mark.slow
def test_ttft_with_faults():
    script = {"orchestrator": [{"http_error": 529, "retry_after": 0.01}, {"drop_connection": True},
                               {"cut_stream": True}, {"tool": "plan_edits", "input": PLAN_INPUT}]}
    with FakeMessagesServer(script, latency=0.6, ttft=0.05) as srv:
        first = threading.Event()
        srv.on_pause = pauses = Pauses(srv, hold=lambda record, stage: stage == "rest" and not first.is_set())
        with pytest.raises(anthropic.OverloadedError):  # an error comes when the response would begin
            client(srv).messages.create(**orch_body(), stream=True)
        assert pauses.seen == [("orchestrator", "first", 0.05)]  # was: within 0.4 s; never the latency
        with pytest.raises(anthropic.APIConnectionError):
            client(srv).messages.create(**orch_body(), stream=True)
        with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
            with client(srv).messages.stream(**orch_body()) as stream:
                first.set()  # the stream began while the rest was held: sent at ttft
                stream.get_final_message()
        # was: the cut stream began within 0.4 s and was cut after >= 0.55 s: after the rest of the latency
        assert pauses.seen[-2:] == [("orchestrator", "first", 0.05), ("orchestrator", "rest", 0.55)]
        assert pauses.ran_out == []
        with client(srv).messages.stream(**orch_body()) as stream:
            assert tool_block(stream.get_final_message()).input == PLAN_INPUT
        _wait_idle(srv)
        assert srv.in_flight == 0
    assert [r.status for r in srv.requests] == [529, 0, 200, 200]


def test_stop_is_prompt_during_the_rest_of_a_stream():
    srv = FakeMessagesServer(SCRIPT, latency=30, ttft=0.01).start()
    failures: list[BaseException] = []
    started = threading.Event()

    def consume():
        try:
            with client(srv).messages.stream(**orch_body()) as stream:
                started.set()
                stream.get_final_message()
        except Exception as exc:  # the stream is cut by stop()
            failures.append(exc)

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    assert started.wait(10) and srv.in_flight == 1
    assert _stopped_within(srv, 10)
    t.join(10)
    assert not t.is_alive() and len(failures) == 1
    assert srv.in_flight == 0


# -- prompt-cache simulation ---------------------------------------------------------------
MARK = {"type": "ephemeral"}
SYSTEM_TEXT = "You are a careful engineer. " * 80  # over the 512-token minimum of the model, with the tools
USAGE_FIELDS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def cached_body(path: str, extra: str = "", marks: str = "both") -> dict:
    """A worker request with a marked system block and (unless marks == "system") a marked user block."""
    body = worker_body(path)
    body["system"] = [{"type": "text", "text": SYSTEM_TEXT, "cache_control": MARK}]
    user = {"type": "text", "text": worker_prompt(path) + "Content:\n" + "x = 1\n" * 200}
    if marks == "both":
        user["cache_control"] = MARK
    body["messages"] = [{"role": "user", "content": [user, {"type": "text", "text": "go" + extra}]}]
    return body


def estimated(*parts) -> int:
    """The fake's documented size estimate, computed independently."""
    return sum(-(-len(json.dumps({k: v for k, v in p.items() if k != "cache_control"}, sort_keys=True)) // 4)
               for p in parts)


def sizes(body: dict) -> tuple[int, int, int]:
    """(tools + system, ... + first user block, whole prompt) in estimated tokens."""
    tools, system, blocks = body["tools"], body["system"], body["messages"][0]["content"]
    return (estimated(*tools, *system), estimated(*tools, *system, blocks[0]),
            estimated(*tools, *system, *blocks))


def usage_of(usage) -> tuple[int, int, int]:
    return tuple(getattr(usage, name) for name in USAGE_FIELDS)


CACHE_SCRIPT = {f"worker:{p}": [{"tool": "submit_patch", "input": {"patch": p},
                                 "usage": {"input_tokens": 999, "output_tokens": 77}}] * 3
                for p in ("a.py", "b.py")}


def test_cache_second_identical_request_reads_what_the_first_wrote():
    body = cached_body("a.py")
    system, prefix, total = sizes(body)
    assert 0 < system < prefix < total
    with FakeMessagesServer(CACHE_SCRIPT, simulate_cache=True) as srv:
        assert srv.simulate_cache
        first = client(srv).messages.create(**body)
        with client(srv).messages.stream(**body) as stream:  # the stream reports it too
            start = next(e for e in stream if e.type == "message_start")
            second = stream.get_final_message()
        totals = srv.cache_totals()
        entries = dict(srv.cache_entries)
    assert usage_of(first.usage) == (total - prefix, prefix, 0)  # wrote the longest breakpoint prefix
    assert usage_of(second.usage) == (total - prefix, 0, prefix)  # and the second read all of it
    assert usage_of(start.message.usage) == usage_of(second.usage)
    assert first.usage.output_tokens == second.usage.output_tokens == 77  # scripted output kept
    assert [r.usage["cache_read_input_tokens"] for r in srv.requests] == [0, prefix]
    assert srv.requests[1].usage == second.usage.model_dump(include={*USAGE_FIELDS, "output_tokens", "output_tokens_details"})
    assert totals == {"requests": 2, "input_tokens": 2 * (total - prefix), "cache_creation_input_tokens": prefix,
                      "cache_read_input_tokens": prefix, "output_tokens": 154}
    assert len(entries) == 2  # the system prefix and the user-block prefix, available since the first answer
    assert all(srv.requests[0].arrived <= t <= srv.requests[1].arrived for t in entries.values())


def test_cache_concurrent_requests_both_write():
    body = cached_body("a.py")
    _, prefix, total = sizes(body)
    holder: list[FakeMessagesServer] = []
    calls: list[int] = []

    def until_both_arrive() -> float:  # neither of the first two responses begins before both are in flight
        calls.append(1)
        deadline = time.monotonic() + 10
        while len(calls) <= 2 and holder[0].in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        return 0.05

    with FakeMessagesServer(CACHE_SCRIPT, latency=until_both_arrive, simulate_cache=True) as srv:
        holder.append(srv)
        c = client(srv)
        results = _parallel(lambda i: c.messages.create(**body), 2)
        third = c.messages.create(**body)
    assert [usage_of(r.usage) for r in results] == [(total - prefix, prefix, 0)] * 2
    assert usage_of(third.usage) == (total - prefix, 0, prefix)
    assert srv.peak_in_flight == 2
    assert max(r.arrived for r in srv.requests[:2]) <= min(srv.cache_entries.values())
    assert srv.cache_totals()["cache_creation_input_tokens"] == 2 * prefix


def test_cache_shared_system_prefix_reads_just_that_part():
    first, other = cached_body("a.py"), cached_body("b.py")
    system, _, _ = sizes(first)
    assert sizes(other)[0] == system
    _, prefix, total = sizes(other)
    with FakeMessagesServer(CACHE_SCRIPT, simulate_cache=True) as srv:
        c = client(srv)
        c.messages.create(**first)
        events = list(c.messages.create(**other, stream=True))
    start, delta = events[0], next(e for e in events if e.type == "message_delta")
    assert usage_of(start.message.usage) == (total - prefix, prefix - system, system)
    assert usage_of(delta.usage) == usage_of(start.message.usage)  # message_delta: cumulative counts
    assert delta.usage.output_tokens == 77


def test_cache_parameters_outside_the_prompt_do_not_matter_but_tools_do():
    body = cached_body("a.py")
    _, prefix, total = sizes(body)
    with FakeMessagesServer(CACHE_SCRIPT, simulate_cache=True) as srv:
        c = client(srv)
        c.messages.create(**body)
        other = dict(body, max_tokens=7, tool_choice={"type": "auto"})
        other["system"] = [dict(body["system"][0], cache_control={"type": "ephemeral", "ttl": "1h"})]
        assert usage_of(c.messages.create(**other).usage) == (total - prefix, 0, prefix)
        changed = dict(body, tools=[dict(tool("submit_patch"), description="other")])
        usage = c.messages.create(**changed).usage
    assert usage.cache_read_input_tokens == 0 and usage.cache_creation_input_tokens > 0


def test_cache_failed_requests_write_nothing():
    body = cached_body("a.py")
    _, prefix, total = sizes(body)
    script = {"worker:a.py": [{"http_error": 529, "retry_after": 0.01}, *CACHE_SCRIPT["worker:a.py"]]}
    with FakeMessagesServer(script, simulate_cache=True) as srv:
        c = client(srv, retries=2)
        retried = c.messages.create(**body)
        again = c.messages.create(**body)
    assert [r.status for r in srv.requests] == [529, 200, 200]
    assert srv.requests[0].usage == {}
    assert usage_of(retried.usage) == (total - prefix, prefix, 0)
    assert usage_of(again.usage) == (total - prefix, 0, prefix)


def test_cache_lookback_finds_an_earlier_breakpoint():
    """The usual multi-turn pattern: each turn marks only its newest block."""
    turn1 = cached_body("a.py", marks="system")
    turn1["messages"][0]["content"][1]["cache_control"] = MARK
    turn2 = json.loads(json.dumps(turn1))
    del turn2["messages"][0]["content"][1]["cache_control"]
    turn2["messages"] += [{"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
                          {"role": "user", "content": [{"type": "text", "text": "more", "cache_control": MARK}]}]
    script = {"worker:a.py": [{"tool": "submit_patch", "input": {"patch": "1"}},
                              {"tool": "submit_patch", "input": {"patch": "2"}}]}
    written = estimated(*turn1["tools"], *turn1["system"], *turn1["messages"][0]["content"])
    whole = written + estimated(turn2["messages"][1]["content"][0], turn2["messages"][2]["content"][0])
    for lookback, read in ((20, written), (0, sizes(turn1)[0])):
        with FakeMessagesServer(script, simulate_cache=True) as srv:
            srv.cache_lookback = lookback
            c = client(srv)
            assert usage_of(c.messages.create(**turn1).usage) == (0, written, 0)
            assert usage_of(c.messages.create(**turn2).usage) == (0, whole - read, read)


def test_cache_without_breakpoints_counts_the_whole_prompt_as_input():
    body = worker_body("a.py")
    whole = estimated(*body["tools"], {"type": "text", "text": body["messages"][0]["content"]})
    with FakeMessagesServer(CACHE_SCRIPT, simulate_cache=True) as srv:
        usage = client(srv).messages.create(**body).usage
    assert usage_of(usage) == (whole, 0, 0)


def test_cache_simulation_off_leaves_usage_as_scripted():
    scripted = {"input_tokens": 123, "output_tokens": 45, "cache_creation_input_tokens": 6,
                "cache_read_input_tokens": 7}
    # "thinking": false: an answer without a thinking block, so the usage has no output_tokens_details
    script = {"worker:a.py": [{"tool": "submit_patch", "input": {"patch": "p"}, "usage": scripted, "thinking": False}] * 2}
    body = cached_body("a.py")
    with FakeMessagesServer(script, simulate_cache=False) as srv:
        assert not srv.simulate_cache
        c = client(srv)
        plain = [c.messages.create(**body) for _ in range(2)]
        events = list(c.messages.create(**body, stream=True))
        assert srv.cache_entries == {}
    for message in plain:
        assert message.usage.model_dump(include=set(scripted)) == scripted
    start, delta = events[0], next(e for e in events if e.type == "message_delta")
    assert usage_of(start.message.usage) == (123, 6, 7)
    assert delta.usage.model_dump(exclude_none=True) == {"output_tokens": 45}  # as before: output only
    assert [r.usage for r in srv.requests] == [scripted] * 3
    assert srv.cache_totals() == {"requests": 3, "input_tokens": 369, "cache_creation_input_tokens": 18,
                                  "cache_read_input_tokens": 21, "output_tokens": 135}
