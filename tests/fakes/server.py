"""A fake Anthropic Messages API server on loopback, answering from a diffcrew script.

Point the real `anthropic` SDK at it (`base_url=server.url`, or `server.env()` for
`ANTHROPIC_BASE_URL`); it speaks real HTTP/1.1, so nothing in the SDK is patched.

    with FakeMessagesServer(turns, latency=0.1) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="k")
        ...
        assert [r.status for r in server.requests] == [200, 200]

`POST /v1/messages` (any query string) is answered with `diffcrew.agent.script.answer`: a
JSON message, or, when the body says `"stream": true`, the Server-Sent Events the real API
sends (`message_start`, `ping`, per block `content_block_start` / deltas /
`content_block_stop`, `message_delta`, `message_stop`) in a chunked response. A
`ScriptError` (no answers for the key, answers exhausted, role or worker file not
derivable) becomes HTTP 400 `invalid_request_error` carrying the error's message, which the
SDK raises as `BadRequestError` without retrying.

Fault turns
-----------
A script list may also hold fault entries:

    {"http_error": 529, "retry_after": 0.01, "times": 2, "message": "optional"}
    {"drop_connection": true, "times": 1}      close the socket without any response
    {"cut_stream": true, "times": 1}           send the headers and part of the answer, then close

Rule: fault entries do not count as turns. Turn index N of a key (as `turn_index` computes
it) is answered by the N-th *non-fault* entry of its list; the fault entries placed directly
before that entry (after entry N-1) form its fault run. The requests for (key, N) play the
run in order, each fault `times` times (default 1), and every later request for (key, N)
gets the real answer. Faults after the last real entry are played for the turn past the
end, which then reports the script exhausted. So

    [{"tool": "plan_edits", ...},                     # turn 0
     {"http_error": 529, "times": 2},                 # turn 1, 1st and 2nd request: 529
     {"drop_connection": true},                       # turn 1, 3rd request: dropped
     {"tool": "plan_edits", ...}]                     # turn 1, 4th request on: the answer

Fault playback counts requests per (key, turn index), counted on arrival; requests turned
away by `max_concurrent` do not count. `set_script` restarts the counts. `cut_stream`
needs the real answer for that turn (it sends part of it); when there is none the request
gets the 400 instead.

Recording: every request to the server is appended to `requests` on arrival (status 0
until answered; it stays 0 for a dropped connection). Header names are lower-cased.
`peak_in_flight` counts the requests admitted at once (those turned away by
`max_concurrent` with 429 are recorded but never in flight, so the peak never exceeds it).
`usage` on a record is the usage the server reported for it (empty unless a message was sent).

Latency and time to first token
-------------------------------
`latency` (seconds, or a callable giving them, called once per admitted request) elapses
before anything is sent. With `ttft` set, a *streaming* request instead gets its headers and
first events (`message_start`, `ping`) after `ttft` seconds and the remaining events after
`max(0, latency - ttft)` more; a fault or a 400 for it is sent at `ttft`. Non-streaming
requests (and every request when `ttft` is None) keep the single delay. A request stays in
flight until its last byte is written; `stop()` wakes both waits (a stream stopped between
them is closed mid-way).

Prompt-cache simulation (`simulate_cache=True`)
-----------------------------------------------
The prompt is the sequence of blocks tools, system, messages (a string system prompt or
message content counts as one text block); a block carrying `cache_control` is a breakpoint,
and a prefix is every block from the start up to and including one. A prefix is identified
by a hash of its canonical JSON (`cache_control` values left out; model, max_tokens,
tool_choice, stream and other parameters are not part of it) and measured in estimated
tokens: ceil(len(json.dumps(block, sort_keys=True)) / 4), summed.

  * On arrival, the cache hit is the longest prefix that is available and ends at a
    breakpoint of the request or at most `cache_lookback` (default 20, as the real API's
    lookback) blocks before one; `cache_lookback = 0` only matches the breakpoints themselves.
  * read = the hit's size; creation = (size of the request's longest breakpoint prefix) - read;
    input_tokens = (size of the whole prompt) - read - creation. These replace the scripted
    usage's input side in the JSON answer, in `message_start` and in `message_delta` (which
    then carries the cumulative input-side counts, as the current API does); the scripted
    `output_tokens` is kept.
  * When a request's response begins (just before its 200 headers are written), all of its
    breakpoint prefixes become available (`cache_entries`: hash -> time.monotonic()).
    Requests already in flight do not see them: two identical requests sent together both
    write. A request answered with an error or dropped writes nothing.

Token counting
--------------
`POST /v1/messages/count_tokens` answers `{"input_tokens": N}` at once (no latency, no faults,
no rate limit), N being no less than the input side the server would bill for that body: the
simulated prompt's size, or the scripted usage's estimate of the messages. Each body is appended
to `token_counts` (not to `requests`). `count_tokens_status` set to an HTTP status makes it
answer that error instead, as an older server (404) or a refusal (400) would.

Not modelled: the 5-minute / 1-hour TTL (entries never expire within a server's life), the
minimum cacheable length (1024+ tokens), the limit of 4 breakpoints, per-model or
per-organisation caches, the `cache_creation` TTL breakdown, cache_control on blocks nested
inside tool_result content, and the real tokenizer. `cache_totals()` sums the usage over the
answered requests, for benchmarks.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from diffcrew.agent.script import (FORMAT, ScriptError, answer, estimate_tokens, is_fault, key_for_request, load_script,
                                   turn_index)

__all__ = ["CachePlan", "FakeMessagesServer", "RecordedRequest", "is_fault"]

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
               500: "api_error", 529: "overloaded_error"}
Turns = dict[str, list[dict[str, Any]]]
INPUT_SIDE = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


@dataclass
class RecordedRequest:
    key: str | None
    turn: int
    body: dict
    headers: dict[str, str]
    stream: bool
    status: int = 0
    fault: dict | None = field(default=None, repr=False)  # the fault entry played, if any
    arrived: float = field(default_factory=time.monotonic)  # time.monotonic() on arrival (for benchmarks)
    ratelimit: dict[str, str] = field(default_factory=dict, repr=False)  # anthropic-ratelimit-* sent back
    usage: dict[str, int] = field(default_factory=dict, repr=False)  # the usage reported, once a message is sent
    cache: "CacheUse | None" = field(default=None, repr=False)  # simulate_cache: looked up on arrival


# -- prompt-cache simulation ---------------------------------------------------------------
def _tokens(text: str) -> int:
    """Estimated tokens of a canonical JSON text: about four characters a token, rounded up."""
    return -(-len(text) // 4)


def _blocks(content: Any) -> list[Any]:
    """System or message content as a list of blocks (a string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content if isinstance(content, list) else []


def _prompt_blocks(body: dict[str, Any]) -> list[tuple[list[Any], Any]]:
    """(where, block) for every block of the prompt in cache order: tools, system, messages."""
    tools = body.get("tools")
    messages = body.get("messages")
    found: list[tuple[list[Any], Any]] = [(["tools"], t) for t in (tools if isinstance(tools, list) else [])]
    found += [(["system"], b) for b in _blocks(body.get("system"))]
    for n, message in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict):
            found.append((["messages", n], message))
            continue
        found += [(["messages", n, message.get("role")], b) for b in _blocks(message.get("content"))]
    return found


