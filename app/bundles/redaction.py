"""Who appears by name in a bundle, and the scrubbing of protected names out of its texts.

Pure. A bundle leaves the organisation for courts and UN mechanisms, and copies of it travel
further: a witness's identity goes into it only where BOTH the requester may identify
witnesses on the case AND the witness consented to sharing identity with courts.

Its texts are first those the requester reads in the API (app.protection.policy: as written
for identifiers and for a text's own author, `[withheld]` for protected strings otherwise).
An identifier's bundle then replaces the strings of witnesses who did not consent by their
pseudonym. A requester who may not identify gets no such second pass: their own words must
come back as they wrote them, whatever they guessed (docs/witness-protection.md). Audit events
cannot be edited without breaking their hashes: an event whose inline body names a protected
witness is included with its body withheld and its hash kept; events that refer to their
texts (app.audit.texts) are included whole, their texts listed as the requester may see them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.protection.matcher import MARKER, Matcher

POLICY_ID = "casefile-redaction-v2"
# What "identity" means in a bundle when it may be shown. The home location and the
# identity notes never leave: a court can summon a witness through the contact given.
SHOWN_IDENTITY_FIELDS = ("full_name", "contact")

RULE = (
    "A witness's identity (full name and contact) appears only where the requester may "
    "identify witnesses on this case AND the witness consented to sharing identity with courts "
    "and UN mechanisms; otherwise only the pseudonym appears. Texts are as the requester reads "
    "them in Casefile: for a requester who may not identify witnesses, protected strings "
    "(names, other spellings, contacts, home descriptions) are shown as [withheld] in texts "
    "others wrote; for one who may, the strings of witnesses who did not consent are replaced "
    "by their pseudonym. Audit events whose body names a protected witness are included with "
    "their body withheld (their hash kept, so the chain still verifies). Home locations and "
    "identity notes are never included. Original evidence files are never altered."
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
    """Replaces protected strings by the pseudonym of the witness they name (`[withheld]`
    where they name several), counting replacements. Empty: replaces nothing."""

    matcher: Matcher = field(default_factory=Matcher)
    pseudonyms: dict[uuid.UUID, str] = field(default_factory=dict)
    count: int = 0

    def names_anyone(self, text: str) -> bool:
        return bool(self.matcher.spans(text))

    def scrub(self, text: str | None) -> str | None:
        if text is None or self.matcher.empty:
            return text
        spans = len(self.matcher.spans(text))
        if not spans:
            return text
        self.count += spans
        return self.matcher.redact(text, self._marker)

    def _marker(self, witnesses: frozenset[uuid.UUID]) -> str:
        if len(witnesses) == 1:
            (witness,) = witnesses
            return f"[{self.pseudonyms.get(witness, 'withheld')}]"
        return MARKER
