"""Conditional GET (RFC 9110 §13): `If-None-Match` and `If-Modified-Since` answered with 304.

A 304 tells a client that what it holds is still this caller's current representation, so
the entity tag must name the representation, not only the record's version: two members
read the same record differently (protected texts withheld, identities shown or not, counts
that change with no new version), and a tag shared between their answers would let a client
that cached one member's answer revalidate it for another, or keep an identity after its
reader lost the right to see it. `representation_etag` therefore adds a digest of the exact
body to the version (`"3.…"`): a caller learns nothing from it that its own body does not
show, and learns nothing about anyone else's. `If-Match` still compares versions
(app.kit.etag), so a tag read from a GET serves for the PATCH that follows.

Only GET (and HEAD, which runs the GET) is ever answered 304; unsafe methods never are.
"""

from __future__ import annotations

import email.utils
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

# Fields a 304 leaves out: they describe a body, and a 304 has none (RFC 9110 §15.4.5).
_BODY_FIELDS = {"content-length", "content-type", "content-range", "transfer-encoding"}
_DIGEST_HEX = 16  # 64 bits: a tag tells one body of one record from its others


def representation_etag(version_etag: str, body: bytes) -> str:
    """`"<version>.<digest of the body>"`: strong, and unique to this very representation."""
    digest = hashlib.sha256(body).hexdigest()[:_DIGEST_HEX]
    return f'"{version_etag.strip().strip(chr(34))}.{digest}"'


def _opaque(tag: str) -> str:
    """The tag without its weakness indicator, for weak comparison (RFC 9110 §8.8.3.2)."""
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def none_match(if_none_match: str, etag: str) -> bool:
    """Whether `If-None-Match` names the current representation (weak comparison, or `*`)."""
    candidates: Iterable[str] = (c for c in if_none_match.split(",") if c.strip())
    current = _opaque(etag)
    return any(c.strip() == "*" or _opaque(c) == current for c in candidates)


def http_date(moment: datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(UTC), usegmt=True)


def _not_modified_since(if_modified_since: str, last_modified: datetime) -> bool:
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # not a date: ignored (RFC 9110 §13.1.3)
    if since.tzinfo is None:
        return False  # an obsolete date without a zone is not a time we can compare
    # HTTP dates have whole seconds: the stored time, to the second, is the one we sent.
    return last_modified.replace(microsecond=0) <= since


def is_not_modified(request: Request, etag: str | None, last_modified: datetime | None) -> bool:
    """Whether a GET's conditions say the caller holds the current representation.

    `If-None-Match` takes precedence: when present, `If-Modified-Since` is not looked at
    (RFC 9110 §13.2.2)."""
    if request.method not in ("GET", "HEAD"):
        return False
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return etag is not None and none_match(if_none_match, etag)
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is not None and last_modified is not None:
        return _not_modified_since(if_modified_since, last_modified)
    return False


def not_modified(headers: Iterable[tuple[str, str]]) -> Response:
    """A 304 with the 200's headers that are not about the body (ETag, Cache-Control, Vary,
    Last-Modified, Content-Disposition…), so that a cache can refresh what it stored."""
    response = Response(status_code=304)
    for name, value in headers:
        if name.lower() not in _BODY_FIELDS:
            response.headers.append(name, value)
    return response


def conditional_json(request: Request, response: Response) -> Response:
    """For a GET's 200 JSON answer with an ETag: tag the representation, and answer 304 when
    the caller already holds it. Any other answer passes unchanged."""
    if request.method != "GET" or response.status_code != 200:
        return response
    version = response.headers.get("etag")
    body = getattr(response, "body", None)
    if version is None or not isinstance(body, bytes):
        return response
    etag = representation_etag(version, body)
    response.headers["ETag"] = etag
    if is_not_modified(request, etag, None):
        return not_modified(response.headers.items())
    return response
