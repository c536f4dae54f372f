"""An upload whose form repeats a field is refused with 422 naming it, and stores nothing.

Two `title` parts would mean the first to one multipart parser (a proxy's, an auditor's) and
the last to ours: the record of what was uploaded must not depend on whose parser reads it.
"""

from __future__ import annotations

import pytest

from tests.evidence.support import (
    Part,
    Scene,
    assert_problem,
    field_names,
    file_part,
    multipart,
    post_body,
    unique_bytes,
)


@pytest.mark.parametrize("field", ["title", "kind", "captured_at", "description"])
@pytest.mark.parametrize("file_first", [False, True])
def test_a_repeated_form_field_is_422_naming_it_and_stores_nothing(
    scene: Scene, field: str, file_first: bool
) -> None:
    values = {
        "title": ("Crater", "Market"),
        "kind": ("photo", "document"),
        "captured_at": ("2020-10-04T08:00:00Z", "2020-10-05T08:00:00Z"),
        "description": ("East side", "West side"),
    }[field]
    fields = [Part(field, values[0].encode()), Part(field, values[1].encode())]
    upload = file_part(unique_bytes("twice"), "crater.jpg")
    parts = [upload, *fields] if file_first else [*fields, upload]
    before = scene.state()
    answer = post_body(scene.client, scene.lead, scene.case_id, multipart(parts))
    problem = assert_problem(answer, 422)
    assert field_names(problem) == [field]
    assert field in problem["detail"]
    assert scene.state() == before


def test_distinct_fields_are_accepted_as_before(scene: Scene) -> None:
    parts = [
        Part("title", b"Crater"),
        Part("description", b"Crater"),  # the same value twice, under different names
        file_part(unique_bytes("once"), "crater.jpg"),
    ]
    answer = post_body(scene.client, scene.lead, scene.case_id, multipart(parts))
    assert answer.status_code == 201, answer.text
    assert answer.json()["title"] == "Crater"
