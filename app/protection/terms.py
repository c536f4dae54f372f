"""What would identify a witness if it appeared in a text: the protected strings of an identity,
as skeleton letters (see skeleton.py) with the rule each one matches by.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from app.protection.skeleton import BOUNDARY, letters, skeleton

MIN_PART_LETTERS = 3  # "Li", "Al" would withhold ordinary words
PREFIX_FROM = 5  # a part this long matches with any ending: Gevorgyan's, Геворгяна, Գևորգյանը
MIN_DIGITS = 6  # fewer digits are a house number or a year, not a contact
DIGIT_KEY = 8  # a number is known by its last digits: +374 91 123456 = 091 123456 = 91123456
# Name particles that are ordinary words too (a surname's "van" would withhold Lake Van).
PARTICLES = frozenset(
    "van von der den del della des dos das bin ibn bint abu ben ter oglu kyzy the and".split()
)
_EMAIL_OR_HANDLE = re.compile(r"[^\s@<>(),;:]+@[^\s@<>(),;:]+|@\w{3,}")
_NOT_PART_OF_A_NUMBER = re.compile(r"[^\d\s().+\-]+")


class Rule(StrEnum):
    WORD = "word"  # from the start of a word to its end
    PREFIX = "prefix"  # from the start of a word, with any ending
    DIGITS = "digits"  # these digits, anywhere in a run of digits


@dataclass(frozen=True, order=True)
class Term:
    letters: str
    rule: Rule


def identity_terms(identity: Mapping[str, object]) -> set[Term]:
    """The protected strings of one witness's identity (its decrypted JSON)."""
    terms: set[Term] = set()
    names = [identity.get("full_name"), *_strings(identity.get("other_spellings"))]
    for name in names:
        if isinstance(name, str):
            terms |= _phrase(name) | _parts(name)
    contact = identity.get("contact")
    if isinstance(contact, str):
        terms |= _phrase(contact)
        for found in _EMAIL_OR_HANDLE.findall(contact):
            terms |= _phrase(found)
        terms |= _numbers(contact)
    home = identity.get("home_location")
    if isinstance(home, Mapping) and isinstance(home.get("description"), str):
        terms |= _phrase(str(home["description"]))
    return terms


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _phrase(text: str) -> set[Term]:
    folded = letters(text)
    if len(folded) < MIN_PART_LETTERS:
        return set()
    return {Term(folded, Rule.PREFIX if len(folded) >= PREFIX_FROM else Rule.WORD)}


def _parts(name: str) -> set[Term]:
    parts = skeleton(name).text.split(BOUNDARY)
    return {
        term
        for part in parts
        if len(part) >= MIN_PART_LETTERS and part not in PARTICLES
        for term in _phrase(part)
    }


def _numbers(contact: str) -> set[Term]:
    found = set()
    for segment in _NOT_PART_OF_A_NUMBER.split(contact):
        digits = "".join(c for c in letters(segment) if c.isdigit())
        if len(digits) >= MIN_DIGITS:
            found.add(Term(digits[-DIGIT_KEY:], Rule.DIGITS))
    return found


def all_terms(identities: Iterable[Mapping[str, object]]) -> set[Term]:
    terms: set[Term] = set()
    for identity in identities:
        terms |= identity_terms(identity)
    return terms
