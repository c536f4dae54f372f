"""Where each file goes in a bundle, and how many bytes the ZIP will be before it is written.

Pure: no I/O. Every member is stored uncompressed with its size and CRC32 known in advance
(stream-zip's NO_COMPRESSION_32/64 with a size and CRC: the local header carries both, no data
descriptor), so the archive's exact length follows from the names and sizes alone; the
response can then carry a Content-Length, and a client knows a cut download when it sees one.

Entry names are built here, never taken from uploads: exhibit number, then the uploaded file
name reduced to one safe component, so no name can climb out of the folder it is extracted to
(ZIP slip), hide itself, or trip Windows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from app.evidence.filenames import safe_filename

ZIP32_LIMIT = 0xFFFFFFFF
MAX_ZIP32_ENTRIES = 0xFFFF
MAX_NAME_BYTES = 180  # plus the folder and exhibit prefix: well under every extractor's limit

# Sizes of the records stream-zip writes (stream_zip 0.0.84, extended timestamps on).
_LOCAL_HEADER = 30
_CENTRAL_HEADER = 46
_UNIX_TIME_EXTRA = 9
_ZIP64_LOCAL_EXTRA = 20
_ZIP64_CENTRAL_EXTRA = 28
_END_RECORD = 22
_ZIP64_END_RECORDS = 56 + 20  # zip64 end of central directory record + its locator

_WINDOWS_UNSAFE = re.compile(r'[<>:"/\\|?*]')


def safe_component(raw: str) -> str:
    """One path component that extracts to the same single file on every system."""
    name = safe_filename(raw)
    name = _WINDOWS_UNSAFE.sub("_", name)
    name = "".join(ch if unicodedata.category(ch) != "Zs" else " " for ch in name)
    name = name.rstrip(". ")  # Windows drops trailing dots and spaces
    encoded = name.encode()
    if len(encoded) > MAX_NAME_BYTES:
        stem, dot, extension = name.rpartition(".")
        if not dot or len(extension) > 16:
            stem, extension = name, ""
        budget = MAX_NAME_BYTES - len(extension.encode()) - (1 if extension else 0)
        stem = stem.encode()[:budget].decode(errors="ignore").rstrip(". ")
        name = f"{stem}.{extension}" if extension else stem
    return name or "file"


def evidence_path(exhibit_number: str, filename: str) -> str:
    return f"evidence/{safe_component(exhibit_number)}_{safe_component(filename)}"


def is_safe_entry_name(name: str) -> bool:
    """What the verifier accepts: relative, forward slashes, no '..', no empty or hidden parts."""
    if not name or name.startswith("/") or "\\" in name or "\x00" in name:
        return False
    parts = name.split("/")
    return all(part and part not in {".", ".."} and not part.startswith(".") for part in parts)


@dataclass(frozen=True)
class Member:
    """A file to be stored: its name in the ZIP and its exact size."""

    name: str
    size: int


@dataclass(frozen=True)
class Placement:
    member: Member
    offset: int  # of its local header
    zip64: bool


@dataclass(frozen=True)
class Plan:
    placements: list[Placement]
    total_size: int
    zip64_directory: bool


def plan(members: Sequence[Member]) -> Plan:
    """Each member's offset and record type, and the archive's exact length. A member is ZIP64
    only where it must be (4 GiB or more, ending beyond 4 GiB, or past the 65,535th entry):
    small bundles are plain ZIP, and the first member (the manifest) always is. stream-zip
    switches the central directory to ZIP64 at the first ZIP64 member, before any ZIP32 limit
    of the directory could be crossed."""
    offset = 0
    placements: list[Placement] = []
    for index, member in enumerate(members):
        name_size = len(member.name.encode())
        end32 = offset + _LOCAL_HEADER + name_size + _UNIX_TIME_EXTRA + member.size
        zip64 = (
            member.size >= ZIP32_LIMIT
            or end32 >= ZIP32_LIMIT
            or index >= MAX_ZIP32_ENTRIES
            or (bool(placements) and placements[-1].zip64)
        )
        placements.append(Placement(member, offset, zip64))
        offset = end32 + (_ZIP64_LOCAL_EXTRA if zip64 else 0)
    zip64_directory = bool(placements) and placements[-1].zip64
    tail = _ZIP64_END_RECORDS + _END_RECORD if zip64_directory else _END_RECORD
    return Plan(placements, offset + _directory_size(placements) + tail, zip64_directory)


def _directory_size(placements: Sequence[Placement]) -> int:
    return sum(
        _CENTRAL_HEADER
        + len(p.member.name.encode())
        + _UNIX_TIME_EXTRA
        + (_ZIP64_CENTRAL_EXTRA if p.zip64 else 0)
        for p in placements
    )