@dataclass(frozen=True)
class CacheUse:
    """What one request reads and writes: its input-side usage and the prefixes it makes available."""
    usage: dict[str, int]
    writes: tuple[str, ...]


@dataclass(frozen=True)
class CachePlan:
    """A request's prompt seen by the cache: per block, the hash and size of the prefix ending there."""
    digests: tuple[str, ...]
    sizes: tuple[int, ...]  # cumulative estimated tokens
    marks: tuple[int, ...]  # indexes of the blocks carrying cache_control

    @classmethod
    def of(cls, body: dict[str, Any]) -> "CachePlan":
        running = hashlib.sha256()
        digests: list[str] = []
        sizes: list[int] = []
        marks: list[int] = []
        total = 0
        for index, (where, block) in enumerate(_prompt_blocks(body)):
            if isinstance(block, dict) and "cache_control" in block:
                marks.append(index)
                block = {k: v for k, v in block.items() if k != "cache_control"}
            text = json.dumps(block, sort_keys=True)
            total += _tokens(text)
            running.update(json.dumps(where).encode() + b"\t" + text.encode() + b"\n")
            digests.append(running.copy().hexdigest())
            sizes.append(total)
        return cls(tuple(digests), tuple(sizes), tuple(marks))

    @property
    def total(self) -> int:
        return self.sizes[-1] if self.sizes else 0

    def hit(self, available: Mapping[str, float], lookback: int) -> int:
        """Tokens of the longest available prefix ending at, or up to `lookback` blocks before, a breakpoint."""
        best = 0
        for mark in self.marks:
            for index in range(mark, max(-1, mark - lookback - 1), -1):
                if self.digests[index] in available:
                    best = max(best, self.sizes[index])
                    break
        return best

    def lookup(self, available: Mapping[str, float], lookback: int) -> CacheUse:
        read = self.hit(available, lookback)
        longest = max((self.sizes[m] for m in self.marks), default=0)
        creation = max(0, longest - read)
        usage = {"input_tokens": self.total - read - creation,
                 "cache_creation_input_tokens": creation, "cache_read_input_tokens": read}
        return CacheUse(usage, tuple(self.digests[m] for m in self.marks))


