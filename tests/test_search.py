"""Free-text search over cases (`GET /api/v1/cases?q=…`): a case matches through its own fields,
its testimonies (statement, translation) and its linked site visits (observations, purpose,
place), in Armenian, Azerbaijani, Russian and English alike; only cases the caller may see
match; and witness identities, which are stored encrypted, never match.

Investigators type in whichever script and case the witness used, so every script is checked in
both directions (upper-case query on lower-case text and the reverse), on both backends (FTS5
on SQLite, GIN full-text indexes on PostgreSQL), because the two implementations differ.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.sql.elements import ColumnElement

from app.cases import repository
from app.cases.search import case_match
from app.config import Settings
from app.models import site_visit as site_visit_model
from app.models import testimony as testimony_model
from app.models.case import Case
from tests.fixtures.api import GANJA, MARTUNI, Actor, DatabaseProbe, MakeUser

MakeCase = Callable[..., dict[str, Any]]
AddMember = Callable[..., None]

STEPANAKERT = {
    "title": "Cluster munitions on Stepanakert",
    "occurred_at": "2020-10-04T08:00:00Z",
    "status": "under_review",
    "tags": ["cluster-munitions"],
    "location": {"name": "Stepanakert", "lat": 39.8153, "lon": 46.7519},
}

# Armenian original with an English translation (the seed's quote). The upper-case heading is
# there so that a lower-case query on upper-case text is tried too.
MARTUNI_STATEMENT = (
    "ՎԿԱՅՈՒԹՅՈՒՆ։ Մարտունի։ Իմ փոքրիկ տղան մինչ օրս արթնանում է ու ասում, որ երկնքում "
    "ինքնաթիռներ են ռմբակոծում։"
)
MARTUNI_TRANSLATION = (
    "My little boy now still wakes up saying that there are planes in the sky bombing."
)
# Azerbaijani (Latin: ə, ğ, ş, ı, İ) with a Russian translation.
GANJA_STATEMENT = "ŞAHİD İFADƏSİ. Gəncə şəhərində gecə raket zərbəsi qonşularımızın evini dağıtdı."
GANJA_TRANSLATION = "Ночью ракетный удар по Гяндже разрушил дом наших соседей."
GANJA_OBSERVATIONS = "ОСМОТР МЕСТА. Город Гянджа: воронка во дворе жилого дома."
GANJA_PURPOSE = "Document the crater left by the strike."
GANJA_PLACE = "Kəpəz district"
STEPANAKERT_STATEMENT = "The shelling went on all night; we hid in the basement."


# -- helpers ------------------------------------------------------------------------------------
def register_witness(client: TestClient, actor: Actor, case_id: str, name: str) -> str:
    answer = client.post(
        f"/api/v1/cases/{case_id}/witnesses", json={"full_name": name}, headers=actor.headers
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def add_testimony(
    client: TestClient,
    actor: Actor,
    case_id: str,
    statement: str,
    *,
    translation: str | None = None,
    language: str = "und",
    witness_id: str | None = None,
) -> dict[str, Any]:
    witness_id = witness_id or register_witness(client, actor, case_id, "Anonymous source")
    body: dict[str, Any] = {
        "witness_id": witness_id,
        "recorded_at": "2020-12-02T10:00:00Z",
        "statement": statement,
        "language": language,
    }
    if translation is not None:
        body["translation"] = translation
    answer = client.post(f"/api/v1/cases/{case_id}/testimonies", json=body, headers=actor.headers)
    assert answer.status_code == 201, answer.text
    testimony: dict[str, Any] = answer.json()
    return testimony


def add_visit(
    client: TestClient,
    actor: Actor,
    case_id: str,
    observations: str,
    *,
    purpose: str | None = None,
    place: str | None = None,
    also_case_ids: list[str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"visited_at": "2020-12-03T09:00:00Z", "observations": observations}
    if purpose is not None:
        body["purpose"] = purpose
    if place is not None:
        body["location"] = {"name": place}
    if also_case_ids:
        body["also_case_ids"] = also_case_ids
    answer = client.post(f"/api/v1/cases/{case_id}/site-visits", json=body, headers=actor.headers)
    assert answer.status_code == 201, answer.text
    visit: dict[str, Any] = answer.json()
    return visit


def search(client: TestClient, actor: Actor, q: str, **params: Any) -> list[str]:
    """The titles `q` finds, newest first (the listing's order)."""
    answer = client.get("/api/v1/cases", params={"q": q, **params}, headers=actor.headers)
    assert answer.status_code == 200, (q, answer.status_code, answer.text)
    return [case["title"] for case in answer.json()["items"]]


def mismatches(
    client: TestClient, actor: Actor, expectations: dict[str, list[str]]
) -> dict[str, tuple[list[str], list[str]]]:
    """Every query whose result differs from the expected titles: all failures at once, so one
    run shows the whole picture of which scripts or forms are broken."""
    found = {q: search(client, actor, q) for q in expectations}
    return {q: (expected, found[q]) for q, expected in expectations.items() if found[q] != expected}


@dataclass(frozen=True)
class Corpus:
    martuni: str
    ganja: str
    stepanakert: str


@pytest.fixture
def corpus(client: TestClient, admin: Actor, make_case: MakeCase) -> Corpus:
    """Three cases whose own fields are English; the other scripts live only in testimonies and
    visit logs, so a match on them proves that those are searched."""
    martuni = make_case(admin, MARTUNI)
    add_testimony(
        client,
        admin,
        martuni["id"],
        MARTUNI_STATEMENT,
        translation=MARTUNI_TRANSLATION,
        language="hy",
    )
    ganja = make_case(admin, GANJA)
    add_testimony(
        client, admin, ganja["id"], GANJA_STATEMENT, translation=GANJA_TRANSLATION, language="az"
    )
    add_visit(
        client,
        admin,
        ganja["id"],
        GANJA_OBSERVATIONS,
        purpose=GANJA_PURPOSE,
        place=GANJA_PLACE,
    )
    stepanakert = make_case(admin, STEPANAKERT)
    add_testimony(client, admin, stepanakert["id"], STEPANAKERT_STATEMENT, language="en")
    return Corpus(martuni["title"], ganja["title"], stepanakert["title"])


@pytest.fixture(params=["member of few cases", "few linked", "many linked"])
def search_plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """PostgreSQL runs a search one of three ways (`app.cases.repository._searched`): a member
    of few cases has each checked; otherwise the way depends on how many testimonies and
    visits match. Test data is small, so the thresholds are lowered to take the other ways
    ("few linked": members too take the way of admins and of members of many cases; "many
    linked": that way with many testimonies and visits). All must give the same answers.
    (SQLite has one way: there the runs are the same.)"""
    if request.param != "member of few cases":
        monkeypatch.setattr(repository, "FEW_MEMBER_CASES", 0)
    if request.param == "many linked":
        monkeypatch.setattr(repository, "FEW_LINKED", 1)
    return str(request.param)


# -- matching -----------------------------------------------------------------------------------
def test_statements_translations_and_visit_logs_match_in_every_script(
    client: TestClient, admin: Actor, corpus: Corpus, search_plan: str
) -> None:
    """Whole words, prefixes, both letter cases, several words in any order, in each script."""
    m, g, s = [corpus.martuni], [corpus.ganja], [corpus.stepanakert]
    expectations: dict[str, list[str]] = {
        # Armenian: the statement.
        "Մարտունի": m,
        "մարտունի": m,
        "ՄԱՐՏՈՒՆԻ": m,
        "վկայություն": m,  # lower-case query, upper-case text
        "արթնանում": m,
        "արթն": m,  # a prefix
        "ԱՐԹՆ": m,
        "ինքնաթիռներ երկնքում": m,  # both words, in the other order
        "ինքնաթիռներ հրետանի": [],  # the second word is nowhere
        # Azerbaijani: the statement (ə, ğ, ş, ı).
        "Gəncə": g,
        "gəncə": g,
        "GƏNCƏ": g,
        "şəhər": g,  # prefix of şəhərində
        "ŞƏHƏR": g,
        "dağıt": g,
        "DAĞ": g,
        "şahid": g,  # lower-case query, upper-case text
        "zərbə raket": g,
        # Russian: the translation and the visit's observations.
        "Гянджа": g,  # only in the observations (the translation says Гяндже)
        "гянджа": g,
        "ГЯНДЖА": g,
        "Гяндже": g,  # only in the translation
        "гяндж": g,
        "осмотр": g,  # lower-case query, upper-case text
        "ракетный удар": g,
        "УДАР ракетный": g,
        "ракет": g,
        "воронка": g,
        "ракетный самолёт": [],
        # English: a translation, a visit's purpose and place, a statement.
        "planes sky": m,
        "SKY Planes": m,
        "bomb": m,
        "crater": g,
        "Kəpəz": g,  # the visit's place name
        "basement": s,
        "hid night": s,
        # The cases' own fields still match as before.
        "missile": [corpus.ganja, corpus.martuni],
        "ganja": g,
        # Punctuation around and between words is ignored.
        "«Гянджа»!": g,
        "planes, sky.": m,
        "(Մարտունի)": m,
        "şəhər—Gəncə": g,
        "ракетный-удар?": g,
        "  basement  ": s,
        # Nothing anywhere.
        "qwzx": [],
        "Стамбул": [],
        "planes Gəncə": [],  # words from two different cases: all words are required
    }
    assert mismatches(client, admin, expectations) == {}


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        "postgres",
    ],
    indirect=True,
)
def test_own_fields_match_case_insensitively_in_every_script(
    client: TestClient, admin: Actor, make_case: MakeCase
) -> None:
    """A case written in Russian, Armenian or Azerbaijani, with nothing but its own fields,
    is found whatever the letter case of the query: the contract says case-insensitive."""
    russian = make_case(admin, GANJA, title="Ракетный удар по Гяндже", summary=None)
    armenian = make_case(admin, MARTUNI, title="Մարտունու հրթիռակոծություն", summary=None)
    azerbaijani = make_case(admin, GANJA, title="Gəncə şəhərinə raket zərbəsi", summary=None)
    r, a, z = [russian["title"]], [armenian["title"]], [azerbaijani["title"]]
    expectations = {
        "ракетный удар": r,
        "Ракетный Удар": r,
        "ГЯНДЖЕ": r,
        "մարտունու": a,
        "ՄԱՐՏՈՒՆՈՒ": a,
        "gəncə şəhərinə": z,
        "GƏNCƏ ŞƏHƏR": z,
    }
    assert mismatches(client, admin, expectations) == {}


