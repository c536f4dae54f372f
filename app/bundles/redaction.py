"""Who appears by name in a bundle, and the scrubbing of protected names out of its texts.

Pure. A bundle leaves the organisation for courts and UN mechanisms, and copies of it travel
further: a witness's identity goes into it only where BOTH the requester may identify
witnesses on the case AND the witness consented to sharing identity with courts. Everyone else
is their pseudonym — in testimonies, in lists, and in every free text written by staff (a
statement that says "I, Anahit Gevorgyan, …" must not undo the pseudonym). Audit events cannot
be edited without breaking their hashes: an event whose body names a protected witness is
included with its body withheld and its hash kept, so the chain still verifies around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

POLICY_ID = "casefile-redaction-v1"
# What "identity" means in a bundle when it may be shown. The home location and the
# identity notes never leave: a court can summon a witness through the contact given.
SHOWN_IDENTITY_FIELDS = ("full_name", "contact")
MIN_TOKEN_LETTERS = 3  # shorter name parts ("Li", "Al") would blank ordinary words

RULE = (
    "A witness's identity (full name and contact) appears only where the requester may "
    "identify witnesses on this case AND the witness consented to sharing identity with courts "
    "and UN mechanisms; otherwise only the pseudonym appears. Protected names are replaced by "
    "the pseudonym in every text of the bundle; audit events naming a protected witness are "
    "included with their body withheld (their hash kept, so the chain still verifies). Home "
    "locations and identity notes are never included. Original evidence files are never "
    "altered."
)

REASON_NO_PERMISSION = "the requester may not identify witnesses on this case"
REASON_NO_CONSENT = "the witness did not consent to sharing identity with courts"


def identity_reason(*, requester_may_identify: bool, consented: bool) -> str | None:
    """None if the identity may be shown; otherwise why not."""
    if not requester_may_identify:
        return REASON_NO_PERMISSION
    if not consented:
        return REASON_NO_CONSENT
    return None


def protected_strings(identity: dict[str, object]) -> list[str]:
    """What would identify a witness if it appeared in a text: the full name and each
    distinctive part of it, the contact, the home location's description."""
    found: list[str] = []
    name = identity.get("full_name")
    if isinstance(name, str) and name.strip():
        found.append(name.strip())
        found.extend(
            part
            for part in re.split(r"[\s,.;]+", name)
            if sum(ch.isalpha() for ch in part) >= MIN_TOKEN_LETTERS
        )
    for key in ("contact",):
        value = identity.get(key)
        if isinstance(value, str) and value.strip():
            found.append(value.strip())
    home = identity.get("home_location")
    if isinstance(home, dict):
        description = home.get("description")
        if isinstance(description, str) and description.strip():
            found.append(description.strip())
    return found


CASE_TEXTS = ("title", "summary", "weapon", "responsible_party")
LOCATION_TEXTS = ("name", "admin_area", "country")


def scrub_case(case: dict[str, Any], scrubber: Scrubber) -> dict[str, Any]:
    """The case's facts with its free texts scrubbed (ids and times are left alone: a name
    part could otherwise match inside a UUID's hex digits)."""
    scrubbed = {**case, **{k: scrubber.scrub(case.get(k)) for k in CASE_TEXTS}}
    scrubbed["tags"] = [scrubber.scrub(tag) for tag in case.get("tags") or []]
    location = case.get("location")
    if isinstance(location, dict):
        texts = {k: scrubber.scrub(location.get(k)) for k in LOCATION_TEXTS}
        scrubbed["location"] = {**location, **texts}
    return scrubbed


@dataclass
class Scrubber:
    """Replaces protected strings (case-insensitively, longest first) by pseudonyms."""

    replacements: dict[str, str] = field(default_factory=dict)  # folded string -> pseudonym
    count: int = 0
    _pattern: re.Pattern[str] | None = None

    def protect(self, strings: Iterable[str], pseudonym: str) -> None:
        for text in strings:
            self.replacements.setdefault(text.casefold(), pseudonym)
        self._pattern = None

    def pattern(self) -> re.Pattern[str] | None:
        if self._pattern is None and self.replacements:
            ordered = sorted(self.replacements, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered), re.IGNORECASE)
        return self._pattern

    def names_anyone(self, text: str) -> bool:
        pattern = self.pattern()
        return pattern is not None and pattern.search(text) is not None

    def scrub(self, text: str | None) -> str | None:
        pattern = self.pattern()
        if text is None or pattern is None:
            return text

        def replace(match: re.Match[str]) -> str:
            self.count += 1
            return f"[{self.replacements.get(match.group(0).casefold(), 'withheld')}]"

        return pattern.sub(replace, text)
