"""Every route that returns text, read as a viewer, an investigator and a legal member who may
not identify witnesses: no protected string, in any spelling, reaches them — not in a body, a
header, an audit or custody payload, a bundle entry, a log line or a metric.

The world (world.py) names the witness in every free-text field, one spelling per record;
each test walks one route (routes.py) and reports every leak at once: where it showed, which
part of the identity, and the text it was in. What identifiers see of the same texts is
test_identifiers.py.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.protection.bodies import value_at
from tests.protection.conftest import LogCapture, Shared
from tests.protection.corpus import MARKER, PROTECTED
from tests.protection.leaks import Leak, in_lines, in_response, report
from tests.protection.routes import ROUTES, WALKED, RouteKey, app_routes, send
from tests.protection.world import World


def _route_id(route: RouteKey) -> str:
    return f"{route[0]} {route[1]}"


def test_route_table_is_complete(shared: Shared) -> None:
    """A route nobody decided on here would escape the walk; a decision for a route the app
    does not serve means the walk checks less than it says (or the route is still missing)."""
    served, unknown = app_routes(shared.app)
    assert not sorted(served - ROUTES.keys()), "routes with no entry in routes.ROUTES"
    assert not sorted(ROUTES.keys() - served), (
        f"routes.ROUTES names routes the app does not serve: {sorted(ROUTES.keys() - served)}"
    )
    assert not unknown, f"routes that are neither API routes nor docs: {unknown}"


@pytest.mark.parametrize("route", WALKED, ids=_route_id)
def test_route_shows_no_protected_string(
    route: RouteKey, shared: Shared, captured_logs: LogCapture
) -> None:
    world = shared.world
    leaks, wrong = _walk(world.client, world, route)
    leaks += in_lines(captured_logs.lines, "log")
    assert not wrong, "unexpected answers (the walk must read what it claims):\n" + "\n".join(wrong)
    assert not leaks, report(leaks)


def _walk(client: TestClient, world: World, route: RouteKey) -> tuple[list[Leak], list[str]]:
    walk = ROUTES[route].walk
    assert walk is not None
    leaks: list[Leak] = []
    wrong: list[str] = []
    for role, actor in world.members.items():
        for call in walk(world, role, actor):
            for answer in send(client, call, actor):
                if answer.status_code != call.expect:
                    wrong.append(
                        f"{role}: {call.method} {call.path} answered {answer.status_code}, "
                        f"not {call.expect}: {answer.text[:200]!r}"
                    )
                leaks += [
                    Leak(f"{role}: {leak.where}", leak.names, leak.text)
                    for leak in in_response(answer, body_is_original=call.body_is_original)
                ]
    return leaks, wrong


def test_shown_texts_carry_the_generic_marker(shared: Shared) -> None:
    """Withheld is not blank: each text that named her is shown with `[withheld]` where the
    name was, and the rest of the text as written (the label that starts it survives)."""
    world = shared.world
    problems: list[str] = []
    for record in world.records:
        answer = world.client.get(record.path, headers=world.members["viewer"].headers)
        if answer.status_code != 200:
            problems.append(f"{record.path}: {answer.status_code}")
            continue
        body = answer.json()
        for path, written in record.texts.items():
            if not PROTECTED.found_in(written):
                continue
            shown = value_at(body, path)
            if not isinstance(shown, str) or MARKER not in shown:
                problems.append(f"{record.kind} {record.label} {path}: {shown!r}")
    assert not problems, (
        f"{len(problems)} text(s) that name the witness shown to a viewer without "
        f"{MARKER}:\n" + "\n".join(problems[:60])
    )


def test_writing_the_world_logged_no_protected_string(shared: Shared) -> None:
    """Operators read the logs, and may not identify: the two hundred writes that named her
    (uploads with her name as file name and EXIF, searches…) left her out of every line."""
    leaks = in_lines(shared.build_logs, "log while the world was written")
    assert shared.build_logs, "no log line captured at all: the capture is broken"
    assert not leaks, report(leaks)


def test_metrics_hold_no_protected_string(shared: Shared) -> None:
    world = shared.world
    searched = world.client.get(
        "/api/v1/cases", params={"q": "Gevorgyan"}, headers=world.members["viewer"].headers
    )
    assert searched.status_code == 200, searched.text
    metrics = world.client.get("/metrics")
    assert metrics.status_code == 200
    assert "casefile_http_requests" in metrics.text
    leaks = in_lines(metrics.text.splitlines(), "/metrics")
    assert not leaks, report(leaks)


def test_problem_answers_name_no_protected_string(shared: Shared) -> None:
    """Refusals and errors describe the request, never the texts behind it: a viewer's PATCH
    (403), a stale If-Match from an investigator (412) and a bad cursor (400/422)."""
    world = shared.world
    record = world.of_kind("testimony")[0]
    client, members = world.client, world.members
    answers = [
        client.patch(
            record.path,
            json={"place": "x"},
            headers={**members["viewer"].headers, "If-Match": '"1"'},
        ),
        client.patch(
            record.path,
            json={"language": "hy"},
            headers={**members["investigator"].headers, "If-Match": '"999"'},
        ),
        client.get(
            f"/api/v1/cases/{world.main_case}/testimonies",
            params={"cursor": "x"},
            headers=members["viewer"].headers,
        ),
    ]
    assert all(400 <= a.status_code < 500 for a in answers), [a.status_code for a in answers]
    leaks = [leak for a in answers for leak in in_response(a)]
    assert not leaks, report(leaks)