def test_upper_case_azerbaijani_dotted_capital_i_in_the_query(
    client: TestClient, admin: Actor, corpus: Corpus
) -> None:
    """İ is an everyday Azerbaijani letter (İFADƏ, ŞƏHƏRİNDƏ): typed in capitals it must still
    find the lower-case (and the upper-case) text."""
    g = [corpus.ganja]
    assert mismatches(client, admin, {"İFADƏSİ": g, "ŞƏHƏRİNDƏ": g, "İFADƏ": g}) == {}


def test_decomposed_query_finds_composed_text(
    client: TestClient, admin: Actor, corpus: Corpus
) -> None:
    """The same words in Unicode NFD (letter + combining mark) are the same words."""
    g = [corpus.ganja]
    decomposed = {unicodedata.normalize("NFD", q): g for q in ("şəhər", "dağıt", "Gəncə şəhər")}
    assert all(q != unicodedata.normalize("NFC", q) for q in decomposed)
    assert mismatches(client, admin, decomposed) == {}


# LIKE, tsquery and FTS5 syntax without a word that occurs anywhere: found nowhere (except "-",
# a plain substring of the Martuni summary's "eight-year-old").
HOSTILE_QUERIES = [
    "%",
    "%%",
    "100%",
    "_",
    "__",
    "'",
    "''",
    '"',
    '""',
    "*",
    ":",
    ":*",
    "&",
    "|",
    "!",
    "()",
    "(",
    ")",
    "\\",
    "^",
    "<->",
    "' & '",
    "' OR 1=1 --",
    '" OR ""="',
    "'; DROP TABLE cases; --",
    "NEAR(a b)",
    "a AND b OR NOT c",
    "body:planes",
    "kind:testimony",
    "planes <2> sky",
    "planes) OR (sky",
    "x" * 200,
    "a b c d e f g h i j k l",
]
# The same syntax around real words: ignored, the words still match (and only them).
NOISY_QUERIES = [
    "planes:*",
    "planes*",
    '"planes"*',
    "'planes':*",
    "planes & sky",
    "planes | sky",
    "planes & !sky",
    "planes <-> sky",
    "!planes",
    "(planes)",
    "{planes}",
    "^planes",
    "+planes -sky",
    '"planes" "sky"',
    "planes:A",
]


