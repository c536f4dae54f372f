"""`casefile keys public`: the key a court pins, byte for byte the bundle's `public-key.pem`
(issue 15, item 11). Run as a real subprocess."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from app.bundles.format import PUBLIC_KEY
from app.config import Settings
from tests.bundles.support import Dossier, verify_cli
from tests.fixtures.cli import casefile, environment


def test_public_key_is_the_bundles_byte_for_byte(
    settings: Settings, dossier: Dossier, tmp_path: Path
) -> None:
    bundle = dossier.export(dossier.lead)
    in_bundle = zipfile.ZipFile(io.BytesIO(bundle.data)).read(PUBLIC_KEY)
    printed = casefile("keys", "public", env=environment(settings), cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.encode() == in_bundle
    assert printed.stderr.startswith("key id ")

    pinned = tmp_path / "casefile-public.pem"
    written = casefile("keys", "public", "--output", str(pinned), env=environment(settings))
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert pinned.read_bytes() == in_bundle
    path = bundle.save(tmp_path / "bundle.zip")
    checked = verify_cli(path, "--public-key", str(pinned), cwd=tmp_path / "court")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    again = casefile("keys", "public", "--output", str(pinned), env=environment(settings))
    assert again.returncode == 1
    assert "cannot create" in again.stderr
    assert pinned.read_bytes() == in_bundle


def test_without_a_signing_key_nothing_is_created(tmp_path: Path) -> None:
    data = tmp_path / "nowhere"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEFILE_")}
    env["CASEFILE_DATA_DIR"] = str(data)
    result = casefile("keys", "public", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert f"no signing key at {data / 'signing-key.pem'}" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert not data.exists()
