"""The floor under the evidence endpoint: a bare ASGI app, served by the same uvicorn, that only
receives a request body and feeds it to SHA-256 on the event loop. What it reaches is what
receiving and hashing alone cost on this machine, before any parsing, storing or committing.
"""

from __future__ import annotations

import hashlib
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    digest = hashlib.sha256()
    while True:
        message = await receive()
        digest.update(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = digest.hexdigest().encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
