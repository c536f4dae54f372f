"""Routers whose routes refuse oversized request bodies with a 413 problem, before parsing.

JSON bodies are read whole to be parsed, so they are bounded: by default 1 MiB, and a body
silent for `CASEFILE_BODY_STALL_SECONDS` is a 408. They are read only once the request is
authenticated (app.auth.before_body); an object in them that repeats a key is refused with 422
(`app.kit.json_body`) before FastAPI parses. A route that streams its body (uploads) raises its
own bound with `@body_limit(n)` and reads `request.stream()` itself, after its dependencies.

A route that answers a page of items (a list or search) also waits for its turn first
(`app.kit.lanes`), so that single reads are not slowed by many lists at once.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import anyio
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from app.auth.before_body import authenticate_before_body
from app.errors import PayloadTooLarge, RequestBodyStalled
from app.kit.conditional import conditional_json
from app.kit.head import as_get
from app.kit.json_body import loads_unique
from app.kit.lanes import list_lane
from app.kit.pagination import Page

DEFAULT_BODY_LIMIT = 1024 * 1024
_LIMIT_MARK = "__casefile_body_limit__"

F = TypeVar("F", bound=Callable[..., Any])


def body_limit(limit_bytes: int) -> Callable[[F], F]:
    def mark(endpoint: F) -> F:
        setattr(endpoint, _LIMIT_MARK, limit_bytes)
        return endpoint

    return mark


class LimitedBodyRequest(Request):
    limit = DEFAULT_BODY_LIMIT

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            stall = body_stall_seconds(self)
            received = bytearray()
            chunks = self.stream().__aiter__()
            while True:
                # A client that announces a body and goes quiet (slow loris) would otherwise
                # hold its connection for ever: uvicorn has no timeout while a body arrives.
                try:
                    with anyio.fail_after(stall):
                        chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    raise RequestBodyStalled(stall) from exc
                received += chunk
                if len(received) > self.limit:
                    raise _too_large(self.limit)
            self._body = bytes(received)
        return self._body

    async def json(self) -> Any:
        """The body as JSON, or a JSONDecodeError (rendered as a 400 malformed-json problem).

        Only UTF-8 (RFC 8259 §8.1): `json.loads` would also guess UTF-16 or UTF-32 from the
        bytes, so a proxy, a log or a digest could read a different text than we store. Nesting
        deep enough to exhaust the recursion limit, and integers past Python's digit limit, are
        malformed input too, not errors of the server."""
        if not hasattr(self, "_json"):
            raw = await self.body()
            try:
                self._json = loads_unique(raw.decode("utf-8"))
            except json.JSONDecodeError:
                raise
            except UnicodeDecodeError as exc:
                raise json.JSONDecodeError("not UTF-8", "", exc.start) from exc
            except (RecursionError, ValueError) as exc:
                raise json.JSONDecodeError("too deep or too large", "", 0) from exc
        return self._json


class LimitedBodyRoute(APIRoute):
    """Also answers HEAD wherever it answers GET, by running the GET (app.kit.head)."""

    def _answers_head(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http" and scope["method"] == "HEAD" and "GET" in (self.methods or ())
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self._answers_head(scope):
            return super().matches(as_get(scope))
        return super().matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._answers_head(scope):
            await super().handle(as_get(scope), receive, send)
            return
        await super().handle(scope, receive, send)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limit: int = getattr(self.endpoint, _LIMIT_MARK, DEFAULT_BODY_LIMIT)
        parses_body = self.body_field is not None
        is_list = isinstance(self.response_model, type) and issubclass(self.response_model, Page)

        async def limited(request: Request) -> Response:
            if is_list:
                async with list_lane():
                    return await _bounded(request)
            return await _bounded(request)

        async def _bounded(request: Request) -> Response:
            declared = request.headers.get("content-length", "")
            too_large = declared.isascii() and declared.isdigit() and int(declared) > limit
            if parses_body or too_large:
                # 401/429 before a byte of the body is read (or a 413 told to a stranger).
                await authenticate_before_body(request)
            if too_large:
                raise _too_large(limit)
            bounded = LimitedBodyRequest(request.scope, request.receive)
            bounded.limit = limit
            if parses_body:
                # Read here, not first inside FastAPI's body parsing: that turns any exception
                # into a bare 400, and a chunked body past the limit must be a 413 (a stall 408).
                await bounded.body()
                if _is_json(request):
                    await _refuse_duplicate_keys(bounded)
            # Conditional GET in one place, for every JSON resource with an ETag.
            return conditional_json(bounded, await handler(bounded))

        return limited


def _is_json(request: Request) -> bool:
    """Whether FastAPI will parse this body as JSON (its own rule: no type, or */json, */*+json)."""
    content_type = request.headers.get("content-type")
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def _refuse_duplicate_keys(request: LimitedBodyRequest) -> None:
    """Parse here, where a repeated key's 422 problem reaches the app's handler: raised inside
    FastAPI's body parsing, it would become a bare 400. Malformed JSON is left to FastAPI,
    which parses again and answers its usual 400."""
    if not await request.body():
        return
    try:
        await request.json()
    except json.JSONDecodeError:
        return


def body_stall_seconds(request: Request) -> float:
    """`CASEFILE_BODY_STALL_SECONDS`: the longest silence while a request body arrives (JSON
    or upload) before it is given up with 408; uvicorn has no timeout while a body arrives."""
    return float(request.app.state.settings.body_stall_seconds)


def iter_api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every API route of the app, through included routers (which FastAPI keeps nested)."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            yield route


def api_router(**options: Any) -> APIRouter:
    """An APIRouter whose routes enforce body limits; use it for every router of the app."""
    return APIRouter(route_class=LimitedBodyRoute, **options)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body exceeds the limit of {limit} bytes for this route.")
