"""The ZIP plan (exact size, ZIP64 only where needed) against what stream-zip really writes, and
entry names that no uploaded file name can turn into a path outside the bundle."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from stream_zip import NO_COMPRESSION_32, NO_COMPRESSION_64, stream_zip

from app.bundles.layout import Member, evidence_path, is_safe_entry_name, plan, safe_component

WHEN = datetime(2020, 12, 3, 9, 40, tzinfo=UTC)
MIB = 1024 * 1024


def _zip(members: list[Member], content: dict[str, bytes] | None = None) -> Iterator[bytes]:
    layout = plan(members)
    files = []
    for placement in layout.placements:
        name, size = placement.member.name, placement.member.size
        data = (content or {}).get(name, b"x" * size)
        method = NO_COMPRESSION_64 if placement.zip64 else NO_COMPRESSION_32
        files.append((name, WHEN, 0o100644, method(size, zlib.crc32(data)), iter([data])))
    return stream_zip(files, chunk_size=MIB)


@pytest.mark.parametrize(
    "members",
    [
        [],
        [Member("manifest.json", 0)],
        [Member("manifest.json", 1234), Member("evidence/MRT-0001_Մարտունի.jpg", 99_999)],
        [Member(f"testimonies/T-{i:04d}.txt", i % 7) for i in range(300)],
    ],
    ids=["empty", "one empty file", "unicode name", "many"],
)
def test_the_plan_predicts_the_exact_size(members: list[Member]) -> None:
    data = b"".join(_zip(members))
    layout = plan(members)
    assert len(data) == layout.total_size
    assert not layout.zip64_directory
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert [i.filename for i in archive.infolist()] == [m.name for m in members]


def test_past_65535_entries_the_rest_are_zip64() -> None:
    members = [Member(f"f/{i}", 0) for i in range(70_000)]
    layout = plan(members)
    assert not layout.placements[65_534].zip64
    assert layout.placements[65_535].zip64
    assert layout.zip64_directory
    data = b"".join(_zip(members))
    assert len(data) == layout.total_size
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert len(archive.infolist()) == 70_000


@pytest.mark.slow
def test_beyond_4_gib_members_switch_to_zip64_and_the_size_holds() -> None:
    """4.2 GiB streamed and counted, never held: the first member stays ZIP32, the one that
    ends beyond 4 GiB is ZIP64 (stream-zip would refuse a ZIP32 one), the size is exact."""
    zeros = bytes(MIB)
    size = 2150 * MIB
    crc = 0
    for _ in range(size // MIB):
        crc = zlib.crc32(zeros, crc)
    members = [Member("manifest.json", 10), Member("a.bin", size), Member("b.bin", size)]
    layout = plan(members)
    assert [p.zip64 for p in layout.placements] == [False, False, True]

    def chunks() -> Iterator[bytes]:
        for _ in range(size // MIB):
            yield zeros

    files = [
        (
            "manifest.json",
            WHEN,
            0o100644,
            NO_COMPRESSION_32(10, zlib.crc32(b"m" * 10)),
            iter([b"m" * 10]),
        )
    ]
    for placement in layout.placements[1:]:
        method = NO_COMPRESSION_64 if placement.zip64 else NO_COMPRESSION_32
        files.append((placement.member.name, WHEN, 0o100644, method(size, crc), chunks()))
    total = sum(len(chunk) for chunk in stream_zip(files, chunk_size=MIB))
    assert total == layout.total_size


@pytest.mark.parametrize(
    ("uploaded", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\evil.dll", "evil.dll"),
        ("/absolute/path.jpg", "path.jpg"),
        ("..", "upload"),
        (".hidden", "hidden"),
        ("a\x00b\r\nc.jpg", "abc.jpg"),
        ("photo\u202egpj.exe", "photogpj.exe"),  # a right-to-left override disguising .exe
        ('what:is<this>"|?*.jpg', "what_is_this_____.jpg"),
        ("trailing dots... ", "trailing dots"),
        ("Մարտունի-բակ.jpg", "Մարտունի-բակ.jpg"),
    ],
)
def test_entry_names_are_one_safe_component(uploaded: str, expected: str) -> None:
    assert safe_component(uploaded) == expected
    path = evidence_path("MRT-0001", uploaded)
    assert path == f"evidence/MRT-0001_{expected}"
    assert is_safe_entry_name(path)


def test_long_names_are_cut_keeping_the_extension() -> None:
    name = safe_component("ա" * 400 + ".jpeg")
    assert name.endswith(".jpeg")
    assert len(name.encode()) <= 180


@pytest.mark.parametrize(
    "name", ["", "/etc/passwd", "../x", "a/../../x", "a\\b", "a//b", ".hidden/x", "x\x00"]
)
def test_the_verifier_refuses_unsafe_names(name: str) -> None:
    assert not is_safe_entry_name(name)


def test_the_verifier_imports_no_database_code() -> None:
    probe = (
        "import sys, app.bundles.verify; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'fastapi', 'boto3')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
