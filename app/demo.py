"""`casefile demo`: a demonstration data set built from public reporting, clearly marked.

Source: AFP, "Amnesty Seeks Probe Into Civilian Deaths in Karabakh Conflict", 14 January 2021
(../shared/seeds). Facts are those reported; statements are the quotes and reported speech in
that article, marked as such. Everything carries the tag `demo-data`. Running it twice changes
nothing the second time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.dependencies import CaseAccess, Principal
from app.cases import service as cases
from app.cases.schemas import CaseCreate
from app.demo_photo import placeholder_photo
from app.evidence import service as evidence
from app.evidence.ingest import Fingerprint
from app.evidence.schemas import EvidenceMetadata
from app.members import service as members
from app.models.case import Case, CaseRole, CaseTag
from app.models.evidence import EvidenceItem
from app.models.user import GlobalRole, User
from app.site_visits import service as site_visits
from app.site_visits.schemas import SiteVisitCreate
from app.storage import ObjectStore
from app.testimonies import service as testimonies
from app.testimonies.schemas import TestimonyCreate
from app.users import service as users
from app.witnesses import service as witnesses
from app.witnesses.crypto import IdentityKeyring
from app.witnesses.schemas import WitnessRegister

DEMO_TAG = "demo-data"
SOURCE = (
    "DEMONSTRATION DATA based on public reporting: AFP, 'Amnesty Seeks Probe Into Civilian "
    "Deaths in Karabakh Conflict', 14 January 2021. Not an investigation record."
)


@dataclass(frozen=True)
class DemoCase:
    case: dict[str, Any]
    witness: dict[str, Any]
    testimony: dict[str, Any]
    visit: dict[str, Any]
    photo_taken_at: str  # local time at the site, as a camera there would record it


MARTUNI = DemoCase(
    case={
        "title": "[DEMO] Missile strikes on Martuni",
        "occurred_at": "2020-09-27T06:00:00Z",
        "status": "under_review",
        "summary": "On 27 September 2020, the first day of the conflict, 12 missile strikes on the "
        "city of Martuni killed an eight-year-old girl and injured her two-year-old brother. "
        + SOURCE,
        "tags": [DEMO_TAG, "missile", "residential-area"],
        "weapon": "Missiles (12 strikes)",
        "responsible_party": "Azerbaijani forces (alleged)",
        "location": {
            "name": "Martuni",
            "admin_area": "Nagorno-Karabakh",
            "lat": 39.7953,
            "lon": 47.1136,
        },
        "casualties": {"killed": 1, "injured": 1, "children_killed": 1, "children_injured": 1},
    },
    witness={
        "full_name": "Anahit Gevorgyan",
        # How Armenian, Russian and other Latin spellings write her name (witness protection
        # withholds every one of them from texts, for those who may not identify her).
        "other_spellings": ["Անահիտ Գևորգյան", "Анаит Геворгян", "Anahit Gevorkyan"],
        "identity_notes": "Mother of the two children. " + SOURCE,
        "consent": {
            "named_publicly": True,
            "share_identity_with_courts": True,
            "use_testimony_in_reports": True,
            "obtained_at": "2020-12-02T09:30:00Z",
            "method": "oral_recorded",
        },
        "risk_level": "medium",
    },
    testimony={
        "recorded_at": "2020-12-02T10:00:00Z",
        "place": "Martuni",
        "language": "en",
        "statement": "My little boy now still wakes up saying that there are planes in the sky "
        "bombing. [Quoted in public reporting; demo data.]",
    },
    visit={
        "visited_at": "2020-12-03T09:00:00Z",
        "visited_until": "2020-12-03T13:00:00Z",
        "location": {"name": "Martuni, residential district", "lat": 39.7953, "lon": 47.1136},
        "purpose": "Document the impact sites of the strikes of 27 September 2020 (demo data).",
        "observations": "Strike sites in residential areas far from front lines, with no "
        "apparent military target nearby, as described in public reporting (demo data).",
        "conditions": {"access": "After the ceasefire of 10 November 2020", "security": "Calm"},
    },
    photo_taken_at="2020-12-03T13:40:12+04:00",
)

GANJA = DemoCase(
    case={
        "title": "[DEMO] Ballistic missile strike on Ganja",
        "occurred_at": "2020-10-17T01:00:00Z",
        "status": "under_review",
        "summary": "On 17 October 2020 a ballistic missile strike on the city of Ganja killed 21 "
        "civilians. " + SOURCE,
        "tags": [DEMO_TAG, "ballistic-missile", "residential-area"],
        "weapon": "Ballistic missile",
        "responsible_party": "Armenian forces (alleged)",
        "location": {"name": "Ganja", "country": "Azerbaijan", "lat": 40.6828, "lon": 46.3606},
        "casualties": {"killed": 21},
    },
    witness={
        "full_name": "Ramiz Gahramanov",
        "other_spellings": ["Ramiz Qəhrəmanov", "Рамиз Гахраманов", "Ramiz Kahramanov"],
        "identity_notes": "64 years old; lost his daughter and three of her children. " + SOURCE,
        "consent": {
            "named_publicly": True,
            "share_identity_with_courts": False,
            "use_testimony_in_reports": True,
            "obtained_at": "2020-12-05T11:00:00Z",
            "method": "oral_witnessed",
        },
        "risk_level": "high",
    },
    testimony={
        "recorded_at": "2020-12-05T11:30:00Z",
        "place": "Ganja",
        "language": "en",
        "statement": "He lost his daughter and three of her children on 17 October, a day when "
        "21 civilians were killed in a ballistic missile strike. [Reported speech from public "
        "reporting; demo data.]",
    },
    visit={
        "visited_at": "2020-12-06T10:00:00Z",
        "location": {"name": "Ganja, impact site", "lat": 40.6828, "lon": 46.3606},
        "purpose": "Document the impact site of the ballistic missile strike of 17 October 2020 "
        "(demo data).",
        "observations": "Destroyed homes in a densely populated residential area, as described in "
        "public reporting (demo data).",
    },
    photo_taken_at="2020-12-06T14:25:40+04:00",
)

DEMO_USERS = (
    ("demo-investigator", GlobalRole.INVESTIGATOR),
    ("demo-lawyer", GlobalRole.LEGAL),
    ("demo-viewer", GlobalRole.VIEWER),
)


def load_demo(session: Session, keyring: IdentityKeyring, store: ObjectStore) -> list[str]:
    """Create whatever of the demo set is missing; return a line per thing created."""
    created: list[str] = []
    people = {name: _user(session, name, role, created) for name, role in DEMO_USERS}
    investigator = people["demo-investigator"]
    actor = Principal(
        user_id=investigator.id,
        name=investigator.name,
        role=GlobalRole.INVESTIGATOR,
        token_id=uuid.UUID(int=0),
    )
    for demo in (MARTUNI, GANJA):
        if _existing_case(session, demo.case["title"]) is not None:
            continue
        case = cases.create_case(session, creator=actor, data=CaseCreate.model_validate(demo.case))
        access = CaseAccess(
            case=case, principal=actor, role=CaseRole.LEAD, can_identify_witnesses=True
        )
        members.put_member(
            session,
            access=access,
            user_id=people["demo-lawyer"].id,
            role=CaseRole.LEGAL,
            can_identify_witnesses=False,
        )
        members.put_member(
            session,
            access=access,
            user_id=people["demo-viewer"].id,
            role=CaseRole.VIEWER,
            can_identify_witnesses=False,
        )
        witness = witnesses.register(
            session,
            access=access,
            data=WitnessRegister.model_validate(demo.witness),
            keyring=keyring,
        )
        testimonies.create(
            session,
            access=access,
            data=TestimonyCreate.model_validate(
                {**demo.testimony, "witness_id": witness.witness.id}
            ),
        )
        visit = site_visits.create(
            session,
            access=access,
            data=SiteVisitCreate.model_validate({**demo.visit, "team": [investigator.id]}),
        )
        item = _placeholder_photo(session, access, store, demo, visit.visit.id)
        created.append(
            f"case {case.title} with witness {witness.witness.pseudonym} "
            f"and exhibit {item.exhibit_number}"
        )
    return created


def _placeholder_photo(
    session: Session,
    access: CaseAccess,
    store: ObjectStore,
    demo: DemoCase,
    visit_id: uuid.UUID,
) -> EvidenceItem:
    """Stored, fingerprinted and recorded as an upload would be (an orphan object is left for
    `casefile storage reconcile` if the transaction then fails)."""
    location = demo.visit["location"]
    data = placeholder_photo(
        datetime.fromisoformat(demo.photo_taken_at), location["lat"], location["lon"]
    )
    evidence_id = uuid.uuid4()
    writer = store.writer(evidence.object_key(access.case.id, evidence_id))
    try:
        writer.write(data)
        stored = writer.commit()
    except BaseException:
        writer.abort()
        raise
    fingerprint = Fingerprint()
    fingerprint.update(data)
    arrival = evidence.Arrival(
        evidence_id=evidence_id,
        stored=stored,
        sha256=fingerprint.sha256,
        crc32=fingerprint.crc32,
        size=fingerprint.size,
        head=bytes(fingerprint.head),
        filename="placeholder-site-photo.png",
        declared_media_type="image/png",
    )
    metadata = EvidenceMetadata.model_validate(
        {
            "kind": "photo",
            "title": "[DEMO] Placeholder for a site photo",
            "description": "A generated grey image standing in for a photograph, with EXIF as a "
            "camera at the site would write it. " + SOURCE,
            "source": "Casefile demonstration data set",
            "captured_by": "demo-investigator",
            "device": "Placeholder (not a photograph)",
            "site_visit_id": str(visit_id),
        }
    )
    return evidence.record_arrival(
        session, access=access, arrival=arrival, metadata=metadata, retention=None, store=store
    )


def _user(session: Session, name: str, role: GlobalRole, created: list[str]) -> User:
    user = session.scalars(select(User).where(User.name == name)).first()
    if user is None:
        user = users.create_user(session, name=name, role=role, actor_id=None, via="demo")
        session.flush()
        created.append(f"user {name} ({role.value})")
    return user


def _existing_case(session: Session, title: str) -> Case | None:
    return session.scalars(
        select(Case)
        .join(CaseTag, CaseTag.case_id == Case.id)
        .where(Case.title == title, CaseTag.tag == DEMO_TAG)
    ).first()