def test_query_syntax_is_harmless(client: TestClient, admin: Actor, corpus: Corpus) -> None:
    """`q` is plain text: no operator of LIKE, tsquery or FTS5 reaches the database as syntax,
    so nothing a user types can cause a 500 or widen (or empty) a search."""
    expectations: dict[str, list[str]] = {q: [] for q in HOSTILE_QUERIES}
    expectations["-"] = [corpus.martuni]
    expectations.update({q: [corpus.martuni] for q in NOISY_QUERIES})
    assert mismatches(client, admin, expectations) == {}
    too_long = client.get("/api/v1/cases", params={"q": "x" * 201}, headers=admin.headers)
    assert too_long.status_code == 422, too_long.text


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        "postgres",
    ],
    indirect=True,
)
def test_nul_in_the_query_is_not_a_server_error(
    client: TestClient, admin: Actor, corpus: Corpus
) -> None:
    """A NUL byte is bad input: the contract says never a 500 for bad input."""
    for q in ("\x00", "planes\x00", "\x00planes"):
        answer = client.get("/api/v1/cases", params={"q": q}, headers=admin.headers)
        assert answer.status_code < 500, (q, answer.status_code, answer.text)


# -- who sees what --------------------------------------------------------------------------------
def test_only_members_find_a_case(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: MakeCase,
    add_member: AddMember,
    search_plan: str,
) -> None:
    """Search widens what matches, never who sees it: a non-member finds nothing, and a visit
    shared by two cases makes each of them match only for that case's members."""
    lead = make_user("investigator")
    viewer = make_user("viewer")
    outsider = make_user("investigator")
    first = make_case(lead, MARTUNI)
    second = make_case(lead, GANJA)
    add_member(first["id"], viewer, "viewer")
    make_case(outsider, STEPANAKERT)  # the outsider has cases of their own
    add_testimony(client, lead, first["id"], MARTUNI_STATEMENT, translation=MARTUNI_TRANSLATION)
    shared = add_visit(client, lead, first["id"], GANJA_OBSERVATIONS, also_case_ids=[second["id"]])
    assert sorted(shared["case_ids"]) == sorted([first["id"], second["id"]])

    both = [second["title"], first["title"]]
    assert search(client, admin, "воронка") == both
    assert search(client, lead, "воронка") == both
    assert search(client, viewer, "воронка") == [first["title"]]
    assert search(client, outsider, "воронка") == []
    for q in ("արթնանում", "planes sky", "missile"):
        assert search(client, outsider, q) == [], q
        assert search(client, viewer, q) == [first["title"]], q

    add_member(second["id"], viewer, "viewer")
    assert search(client, viewer, "воронка") == both
    removed = client.delete(
        f"/api/v1/cases/{first['id']}/members/{viewer.id}", headers=admin.headers
    )
    assert removed.status_code == 204, removed.text
    assert search(client, viewer, "воронка") == [second["title"]]


