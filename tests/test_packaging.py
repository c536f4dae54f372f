"""The installable wheel: built as `pip` builds it, it carries what the app serves."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel, and what the build printed (warnings included)."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--verbose", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = out.glob("casefile-*.whl")
    return wheel, build.stdout + build.stderr


def test_wheel_carries_swagger_ui(built_wheel: tuple[Path, str]) -> None:
    wheel, _ = built_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE"):
        assert f"app/static/swagger-ui/{asset}" in names


def test_building_warns_of_nothing_about_the_licence(built_wheel: tuple[Path, str]) -> None:
    wheel, output = built_wheel
    assert "project.license" not in output  # setuptools' deprecation of the TOML table
    assert "License classifiers are deprecated" not in output
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA"))
    )
    assert b"License-Expression: AGPL-3.0-or-later" in metadata
