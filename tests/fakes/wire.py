"""The fake server's HTTP/1.1 side: routes, and the bytes of JSON answers, errors and SSE streams.

Owns how answers are framed on the wire as the real API frames them: a `request-id` header on
every response, error bodies `{"type": "error", "error": {"type", "message"}, "request_id"}`
(api/errors "Error shapes"), chunked `text/event-stream` answers, and the transport faults
(a dropped connection, a stream cut mid-way, an SSE `error` event inside a 200 stream).
"""

from __future__ import annotations

import json
import socket
import sys
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from .sse import Event, error_event, sse_events

if TYPE_CHECKING:
    from .server import FakeMessagesServer

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 409: "conflict_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error"}
STATUS_OF = {kind: status for status, kind in ERROR_TYPES.items()}
ROUTES = {"/v1/messages": "messages", "/v1/messages/count_tokens": "count_tokens"}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def request_id() -> str:
    return f"req_{uuid.uuid4().hex[:24]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "HTTPServer"
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
        self.send_error_body(404, f"fake server: no route {self.command} {self.path}")

    def do_POST(self) -> None:
        body_bytes = self._drain()
        endpoint = ROUTES.get(urlsplit(self.path).path.rstrip("/"))
        if endpoint is None:
            self.send_error_body(404, f"fake server: no route {self.command} {self.path}")
            return
        self.server.fake._handle(self, body_bytes, endpoint)

    def _drain(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    # -- writing -------------------------------------------------------------------------
    def send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None,
                  rid: str | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", rid or request_id())
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def send_error_body(self, status: int, message: str, headers: dict[str, str] | None = None,
                        kind: str | None = None) -> None:
        """An error answer; the body's request_id is the `request-id` header's value."""
        rid = request_id()
        payload = {"type": "error", "error": {"type": kind or error_type(status), "message": message}, "request_id": rid}
        self.send_json(status, payload, headers, rid)

    def send_cut_json(self, payload: dict[str, Any]) -> None:
        """Headers that promise the whole body, then half of it, then the connection closes."""
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.hang_up()

    def send_stream(self, message: dict[str, Any], fault: dict[str, Any] | None = None,
                    headers: dict[str, str] | None = None, pause: Callable[[], bool] | None = None,
                    cumulative_usage: bool = False) -> None:
        """Headers, `message_start` and `ping`; then `pause()` (False: give up, closing the
        connection); then the other events. A `cut_stream` fault sends only the next two events
        and closes (with `"clean": true`, ends the chunked body properly, as a proxy that gives up
        may: no message_delta, no message_stop); an `sse_error` fault sends an `error` event
        instead of the rest."""
        fault = fault or {}
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", request_id())
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        events = sse_events(message, cumulative_usage)
        if fault.get("cut_stream"):  # message_start, ping, the first block's start and its first delta
            events = events[:4]
        elif fault.get("sse_error"):
            events = [*events[:2], error_event(str(fault["sse_error"]), fault.get("message") or "Overloaded")]
        self.write_events(events[:2])
        if pause is not None and not pause():
            self.hang_up()
            return
        self.write_events(events[2:])
        if fault.get("cut_stream") and not fault.get("clean"):
            self.hang_up()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def write_events(self, events: list[Event]) -> None:
        for kind, data in events:
            # A lone surrogate (a hostile model or proxy) has no UTF-8 form: it travels as a JSON escape.
            text = json.dumps(data, ensure_ascii=False)
            if any("\ud800" <= c <= "\udfff" for c in text):
                text = json.dumps(data)
            chunk = f"event: {kind}\ndata: {text}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()

    def hang_up(self) -> None:
        """Close the connection at once, whatever was promised."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: "FakeMessagesServer"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up is no news
            super().handle_error(request, client_address)
