"""Stateful contract fuzzing: sequences of calls chained by the links schemathesis infers
from the document (a created case's id into GET, PATCH, members, witnesses, evidence…), as
the admin, with every check (use_after_free and ensure_resource_availability need these
sequences to mean anything).
"""

from __future__ import annotations

from typing import Any

import requests
from schemathesis import Case
from sqlalchemy import Engine

from tests.fuzz.harness import (
    forget_failed_authentications,
    load_schema,
    prepare,
    stateful_settings,
)
from tests.fuzz.world import World

schema = load_schema()
Workflow = schema.as_state_machine()


def test_admin_workflows(world: World, http_session: requests.Session, fuzz_db: Engine) -> None:
    actor = world.admin

    class AdminWorkflow(Workflow):
        def before_call(self, case: Case) -> None:
            prepare(case, world, actor)

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"base_url": world.url, "headers": actor.headers, "session": http_session}

        def validate_response(self, response: Any, case: Case, *args: Any, **kwargs: Any) -> None:
            try:
                super().validate_response(response, case, *args, **kwargs)
            finally:
                forget_failed_authentications(fuzz_db)

    AdminWorkflow.run(settings=stateful_settings())
