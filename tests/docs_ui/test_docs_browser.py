"""`/docs` in a real browser with every other host unreachable: Swagger UI renders the
operations, asks nothing of any other server and breaks no rule of its Content-Security-Policy.

Uses Debian's chromium (`.ci/run` installs it); skipped where it is absent, except in CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Request, Route, sync_playwright

from tests.fixtures.api import LiveServer

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.slow


@pytest.fixture
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it (apt-get install chromium)")
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    return CHROMIUM


def test_docs_render_offline_under_their_policy(
    live_server: LiveServer, chromium_path: Path
) -> None:
    elsewhere: list[str] = []
    console: list[str] = []
    violations: list[str] = []

    def only_this_server(route: Route, request: Request) -> None:
        if request.url.startswith(live_server.url + "/"):
            route.continue_()
        else:
            elsewhere.append(request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium_path), args=["--no-sandbox"]
        )
        try:
            page = browser.new_page()
            page.route("**/*", only_this_server)
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.add_init_script(
                "document.addEventListener('securitypolicyviolation', e => "
                "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
            )
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            page.goto(f"{live_server.url}/docs", wait_until="networkidle")
            operations = page.locator(".opblock")
            operations.first.wait_for(timeout=30_000)
            assert operations.count() > 20
            assert page.locator(".opblock-summary-path", has_text="/cases").count() > 0
            assert page.locator("button.authorize").count() == 1  # where tokens are pasted
            violations = [
                line for line in console if "Content Security Policy" in line or "CSP" in line
            ]
        finally:
            browser.close()
    assert elsewhere == []
    assert violations == []
    assert [line for line in console if line.startswith(("error", "pageerror"))] == []
