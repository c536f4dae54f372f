"""Serving an original: the headers that identify it, byte ranges (RFC 9110 §14), and one
audit event per download in the item's hash-chained custody record."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from tests.evidence.support import (
    MIB,
    Part,
    Scene,
    actions,
    assert_problem,
    case_events,
    custody,
    download,
    multipart,
    parse_disposition,
    post_body,
    rfc9530,
    sha256_hex,
    upload,
)
from tests.fixtures.api import MakeUser

AddMember = Callable[..., None]
SIZE = 2 * MIB + 1000  # ranges can cross the server's 1 MiB read chunks
NAME = 'Մարտունի "crater"; 27%.09.bin'  # quotes, a semicolon, a percent sign, Armenian


@pytest.fixture
def original(scene: Scene) -> tuple[bytes, dict[str, Any]]:
    data = random.Random(11).randbytes(SIZE)
    name = quote(NAME, safe="").encode()
    part = Part("file", data, disposition=b"; name=\"file\"; filename*=UTF-8''" + name)
    answer = post_body(scene.client, scene.lead, scene.case_id, multipart([part]))
    assert answer.status_code == 201, answer.text
    return data, answer.json()


# Range header → (first byte, last byte) served with 206
PARTIAL: dict[str, tuple[int, int]] = {
    "bytes=0-0": (0, 0),
    "bytes=10-19": (10, 19),
    "bytes=1048570-1048590": (1048570, 1048590),  # across a read chunk
    f"bytes={SIZE - 1}-{SIZE - 1}": (SIZE - 1, SIZE - 1),
    f"bytes={SIZE - 100}-": (SIZE - 100, SIZE - 1),
    "bytes=-10": (SIZE - 10, SIZE - 1),
    f"bytes=-{SIZE + 5}": (0, SIZE - 1),  # a suffix longer than the file: all of it
    f"bytes={SIZE - 5}-{SIZE + 5000}": (SIZE - 5, SIZE - 1),  # end beyond the size clamps
    "bytes=5-99999999999999999999": (5, SIZE - 1),
    "bytes = 20-29": (20, 29),
}
# Range header → served in full with 200 (RFC 9110 lets a server ignore these)
IGNORED = [
    "bytes=0-1,5-6",
    "bytes=0-1, 5-6",
    "bytes=abc",
    "bytes=",
    "bytes=-",
    "bytes 0-5",
    "items=0-5",
    "bytes=0x10-0x20",
]
UNSATISFIABLE = [f"bytes={SIZE}-", f"bytes={SIZE}-{SIZE + 10}", "bytes=999999999-", "bytes=-0"]


def test_the_download_and_its_ranges(
    scene: Scene, original: tuple[bytes, dict[str, Any]], subtests: pytest.Subtests
) -> None:
    """The whole file comes with the headers that identify it. One range is served as 206 with
    Content-Range and Content-Length; several ranges and
    malformed ones get the whole file; a range starting past the end (or any range of an empty
    file) is a 416 problem saying the size; If-Range honours the range only for the current
    ETag. Every 200 and 206 is audited as a download, with the range it served; a 416 serves
    nothing and records nothing."""
    data, item = original
    served: list[tuple[int, int] | None] = []
    with subtests.test("no range: the whole file, and what it is"):
        # ETag is the quoted SHA-256, Repr-Digest its RFC 9530 form; ranges are advertised;
        # the type is the sniffed one and must not be second-guessed by a browser; the name is
        # given twice (ASCII fallback, exact UTF-8), safely.
        answer = download(scene.client, scene.lead, item["id"])
        assert answer.status_code == 200, answer.text
        assert answer.content == data
        assert answer.headers["etag"] == f'"{sha256_hex(data)}"'
        assert answer.headers["repr-digest"] == rfc9530(data)
        assert answer.headers["accept-ranges"] == "bytes"
        assert answer.headers["content-type"] == "application/octet-stream"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-length"] == str(SIZE)
        fallback, exact = parse_disposition(answer.headers["content-disposition"])
        assert exact == NAME
        assert fallback == "________ _crater__ 27_.09.bin"
        served.append(None)
    for header, (first, last) in PARTIAL.items():
        with subtests.test(header):
            answer = download(scene.client, scene.lead, item["id"], {"Range": header})
            assert answer.status_code == 206, answer.text
            assert answer.content == data[first : last + 1]
            assert answer.headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
            assert answer.headers["content-length"] == str(last - first + 1)
            assert answer.headers["etag"] == f'"{item["sha256"]}"'
            assert answer.headers["repr-digest"] == rfc9530(data), "of the whole, not the part"
            served.append((first, last))
    for header in IGNORED:
        with subtests.test(header):
            answer = download(scene.client, scene.lead, item["id"], {"Range": header})
            assert answer.status_code == 200, answer.text
            assert "content-range" not in answer.headers
            assert answer.content == data
            served.append(None)
    for header in UNSATISFIABLE:
        with subtests.test(header):
            answer = download(scene.client, scene.lead, item["id"], {"Range": header})
            assert_problem(answer, 416, "range-not-satisfiable")
            assert answer.headers["content-range"] == f"bytes */{SIZE}"
    with subtests.test("If-Range"):
        # Only the current strong ETag keeps the range; another ETag, the weak form of this
        # one, a date, or the bare digest get the whole file: the client's copy is not this one.
        etag = f'"{item["sha256"]}"'
        matching = {"Range": "bytes=100-199", "If-Range": etag}
        current = download(scene.client, scene.lead, item["id"], matching)
        assert current.status_code == 206
        assert current.content == data[100:200]
        served.append((100, 199))
        for other in (
            f'"{"0" * 64}"',
            f"W/{etag}",
            "Sat, 26 Sep 2020 06:00:00 GMT",
            item["sha256"],
        ):
            answer = download(
                scene.client, scene.lead, item["id"], {"Range": "bytes=100-199", "If-Range": other}
            )
            assert answer.status_code == 200, other
            assert answer.content == data
            served.append(None)
    with subtests.test("empty file"):
        # No byte to serve: any range is a 416 saying `bytes */0`; without one, served empty.
        empty = upload(scene.client, scene.lead, scene.case_id, b"", filename="empty.txt")
        for header in ("bytes=0-", "bytes=0-0", "bytes=-5"):
            answer = download(scene.client, scene.lead, empty["id"], {"Range": header})
            assert_problem(answer, 416)
            assert answer.headers["content-range"] == "bytes */0"
        whole = download(scene.client, scene.lead, empty["id"])
        assert whole.status_code == 200
        assert whole.content == b""
        assert whole.headers["etag"] == f'"{sha256_hex(b"")}"'
    with subtests.test("the downloads in custody"):
        events = custody(scene.client, scene.lead, item["id"])
        assert actions(events) == ["evidence.ingested"] + ["evidence.downloaded"] * len(served)
        for event, expected in zip(events[1:], served, strict=True):
            payload = event["payload"]
            assert payload["sha256"] == item["sha256"]
            if expected is None:
                assert "range" not in payload or payload["range"] is None
            else:
                assert payload["range"] == {"start": expected[0], "end": expected[1]}


def test_custody_is_every_event_of_the_item_linked_into_the_case_chain(
    scene: Scene, make_user: MakeUser, add_member: AddMember
) -> None:
    """Custody lists the item's events in order, who did each, and each event's link: its
    prev_hash is the hash of the event before it in the case's chain; paging through it one
    event at a time gives the same. A viewer's download is recorded as theirs; someone outside
    the case cannot tell the item exists (the same 404 as for an unknown id)."""
    client, lead = scene.client, scene.lead
    item = upload(client, lead, scene.case_id, b"The shelling began at 06:00.", filename="a.txt")
    viewer, outsider = make_user("viewer"), make_user("investigator")
    add_member(scene.case_id, viewer, "viewer")
    other = upload(client, lead, scene.case_id, b"unrelated", filename="b.txt")
    assert download(client, lead, item["id"]).status_code == 200
    assert download(client, viewer, item["id"], {"Range": "bytes=4-10"}).status_code == 206
    assert download(client, lead, other["id"]).status_code == 200
    unknown = "6f1d2c3b-8a9e-4f00-9a1b-2c3d4e5f6a7b"
    for path in ("", "/content", "/custody"):
        hidden = client.get(f"/api/v1/evidence/{item['id']}{path}", headers=outsider.headers)
        missing = client.get(f"/api/v1/evidence/{unknown}{path}", headers=lead.headers)
        assert assert_problem(hidden, 404)["type"] == assert_problem(missing, 404)["type"]

    events = custody(client, lead, item["id"])
    assert actions(events) == ["evidence.ingested", "evidence.downloaded", "evidence.downloaded"]
    assert [e["actor_id"] for e in events] == [lead.id, lead.id, viewer.id]
    assert {e["resource_id"] for e in events} == {item["id"]}
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), "in chain order, each once"
    paged: list[dict[str, Any]] = []
    cursor: str | None = ""
    while cursor is not None:
        page = client.get(
            f"/api/v1/evidence/{item['id']}/custody?limit=1{cursor}", headers=lead.headers
        ).json()
        paged += page["items"]
        cursor = f"&cursor={page['next_cursor']}" if page["next_cursor"] else None
    assert paged == events, "pages of one event each: the same events, in the same order"
    chain = {e["seq"]: e for e in case_events(client, lead, scene.case_id)}
    for event in events:
        assert event["hash"] == chain[event["seq"]]["hash"]
        assert event["prev_hash"] == chain[event["seq"] - 1]["hash"]
