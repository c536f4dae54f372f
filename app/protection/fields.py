"""Which fields of which rows are free text under witness protection: the one list.

Every text a caller can read that a person or a file wrote is here. A field missing here would
be served as written to everyone: tests/protection walks every route to catch that.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.models.case import Case
from app.models.evidence import EvidenceItem
from app.models.protected_text import ProtectedTextColumns
from app.models.site_visit import SiteVisit
from app.models.testimony import Testimony

# Between the shown fields in `search_shown`: a character no accepted text holds (control
# characters are refused in every text field and in `q`), so that a match never spans fields.
SHOWN_SEPARATOR = "\x1f"
# Fields holding JSON whose string values are the texts (EXIF read from the file).
JSON_TEXT_FIELDS = frozenset({"extracted_metadata"})
TAGS = "tags"  # a case's tags: one authored field, shown tag by tag


@dataclass(frozen=True)
class TextFields:
    """The free-text fields of one kind of row, and those of them its search reads (in the
    order of the search index; joined by `joiner`), if it is searched."""

    texts: tuple[str, ...]
    searched: tuple[str, ...] = ()
    joiner: str = " "


CASE = TextFields(
    texts=(
        "title",
        "summary",
        "weapon",
        "responsible_party",
        "location_name",
        "location_admin_area",
        "location_country",
    ),
    # The order of models.case.SEARCHED_FIELDS.
    searched=(
        "title",
        "summary",
        "location_name",
        "location_admin_area",
        "location_country",
        "weapon",
        "responsible_party",
    ),
    joiner=SHOWN_SEPARATOR,
)
TESTIMONY = TextFields(
    texts=("place", "statement", "translation"), searched=("statement", "translation")
)
SITE_VISIT = TextFields(
    texts=(
        "location_name",
        "purpose",
        "observations",
        "access_conditions",
        "security_conditions",
        "weather",
    ),
    searched=("observations", "purpose", "location_name"),
)
EVIDENCE = TextFields(
    texts=(
        "original_filename",
        "title",
        "description",
        "source",
        "source_url",
        "platform",
        "collected_by",
        "collection_method",
        "online_identity",
        "captured_by",
        "device",
        "withdrawal_reason",
        "extracted_metadata",
        "declared_media_type",  # as the client sent it: a Content-Type may carry a name=
    )
)

FIELDS: dict[type[ProtectedTextColumns], TextFields] = {
    Case: CASE,
    Testimony: TESTIMONY,
    SiteVisit: SITE_VISIT,
    EvidenceItem: EVIDENCE,
}


def fields_of(row: ProtectedTextColumns) -> TextFields:
    return FIELDS[type(row)]
