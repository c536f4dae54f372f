"""The matching rules of witness protection, pure (app/protection: skeleton, terms, matcher).

The black-box suite beside this file proves that no protected string leaves the server; this
one pins down what counts as the same name, and what does not (over-withholding ordinary
words is a failure too: it makes texts unreadable and tells a reader where to look).
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.protection.matcher import MARKER, Matcher
from app.protection.skeleton import skeleton, skeleton_text
from app.protection.terms import Rule, Term, identity_terms

ANAHIT = uuid.UUID(int=1)
RAMIZ = uuid.UUID(int=2)
IDENTITIES = {
    ANAHIT: {
        "full_name": "Anahit Gevorgyan",
        "other_spellings": ["Kevorkian", "Harutyunyan"],
        "contact": "+374 91 123456 or anahit.g@example.am",
        "home_location": {"description": "12 Shahumyan St", "lat": 39.79, "lon": 47.11},
        "identity_notes": "never matched: notes are not written in texts",
    },
    RAMIZ: {"full_name": "Ramiz Gahramanov", "other_spellings": ["Рамиз Гахраманов"]},
}
MATCHER = Matcher.of({w: identity_terms(i) for w, i in IDENTITIES.items()})


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "I, Anahit Gevorgyan, of 12 Shahumyan St, saw it.",
            "I, [withheld], of [withheld], saw it.",
        ),
        ("GEVORGYAN", "[withheld]"),
        ("Ge\u200bvor\u00adgyan's house", "[withheld]'s house"),  # zero-width space, soft hyphen
        ("Gevo\u200drgyan", "[withheld]"),  # zero-width joiner
        ("\uff27\uff45\uff56\uff4f\uff52\uff47\uff59\uff41\uff4e", "[withheld]"),  # fullwidth
        ("Անահիտ Գևորգյան", "[withheld]"),  # Armenian
        ("Анаит Геворгяна", "Анаит [withheld]"),  # Cyrillic, declined (Anait: another name)
        ("Gеvorgyan", "[withheld]"),  # a Cyrillic е among Latin letters
        ("G.e.v.o.r.g.y.a.n", "[withheld]"),
        ("G e v o r g y a n", "[withheld]"),
        ("Gevor-gyan", "[withheld]"),
        ("Gevorgyán", "[withheld]"),  # a combining accent goes with its letter
        ("Գևորգյանը", "[withheld]"),  # Armenian definite article
        ("Mr Kevorkian", "Mr [withheld]"),  # an other spelling
        ("Հարությունյան", "[withheld]"),  # Armenian ու is u
        ("call 091-12-34-56", "call [withheld]"),  # a contact by its digits
        ("call +374 (91) 12 34 56 now", "call [withheld] now"),
        ("write to anahit.g@example.am", "write to [withheld]"),
        ("Рамиз Гахраманов said", "[withheld] said"),
        ("Ramiz Gakhramanov", "[withheld]"),  # Cyrillic spelling's own transliteration
        ("gevorgyan-house.jpg", "[withheld]-house.jpg"),
        ("https://example.org/Anahit%20Gevorgyan", "[withheld]"),  # encoded: withheld whole
        ("%D4%B3%D6%87%D5%B8%D6%80%D5%A3%D5%B5%D5%A1%D5%B6.jpg", "[withheld]"),
    ],
)
def test_the_same_name_written_differently_is_withheld(text: str, shown: str) -> None:
    assert MATCHER.redact(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "The animal shelter",  # no witness part inside a word
        "Lake Van and the Ganja road",
        "Exhibit MRT-0001, 2020-12-02",
        "3c1f7a52-6d0e-4c1b-9b7e-2a4d5e6f7a8b",  # digits of a UUID are not a phone number
        "Anait",  # another name, not recorded as a spelling
        "Gevorkyan",  # not recorded either: identifiers record spellings
        "100% of the houses; see https://example.org/a%20b",
        "",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert MATCHER.redact(text) == text
    assert MATCHER.names(text) == frozenset()


def test_short_name_parts_are_whole_words_only() -> None:
    short = Matcher.of({ANAHIT: identity_terms({"full_name": "Ani Lee"})})
    assert short.redact("Ani said that Animals ran") == "[withheld] said that Animals ran"
    assert Term("lee", Rule.WORD) in identity_terms({"full_name": "Ani Lee"})
    assert "li" not in {t.letters for t in identity_terms({"full_name": "Li Van"})}
    assert "van" not in {t.letters for t in identity_terms({"full_name": "Li Van"})}  # a particle


def test_spans_name_their_witnesses_and_markers_can_say_whom() -> None:
    text = "Anahit Gevorgyan and Ramiz Gahramanov"
    assert MATCHER.names(text) == {ANAHIT, RAMIZ}
    shown = MATCHER.redact(text, lambda ws: "[" + ",".join(sorted(str(w)[-1] for w in ws)) + "]")
    assert shown == "[1] and [2]"
    assert MATCHER.redact(text) == f"{MARKER} and {MARKER}"


def test_an_empty_matcher_withholds_nothing() -> None:
    assert Matcher().redact("Anahit Gevorgyan") == "Anahit Gevorgyan"
    assert Matcher.of({ANAHIT: identity_terms({"full_name": "Al"})}).empty


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_the_quick_look_and_the_full_reading_agree(text: str) -> None:
    """Texts are first looked at with str.translate (fast, no way back to the text), and read
    in full only where that finds something: both must fold the same way."""
    assert skeleton_text(text) == skeleton(text).text


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(["Gevorgyan", "Ge\u200bvorgyan", "Գևորգյան", "G-e-v-o-r-g-y-a-n"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
)
def test_a_name_between_any_texts_is_withheld(before: str, name: str, after: str) -> None:
    """Whatever surrounds it (once it stands as a word of its own), the name is gone."""
    shown = MATCHER.redact(f"{before} {name} {after}") or ""
    assert "gevorgyan" not in skeleton_text(shown).replace(" ", "")
