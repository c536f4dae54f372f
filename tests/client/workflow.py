"""An investigation driven end to end through the client generated from `/openapi.json`.

Written as a legal team's script would be, against `casefile_client` (generated at test time,
see generation.py) and nothing of the server's: the test runs it, and first type-checks it
with `mypy --strict` together with the generated package, so the typed models are proven
usable, not just importable.
"""

from __future__ import annotations

import asyncio
import base64
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from casefile_client import AuthenticatedClient
from casefile_client.api.audit import list_signing_keys
from casefile_client.api.bundles import get_case_bundle
from casefile_client.api.cases import create_case, get_case, list_cases, update_case
from casefile_client.api.evidence import (
    get_evidence,
    get_evidence_content,
    get_evidence_custody,
    list_case_evidence,
    upload_evidence,
    verify_evidence,
)
from casefile_client.api.site_visits import create_site_visit
from casefile_client.api.testimonies import create_testimony
from casefile_client.api.uploads import append_upload, create_upload, get_upload_offset
from casefile_client.api.users import create_token, create_user
from casefile_client.api.witnesses import register_witness
from casefile_client.models import (
    AppendUploadTusResumable,
    CaseCreate,
    CasePage,
    CasePatch,
    CaseRead,
    CaseStatus,
    Casualties,
    Consent,
    CreateUploadTusResumable,
    CustodyPage,
    EvidenceKind,
    EvidencePage,
    EvidenceRead,
    GetUploadOffsetTusResumable,
    GlobalRole,
    IdentifiedWitnessRead,
    Location,
    Problem,
    RiskLevel,
    SigningKeyList,
    SiteVisitCreate,
    SiteVisitRead,
    TestimonyCreate,
    TestimonyRead,
    TokenCreate,
    TokenCreated,
    UploadCreated,
    UploadEvidenceBody,
    UserCreate,
    UserRead,
    VerificationResult,
    VisitLocation,
    WitnessRegister,
)
from casefile_client.types import File, Response

T = TypeVar("T")
MARTUNI = Location(name="Martuni", admin_area="Nagorno-Karabakh", lat=39.7946, lon=47.1136)


def connect(base_url: str, token: str) -> AuthenticatedClient:
    """A client that raises on any status the document does not list for the operation: each
    answer below is checked against the contract, not only against this script's hopes."""
    return AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)


def parsed(answer: Response[Any], status: int, expected: type[T]) -> T:
    """The typed body of an answer that must have this status and this model."""
    assert answer.status_code == status, (answer.status_code, answer.content[:2000])
    assert isinstance(answer.parsed, expected), (type(answer.parsed), answer.content[:2000])
    return answer.parsed


def file_bytes(answer: Response[Any], status: int) -> bytes:
    return parsed(answer, status, File).payload.read()


@dataclass(frozen=True)
class Investigation:
    investigator: UserRead
    case: CaseRead
    witness: IdentifiedWitnessRead
    testimony: TestimonyRead
    visit: SiteVisitRead
    photo: EvidenceRead
    resumed: EvidenceRead
    downloaded: bytes
    first_bytes: bytes
    custody: CustodyPage
    verification: VerificationResult
    case_after: CaseRead
    reviewed: CaseRead
    found: CasePage
    keys: SigningKeyList
    bundle: bytes
    token: str


def enrol_investigator(admin: AuthenticatedClient, name: str) -> tuple[UserRead, str]:
    """An admin creates an investigator and issues them a token (its secret is shown once)."""
    body = UserCreate(name=name, role=GlobalRole.INVESTIGATOR)
    user = parsed(create_user.sync_detailed(client=admin, body=body), 201, UserRead)
    issued = create_token.sync_detailed(
        user.id, client=admin, body=TokenCreate(label="generated client")
    )
    return user, parsed(issued, 201, TokenCreated).token


def open_case(client: AuthenticatedClient) -> CaseRead:
    body = CaseCreate(
        title="Missile strikes on Martuni",
        occurred_at=datetime(2020, 9, 27, 6, 0, tzinfo=UTC),
        summary="Twelve missile strikes on the first day of the conflict.",
        status=CaseStatus.OPEN,
        tags=["missile", "residential-area"],
        location=MARTUNI,
        casualties=Casualties(killed=1, injured=1, children_killed=1, children_injured=1),
    )
    answer = create_case.sync_detailed(client=client, body=body, idempotency_key=_key())
    return parsed(answer, 201, CaseRead)


