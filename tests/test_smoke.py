from fastapi.testclient import TestClient

from tests.fixtures.api import Actor


def test_create_and_read_case(client: TestClient, admin: Actor) -> None:
    created = client.post(
        "/api/v1/cases",
        json={"title": "Missile strikes on Martuni", "occurred_at": "2020-09-27T06:00:00Z"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    read = client.get(f"/api/v1/cases/{created.json()['id']}", headers=admin.headers)
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
