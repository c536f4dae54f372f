"""Hostile JSON bodies, swept over every JSON write route (inventory: docs/operations.md).

Every route of `routes.JSON_WRITES` (checked against the app's route table) gets: control
characters and lone surrogates in each of its text fields, JSON nested 10,000 deep, a body of
several MB, invalid UTF-8, big numbers, and the wrong Content-Type. Each is a 4xx
application/problem+json, and the database and the object store are exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.kit.routing import iter_api_routes
from tests.hostile.routes import (
    CONTROLS,
    JSON_WRITES,
    LINE_BREAKS,
    JsonWrite,
    World,
    encode,
    value_at,
    with_value,
)
from tests.hostile.support import Probes, assert_refused, send_json, write_headers

DEPTH = 10_000
CONVERTER = re.compile(r"\{(\w+):\w+\}")  # {user_id:uuid} is {user_id} in the table
TOO_LARGE = "urn:casefile:problem:payload-too-large"


def test_the_sweep_covers_every_json_write_route(app: FastAPI) -> None:
    """A new route taking a JSON body must be added to the table, or this fails."""
    served = {
        method + " " + CONVERTER.sub(r"{\1}", route.path)
        for route in iter_api_routes(app)
        if route.body_field is not None
        for method in route.methods
    }
    assert served == {route.name for route in JSON_WRITES}


def test_the_valid_body_with_line_breaks_in_long_texts_is_accepted(
    client: TestClient, world: World, subtests: pytest.Subtests
) -> None:
    """The baseline every refusal below differs from in one hostile part only; long texts
    keep line breaks and tabs exactly as sent."""
    for route in JSON_WRITES:
        with subtests.test(route.name):
            body = route.body(world)
            for field, kind in route.texts.items():
                if kind == "multi":
                    body = with_value(body, field, "first line\n\tsecond\r\nthird")
            headers = write_headers(client, world.admin, route, world)
            answer = send_json(client, route, world, headers, encode(body))
            assert answer.status_code in (200, 201), answer.text


def test_control_characters_in_any_text_field_are_refused(
    client: TestClient, world: World, probes: Probes, subtests: pytest.Subtests
) -> None:
    """NUL, C0, DEL, C1 and lone surrogates are refused in every text field, and line breaks in
    one-line fields: 422 naming the field, nothing stored. Refused, not stripped: evidence text
    is kept as sent or not at all."""
    for route in JSON_WRITES:
        headers = write_headers(client, world.admin, route, world)
        before = probes.state()
        body = route.body(world)
        for field, kind in route.texts.items():
            original = str(value_at(body, field))
            hostile = CONTROLS if kind == "multi" else CONTROLS + LINE_BREAKS
            with subtests.test(f"{route.name}: {field}"):
                for char in hostile:
                    value = original[:2] + char + original[2:]
                    raw = encode(with_value(body, field, value))
                    problem = assert_refused(send_json(client, route, world, headers, raw), 422)
                    assert field in {e["field"] for e in problem["errors"]}, (repr(char), problem)
        with subtests.test(f"{route.name}: nothing stored"):
            assert probes.state() == before


def _nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


MALFORMED = "urn:casefile:problem:malformed-json"


def _hostile_bodies(route: JsonWrite, world: World) -> dict[str, tuple[bytes, str, str | None]]:
    """label → (body, Content-Type, the problem type expected, if one is)."""
    valid = route.body(world)
    first = next(iter(route.texts))
    text_field = encode(with_value(valid, first, "NESTED"))
    json_type = "application/json"
    bodies: dict[str, tuple[bytes, str, str | None]] = {
        "arrays nested 10,000 deep": (b"[" * DEPTH + b"]" * DEPTH, json_type, MALFORMED),
        "objects nested 10,000 deep": (_nested_objects(DEPTH), json_type, MALFORMED),
        "a field nested 10,000 deep": (
            text_field.replace(b'"NESTED"', _nested_objects(DEPTH)),
            json_type,
            MALFORMED,
        ),
        "3 MB of text in a field": (
            encode(with_value(valid, first, "x" * 3_000_000)),
            json_type,
            TOO_LARGE,
        ),
        "3 MB of whitespace": (b" " * 3_000_000 + encode(valid), json_type, TOO_LARGE),
        "a 5,000-digit number": (
            text_field.replace(b'"NESTED"', b"9" * 5000),
            json_type,
            MALFORMED,
        ),
        "a 1e999 number": (text_field.replace(b'"NESTED"', b"1e999"), json_type, None),
        "invalid UTF-8": (text_field.replace(b"NESTED", b"\xc3\x28\xff\xfe"), json_type, MALFORMED),
        "overlong UTF-8 NUL": (text_field.replace(b"NESTED", b"\xc0\x80"), json_type, MALFORMED),
        "UTF-16": (encode(valid).decode().encode("utf-16"), json_type, MALFORMED),
        "UTF-32": (encode(valid).decode().encode("utf-32"), json_type, MALFORMED),
        "UTF-8 with a BOM": (b"\xef\xbb\xbf" + encode(valid), json_type, MALFORMED),
        "JSON as text/plain": (encode(valid), "text/plain", None),
        "JSON as a form": (encode(valid), "application/x-www-form-urlencoded", None),
        "JSON as multipart": (encode(valid), "multipart/form-data; boundary=x", None),
        "JSON as XML": (encode(valid), "application/xml", None),
    }
    if not route.body_optional:
        bodies["empty"] = (b"", json_type, None)
    return bodies


def test_malformed_and_oversized_bodies_are_refused(
    client: TestClient, world: World, probes: Probes, subtests: pytest.Subtests
) -> None:
    for route in JSON_WRITES:
        headers = write_headers(client, world.admin, route, world)
        before = probes.state()
        for label, (raw, content_type, problem_type) in _hostile_bodies(route, world).items():
            with subtests.test(f"{route.name}: {label}"):
                answer = send_json(client, route, world, headers, raw, content_type)
                problem: dict[str, Any] = assert_refused(answer)
                if problem_type is not None:
                    assert problem["type"] == problem_type, problem
                assert "NESTED" not in answer.text
        with subtests.test(f"{route.name}: chunked, 3 MB"):
            _assert_chunked_body_refused(client, route, world, headers)
        with subtests.test(f"{route.name}: nothing stored"):
            assert probes.state() == before


def _assert_chunked_body_refused(
    client: TestClient, route: JsonWrite, world: World, headers: dict[str, str]
) -> None:
    """Without a Content-Length the limit is enforced while reading: still a 413 problem (it
    was a bare 400 "error parsing the body" when FastAPI's parser met the limit first)."""

    def chunks() -> Iterator[bytes]:
        yield b'{"x": "'
        for _ in range(3):
            yield b"x" * 1024 * 1024
        yield b'"}'

    sent = {**headers, "Content-Type": "application/json"}
    answer = client.request(route.method, route.path(world), content=chunks(), headers=sent)
    assert "content-length" not in answer.request.headers
    problem = assert_refused(answer, 413)
    assert problem["type"] == TOO_LARGE
