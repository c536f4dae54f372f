"""Originals of active types are never run by a browser that opens them.

Anyone with edit rights can upload an HTML page, an SVG or XML with script, or a PDF with
JavaScript. Whoever downloads it — a lawyer clicking a link — must get a file to save, not a
page that runs in Casefile's origin with their session: every original is served as an
attachment, unsniffed, under a sandboxing Content-Security-Policy.
"""

from __future__ import annotations

import httpx2 as httpx
import pytest

from tests.evidence.support import Scene, download, parse_disposition, upload

SCRIPT = b"<script>fetch('/api/v1/cases').then(r => r.text()).then(alert)</script>"
ACTIVE = {
    "page.html": b"<!DOCTYPE html><html><body>" + SCRIPT + b"</body></html>",
    "drawing.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "feed.xml": b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">'
    b"alert(1)</x:script>",
    "report.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog /OpenAction << /S /JavaScript "
    b"/JS (app.alert(1)) >> >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
}


def _assert_inert(headers: httpx.Headers) -> None:
    directives = {d.strip() for d in headers["content-security-policy"].split(";")}
    assert "sandbox" in directives
    assert "default-src 'none'" in directives
    assert headers["x-content-type-options"] == "nosniff"
    disposition = headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "inline" not in disposition


@pytest.mark.parametrize("filename", sorted(ACTIVE))
def test_an_active_original_is_served_sandboxed_and_never_inline(
    scene: Scene, filename: str
) -> None:
    data = ACTIVE[filename]
    item = upload(scene.client, scene.lead, scene.case_id, data, filename=filename)
    answer = download(scene.client, scene.lead, item["id"])
    assert answer.status_code == 200
    assert answer.content == data  # the original, byte for byte, only made inert
    _assert_inert(answer.headers)
    assert parse_disposition(answer.headers["content-disposition"])[1] == filename


def test_a_range_of_an_original_is_sandboxed_too(scene: Scene) -> None:
    item = upload(scene.client, scene.lead, scene.case_id, ACTIVE["page.html"], filename="p.html")
    partial = download(scene.client, scene.lead, item["id"], {"Range": "bytes=0-9"})
    assert partial.status_code == 206
    _assert_inert(partial.headers)


def test_a_passive_original_is_sandboxed_as_well(scene: Scene) -> None:
    """One policy for every type: nothing to get wrong in a sniffer's corner cases."""
    item = upload(scene.client, scene.lead, scene.case_id, b"plain words\n", filename="n.txt")
    _assert_inert(download(scene.client, scene.lead, item["id"]).headers)
