"""Where a protected string could show, and a report that says where it did.

Everything a caller receives is searched: every string of a JSON body (keys too, %-decoded
and HTML-unescaped as well, since a client decodes them), every header (decoding RFC 5987
`filename*` and tus's base64 `Upload-Metadata`), every entry of a ZIP (its name, and its
content unless it is an original, which is never altered), the text of HTML pages with their
tags removed and their `data:` images decoded, and log lines. A non-identifier must also never
see a pseudonym *used as the marker* (`[W-0007]` in a text tells which witness a guess named).
"""

from __future__ import annotations

import base64
import binascii
import csv
import html
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx2 as httpx

from tests.protection.corpus import PROTECTED

PSEUDONYM_MARKER = re.compile(r"\[W-\d+\]")
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,([A-Za-z0-9+/=]+)")
_ORIGINALS = "evidence/"  # bundle entries that are the uploaded files, byte for byte
# Random bytes written as text (salts, signatures, digests, cursors, keys) hold letters at
# random: a five-letter name part turns up in one of some ten million of them, so a run that
# reads thousands would now and then fail on noise. They hold no text of anyone's.
OPAQUE_KEYS = frozenset(
    {"salt", "signature", "next_cursor", "public_key_pem", "hash", "prev_hash", "head_hash"}
)
OPAQUE_HEADERS = frozenset({"repr-digest", "content-digest", "digest", "etag", "x-request-id"})
OPAQUE_ENTRIES = frozenset({"manifest.json.sig", "public-key.pem"})


@dataclass(frozen=True)
class Leak:
    where: str  # "GET /api/v1/… body $.items[0].statement", "header content-disposition", …
    names: str  # which identity text (or "pseudonym as marker") was found
    text: str  # the text it was found in, shortened

    def line(self) -> str:
        return f"{self.where}: {self.names} in {self.text!r}"


def _short(text: str, limit: int = 140) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _readings(text: str) -> Iterator[str]:
    """The text as stored and as a client would decode it."""
    yield text
    if "%" in text:
        yield unquote(text)
    if "&" in text:
        yield html.unescape(text)


def in_text(text: str, where: str) -> list[Leak]:
    found: set[str] = set()
    for reading in _readings(text):
        found.update(PROTECTED.found_in(reading))
        if PSEUDONYM_MARKER.search(reading):
            found.add("pseudonym as marker")
    return [Leak(where, ", ".join(sorted(found)), _short(text))] if found else []


