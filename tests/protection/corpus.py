"""The witness and the texts that name her, in every way a name turns up in real notes.

Every text of the shared world (world.py) embeds exactly one *variant* of a protected string
and nothing else protected, and starts with its label, `(v:<label>)`, so that a leak report
says which spelling got through. `PROTECTED` is what the leak check looks for, derived from
the identity by the suite's own normaliser (normalise.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.protection.normalise import protected_strings

FULL_NAME = "Anahit Gevorgyan"
CONTACT = "+374 91 123456"
HOME = "12 Shahumyan St"
# Recorded by an identifier (the new identity field): a transliteration the matcher cannot
# derive, and the name in the scripts it was heard in.
OTHER_SPELLINGS = ["Kevorkian", "Անահիտ Գևորգյան", "Анаит Геворгян"]
IDENTITY: dict[str, Any] = {
    "full_name": FULL_NAME,
    "contact": CONTACT,
    "home_location": {"description": HOME, "lat": 39.7951, "lon": 47.1162},
    "identity_notes": "Mother of two; lives above the bakery.",
    "other_spellings": OTHER_SPELLINGS,
    "consent": {"share_identity_with_courts": True, "use_testimony_in_reports": True},
    "risk_level": "high",
}
PROTECTED = protected_strings([FULL_NAME, *OTHER_SPELLINGS], [HOME], [CONTACT])
MARKER = "[withheld]"
WRONG_GUESS = "Petrosyan"  # nobody's name in any world: a guess that must stay as written

# label -> how the text writes a protected string
VARIANTS: dict[str, str] = {
    "plain": "Anahit Gevorgyan",
    "case-changed": "aNAHIT GEVORGYAN",
    "zero-width-space": "Gevor\u200bgyan",
    "soft-hyphen": "Gevor\u00adgyan",
    "zero-width-joiner": "Ana\u200dhit Gevo\u200drgyan",
    "fullwidth": "Ａｎａｈｉｔ Ｇｅｖｏｒｇｙａｎ",
    "armenian": "Անահիտ Գևորգյան",
    "cyrillic": "Анаит Геворгян",
    "spaced": "G e v o r g y a n",
    "punctuated": "G.e.v.o.r.g.y.a.n",
    "possessive": "Gevorgyan's",
    "declension": "Геворгяна",
    "other-spelling": "Kevorkian",
    "contact-as-recorded": "+374 91 123456",
    "contact-digits": "091-12-34-56",
    "contact-bare": "91123456",
    "home": "12 Shahumyan St",
}


def case_texts(label: str, v: str) -> dict[str, Any]:
    """A case body whose every free text (and a tag) names the witness this way."""
    return {
        "title": f"Shelling of the courtyard of {v} (v:{label})",
        "summary": f"(v:{label}) Rockets hit the courtyard where {v} lives; two injured.",
        "weapon": f"Rockets aimed at {v}",
        "responsible_party": f"The unit that targeted {v}",
        "location": {
            "name": f"Yard of {v}",
            "country": f"Armenia, near {v}",
            "admin_area": f"District of {v}",
        },
        "tags": [f"v-{label}", v],
    }


def testimony_texts(label: str, v: str) -> dict[str, str]:
    return {
        "statement": f"(v:{label}) I was in the courtyard of {v} when the rockets fell.",
        "translation": f"(v:{label}) Translation: {v} saw the rockets fall.",
        "place": f"Kitchen of {v}",
    }


def visit_texts(label: str, v: str) -> dict[str, Any]:
    return {
        "observations": f"(v:{label}) Crater beside the house of {v}; glass everywhere.",
        "purpose": f"(v:{label}) Document the damage reported by {v}.",
        "location": {"name": f"House of {v}"},
        "conditions": {
            "access": f"Escorted by {v}",
            "security": f"Calm near {v}",
            "weather": f"Dry at {v}",
        },
    }


def evidence_fields(label: str, v: str) -> dict[str, str]:
    """Form fields of a multipart upload: title, description and every provenance text."""
    return {
        "kind": "document",
        "title": f"Notes on {v} (v:{label})",
        "description": f"(v:{label}) Handwritten notes about {v}.",
        "source": f"Given by {v}",
        "source_url": f"https://example.org/notes/{quote(v)}",
        "platform": f"Chat with {v}",
        "collected_by": f"Neighbour of {v}",
        "collection_method": f"(v:{label}) Photographed at the home of {v}.",
        "online_identity": f"Persona asking {v}",
        "captured_by": f"Cousin of {v}",
        "device": f"Phone of {v}",
    }


def evidence_filename(label: str, v: str) -> str:
    return f"v-{label} {v}.txt"


def upload_metadata(label: str, v: str) -> dict[str, str]:
    """tus Upload-Metadata (beside case_id) of a resumable upload."""
    return {
        "filename": f"tus-{label} {v}.bin",
        "title": f"Recording for {v} (v:{label})",
        "description": f"(v:{label}) Voice memo from {v}.",
    }


def withdrawal_reason(label: str, v: str) -> str:
    return f"(v:{label}) Uploaded twice by the cousin of {v}."


# The photo's EXIF, as a phone that its owner named writes it.
EXIF_TEXTS = {
    "artist": "Anahit Gevorgyan",
    "description": "Gevorgyan house, front door",
    "software": "Gevorgyan family phone",
}
