"""Small helpers for JSON bodies: dotted paths into them, and every page of a list."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Dotted paths of every string in a body (lists by index): `location.name`, `tags.1`."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, inner in value.items():
            out |= flatten(inner, f"{prefix}{key}.")
        return out
    if isinstance(value, list):
        return {k: v for i, x in enumerate(value) for k, v in flatten(x, f"{prefix}{i}.").items()}
    return {prefix[:-1]: value} if isinstance(value, str) else {}


def strings(value: Any) -> list[str]:
    """Every string of a body, keys aside."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for inner in value.values() for s in strings(inner)]
    if isinstance(value, list):
        return [s for inner in value for s in strings(inner)]
    return []


def value_at(body: object, dotted: str) -> object:
    """The value at a dotted path (`location.name`, `tags.1`), None where there is none."""
    for part in dotted.split("."):
        if isinstance(body, list):
            body = body[int(part)] if part.isdigit() and int(part) < len(body) else None
        elif isinstance(body, dict):
            body = body.get(part)
        else:
            return None
    return body


def all_items(client: TestClient, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a paginated list, following `next_cursor` to the end."""
    items: list[dict[str, Any]] = []
    params = {"limit": "200"}
    while True:
        page = client.get(path, params=params, headers=headers)
        assert page.status_code == 200, f"{path}: {page.status_code} {page.text[:300]}"
        items += page.json()["items"]
        if not page.json()["next_cursor"]:
            return items
        params["cursor"] = page.json()["next_cursor"]