def test_witness_names_are_never_searchable(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: MakeCase,
    add_member: AddMember,
    db: DatabaseProbe,
    search_plan: str,
) -> None:
    """Identities are stored only encrypted, so no search (not even by an admin, or by a member
    allowed to identify the witness) can find a case by a witness's name, contact or notes."""
    identifier = make_user("investigator")
    case = make_case(admin, GANJA)
    add_member(case["id"], identifier, "investigator", can_identify_witnesses=True)
    answer = client.post(
        f"/api/v1/cases/{case['id']}/witnesses",
        json={
            "full_name": "Ramiz Gahramanov",
            "contact": "Nizami küçəsi 12, Gəncə",
            "identity_notes": "Lost his daughter and three grandchildren.",
        },
        headers=identifier.headers,
    )
    assert answer.status_code == 201, answer.text
    witness = answer.json()
    add_testimony(
        client, identifier, case["id"], GANJA_STATEMENT, witness_id=witness["id"], language="az"
    )
    # The identity is really there, for those allowed to see it …
    shown = client.get(f"/api/v1/witnesses/{witness['id']}", headers=identifier.headers)
    assert shown.json()["identity"]["full_name"] == "Ramiz Gahramanov"
    # … but no query on it finds the case.
    for q in ("Gahramanov", "gahraman", "Ramiz", "Ramiz Gahramanov", "Nizami", "grandchildren"):
        assert search(client, admin, q) == [], q
        assert search(client, identifier, q) == [], q
    assert search(client, identifier, "Gəncə") == [case["title"]]  # the statement does match
    stored = db.all_text()
    assert "Gahramanov" not in stored
    assert "Nizami" not in stored