def hear_witness(
    client: AuthenticatedClient, case: CaseRead
) -> tuple[IdentifiedWitnessRead, TestimonyRead]:
    register = WitnessRegister(
        full_name="Anahit Gevorgyan",
        contact="+374 00 000000",
        consent=Consent(share_identity_with_courts=True, use_testimony_in_reports=True),
        risk_level=RiskLevel.HIGH,
    )
    answer = register_witness.sync_detailed(case.id, client=client, body=register)
    witness = parsed(answer, 201, IdentifiedWitnessRead)
    said = TestimonyCreate(
        witness_id=witness.id,
        recorded_at=datetime(2020, 12, 2, 10, 0, tzinfo=UTC),
        statement="Ես տեսա, թե ինչպես հրթիռն ընկավ բակում։",
        language="hy",
        translation="I saw the missile fall in the courtyard.",
        translation_language="en",
        place="Martuni",
    )
    recorded = create_testimony.sync_detailed(case.id, client=client, body=said)
    return witness, parsed(recorded, 201, TestimonyRead)


def visit_site(client: AuthenticatedClient, case: CaseRead) -> SiteVisitRead:
    body = SiteVisitCreate(
        visited_at=datetime(2020, 12, 3, 9, 0, tzinfo=UTC),
        location=VisitLocation(name="Courtyard, Martuni", lat=39.7953, lon=47.1136),
        observations="Impact crater 1.2 m wide; fragments collected.",
    )
    answer = create_site_visit.sync_detailed(case.id, client=client, body=body)
    return parsed(answer, 201, SiteVisitRead)


def upload_photo(
    client: AuthenticatedClient, case: CaseRead, visit: SiteVisitRead, photo: bytes
) -> EvidenceRead:
    body = UploadEvidenceBody(
        file=File(payload=io.BytesIO(photo), file_name="crater.jpg", mime_type="image/jpeg"),
        kind=EvidenceKind.PHOTO,
        title="Impact crater in a courtyard",
        captured_at=datetime(2020, 12, 3, 9, 40, tzinfo=UTC),
        site_visit_id=visit.id,
    )
    answer = upload_evidence.sync_detailed(
        case.id, client=client, body=body, idempotency_key=_key()
    )
    return parsed(answer, 201, EvidenceRead)


