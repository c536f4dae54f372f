"""The outermost layer of every request: request id, client address, metrics, access log,
disconnects, last-resort 500.

A pure ASGI middleware (not BaseHTTPMiddleware) so streamed bodies pass through untouched.

A client that goes away before its answer is complete (mid-body, mid-download, while waiting)
is not an error of ours: it is logged and counted as status 499 (nginx's "client closed
request") with `disconnected: true`, without a traceback, and nothing more is sent. Seen from
the `http.disconnect` the server delivers, or from Starlette's `ClientDisconnect` when a body
read meets it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.utils import ClientDisconnected

from app.kit.forwarded import IPNetwork, ProxyHeader, client_address
from app.kit.metrics import HttpMetrics
from app.kit.problems import problem_response
from app.kit.request_context import accept_request_id, bind_request, reset_request

DISCONNECTED = 499  # nginx's "client closed request": no HTTP status says it
access_log = logging.getLogger("casefile.access")
error_log = logging.getLogger("casefile.errors")


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        metrics: HttpMetrics,
        trusted_proxies: Sequence[IPNetwork] = (),
        proxy_header: ProxyHeader = "x-forwarded-for",
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.trusted_proxies = tuple(trusted_proxies)
        self.proxy_header = proxy_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = _header(scope, b"x-request-id")
        request_id = accept_request_id(supplied)
        client = scope.get("client")
        address = client_address(
            client[0] if client else None, scope["headers"], self.trusted_proxies, self.proxy_header
        )
        tokens = bind_request(request_id, address)
        started = time.perf_counter()
        status = 500
        response_started = False
        response_complete = False
        disconnected = False

        async def receive_watching() -> Message:
            nonlocal disconnected
            message = await receive()
            if message["type"] == "http.disconnect" and not response_complete:
                disconnected = True
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started, response_complete
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                response_complete = True
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                headers.setdefault("X-Content-Type-Options", "nosniff")
                # Responses may hold case data, protected texts or a witness's identity: no
                # cache may keep them, unless a route chose otherwise (originals revalidate).
                headers.setdefault("Cache-Control", "private, no-store")
                # What is shown depends on who asks: a cache must never answer one token's
                # request with another's representation (docs/operations.md, HTTP caching).
                _vary_on_authorization(headers)
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive_watching, send_with_id)
        except Exception as exc:
            if disconnected or isinstance(exc, ClientDisconnect | ClientDisconnected):
                disconnected = True  # the client left: nobody to answer, nothing to fix
            else:
                # Anything else reaching here is a bug: log it in full, answer a body that
                # reveals nothing.
                error_log.exception("unhandled error", extra={"path": scope.get("path")})
                if not response_started:
                    response = problem_response(
                        500, "Internal Server Error", "An unexpected error occurred; it was logged."
                    )
                    await response(scope, receive, send_with_id)
                status = 500
        finally:
            if disconnected:
                status = DISCONNECTED
            self.metrics.in_progress.dec()
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.observe(scope["method"], route, status, elapsed)
            # The path template, never the query string: a search term may be a witness's name.
            fields: dict[str, Any] = {
                "method": scope["method"],
                "route": route,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            }
            if disconnected:
                fields["disconnected"] = True
            access_log.info("request", extra=fields)
            reset_request(tokens)


def _vary_on_authorization(headers: MutableHeaders) -> None:
    vary = headers.get("vary")
    if not vary:
        headers["Vary"] = "Authorization"
    elif "authorization" not in vary.lower() and vary.strip() != "*":
        headers["Vary"] = f"{vary}, Authorization"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"
