"""`/docs`: Swagger UI served from the app itself, under a strict Content-Security-Policy.

FastAPI's default page loads Swagger UI from a CDN: blank without internet, and third-party
script on the very page where people paste their API tokens. Here its files come from
app/static/swagger-ui/ (pinned, see VERSION.md there), and the page may run only scripts from
this origin plus its one inline start-up script, allowed by its SHA-256 hash. ReDoc is not
offered (one documentation page to keep offline and locked down is enough).
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from app.errors import NotFound

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
ASSET_ROUTE = f"{ASSETS_PATH}/{{name}}"
# Every route this module adds, for the route-table guards in the tests.
DOCS_ROUTES = (DOCS_PATH, ASSET_ROUTE)
ASSET_DIR = Path(__file__).parent / "static" / "swagger-ui"
# Only these files are served, each with its type; anything else under /docs/assets is a 404.
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain; charset=utf-8",
    "NOTICE": "text/plain; charset=utf-8",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
}
# Swagger UI's own options: no online validator badge (it would load an image from elsewhere).
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def content_security_policy(script_hashes: list[str]) -> str:
    """Everything from this origin only; scripts also only by hash, never inline at large.
    `data:` images: Swagger UI's stylesheet draws its icons as data URIs."""
    scripts = " ".join(["'self'", *(f"'{h}'" for h in script_hashes)])
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts}",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _inline_script_hashes(html: str) -> list[str]:
    return [
        "sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        for body in _INLINE_SCRIPT.findall(html)
    ]


def install_docs_ui(app: FastAPI) -> None:
    """Add `/docs` and its assets; the app must be built with `docs_url=None, redoc_url=None`.
    Plain routes, outside the OpenAPI document and without authentication, like FastAPI's."""

    async def docs_page(request: Request) -> Response:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API documentation",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
        html = bytes(page.body).decode()
        page.headers["Content-Security-Policy"] = content_security_policy(
            _inline_script_hashes(html)
        )
        _harden(page)
        page.headers["Cache-Control"] = "no-cache"
        return page

    async def docs_asset(request: Request) -> Response:
        name = request.path_params["name"]
        media_type = ASSETS.get(name)
        if media_type is None:
            raise NotFound("no such documentation asset")
        response = FileResponse(ASSET_DIR / name, media_type=media_type)
        response.headers["Content-Security-Policy"] = content_security_policy([])
        _harden(response)
        # Pinned files that change only with an upgrade of Casefile: a day in any cache is fine.
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    app.add_route(DOCS_PATH, docs_page, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route(ASSET_ROUTE, docs_asset, methods=["GET", "HEAD"], include_in_schema=False)


def _harden(response: Response) -> None:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
