"""Entity tags and If-Match preconditions (RFC 9110 §13.1.1, strong comparison)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from app.errors import PreconditionFailed, PreconditionRequired

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=1024,
        description="The `ETag` of the representation this change is based on (required).",
    ),
]


def etag_for(version: int) -> str:
    return f'"{version}"'


def require_match(if_match: str | None, current_etag: str) -> None:
    """Raise 428 if the header is absent, 412 if none of its tags is the current one."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            "Send If-Match with the ETag you last read, so concurrent edits are not lost."
        )
    candidates = [_version_part(tag) for tag in if_match.split(",")]
    if "*" in candidates or current_etag in candidates:
        return
    raise PreconditionFailed(
        "The resource changed since you read it; fetch it again and reapply your change.",
        headers={"ETag": current_etag},
    )


def _version_part(tag: str) -> str:
    """The version a tag names: a GET's tag is `"<version>.<digest>"` (app.kit.conditional),
    and serves for an If-Match on that version. Weak tags keep their `W/` and never match."""
    tag = tag.strip()
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        return '"' + tag[1:-1].split(".", 1)[0] + '"'
    return tag
