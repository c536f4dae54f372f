"""Building JSON responses by hand, for routes that must set headers such as ETag."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response


def json_response(
    body: BaseModel,
    *,
    status_code: int = 200,
    location: str | None = None,
    etag: str | None = None,
) -> Response:
    headers = {}
    if location:
        headers["Location"] = location
    if etag:
        headers["ETag"] = etag
    return Response(
        content=body.model_dump_json().encode(),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )
