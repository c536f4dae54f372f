"""`Tus-Resumable` on every answer of the tus endpoint, errors and replays included.

tus 1.0 requires it on every response but OPTIONS' (where it does no harm). Problems are
rendered by app-wide handlers that know nothing of tus, so the header is added on the way out
for every path under the endpoint instead of in each place an answer is made.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.uploads.service import TUS_VERSION

UPLOADS_PATH = "/api/v1/uploads"


class TusResumableHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != UPLOADS_PATH and not path.startswith(UPLOADS_PATH + "/"):
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("Tus-Resumable", TUS_VERSION)
            await send(message)

        await self.app(scope, receive, send_with_version)
