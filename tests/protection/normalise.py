"""The suite's own idea of "this text names the witness", independent of the app's matcher.

A leak check that shared the app's normaliser would share its blind spots, so this one is
written from the design (docs/witness-protection.md, Matching) alone, and errs on the side of
finding: a text is reduced to letter *skeletons* along two orders of the same steps (NFKC
before and after transliteration: NFKC splits Armenian "և" into "եւ", which `anyascii` reads
as "ew", while "և" alone reads "ev"), every format character (zero-width space, joiners, soft
hyphen, bidi controls) and combining mark dropped, case folded, and everything but the letters
a-z thrown away, so "G.e.v.o.r.g.y.a.n", "Ｇｅｖｏｒｇｙａｎ" and "Геворгяна" all hold
`gevorgyan`. Contacts are compared by their digits, separators between digits ignored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from anyascii import anyascii

MIN_PART_LETTERS = 5  # name parts the check looks for; shorter ones would find ordinary words
CONTACT_DIGITS = 8  # a phone number is recognised by its last eight digits (the design's rule)
_SEPARATED_DIGITS = re.compile(r"\d(?:[\s\-./()+\u00a0]*\d)*")
_WORD = re.compile(r"\S+")


def _drop_marks(text: str) -> str:
    """Without format characters (Cf: ZWSP, ZWJ, soft hyphen, bidi controls) and marks."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) not in ("Cf", "Mn", "Me"))


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


_ORDERS: tuple[Callable[[str], str], ...] = (
    lambda text: anyascii(_nfkc(_drop_marks(text))),
    lambda text: _nfkc(anyascii(_drop_marks(text))),
    lambda text: anyascii(_nfkc(text)),
)


def skeletons(text: str) -> set[str]:
    """Every letter skeleton of `text` (lower-case a-z only), one per normalisation order."""
    if text.isascii():  # every order leaves ASCII as it is
        return {"".join(ch for ch in text.lower() if "a" <= ch <= "z")}
    found = set()
    for order in _ORDERS:
        folded = order(text).casefold()
        found.add("".join(ch for ch in folded if "a" <= ch <= "z"))
    return found


def digit_runs(text: str) -> list[str]:
    """Runs of digits, separators between them ignored: "091-12-34-56" is "091123456"."""
    folded = text if text.isascii() else _nfkc(_drop_marks(text))
    return [re.sub(r"\D", "", run) for run in _SEPARATED_DIGITS.findall(folded)]


@dataclass(frozen=True)
class Protected:
    """What the check looks for: letter skeletons of name parts and phrases, and the last
    digits of contacts. `labels` maps each needle back to the identity text it came from."""

    letters: frozenset[str]
    digits: frozenset[str]
    labels: dict[str, str]

    def found_in(self, text: str) -> list[str]:
        """The identity texts (by label) that `text` names, in any spelling the check knows."""
        hits: set[str] = set()
        shapes = skeletons(text)
        for needle in self.letters:
            if any(needle in shape for shape in shapes):
                hits.add(self.labels[needle])
        if self.digits:
            for run in digit_runs(text):
                hits.update(self.labels[d] for d in self.digits if d in run)
        return sorted(hits)


def protected_strings(
    names: Iterable[str], phrases: Iterable[str] = (), contacts: Iterable[str] = ()
) -> Protected:
    """The needles for one witness: each part of five letters or more of every name (the full
    name and every other spelling), the longest word of each phrase (the home description),
    and the last eight digits of each contact."""
    letters: dict[str, str] = {}
    for name in names:
        for part in _WORD.findall(name):
            for shape in skeletons(part):
                if len(shape) >= MIN_PART_LETTERS:
                    letters.setdefault(shape, part)
    for phrase in phrases:
        words = [max(skeletons(w), key=len) for w in _WORD.findall(phrase)]
        longest = max(words, key=len, default="")
        if len(longest) >= MIN_PART_LETTERS:
            letters.setdefault(longest, phrase)
    digits: dict[str, str] = {}
    for contact in contacts:
        for run in digit_runs(contact):
            if len(run) >= CONTACT_DIGITS:
                digits[run[-CONTACT_DIGITS:]] = contact
    return Protected(frozenset(letters), frozenset(digits), {**letters, **digits})
