"""The current request's id, readable from anywhere (logs, problem bodies, audit events)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("casefile_request_id", default=None)
_client_address: ContextVar[str | None] = ContextVar("casefile_client_address", default=None)

# A caller-supplied id is echoed only if it is short and harmless in headers and logs.
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def current_request_id() -> str | None:
    return _request_id.get()


def current_client_address() -> str | None:
    return _client_address.get()


def accept_request_id(supplied: str | None) -> str:
    if supplied and _ACCEPTABLE_ID.fullmatch(supplied):
        return supplied
    return uuid.uuid4().hex


def bind_request(request_id: str | None, client_address: str | None) -> tuple[object, object]:
    return _request_id.set(request_id), _client_address.set(client_address)


def reset_request(tokens: tuple[object, object]) -> None:
    _request_id.reset(tokens[0])  # type: ignore[arg-type]
    _client_address.reset(tokens[1])  # type: ignore[arg-type]