def _split(text: str, pieces: int) -> list[str]:
    """`text` in up to `pieces` consecutive non-empty chunks (one empty chunk for "")."""
    if not text:
        return [""]
    size = -(-len(text) // pieces)
    return [text[i:i + size] for i in range(0, len(text), size)]


def sse_events(message: dict[str, Any], cumulative_usage: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """The stream of (event type, data) the Messages API sends for a complete `message`.
    `cumulative_usage`: `message_delta` carries the input-side usage too, not only output_tokens."""
    usage = message.get("usage") or {}
    delta_usage = {"output_tokens": usage.get("output_tokens", 0)}
    if cumulative_usage:
        delta_usage = {**{k: usage[k] for k in INPUT_SIDE if k in usage}, **delta_usage}
    start = dict(message, content=[], stop_reason=None, stop_sequence=None,
                 usage=dict(usage, output_tokens=min(1, usage.get("output_tokens", 1))))
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start}),
                                                ("ping", {"type": "ping"})]
    for index, block in enumerate(message.get("content") or []):
        kind = block.get("type")
        if kind == "text":
            first, deltas = dict(block, text=""), [{"type": "text_delta", "text": t} for t in _split(block["text"], 3)]
        elif kind in ("tool_use", "server_tool_use"):
            raw = json.dumps(block.get("input", {}), ensure_ascii=False) if block.get("input") else ""
            first = dict(block, input={})
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in _split(raw, 4)]
        elif kind == "thinking":
            first = dict(block, thinking="", signature="")
            deltas = [{"type": "thinking_delta", "thinking": t} for t in _split(block.get("thinking", ""), 3)]
            deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
        else:
            first, deltas = block, []
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": first}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
                   for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": message.get("stop_reason"),
                                               "stop_sequence": message.get("stop_sequence")},
                                     "usage": delta_usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_HTTPServer"
    timeout = 60  # an idle keep-alive connection ends after this; stop() closes them at once

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._drain()
        self._send_error(404, f"fake server: no route {self.command} {self.path}")

    def do_POST(self) -> None:
        body_bytes = self._drain()
        if urlsplit(self.path).path.rstrip("/") == "/v1/messages/count_tokens":
            self.server.fake._count_tokens(self, body_bytes)
            return
        if urlsplit(self.path).path.rstrip("/") != "/v1/messages":
            self._send_error(404, f"fake server: no route {self.command} {self.path}")
            return
        self.server.fake._handle(self, body_bytes)

    def _drain(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    # -- writing -------------------------------------------------------------------------
    def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"type": "error", "error": {"type": _error_type(status), "message": message}},
                        headers)

    def _send_stream(self, message: dict[str, Any], cut: bool = False, headers: dict[str, str] | None = None,
                     pause: Callable[[], bool] | None = None, cumulative_usage: bool = False) -> None:
        """Headers, `message_start` and `ping`; then `pause()` (False: give up, closing the
        connection); then the other events (only the next two when `cut`, then close)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        events = sse_events(message, cumulative_usage)
        if cut:  # message_start, ping, the first block's start and its first delta
            events = events[:4]
        self._write_events(events[:2])
        if pause is not None and not pause():
            self._hang_up()
            return
        self._write_events(events[2:])
        if cut:
            self._hang_up()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_events(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        for kind, data in events:
            chunk = f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()

    def _hang_up(self) -> None:
        """Close the connection at once, whatever was promised."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: "FakeMessagesServer"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up is no news
            super().handle_error(request, client_address)


