"""The skeleton of a text: what is left of it once every way of writing a name differently is
folded away, with the way back to the text's own characters.

A name hidden by a zero-width space, a soft hyphen, fullwidth letters, another script, spaced
letters or other case is still the same name. The skeleton keeps, for each character of the
text, its Latin transliteration (NFKC, `anyascii`, case folding) reduced to ASCII letters and
digits; characters that carry no letter (combining marks, format characters such as the
zero-width space, the soft hyphen, joiners and bidi controls) vanish; anything else (spaces,
punctuation) is a word boundary, kept as one space however many there were.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii

BOUNDARY = " "
# Combining marks (accents, variation selectors) and format characters (zero-width space and
# joiners, the soft hyphen, bidi controls, the BOM): no letter of their own, and not a break.
_INVISIBLE = frozenset({"Mn", "Me", "Cf"})


@dataclass(frozen=True)
class Skeleton:
    """`text` (ASCII letters, digits and single spaces) and, for each of its characters, the
    index of the original character it came from."""

    text: str
    origin: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original characters a skeleton span [start, end) came from."""
        return self.origin[start], self.origin[end - 1] + 1


@lru_cache(maxsize=65536)
def fold_character(character: str) -> str | None:
    """A character's letters and digits in Latin, lower case; "" for a boundary (space,
    punctuation, a symbol); None for a character that is not there at all."""
    if unicodedata.category(character) in _INVISIBLE:
        return None
    # anyascii reads one character at a time (its output for a word is its characters'), and
    # knows compatibility forms (fullwidth, ligatures); NFKC for what it does not know.
    latin = anyascii(character) or anyascii(unicodedata.normalize("NFKC", character))
    return "".join(c for c in latin.casefold() if c.isascii() and c.isalnum())


# Armenian writes "u" with two letters, ո + ւ, which transliterate one by one to "ow".
_ARMENIAN_U = {("ո", "ւ"), ("Ո", "ւ"), ("Ո", "Ւ")}
_ARMENIAN_U_TEXT = (("ու", "u"), ("Ու", "U"), ("ՈՒ", "U"))


def skeleton(text: str) -> Skeleton:
    out: list[str] = []
    origin: list[int] = []
    for index, character in enumerate(text):
        if index and (text[index - 1], character) in _ARMENIAN_U and out and out[-1] == "o":
            out[-1] = "u"
            continue
        folded = fold_character(character)
        if folded is None:
            continue
        if not folded:
            if out and out[-1] != BOUNDARY:
                out.append(BOUNDARY)
                origin.append(index)
            continue
        for letter in folded:
            out.append(letter)
            origin.append(index)
    return Skeleton("".join(out), tuple(origin))


class _Folding(dict[int, str]):
    """str.translate's table: each character's skeleton (" " for a boundary), learnt on
    first sight, so that a text with nothing to find is read at C speed."""

    def __missing__(self, codepoint: int) -> str:
        folded = fold_character(chr(codepoint))
        value = "" if folded is None else (folded or BOUNDARY)
        self[codepoint] = value
        return value


_FOLDING = _Folding()
_BOUNDARIES = re.compile(" +")


def skeleton_text(text: str) -> str:
    """`skeleton(text).text`, without the way back (much faster: to look, not to replace)."""
    for pair, single in _ARMENIAN_U_TEXT:
        text = text.replace(pair, single)
    folded = _BOUNDARIES.sub(BOUNDARY, text.translate(_FOLDING))
    return folded.lstrip(BOUNDARY)


def letters(text: str) -> str:
    """The skeleton without its boundaries: how a protected string is compared."""
    return skeleton(text).text.replace(BOUNDARY, "")