# -- with the other filters -----------------------------------------------------------------------
@pytest.mark.parametrize("searcher", ["admin", "member"])
def test_filters_and_pagination_combine_with_q(
    client: TestClient,
    admin: Actor,
    make_user: MakeUser,
    make_case: MakeCase,
    search_plan: str,
    searcher: str,
) -> None:
    """`q` narrows like any other filter: with status and tag it is an AND, and the cursor walks
    every match exactly once, newest first, whether a case matches through a testimony, its
    own title, or both. The same for an admin and for a member (searched another way)."""
    lead = make_user("investigator")
    who = admin if searcher == "admin" else lead
    matching = []
    for n in range(5):
        status = "open" if n % 2 == 0 else "under_review"
        tags = ["missile"] if n < 3 else ["artillery"]
        title = f"Ракетный удар {n}" if n == 2 else f"Strike {n}"  # matches both ways
        case = make_case(lead, GANJA, title=title, status=status, tags=tags)
        add_testimony(client, lead, case["id"], f"Ракетный удар номер {n}.", language="ru")
        matching.append(case["title"])
    make_case(lead, GANJA, title="Unrelated", status="open", tags=["missile"])
    own_only = make_case(lead, GANJA, title="Ракетный удар по школе", tags=["missile"])
    matching.append(own_only["title"])
    newest_first = list(reversed(matching))
    school, both = own_only["title"], "Ракетный удар 2"

    assert search(client, who, "ракетный") == newest_first
    assert search(client, who, "ракетный", status="open") == [
        school,
        "Strike 4",
        both,
        "Strike 0",
    ]
    assert search(client, who, "ракетный", tag="artillery") == ["Strike 4", "Strike 3"]
    assert search(client, who, "ракетный", tag="missile", status="under_review") == ["Strike 1"]
    assert search(client, who, "ракетный", status="referred") == []
    assert search(client, who, "удар номер 3") == ["Strike 3"]

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"q": "ракетный удар", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        answer = client.get("/api/v1/cases", params=params, headers=who.headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["items"]) <= 2
        seen += [case["title"] for case in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first


# -- PostgreSQL: the searches use the GIN indexes -------------------------------------------------
def _explain(
    engine: Engine,
    condition: ColumnElement[bool],
    entity: type[testimony_model.Testimony | site_visit_model.SiteVisit | Case],
) -> str:
    """The plan PostgreSQL chooses for the match, bound and executed as the app does (bind
    parameters, psycopg), with sequential scans discouraged so any usable index shows."""
    statement = select(entity.id).where(condition)
    compiled = statement.compile(dialect=engine.dialect)
    with engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).all()
    return "\n".join(row[0] for row in rows)