def in_json(value: Any, where: str, path: str = "$") -> list[Leak]:
    if isinstance(value, str):
        return in_text(value, f"{where} {path}")
    leaks: list[Leak] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            leaks += in_text(str(key), f"{where} {path} (key)")
            if key not in OPAQUE_KEYS:
                leaks += in_json(inner, where, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            leaks += in_json(inner, where, f"{path}[{index}]")
    return leaks


def in_headers(headers: httpx.Headers, where: str) -> list[Leak]:
    leaks: list[Leak] = []
    for name, value in headers.multi_items():
        if name.lower() in OPAQUE_HEADERS:
            continue
        leaks += in_text(value, f"{where} header {name}")
        if name.lower() == "upload-metadata":
            for pair in value.split(","):
                leaks += in_text(_b64(pair.strip().partition(" ")[2]), f"{where} header {name}")
    return leaks


def _b64(encoded: str) -> str:
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return encoded


def in_document(data: bytes, where: str, media_type: str = "") -> list[Leak]:
    """A body or file that is not an original: JSON (or JSON lines), HTML, CSV or plain text.

    Each string is searched on its own (a JSON value, an HTML text node or tag, a CSV cell, a
    line): letters of neighbouring words must not make a name that no text holds."""
    text = data.decode("utf-8-sig", "replace")
    parsed = _json(text)
    if parsed is not _NOT_JSON:
        return in_json(parsed, where)
    lines = [line for line in text.splitlines() if line.strip()]
    objects = [_json(line) for line in lines]
    if lines and all(isinstance(o, dict) for o in objects):
        return [leak for i, o in enumerate(objects) for leak in in_json(o, f"{where}:{i + 1}")]
    if "html" in media_type or where.endswith(".html") or "<html" in text[:500].lower():
        return _in_html(text, where)
    if "csv" in media_type or where.endswith(".csv"):
        rows = csv.reader(io.StringIO(text))
        return [
            leak
            for i, row in enumerate(rows)
            for c in row
            for leak in in_text(c, f"{where}:{i + 1}")
        ]
    return in_lines(lines, where)


def _in_html(text: str, where: str) -> list[Leak]:
    leaks: list[Leak] = []
    for index, image in enumerate(_DATA_URI.findall(text)):
        for run in _PRINTABLE.findall(base64.b64decode(image)):
            leaks += in_text(run.decode("ascii"), f"{where} embedded image {index}")
    for segment in _SEGMENTS.split(_DATA_URI.sub("data:", text)):
        if segment.strip():
            leaks += in_text(html.unescape(segment), f"{where} (html)")
    return leaks


_SEGMENTS = re.compile(r"[<>]")
_PRINTABLE = re.compile(rb"[\x20-\x7e]{4,}")  # what `strings` would show of an image


_NOT_JSON = object()


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def in_response(response: httpx.Response, *, body_is_original: bool = False) -> list[Leak]:
    where = f"{response.request.method} {response.request.url.path}"
    if response.request.url.query:
        where += f"?{response.request.url.query.decode()}"
    leaks = in_headers(response.headers, where)
    if body_is_original or not response.content:
        return leaks
    if response.headers.get("content-type", "").startswith("application/zip"):
        return leaks + in_bundle(response.content, where)
    return leaks + in_document(
        response.content, f"{where} body", response.headers.get("content-type", "")
    )


def in_bundle(data: bytes, where: str = "bundle") -> list[Leak]:
    """Every entry's name; every entry's content but the originals'."""
    leaks: list[Leak] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            leaks += in_text(name, f"{where} entry name")
            if not name.startswith(_ORIGINALS) and name not in OPAQUE_ENTRIES:
                leaks += in_document(archive.read(name), f"{where} {name}")
    return leaks


def in_lines(lines: Iterable[str], where: str) -> list[Leak]:
    return [leak for i, line in enumerate(lines) for leak in in_text(line, f"{where} line {i}")]


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_POSITION = re.compile(r"\[\d+\]|(?<=:)\d+\b")
_NUMBER = re.compile(r"\b\d+\b")
_CURSOR = re.compile(r"cursor=[^\s&]*")


def _place(where: str) -> str:
    """Where, without what differs between two records of one kind (ids, positions, the
    numbers in bundle entry names)."""
    where = _CURSOR.sub("cursor=…", _UUID.sub("{id}", where))
    return _NUMBER.sub("#", _POSITION.sub("[*]", where))


def report(leaks: list[Leak], limit: int = 80) -> str:
    """The leaks grouped by place (ids, positions and the caller masked), each with who got
    it, what it named, how often and one example: one run shows the whole shape of a hole."""
    groups: dict[str, list[Leak]] = {}
    for leak in leaks:
        who, _, where = leak.where.rpartition(": ") if ": " in leak.where else ("", "", leak.where)
        place = _place(where)
        groups.setdefault(place, []).append(Leak(who, leak.names, leak.text))
    lines = []
    for place, found in sorted(groups.items())[:limit]:
        callers = ", ".join(sorted({f.where for f in found if f.where})) or "-"
        names = ", ".join(sorted({n for f in found for n in f.names.split(", ")}))
        lines.append(f"{len(found):4d}x {place} [{callers}]: {names}; e.g. {found[0].text!r}")
    more = f"\n… and {len(groups) - limit} more places" if len(groups) > limit else ""
    return (
        f"{len(leaks)} protected string(s) shown to a caller who may not identify, "
        f"in {len(groups)} place(s):\n" + "\n".join(lines) + more
    )