class FakeMessagesServer:
    """A scripted Messages API on 127.0.0.1; use as a context manager (or start()/stop())."""

    retry_after: float = 0.05  # the `retry-after` header (seconds) of a max_concurrent 429
    cache_lookback: int = 20  # simulate_cache: blocks before a breakpoint also checked for a hit

    def __init__(self, script: Turns | str | None = None, *, latency: float | Callable[[], float] = 0.0,
                 max_concurrent: int | None = None, requests_per_window: tuple[int, float] | None = None,
                 ttft: float | None = None, simulate_cache: bool = False) -> None:
        """`max_concurrent`: at most that many requests in flight, 429 beyond. `requests_per_window`
        (k, seconds): at most k requests per fixed window, 429 beyond, and every answer carries the
        `anthropic-ratelimit-requests-*` headers (limit, remaining, reset in RFC 3339).
        `ttft`: a stream's first events come after this many seconds, the rest after the latency.
        `simulate_cache`: report simulated prompt caching in the usage (see the module docstring)."""
        self.latency = latency
        self.ttft = ttft
        self.simulate_cache = simulate_cache
        self.cache_entries: dict[str, float] = {}  # prefix hash -> time.monotonic() it became available
        self.max_concurrent = max_concurrent
        self.requests_per_window = requests_per_window
        self._window: tuple[int, int] = (-1, 0)  # (window number, requests admitted in it)
        self._epoch = time.time()
        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.token_counts: list[dict[str, Any]] = []  # the bodies sent to /v1/messages/count_tokens
        self.count_tokens_status: int | None = None
        self.peak_in_flight = 0
        self.in_flight = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.set_script(script)

    # -- script --------------------------------------------------------------------------
    def set_script(self, script: Turns | str | None) -> None:
        """Replace the script (turns dict, whole script document, JSON text, or None) and restart fault counts."""
        if script is None:
            turns: Turns = {}
        elif isinstance(script, str):
            turns = load_script(script)
        elif isinstance(script, dict) and script.get("format") == FORMAT and isinstance(script.get("turns"), dict):
            turns = script["turns"]
        else:
            turns = script
        if not isinstance(turns, dict) or not all(isinstance(v, list) for v in turns.values()):
            raise ScriptError("script turns must map keys to lists of turns")
        answers: Turns = {}
        faults: dict[str, list[list[dict[str, Any]]]] = {}
        for key, entries in turns.items():
            runs: list[list[dict[str, Any]]] = [[]]
            answers[key] = []
            for entry in entries:
                if is_fault(entry):
                    runs[-1].append(entry)
                else:
                    answers[key].append(entry)
                    runs.append([])
            faults[key] = runs
        with self._lock:
            self.turns = turns
            self._answers = answers
            self._faults = faults
            self._seen: dict[tuple[str, int], int] = {}

    def _fault_for(self, key: str, index: int) -> dict[str, Any] | None:
        """Count one more request for (key, index); the fault it must get, if any. Holds the lock."""
        runs = self._faults.get(key) or []
        n = self._seen.get((key, index), 0)
        self._seen[(key, index)] = n + 1
        for fault in runs[index] if index < len(runs) else []:
            times = int(fault.get("times", 1))
            if n < times:
                return fault
            n -= times
        return None

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> "FakeMessagesServer":
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-messages-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes requests sleeping in latency
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns = list(self._connections)
        for conn in conns:  # unblocks handler threads waiting on keep-alive connections
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> "FakeMessagesServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        return {"ANTHROPIC_BASE_URL": self.url, "ANTHROPIC_API_KEY": "test-key"}

    def cache_totals(self) -> dict[str, int]:
        """Usage summed over the requests answered with a message (for benchmarks)."""
        with self._lock:
            used = [r.usage for r in self.requests if r.usage]
        totals = {"requests": len(used)}
        for name in (*INPUT_SIDE, "output_tokens"):
            totals[name] = sum(int(u.get(name) or 0) for u in used)
        return totals

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)

    # -- one request ---------------------------------------------------------------------
    def _handle(self, handler: _Handler, raw: bytes) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            body = json.loads(raw or b"null")
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
        except ValueError as exc:
            record = RecordedRequest(None, 0, {}, headers, False)
            self._append(record)
            record.status = 400
            handler._send_error(400, f"fake server: bad request body: {exc}")
            return
        key: str | None
        try:
            key = key_for_request(body)
        except ScriptError:
            key = None
        try:
            index = turn_index(body)
        except Exception:  # a malformed messages list; answer() reports it below
            index = 0
        record = RecordedRequest(key, index, body, headers, bool(body.get("stream")))
        plan = CachePlan.of(body) if self.simulate_cache else None
        with self._lock:
            self.requests.append(record)
            quota_wait = self._take_quota(record)
            if self.max_concurrent is not None and self.in_flight >= self.max_concurrent:
                admitted = False
            else:
                admitted = quota_wait is None
            if admitted:
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                record.fault = self._fault_for(key, index) if key is not None else None
                if plan is not None:
                    record.cache = plan.lookup(self.cache_entries, self.cache_lookback)
        if not admitted:
            record.status = 429
            if quota_wait is not None:
                handler._send_error(429, "fake server: request rate limit reached",
                                    {**record.ratelimit, "retry-after": f"{quota_wait:.3f}"})
                return
            handler._send_error(429, f"fake server: {self.max_concurrent} request(s) already in flight",
                                {"retry-after": f"{self.retry_after:g}"})
            return
        try:
            first, rest = self._delays(record)
            if first > 0 and self._stopping.wait(first):
                record.status = 0
                handler.close_connection = True
                return
            self._respond(handler, record, rest)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _count_tokens(self, handler: _Handler, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"null")
            tokens = max(CachePlan.of(body).total, estimate_tokens(body.get("messages", [])))
        except (ValueError, AttributeError, TypeError) as exc:
            handler._send_error(400, f"fake server: bad count_tokens body: {exc}")
            return
        with self._lock:
            self.token_counts.append(body)
        if self.count_tokens_status is not None:
            handler._send_error(self.count_tokens_status, "fake server: token counting refused")
            return
        handler._send_json(200, {"input_tokens": tokens})

    def _delays(self, record: RecordedRequest) -> tuple[float, float]:
        """(seconds before the response begins, seconds more before a stream's remaining events)."""
        latency = self.latency() if callable(self.latency) else self.latency
        if self.ttft is None or not record.stream:
            return latency, 0.0
        return self.ttft, max(0.0, latency - self.ttft)

    def _take_quota(self, record: RecordedRequest) -> float | None:
        """Count the request against the window's quota and set its rate-limit headers: None when
        it is within the quota, else the seconds until the window ends. Holds the lock."""
        if self.requests_per_window is None:
            return None
        k, seconds = self.requests_per_window
        now = time.time()
        number = int((now - self._epoch) // seconds)
        admitted = self._window[1] if self._window[0] == number else 0
        reset = self._epoch + (number + 1) * seconds
        within = admitted < k
        if within:
            admitted += 1
        self._window = (number, admitted)
        record.ratelimit = {
            "anthropic-ratelimit-requests-limit": str(k),
            "anthropic-ratelimit-requests-remaining": str(k - admitted),
            "anthropic-ratelimit-requests-reset": datetime.fromtimestamp(reset, timezone.utc).isoformat().replace("+00:00", "Z"),
        }
        return None if within else max(0.0, reset - now)

    def _append(self, record: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(record)

    def _begin_answer(self, record: RecordedRequest, message: dict[str, Any]) -> None:
        """The response with `message` begins: apply and record its usage, make its prefixes available."""
        record.status = 200
        if record.cache is not None:
            message["usage"] = {**(message.get("usage") or {}), **record.cache.usage}
        record.usage = dict(message.get("usage") or {})
        if record.cache is not None:
            now = time.monotonic()
            with self._lock:
                for digest in record.cache.writes:
                    self.cache_entries.setdefault(digest, now)

    def _respond(self, handler: _Handler, record: RecordedRequest, rest: float = 0.0) -> None:
        """Answer after the first delay; `rest`: the wait between a stream's first and other events."""
        fault = record.fault or {}
        if "http_error" in fault:
            status = int(fault["http_error"])
            extra = {"retry-after": f"{float(fault['retry_after']):g}"} if "retry_after" in fault else {}
            record.status = status
            handler._send_error(status, fault.get("message") or f"fake server: scripted {status} for "
                                f"{record.key!r} turn {record.turn}", {**record.ratelimit, **extra})
            return
        if fault.get("drop_connection"):
            handler._hang_up()
            return
        try:
            with self._lock:
                answers = self._answers
            message = answer(answers, record.body)
        except ScriptError as exc:
            record.status = 400
            handler._send_error(400, f"fake server: {exc}")
            return
        except Exception as exc:  # a malformed body the script helpers could not read
            record.status = 400
            handler._send_error(400, f"fake server: cannot read the request: {exc!r}")
            return
        self._begin_answer(record, message)
        if record.stream or fault.get("cut_stream"):
            if record.stream:
                def pause() -> bool:  # False when the server stops meanwhile
                    return not (rest > 0 and self._stopping.wait(rest))
                handler._send_stream(message, cut=bool(fault.get("cut_stream")), headers=record.ratelimit,
                                     pause=pause, cumulative_usage=self.simulate_cache)
            else:  # a cut non-streaming answer: headers promise the whole body, half arrives
                data = json.dumps(message).encode()
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                handler.wfile.write(data[: len(data) // 2])
                handler.wfile.flush()
                handler._hang_up()
            return
        handler._send_json(200, message, record.ratelimit)
