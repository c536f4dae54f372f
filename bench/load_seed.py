"""Seeding the load driver's data through the API, so that every row is what the service itself
writes (audit events included): investigators with tokens, cases led by one of them with four
more investigators as members, a witness, testimonies, a site visit and small photos per case.
"""

from __future__ import annotations

import io
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
from PIL import Image

TAGS = ("cluster-munition", "school", "hospital", "market", "shelter", "residential", "bridge")
WEAPONS = ("Smerch MLRS", "BM-21 Grad", "cluster munition", "Bayraktar TB2 strike")
PLACES = (
    ("Stepanakert", 39.815, 46.752),
    ("Martuni", 39.795, 47.113),
    ("Shushi", 39.760, 46.750),
    ("Hadrut", 39.520, 47.030),
    ("Ganja", 40.683, 46.360),
    ("Barda", 40.374, 47.126),
)
MEMBERS_PER_CASE = 4


@dataclass
class CasePlan:
    id: str
    witness_id: str
    tags: list[str]
    testimony_ids: list[str] = field(default_factory=list)
    evidence_ids: list[str] = field(default_factory=list)


@dataclass
class UserPlan:
    id: str
    token: str
    cases: list[CasePlan] = field(default_factory=list)


def _ok(answer: httpx.Response) -> dict[str, str]:
    if answer.status_code not in (200, 201):
        raise RuntimeError(
            f"seeding failed: {answer.request.url} {answer.status_code} {answer.text}"
        )
    body: dict[str, str] = answer.json()
    return body


def small_photo(rng: random.Random) -> bytes:
    image = Image.new("RGB", (64, 48), tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _user(http: httpx.Client, index: int) -> UserPlan:
    user = _ok(
        http.post(
            "/api/v1/users", json={"name": f"investigator-{index:03d}", "role": "investigator"}
        )
    )
    token = _ok(http.post(f"/api/v1/users/{user['id']}/tokens", json={}))
    return UserPlan(id=user["id"], token=token["token"])


def _case(http: httpx.Client, index: int, lead: UserPlan, members: list[UserPlan]) -> CasePlan:
    rng = random.Random(index)  # noqa: S311 - reproducible data, not secrets
    auth = {"Authorization": f"Bearer {lead.token}"}
    place, lat, lon = rng.choice(PLACES)
    occurred = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(hours=rng.randrange(3 * 365 * 24))
    tags = rng.sample(TAGS, 2)
    weapon = rng.choice(WEAPONS)
    case = _ok(
        http.post(
            "/api/v1/cases",
            headers=auth,
            json={
                "title": f"{weapon} strike on {place} #{index}",
                "occurred_at": occurred.isoformat(),
                "summary": f"A {weapon} strike near the {rng.choice(TAGS)} in {place}; "
                "a missile hit the market and the school shelter.",
                "status": rng.choice(("open", "open", "under_review", "referred", "closed")),
                "tags": tags,
                "weapon": weapon,
                "location": {
                    "name": place,
                    "country": "AZ",
                    "lat": lat + rng.uniform(-0.1, 0.1),
                    "lon": lon + rng.uniform(-0.1, 0.1),
                },
                "casualties": {"killed": rng.randrange(10), "injured": rng.randrange(30)},
            },
        )
    )
    case_id = case["id"]
    for member in members:
        _ok(
            http.put(
                f"/api/v1/cases/{case_id}/members/{member.id}",
                headers=auth,
                json={"role": "investigator", "can_identify_witnesses": False},
            )
        )
    witness = _ok(
        http.post(
            f"/api/v1/cases/{case_id}/witnesses",
            headers=auth,
            json={"full_name": f"Witness {index}"},
        )
    )
    plan = CasePlan(id=case_id, witness_id=witness["id"], tags=tags)
    for _ in range(2):
        testimony = _ok(
            http.post(
                f"/api/v1/cases/{case_id}/testimonies",
                headers=auth,
                json={
                    "witness_id": witness["id"],
                    "recorded_at": "2021-01-10T09:00:00Z",
                    "language": "en",
                    "statement": "The missile struck the shelter beside the school at dawn.",
                },
            )
        )
        plan.testimony_ids.append(testimony["id"])
    _ok(
        http.post(
            f"/api/v1/cases/{case_id}/site-visits",
            headers=auth,
            json={
                "visited_at": "2021-02-01T09:00:00Z",
                "observations": "Crater 3 m wide, cluster remnants.",
            },
        )
    )
    for number in range(2):
        evidence = _ok(
            http.post(
                f"/api/v1/cases/{case_id}/evidence",
                headers=auth,
                data={"kind": "photo"},
                files={"file": (f"site-{number}.jpg", small_photo(rng), "image/jpeg")},
            )
        )
        plan.evidence_ids.append(evidence["id"])
    return plan


def seed(base_url: str, admin_token: str, *, clients: int, cases: int) -> list[UserPlan]:
    """`clients` investigators and `cases` cases; each case has a lead and four more members.
    Returns the users, each with the cases it may read and write."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    limits = httpx.Limits(max_connections=8)
    with (
        httpx.Client(base_url=base_url, headers=headers, timeout=60, limits=limits) as http,
        ThreadPoolExecutor(8) as pool,
    ):
        users = list(pool.map(lambda index: _user(http, index), range(clients)))
        teams = [
            [users[(index + offset) % clients] for offset in range(MEMBERS_PER_CASE + 1)]
            for index in range(cases)
        ]
        plans = list(pool.map(lambda i: _case(http, i, teams[i][0], teams[i][1:]), range(cases)))
    for plan, team in zip(plans, teams, strict=True):
        for user in team:
            user.cases.append(plan)
    return users
