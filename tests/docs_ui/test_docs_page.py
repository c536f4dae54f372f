"""`/docs` over HTTP: Swagger UI from the app's own files, nothing from elsewhere, a strict CSP."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.testclient import TestClient

from app.docs_ui import ASSET_DIR

EXTERNAL_URL = re.compile(r"""(?:https?:)?//[^\s"'<>]+""")
REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")


def _csp(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_docs_page_references_only_this_server(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "SwaggerUIBundle" in html
    assert EXTERNAL_URL.findall(html) == []  # no CDN, no favicon from FastAPI's site
    references = REFERENCES.findall(html)
    assert references  # the script, stylesheet and icon
    for reference in references:
        assert reference.startswith("/docs/assets/"), reference
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        assert asset.content == (ASSET_DIR / reference.rsplit("/", 1)[1]).read_bytes()


def test_docs_page_allows_only_own_scripts_and_its_hashed_start_up(client: TestClient) -> None:
    page = client.get("/docs")
    policy = _csp(page.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    scripts = policy["script-src"]
    assert "'self'" in scripts
    assert "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" not in scripts
    assert not any(s.startswith(("http", "*")) for s in scripts)
    inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert scripts == ["'self'", f"'sha256-{digest}'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert page.headers["x-content-type-options"] == "nosniff"


def test_assets_carry_their_type_and_the_policy(client: TestClient) -> None:
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "script-src 'self'" in script.headers["content-security-policy"]
    assert script.headers["x-content-type-options"] == "nosniff"
    style = client.get("/docs/assets/swagger-ui.css")
    assert style.headers["content-type"].startswith("text/css")
    licence = client.get("/docs/assets/LICENSE")
    assert licence.status_code == 200
    assert "Apache License" in licence.text
    head = client.head("/docs/assets/swagger-ui.css")
    assert head.status_code == 200
    assert head.content == b""


def test_unknown_or_escaping_asset_names_are_404_problems(client: TestClient) -> None:
    for path in (
        "/docs/assets/nothing.js",
        "/docs/assets/VERSION.md",
        "/docs/assets/..%2F..%2Fconfig.py",
        "/docs/assets/%2e%2e%2fdocs_ui.py",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json", path


def test_redoc_is_not_offered(client: TestClient) -> None:
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404


def test_docs_need_no_token_and_stay_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith("/docs") for p in paths)
