"""HEAD on every GET resource (RFC 9110 §9.3.2): the GET's status and headers, no body.

FastAPI's routes answer only the methods they declare, so a HEAD of a GET resource was a 405.
Two pieces make it work everywhere at once, rather than route by route:

- `LimitedBodyRoute` (app.kit.routing) matches a HEAD wherever it matches a GET and runs the
  GET's endpoint — the same dependencies, so the same authentication, authorisation, 404 for
  non-members, and the same audit events for audited reads — with `is_head(request)` true;
- `HeadWithoutBody`, outermost, drops every body byte of a HEAD's answer (problems included:
  a 401/403/404 to a HEAD carries the problem's headers and Content-Length, no body).

The route table keeps HEAD out of `route.methods`, so the OpenAPI document (and the clients
and schemathesis runs generated from it) stays as it was: HEAD is implied by GET (RFC 9110).

An endpoint whose GET is costly to produce looks at `is_head` and answers from what it knows
without producing the content: an original's HEAD does not read the object (its size and
digest are stored), a bundle's HEAD does not build the bundle (docs/operations.md, HTTP).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Set in the scope the GET endpoint runs in when the request was a HEAD.
HEAD_SCOPE_KEY = "casefile.head"


def is_head(request: Request) -> bool:
    """Whether this GET endpoint is answering a HEAD (only headers will be sent)."""
    return bool(request.scope.get(HEAD_SCOPE_KEY, False))


def as_get(scope: Scope) -> Scope:
    """The scope a HEAD's GET endpoint runs in: method GET, marked as a HEAD."""
    return {**scope, "method": "GET", HEAD_SCOPE_KEY: True}


class HeadWithoutBody:
    """Pure ASGI middleware: a HEAD's answer keeps its status and headers and loses its body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, send_headers_only)
