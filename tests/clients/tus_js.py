"""The real tus-js-client (pinned in tests/clients/node/package-lock.json), run under Node.

Installed with `npm ci` on first use when node_modules is missing (once, under a file lock, as
xdist workers may ask at once). Where Node is absent the tests that need it are skipped, unless
CASEFILE_TEST_REQUIRE_NODE=1 (CI), which makes its absence a failure.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).parent / "node"
REQUIRE_NODE = os.environ.get("CASEFILE_TEST_REQUIRE_NODE") == "1"


@dataclass(frozen=True)
class TusJs:
    node: str

    def upload(self, **args: Any) -> dict[str, Any]:
        """Run one upload (upload.mjs's arguments); return the client's own account of it."""
        done = subprocess.run(
            [self.node, str(NODE_DIR / "upload.mjs"), json.dumps(args)],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


def installed_tus_js() -> TusJs:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        if REQUIRE_NODE:
            pytest.fail("CASEFILE_TEST_REQUIRE_NODE=1 but node or npm is not installed")
        pytest.skip("Node.js is not installed")
    with (NODE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (NODE_DIR / "node_modules" / "tus-js-client").is_dir():
            installed = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=NODE_DIR,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if installed.returncode != 0:
                pytest.fail(f"npm ci failed:\n{installed.stderr}")
    return TusJs(node=node)
