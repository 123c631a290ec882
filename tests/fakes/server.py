"""A fake Anthropic Messages API server on loopback, answering from a diffcrew script.

Point the real `anthropic` SDK at it (`base_url=server.url`, or `server.env()` for
`ANTHROPIC_BASE_URL`); it speaks real HTTP/1.1, so nothing in the SDK is patched.

    with FakeMessagesServer(turns, latency=0.1) as server:
        client = anthropic.Anthropic(base_url=server.url, api_key="k")
        ...
        assert [r.status for r in server.requests] == [200, 200]

It is strict, always: a request the real API refuses is refused with the API's status and
message (`rules.py`, per model from `models.py`; an unknown model id is a 404), a history whose
thinking blocks were dropped, edited or reordered as the API forbids is refused (`thinking.py`),
and a model that thinks by default opens every answer with a signed thinking block
(`answers.py`). Errors have the API's shape, `{"type": "error", "error": {"type", "message"},
"request_id"}`, and every response a `request-id` header.

`POST /v1/messages` (any query string) is answered from the script (`diffcrew.agent.script`):
a JSON message, or, when the body says `"stream": true`, the Server-Sent Events the real API
sends (`sse.py`) in a chunked response. A `ScriptError` (no answers for the key, answers
exhausted, role or worker file not derivable) becomes HTTP 400 `invalid_request_error`
carrying "fake server: " and the error's message, which the SDK raises as `BadRequestError`
without retrying. `POST /v1/messages/count_tokens` gets the same validation (the docs: forced
tool_choice and the thinking prefix check are refused there too; it has no `max_tokens`) and
answers `{"input_tokens": N}`, the prompt's estimated size (`cache.py`); it plays no faults.

Fault turns
-----------
A script list may also hold fault entries (`http_error`, `drop_connection`, `cut_stream`,
`sse_error`; their shapes are documented with the turns in `agent/script.py`). Fault entries do
not count as turns: turn index N of a key (as `turn_index` computes it) is answered by the N-th
*non-fault* entry of its list, and the fault entries placed directly before that entry form its
fault run. The requests for (key, N) play the run in order, each fault `times` times (default
1); every later request for (key, N) gets the real answer. Faults after the last real entry are
played for the turn past the end, which then reports the script exhausted. So

    [{"tool": "plan_edits", ...},                     # turn 0
     {"http_error": 529, "times": 2},                 # turn 1, 1st and 2nd request: 529
     {"drop_connection": true},                       # turn 1, 3rd request: dropped
     {"tool": "plan_edits", ...}]                     # turn 1, 4th request on: the answer

Fault playback counts requests per (key, turn index), counted on arrival; requests turned
away by `max_concurrent` do not count. `set_script` restarts the counts. An `http_error` or a
dropped connection comes before the request is validated; `cut_stream` and `sse_error` need
the real answer for that turn (they send part of it), so an invalid request, or one the script
has no answer for, gets the 400 instead. A request that is not streamed gets an `sse_error` as
the HTTP status of its error type (overloaded_error 529, api_error 500, ...).

Recording: every request to the server is appended to `requests` on arrival (status 0
until answered; it stays 0 for a dropped connection). Header names are lower-cased.
`endpoint` says "messages" or "count_tokens"; `error` holds the message of an error answer.
`peak_in_flight` counts the messages requests admitted at once (those turned away by
`max_concurrent` with 429 are recorded but never in flight, so the peak never exceeds it).
`usage` on a record is the usage the server reported for it (empty unless a message was sent).
`events` lists, in the order they happened, ("arrived", key) for every messages request,
("answered", key) when an answer's first bytes go out and ("done", key) when a request has its
whole response: tests check what happened before what, not after how many seconds.

Latency and time to first token
-------------------------------
`latency` (seconds, or a callable giving them, called once per admitted request) elapses
before anything is sent. With `ttft` set, a *streaming* request instead gets its headers and
first events (`message_start`, `ping`) after `ttft` seconds and the remaining events after
`max(0, latency - ttft)` more; a fault or a 400 for it is sent at `ttft`. Non-streaming
requests (and every request when `ttft` is None) keep the single delay. A request stays in
flight until its last byte is written; `stop()` wakes both waits (a stream stopped between
them is closed mid-way). `on_pause(record, stage, seconds)`, when set, is called before each wait
("first"; then "rest" for a stream): a test may record the delays there, or hold a request
until something else has happened (with a bound of its own), to make an ordering certain.

Prompt caching is simulated as described in `cache.py` (`simulate_cache`, on by default;
`cache_lookback`; the model's minimum cacheable length); `cache_totals()` sums the usage over
the answered requests, for benchmarks.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from diffcrew.agent.script import is_fault

from .answers import public
from .cache import INPUT_SIDE, CachePlan
from .core import FakeApi, RecordedRequest, Turns
from .rules import ApiError
from .sse import sse_events
from .wire import STATUS_OF, Handler, HTTPServer, error_type


__all__ = ["CachePlan", "FakeMessagesServer", "RecordedRequest", "is_fault", "sse_events"]


class FakeMessagesServer(FakeApi):
    """A scripted Messages API on 127.0.0.1; use as a context manager (or start()/stop()).

    What it validates, answers and records is `core.FakeApi`'s, shared with the in-process
    client of `seam.py`; this class adds the wire: HTTP, streams, faults, latency, rate limits."""

    retry_after: float = 0.05  # the `retry-after` header (seconds) of a max_concurrent 429

    def __init__(self, script: Turns | str | None = None, *, latency: float | Callable[[], float] = 0.0,
                 max_concurrent: int | None = None, requests_per_window: tuple[int, float] | None = None,
                 ttft: float | None = None, simulate_cache: bool = True) -> None:
        """`max_concurrent`: at most that many requests in flight, 429 beyond. `requests_per_window`
        (k, seconds): at most k requests per fixed window, 429 beyond, and every answer carries the
        `anthropic-ratelimit-requests-*` headers (limit, remaining, reset in RFC 3339).
        `ttft`: a stream's first events come after this many seconds, the rest after the latency.
        `simulate_cache`: report simulated prompt caching in the usage (see cache.py); off, the
        usage's input side is the whole prompt as input_tokens, or as scripted."""
        self.latency = latency
        self.ttft = ttft
        self.max_concurrent = max_concurrent
        self.requests_per_window = requests_per_window
        self._window: tuple[int, int] = (-1, 0)  # (window number, requests admitted in it)
        self._epoch = time.time()
        self.url = ""
        self.token_counts: list[dict[str, Any]] = []  # the bodies sent to /v1/messages/count_tokens
        self.count_tokens_status: int | None = None  # set: token counting answers this HTTP error
        self.peak_in_flight = 0
        self.in_flight = 0
        self.on_pause: Callable[[RecordedRequest, str, float], None] | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        super().__init__(script, simulate_cache=simulate_cache)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> "FakeMessagesServer":
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = HTTPServer(("127.0.0.1", 0), Handler)
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
    def _handle(self, handler: Handler, raw: bytes, endpoint: str) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        try:
            body = json.loads(raw or b"null")
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
        except ValueError as exc:
            record = RecordedRequest(None, 0, {}, headers, False, endpoint=endpoint)
            self._append(record)
            self._send_error(handler, record, ApiError(400, "invalid_request_error",
                                                       f"fake server: bad request body: {exc}"))
            return
        record = RecordedRequest.of(body, headers, endpoint)
        if endpoint == "count_tokens":  # recorded apart: `requests` holds the Messages calls alone
            with self._lock:
                self.token_counts.append(body)
            self._count_tokens(handler, record)
            return
        if not self._admit(handler, record):
            return
        try:
            first, rest = self._delays(record)
            if self._pause(record, "first", first):
                record.status = 0
                handler.close_connection = True
                return
            self._respond(handler, record, rest)
        finally:
            with self._lock:
                self.in_flight -= 1
                self.events.append(("done", record.key))

    def _pause(self, record: RecordedRequest, stage: str, seconds: float) -> bool:
        """Wait before the `stage` ("first" or "rest") of an answer; True when the server stops meanwhile."""
        if self.on_pause is not None:
            self.on_pause(record, stage, seconds)
        return seconds > 0 and self._stopping.wait(seconds)

    def _admit(self, handler: Handler, record: RecordedRequest) -> bool:
        """Record the request; count it in flight, or turn it away with 429 (concurrency, quota)."""
        plan = self.cache_plan(record)
        with self._lock:
            quota_wait = self._take_quota(record)
            admitted = quota_wait is None and not (self.max_concurrent is not None
                                                   and self.in_flight >= self.max_concurrent)
            self.arrive(record, plan, admitted)
            if admitted:
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        if admitted:
            return True
        if quota_wait is not None:
            self._send_error(handler, record, ApiError(429, "rate_limit_error", "fake server: request rate limit reached"),
                             {**record.ratelimit, "retry-after": f"{quota_wait:.3f}"})
        else:
            self._send_error(handler, record, ApiError(429, "rate_limit_error", f"fake server: {self.max_concurrent} "
                                                       "request(s) already in flight"),
                             {"retry-after": f"{self.retry_after:g}"})
        return False

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

    def _send_error(self, handler: Handler, record: RecordedRequest, error: ApiError,
                    headers: dict[str, str] | None = None) -> None:
        record.status, record.error = error.status, error.message
        handler.send_error_body(error.status, error.message, headers, error.error_type)

    def _count_tokens(self, handler: Handler, record: RecordedRequest) -> None:
        try:
            counted = self.count(record)
        except ApiError as exc:
            self._send_error(handler, record, exc)
            return
        if self.count_tokens_status is not None:  # an older server (404), or one that refuses counting
            self._send_error(handler, record, ApiError(self.count_tokens_status, error_type(self.count_tokens_status),
                                                       "fake server: token counting refused"))
            return
        record.status = 200
        handler.send_json(200, {"input_tokens": counted})

    def _respond(self, handler: Handler, record: RecordedRequest, rest: float = 0.0) -> None:
        """Answer after the first delay; `rest`: the wait between a stream's first and other events."""
        fault = record.fault or {}
        if "http_error" in fault:
            status = int(fault["http_error"])
            extra = {"retry-after": f"{float(fault['retry_after']):g}"} if "retry_after" in fault else {}
            message = fault.get("message") or f"fake server: scripted {status} for {record.key!r} turn {record.turn}"
            self._send_error(handler, record, ApiError(status, error_type(status), message),
                             {**record.ratelimit, **extra})
            return
        if fault.get("drop_connection"):
            handler.hang_up()
            return
        try:
            message = self.answer(record)
        except ApiError as exc:
            self._send_error(handler, record, exc)
            return
        if "sse_error" in fault and not record.stream:
            kind = str(fault["sse_error"])
            self._send_error(handler, record, ApiError(STATUS_OF.get(kind, 500), kind, fault.get("message") or kind))
            return
        self.begin_answer(record, message)
        self._send_answer(handler, record, message, fault, rest)

    def _send_answer(self, handler: Handler, record: RecordedRequest, message: dict[str, Any],
                     fault: dict[str, Any], rest: float) -> None:
        if record.stream:
            def pause() -> bool:  # False when the server stops meanwhile
                return not self._pause(record, "rest", rest)
            handler.send_stream(message, fault, headers=record.ratelimit, pause=pause,
                                cumulative_usage=self.simulate_cache)
        elif fault.get("cut_stream"):  # a cut non-streaming answer: headers promise the whole body, half arrives
            handler.send_cut_json(public(message))
        else:
            handler.send_json(200, public(message), record.ratelimit)
