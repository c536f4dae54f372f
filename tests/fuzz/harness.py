"""Contract fuzzing plumbing: the schema under test, how fuzzed requests reach real rows, and
how one generated case is sent and checked.

The schema is the app's own OpenAPI document (test_served_document_is_the_fuzzed_one proves it
is the one served at /openapi.json), loaded when the test module is imported so that every
operation is its own pytest item, spread over xdist workers. Requests go over a real socket to
a uvicorn server (tests.fixtures.api.LiveServer), so streamed bodies (evidence content, bundle
ZIPs) stream as they would in production.
"""

from __future__ import annotations

import os
import tomllib
import uuid
import zlib
from pathlib import Path
from typing import Any

import httpx2 as httpx
import hypothesis
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlalchemy import Engine, text

from app.config import Settings
from app.main import create_app
from tests.fixtures.api import Actor
from tests.fuzz.world import World

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES_VARIABLE = "CASEFILE_FUZZ_MAX_EXAMPLES"

# tus PATCH bodies are raw bytes; schemathesis needs to be told how to make and send them.
schemathesis.openapi.media_type(
    "application/offset+octet-stream", st.binary(min_size=0, max_size=256)
)


def config_data() -> dict[str, Any]:
    data = tomllib.loads(CONFIG.read_text())
    if more := os.environ.get(MAX_EXAMPLES_VARIABLE):
        data.setdefault("generation", {})["max-examples"] = int(more)
    return data


def load_config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(config_data(), base_dir=str(CONFIG.parent))


def stateful_settings() -> hypothesis.settings:
    """Hypothesis settings for the state machine, from the same configuration file."""
    data = config_data()
    return hypothesis.settings(
        max_examples=data["generation"]["max-examples"],
        stateful_step_count=data["phases"]["stateful"]["max-steps"],
        derandomize=True,
        database=None,
        # No shrinking: the server's state moves on, so a failing scenario cannot be replayed.
        phases=[hypothesis.Phase.generate],
        deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )


def openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document; building it touches no database or storage."""
    settings = Settings(_env_file=None, database_url="sqlite://")  # type: ignore[call-arg]
    document: dict[str, Any] = create_app(settings).openapi()
    return document


def load_schema() -> OpenApiSchema:
    return schemathesis.openapi.from_dict(openapi_document(), config=load_config())


# Request body fields that name another resource, by the path parameter naming the same kind.
_BODY_REFERENCES = {
    "witness_id": "witness_id",
    "site_visit_id": "visit_id",
    "testimony_id": "testimony_id",
    "team": "user_id",
}


def _pick(value: object, real: list[str]) -> object:
    """A real id instead of a generated UUID most of the time, and the generated one (a 404,
    or a 422 for a dangling reference) otherwise. Chosen from the generated value itself, so a
    derandomized run always makes the same choices."""
    try:
        number = uuid.UUID(str(value)).int
    except ValueError:
        return value  # malformed on purpose (a negative case): it must stay malformed
    choice = number % (len(real) + 1)
    return real[choice] if choice < len(real) else value


def aim(case: Case, world: World) -> None:
    """Point a generated case at the seeded rows, so that it reaches real code, not only 404s."""
    for name, value in (case.path_parameters or {}).items():
        if name in world.ids:
            case.path_parameters[name] = _pick(value, world.ids[name])
    if isinstance(case.body, dict):
        for name, kind in _BODY_REFERENCES.items():
            value = case.body.get(name)
            if isinstance(value, list):
                case.body[name] = [_pick(v, world.ids[kind]) for v in value]
            elif value is not None:
                case.body[name] = _pick(value, world.ids[kind])


def _resource_path(case: Case) -> str:
    """Where the ETag that If-Match refers to is read: the resource itself."""
    path = case.formatted_path
    return path.removesuffix("/withdraw")


def send(case: Case, world: World, actor: Actor, session: requests.Session, db: Engine) -> None:
    """Send one generated case as `actor` and run every check on the answer."""
    aim(case, world)
    prepare(case, world, actor)
    try:
        case.call_and_validate(base_url=world.url, session=session, headers=actor.headers)
    finally:
        forget_failed_authentications(db)


def prepare(case: Case, world: World, actor: Actor) -> None:
    """Last touches before a case is sent (also by the state machine, whose ids come from
    earlier answers): the actor never changes its own account or revokes its own token (it
    would lock itself out for the rest of the run), and If-Match is often current."""
    parameters = case.path_parameters or {}
    if case.method == "PATCH" and parameters.get("user_id") == actor.id:
        parameters["user_id"] = world.ids["user_id"][-1]
    if parameters.get("token_id") in world.own_tokens:
        parameters["token_id"] = world.ids["token_id"][0]
    use_current_etag(case, world, actor)


def use_current_etag(case: Case, world: World, actor: Actor) -> None:
    """Three in four If-Match values become the resource's current ETag, so that PATCH and
    withdraw get past the precondition into their real code; the rest stay stale (412)."""
    if_match = case.headers.get("If-Match") if case.headers else None
    if isinstance(if_match, str) and zlib.crc32(if_match.encode()) % 4:
        answer = httpx.get(world.url + _resource_path(case), headers=actor.headers, timeout=30)
        if answer.status_code == 200 and "ETag" in answer.headers:
            case.headers["If-Match"] = answer.headers["ETag"]


def forget_failed_authentications(db: Engine) -> None:
    """The `ignored_auth` check re-sends successful requests with an invalid token, on purpose;
    from one address, twenty of them trip the token-guessing throttle (429 for every request,
    by design, and tested in tests/auth). Forgetting them after each case keeps the fuzzer
    measuring the routes rather than the throttle."""
    with db.begin() as connection:
        connection.execute(text("DELETE FROM auth_failures"))
