"""Finding and withholding protected strings in a text. Pure.

The protected strings of a case's witnesses are compiled into three regular expressions over
the text's skeleton (one per matching rule), each built from a trie of the strings so that a
text is read once however many witnesses the case has. Between any two letters of a protected
string one boundary may stand: "G e v o r g y a n" and "Gevor-gyan" are the same string.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from app.protection.skeleton import fold_character, skeleton, skeleton_text
from app.protection.terms import Rule, Term

MARKER = "[withheld]"
Trie = dict[str, "Trie"]

_START = {Rule.WORD: r"(?<![a-z0-9])", Rule.PREFIX: r"(?<![a-z0-9])", Rule.DIGITS: r"(?<![0-9])"}
# What may follow the protected string itself: the rest of the word (withheld with it), or for
# a number the rest of its run of digits.
_END = {Rule.WORD: r"(?![a-z0-9])", Rule.PREFIX: r"[a-z0-9]*", Rule.DIGITS: r"(?: ?[0-9])*"}
_LEAD = {Rule.DIGITS: r"(?:[0-9] ?)*?"}


@dataclass(frozen=True)
class Span:
    """Original characters [start, end) that name the witnesses in `witnesses`."""

    start: int
    end: int
    witnesses: frozenset[uuid.UUID]


@dataclass
class Matcher:
    """The protected strings of some witnesses, ready to look for in texts."""

    owners: dict[Term, set[uuid.UUID]] = field(default_factory=dict)
    _patterns: list[tuple[Rule, re.Pattern[str]]] | None = None

    @classmethod
    def of(cls, terms_by_witness: Mapping[uuid.UUID, Iterable[Term]]) -> Matcher:
        owners: dict[Term, set[uuid.UUID]] = {}
        for witness, terms in terms_by_witness.items():
            for term in terms:
                owners.setdefault(term, set()).add(witness)
        return cls(owners)

    @property
    def empty(self) -> bool:
        return not self.owners

    def witnesses(self) -> set[uuid.UUID]:
        return {w for owners in self.owners.values() for w in owners}

    def spans(self, text: str | None) -> list[Span]:
        """Where `text` names a protected witness, merged where spans touch, in order."""
        if not text or self.empty:
            return []
        if encoded := self._encoded(text):
            return encoded
        folded = skeleton_text(text)
        if not any(pattern.search(folded) for _, pattern in self._compiled()):
            return []  # most texts: looked at once, at C speed
        sk = skeleton(text)
        found: list[Span] = []
        for rule, pattern in self._compiled():
            for match in pattern.finditer(sk.text):
                start, end = sk.original_span(*match.span())
                while end < len(text) and fold_character(text[end]) is None:
                    end += 1  # a combining accent or a joiner goes with its letter
                if rule is Rule.DIGITS and start and text[start - 1] == "+":
                    start -= 1  # a telephone number's plus goes with it
                term = Term(match.group(1).replace(" ", ""), rule)
                found.append(Span(start, end, frozenset(self.owners.get(term, ()))))
        return _merged(found)

    def _encoded(self, text: str) -> list[Span]:
        """A name percent-encoded (a URL, a file name `Anahit%20Gevorgyan.jpg`) is still the
        name: such a text is withheld whole (its encoded form has no place to cut; double
        encodings are decoded in turn)."""
        if "%" not in text or (decoded := unquote(text)) == text:
            return []
        named = self.names(decoded)
        return [Span(0, len(text), named)] if named else []

    def names(self, text: str | None) -> frozenset[uuid.UUID]:
        """The witnesses `text` names."""
        return frozenset(w for span in self.spans(text) for w in span.witnesses)

    def redact(
        self, text: str | None, marker: str | Callable[[frozenset[uuid.UUID]], str] = MARKER
    ) -> str | None:
        """`text` with every protected string replaced by `marker` (or what it gives for the
        witnesses named there)."""
        spans = self.spans(text)
        if text is None or not spans:
            return text
        pieces, at = [], 0
        for span in spans:
            pieces += [
                text[at : span.start],
                marker if isinstance(marker, str) else marker(span.witnesses),
            ]
            at = span.end
        pieces.append(text[at:])
        return "".join(pieces)

    def _compiled(self) -> list[tuple[Rule, re.Pattern[str]]]:
        if self._patterns is None:
            self._patterns = [
                (rule, re.compile(_START[rule] + _LEAD.get(rule, "") + f"({trie})" + _END[rule]))
                for rule in Rule
                if (trie := _trie_pattern(t.letters for t in self.owners if t.rule == rule))
            ]
        return self._patterns


def _merged(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Span(last.start, max(last.end, span.end), last.witnesses | span.witnesses)
        else:
            merged.append(span)
    return merged


def _trie_pattern(words: Iterable[str]) -> str:
    """One regular expression for all `words` (ASCII letters and digits), from their trie:
    at each position one character decides the branch. Greedy: the longest word wins."""
    trie: Trie = {}
    for word in words:
        node = trie
        for character in word:
            node = node.setdefault(character, {})
        node[""] = {}
    return _node_pattern(trie) if trie else ""


def _node_pattern(node: Trie) -> str:
    branches = []
    for character in sorted(c for c in node if c):
        child = node[character]
        rest = _node_pattern(child) if any(child) else ""
        if not rest:
            branches.append(character)
        elif "" in child:  # a word ends here, and longer ones go on
            branches.append(f"{character}(?: ?{rest})?")
        else:
            branches.append(f"{character} ?{rest}")
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
