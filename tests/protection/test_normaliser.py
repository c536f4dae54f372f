"""The suite's own leak check, checked: it finds every spelling the world uses, and nothing in
the texts around them, so that a failure elsewhere is a leak and never the check's noise."""

from __future__ import annotations

import pytest

from tests.protection import corpus
from tests.protection.corpus import MARKER, PROTECTED, VARIANTS, WRONG_GUESS
from tests.protection.leaks import in_json, in_text

TEMPLATES = {
    "case": lambda label, v: [str(x) for x in corpus.case_texts(label, v).values()],
    "testimony": lambda label, v: list(corpus.testimony_texts(label, v).values()),
    "visit": lambda label, v: [str(x) for x in corpus.visit_texts(label, v).values()],
    "evidence": lambda label, v: (
        list(corpus.evidence_fields(label, v).values())
        + [corpus.evidence_filename(label, v), corpus.withdrawal_reason(label, v)]
    ),
    "upload": lambda label, v: list(corpus.upload_metadata(label, v).values()),
}


@pytest.mark.parametrize("label", VARIANTS)
def test_every_variant_is_found(label: str) -> None:
    assert PROTECTED.found_in(VARIANTS[label]), VARIANTS[label]
    for kind, texts in TEMPLATES.items():
        named = [t for t in texts(label, VARIANTS[label]) if PROTECTED.found_in(t)]
        assert named, f"no {kind} text names her in variant {label}"


@pytest.mark.parametrize("stand_in", [WRONG_GUESS, MARKER, "[withheld] [withheld]"])
def test_the_texts_around_a_name_name_nobody(stand_in: str) -> None:
    """With the name replaced by a wrong guess or by the marker (what a viewer should get),
    no text of the world is found: the templates' own words make no name."""
    found = [
        (kind, label, text)
        for label in VARIANTS
        for kind, texts in TEMPLATES.items()
        for text in texts(label, stand_in)
        if PROTECTED.found_in(text)
    ]
    assert not found, found


@pytest.mark.parametrize(
    "text",
    [
        "animal",
        "Martuni",
        "Ganja",
        "2020-12-03T09:00:00.123456Z",
        "size 91 123",
        "W-0001",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ],
)
def test_ordinary_text_is_not_found(text: str) -> None:
    assert not in_text(text, "here")


@pytest.mark.parametrize(
    "text",
    [
        "Gevorgyan\u2019s",
        "GEVORGYANS",
        "Գևորգյանը",
        "Геворгяну",
        "Gevor-gyan",
        "K e v o r k i a n",
        "tel. 091 12 34 56",
        "(374) 91-123-456",
        "12 SHAHUMYAN ST",
        "Ｋｅｖｏｒｋｉａｎ",
        "Ge\u0301vorgyan",
    ],
)
def test_spellings_beyond_the_worlds_are_found_too(text: str) -> None:
    assert PROTECTED.found_in(text), text


def test_a_pseudonym_used_as_a_marker_is_a_leak() -> None:
    """`[W-0007]` in a text tells a member which witness a guess named."""
    assert in_text("guess [W-0007]", "bundle")
    assert not in_text(f"guess {MARKER}", "bundle")


def test_only_random_bytes_written_as_text_are_not_searched() -> None:
    """Salts, signatures and cursors hold letters at random; every other value is searched,
    keys included."""
    assert not in_json({"salt": "xAnaitQ==", "next_cursor": "eyJhbmFpdCI6MX0"}, "audit")
    assert in_json({"title": "Anait"}, "audit")
    assert in_json({"Gevorgyan": 1}, "audit")
