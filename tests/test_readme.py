"""The README's first command really serves the embedded default, as a newcomer would run it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.fixtures.seaweed import free_port

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The commands of the README's first code block, without their comments."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.DOTALL)
    assert block, "README.md must open with a sh code block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_the_run_and_test_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert text.index("```sh") < 20, "the two commands come first"
    assert readme_commands() == ["python3 scripts/dev.py run", "python3 scripts/dev.py test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 scripts/dev.py test" in ci
    assert "CASEFILE_TEST_REQUIRE_POSTGRES=1" in ci


@pytest.mark.slow
def test_the_run_command_serves_the_api_and_its_docs(tmp_path: Path) -> None:
    run_command = readme_commands()[0].split()
    assert run_command[:2] == ["python3", "scripts/dev.py"]
    port = free_port()
    # A clean environment and an empty working directory: the embedded default, from nothing.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CASEFILE_", "AWS_"))}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # the default data directory, empty
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / run_command[1]), *run_command[2:], "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith("Admin token: cf_"), first_line
        token = first_line.split(": ", 1)[1].strip()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                ready = httpx.get(f"{base}/readyz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.2)
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        docs = httpx.get(f"{base}/docs")
        assert docs.status_code == 200
        assert "swagger" in docs.text.lower()
        me = httpx.get(f"{base}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["role"] == "admin"
        assert (tmp_path / "data" / "casefile" / "casefile.db").is_file()
        assert (tmp_path / "data" / "casefile" / "objects").is_dir()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