def _fill(engine: Engine, case_id: str, witness_id: str, user_id: str) -> None:
    """Enough rows that an index is worth using: written directly, the API would be slow."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(testimony_model.Testimony),
            [
                {
                    "id": uuid.uuid4(),
                    "case_id": uuid.UUID(case_id),
                    "witness_id": uuid.UUID(witness_id),
                    "recorded_at": now,
                    "language": "ru",
                    "statement": f"Свидетельство {n}: ракетный удар по кварталу {n}",
                    "translation": f"Testimony {n}",
                    "created_by_id": uuid.UUID(user_id),
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for n in range(300)
            ],
        )
        connection.execute(
            insert(site_visit_model.SiteVisit),
            [
                {
                    "id": uuid.uuid4(),
                    "visited_at": now,
                    "observations": f"Воронка номер {n}",
                    "purpose": "Survey",
                    "location_name": f"Site {n}",
                    "created_by_id": uuid.UUID(user_id),
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for n in range(300)
            ],
        )
        connection.execute(text("ANALYZE testimonies"))
        connection.execute(text("ANALYZE site_visits"))


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_postgres_searches_use_the_gin_indexes(
    client: TestClient, admin: Actor, make_case: MakeCase, settings: Settings
) -> None:
    """The models' search expressions are exactly the ones migration 0003 indexes: if either
    drifted, every search would scan whole tables. A near-miss expression, checked alongside,
    shows the check can tell the difference."""
    case = make_case(admin, GANJA)
    witness_id = register_witness(client, admin, case["id"], "Anonymous source")
    engine = create_engine(settings.database_url)
    try:
        _fill(engine, case["id"], witness_id, admin.id)
        query = func.to_tsquery("simple", "ракет:*")
        testimonies, visits = testimony_model.Testimony, site_visit_model.SiteVisit
        testimony_match = testimony_model.testimony_search_text().op("@@")(query)
        visit_match = site_visit_model.site_visit_search_text().op("@@")(query)
        drifted = func.to_tsvector("simple", testimonies.statement).op("@@")(query)
        testimony_plan = _explain(engine, testimony_match, testimonies)
        visit_plan = _explain(engine, visit_match, visits)
        drifted_plan = _explain(engine, drifted, testimonies)
    finally:
        engine.dispose()
    assert "ix_testimonies_search" in testimony_plan, testimony_plan
    assert "ix_site_visits_search" in visit_plan, visit_plan
    assert "ix_testimonies_search" not in drifted_plan, drifted_plan
    assert search(client, admin, "ракет") == [case["title"]]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_postgres_case_fields_search_uses_the_trigram_index(
    client: TestClient, admin: Actor, make_case: MakeCase, settings: Settings
) -> None:
    """The app's joined case text is exactly what migration 0009 indexes with trigrams, and the
    search is built so the planner can use that index (a union of id sets, not an OR with
    subqueries). Without it a search matching few cases reads every case. The near miss -- one
    field on its own -- shows the check can tell the difference."""
    case = make_case(admin, GANJA)
    engine = create_engine(settings.database_url)
    try:
        match = case_match("postgresql", "Гянджа zqxj")
        linked = (Case.id.in_(ids) for ids in match.linked)
        plan = "\n".join(_explain(engine, way, Case) for way in (match.own, *linked))
        drifted_plan = _explain(engine, Case.title.icontains("zqxj"), Case)
    finally:
        engine.dispose()
    assert "ix_cases_search_trgm" in plan, plan
    assert "ix_testimonies_search" in plan, plan
    assert "ix_site_visits_search" in plan, plan
    assert "ix_cases_search_trgm" not in drifted_plan, drifted_plan
    assert search(client, admin, GANJA["title"][-6:].upper()) == [case["title"]]


def test_a_match_never_spans_two_fields(
    client: TestClient, admin: Actor, make_case: MakeCase, search_plan: str
) -> None:
    """PostgreSQL's index holds the fields joined by spaces, so text running from the end of
    one field into the next is in the index; it must not be a match."""
    make_case(
        admin,
        {**STEPANAKERT, "title": "Shelling of Hadrut", "summary": "Houses burned at dawn."},
    )
    assert search(client, admin, "Hadrut Houses") == []
    assert search(client, admin, "of hadrut") == ["Shelling of Hadrut"]
    assert search(client, admin, "HOUSES BURNED") == ["Shelling of Hadrut"]