def upload_resumably(client: AuthenticatedClient, case: CaseRead, data: bytes) -> EvidenceRead:
    """tus: half the file, then ask the server where to resume, then the rest."""
    fields = {"case_id": str(case.id), "filename": "crater-wide.jpg", "kind": "photo"}
    metadata = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())
    started = create_upload.sync_detailed(
        client=client,
        tus_resumable=CreateUploadTusResumable.VALUE_0,
        upload_length=str(len(data)),
        upload_metadata=metadata,
    )
    upload = parsed(started, 201, UploadCreated)
    first = append_upload.sync_detailed(
        upload.id,
        client=client,
        body=File(payload=io.BytesIO(data[: len(data) // 2])),
        tus_resumable=AppendUploadTusResumable.VALUE_0,
        upload_offset="0",
    )
    assert first.status_code == 204, first.content
    held = get_upload_offset.sync_detailed(
        upload.id, client=client, tus_resumable=GetUploadOffsetTusResumable.VALUE_0
    )
    offset = held.headers["Upload-Offset"]
    last = append_upload.sync_detailed(
        upload.id,
        client=client,
        body=File(payload=io.BytesIO(data[int(offset) :])),
        tus_resumable=AppendUploadTusResumable.VALUE_0,
        upload_offset=offset,
    )
    assert last.status_code == 204, last.content
    evidence_id = uuid.UUID(last.headers["Casefile-Evidence-Id"])
    return parsed(get_evidence.sync_detailed(evidence_id, client=client), 200, EvidenceRead)


def put_under_review(client: AuthenticatedClient, case: CaseRead) -> tuple[CaseRead, CasePage]:
    """A PATCH guarded by the ETag just read, then the case list filtered as a reviewer would
    (a status list, a time window with its zone, a tag, a bounding box)."""
    read = get_case.sync_detailed(case.id, client=client)
    parsed(read, 200, CaseRead)
    change = CasePatch(status=CaseStatus.UNDER_REVIEW)
    answer = update_case.sync_detailed(
        case.id, client=client, body=change, if_match=read.headers["ETag"]
    )
    reviewed = parsed(answer, 200, CaseRead)
    listed = list_cases.sync_detailed(
        client=client,
        status=[CaseStatus.UNDER_REVIEW, CaseStatus.REFERRED],
        occurred_from=datetime(2020, 9, 27, 5, 30, tzinfo=UTC),
        occurred_to=datetime(2020, 9, 27, 6, 30, tzinfo=UTC),
        tag=["missile"],
        bbox="47.0,39.7,47.2,39.9",
        limit=10,
    )
    return reviewed, parsed(listed, 200, CasePage)


def investigate(base_url: str, admin_token: str, photo: bytes, wide_photo: bytes) -> Investigation:
    """Everything the issue asks for, in the order an investigator would do it."""
    with connect(base_url, admin_token) as admin:
        investigator, token = enrol_investigator(admin, f"amira-{uuid.uuid4().hex[:6]}")
    with connect(base_url, token) as client:
        case = open_case(client)
        witness, testimony = hear_witness(client, case)
        visit = visit_site(client, case)
        item = upload_photo(client, case, visit, photo)
        resumed = upload_resumably(client, case, wide_photo)
        downloaded = file_bytes(get_evidence_content.sync_detailed(item.id, client=client), 200)
        ranged = get_evidence_content.sync_detailed(item.id, client=client, range_="bytes=0-15")
        first_bytes = file_bytes(ranged, 206)
        custody = parsed(
            get_evidence_custody.sync_detailed(item.id, client=client), 200, CustodyPage
        )
        checked = verify_evidence.sync_detailed(item.id, client=client)
        verification = parsed(checked, 200, VerificationResult)
        case_after = parsed(get_case.sync_detailed(case.id, client=client), 200, CaseRead)
        reviewed, found = put_under_review(client, case)
        keys = parsed(list_signing_keys.sync_detailed(client=client), 200, SigningKeyList)
        bundle = file_bytes(get_case_bundle.sync_detailed(case.id, client=client), 200)
    return Investigation(
        investigator=investigator,
        case=case,
        witness=witness,
        testimony=testimony,
        visit=visit,
        photo=item,
        resumed=resumed,
        downloaded=downloaded,
        first_bytes=first_bytes,
        custody=custody,
        verification=verification,
        case_after=case_after,
        reviewed=reviewed,
        found=found,
        keys=keys,
        bundle=bundle,
        token=token,
    )


def read_back_concurrently(
    base_url: str, token: str, investigation: Investigation
) -> tuple[CaseRead, EvidencePage, CustodyPage]:
    """The same reads through the generated asyncio functions, all at once on one client."""

    async def read() -> tuple[CaseRead, EvidencePage, CustodyPage]:
        case_id, item_id = investigation.case.id, investigation.photo.id
        async with connect(base_url, token) as client:
            case, listed, custody = await asyncio.gather(
                get_case.asyncio_detailed(case_id, client=client),
                list_case_evidence.asyncio_detailed(case_id, client=client, limit=1),
                get_evidence_custody.asyncio_detailed(item_id, client=client),
            )
        return (
            parsed(case, 200, CaseRead),
            parsed(listed, 200, EvidencePage),
            parsed(custody, 200, CustodyPage),
        )

    return asyncio.run(read())


@dataclass(frozen=True)
class Refusals:
    unknown_case: Problem
    invalid_case: Problem
    bad_token: Problem


def refusals(base_url: str, token: str) -> Refusals:
    """What a script sees when the server says no: typed problems, field errors included."""
    with connect(base_url, token) as client:
        unknown = get_case.sync_detailed(uuid.uuid4(), client=client)
        future = CaseCreate(title="Not yet", occurred_at=datetime(2999, 1, 1, tzinfo=UTC))
        invalid = create_case.sync_detailed(client=client, body=future)
        problems = (parsed(unknown, 404, Problem), parsed(invalid, 422, Problem))
    with connect(base_url, "cf_not-a-real-token") as stranger:
        refused = get_case.sync_detailed(uuid.uuid4(), client=stranger)
    return Refusals(*problems, bad_token=parsed(refused, 401, Problem))


def _key() -> str:
    return uuid.uuid4().hex
