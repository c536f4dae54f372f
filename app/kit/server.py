"""uvicorn's HTTP protocol with bounds on request heads and problem+json for what it refuses.

Gaps below the app, where no exception handler reaches: uvicorn's httptools protocol keeps a
request's headers in memory however long they grow (a 20 MB header was read and answered) and
waits for them however slowly they come (idle new connections included); the requests its
parser refuses (a request line past 64 KiB, bytes that are not HTTP) got a bare `text/plain`
400, where clients and the API contract expect RFC 9457 problems.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.errors import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE

# Generous for real clients (browsers stay under 16 KiB). Counted per read while a head is
# being received: a read that also carries the start of the body counts whole (at most 256 KiB).
MAX_HEAD_BYTES = 1024 * 1024

# A connection must deliver each request head within this time (slow loris: uvicorn waits for
# a head for ever, idle new connections included, holding a socket each).
HEAD_TIMEOUT_S = 30.0

_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
}
_SLUGS = {400: "malformed-request", 408: "request-timeout", 431: "head-too-large"}


class ProblemHttpToolsProtocol(HttpToolsProtocol):
    _in_head = True
    _head_bytes = 0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True  # the count is not reset here: this read is already counted
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes = False, 0
        self._cancel_head_timer()
        super().on_headers_complete()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(HEAD_TIMEOUT_S, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            detail = f"The request head did not arrive within {HEAD_TIMEOUT_S:.0f} s."
            self._send_problem(408, detail)

    def data_received(self, data: bytes) -> None:
        # Counted before parsing, so the parser never holds more than the bound and one read.
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                detail = f"The request line and headers exceed {MAX_HEAD_BYTES} bytes."
                self._send_problem(431, detail)
                return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        self._send_problem(
            400, "The request is not valid HTTP/1.1, or its request line is too long."
        )

    def _send_problem(self, status: int, detail: str) -> None:
        reason = _REASONS[status]
        problem = {
            "type": PROBLEM_TYPE_BASE + _SLUGS[status],
            "title": reason.decode(),
            "status": status,
            "detail": detail,
        }
        body = json.dumps(problem, separators=(",", ":")).encode()
        content = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
                b"content-length: " + str(len(body)).encode() + b"\r\n",
                b"connection: close\r\n\r\n",
                body,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()


def uvicorn_options() -> dict[str, Any]:
    """What every server of the app runs with, whoever starts it (`casefile serve`, tests).

    `proxy_headers=False`: uvicorn would otherwise take `X-Forwarded-For` from any loopback
    peer (its default `forwarded_allow_ips`) and rewrite the client address before the app
    sees it: a local process, or any client when a port forwarder connects from loopback,
    could choose the address audit events record and the throttle counts. The app decides
    whom to believe itself (`CASEFILE_TRUSTED_PROXIES`, app/kit/forwarded.py)."""
    return {"http": ProblemHttpToolsProtocol, "proxy_headers": False}
