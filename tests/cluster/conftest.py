"""Each test module here gets a deployment of its own (see harness.py): they stop and restart
its PostgreSQL and SeaweedFS, which no other test may share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.harness import Deployment, deploy, postgres_bindir
from tests.fixtures.backends import REQUIRE_POSTGRES
from tests.fixtures.seaweed import REQUIRE_S3, weed_binary

SERVERS = 2


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    bindir = postgres_bindir()
    missing = [
        what
        for what, present in (("PostgreSQL server binaries", bindir), ("weed", weed_binary()))
        if present is None
    ]
    if missing:
        message = f"a private deployment needs {' and '.join(missing)}"
        if REQUIRE_POSTGRES or REQUIRE_S3:
            pytest.fail(message)
        pytest.skip(message)
    assert bindir is not None
    started = deploy(tmp_path_factory.mktemp("cluster"), bindir, SERVERS)
    yield started
    started.stop()
