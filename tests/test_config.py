"""Configuration: exactly the contract's CASEFILE_* variables, validated before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings

CONTRACT_VARIABLES = {
    "data_dir",
    "database_url",
    "storage_url",
    "s3_endpoint_url",
    "signing_key_file",
    "identity_key_file",
    "s3_object_lock_days",
    "max_upload_bytes",
    "trusted_proxies",
    "proxy_header",
    "body_stall_seconds",
}


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_exactly_the_contract_variables() -> None:
    assert set(Settings.model_fields) == CONTRACT_VARIABLES


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CONTRACT_VARIABLES:
        monkeypatch.delenv(f"CASEFILE_{name.upper()}", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/people/data")
    defaults = settings()
    # One absolute folder, whatever the working directory (issue 15).
    assert defaults.data_dir == Path("/srv/people/data/casefile")
    assert defaults.database_url == "sqlite:////srv/people/data/casefile/casefile.db"
    assert defaults.storage.scheme == "file"
    assert defaults.storage.path == Path("/srv/people/data/casefile/objects")
    assert defaults.signing_key_file == Path("/srv/people/data/casefile/signing-key.pem")
    assert defaults.identity_key_file == Path("/srv/people/data/casefile/identity-key")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert settings().data_dir == Path.home() / ".local" / "share" / "casefile"
    assert defaults.max_upload_bytes == 20 * 1024**3
    assert defaults.s3_object_lock_days is None
    assert defaults.body_stall_seconds == 60
    assert defaults.trusted_proxy_networks == ()  # nobody's forwarding header is believed


def test_the_data_directory_holds_every_local_path_not_set_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in CONTRACT_VARIABLES:
        monkeypatch.delenv(f"CASEFILE_{name.upper()}", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CASEFILE_DATA_DIR", "relative/data")
    monkeypatch.setenv("CASEFILE_SIGNING_KEY_FILE", "/keys/signing.pem")
    chosen = settings()
    assert chosen.data_dir == tmp_path / "relative" / "data"  # made absolute once, at start
    assert chosen.database_url == f"sqlite:///{tmp_path}/relative/data/casefile.db"
    assert chosen.storage.path == tmp_path / "relative" / "data" / "objects"
    assert chosen.identity_key_file == tmp_path / "relative" / "data" / "identity-key"
    assert chosen.signing_key_file == Path("/keys/signing.pem")  # set alone: kept


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEFILE_STORAGE_URL", "s3://evidence/casefile/prod/")
    monkeypatch.setenv("CASEFILE_S3_ENDPOINT_URL", "http://seaweedfs:8333")
    monkeypatch.setenv("CASEFILE_S3_OBJECT_LOCK_DAYS", "3650")
    monkeypatch.setenv("CASEFILE_DATABASE_URL", "postgresql://casefile@db/casefile")
    configured = settings()
    assert configured.storage.bucket == "evidence"
    assert configured.storage.prefix == "casefile/prod"
    assert configured.s3_object_lock_days == 3650
    assert configured.database_url == "postgresql+psycopg://casefile@db/casefile"


def test_trusted_proxies_are_addresses_and_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEFILE_TRUSTED_PROXIES", " 10.0.0.5, 172.16.0.0/12,fd00::/8 ")
    networks = [str(network) for network in settings().trusted_proxy_networks]
    assert networks == ["10.0.0.5/32", "172.16.0.0/12", "fd00::/8"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"database_url": "mysql://root@localhost/casefile"}, "database_url"),
        ({"storage_url": "ftp://host/path"}, "storage_url"),
        ({"storage_url": "s3://"}, "storage_url"),
        ({"storage_url": "file://"}, "storage_url"),
        ({"storage_url": "s3://bucket?x=1"}, "storage_url"),
        ({"s3_endpoint_url": "seaweedfs:8333"}, "s3_endpoint_url"),
        ({"max_upload_bytes": 0}, "max_upload_bytes"),
        ({"s3_object_lock_days": 0, "storage_url": "s3://bucket"}, "s3_object_lock_days"),
        ({"s3_object_lock_days": 30}, "S3_OBJECT_LOCK_DAYS needs s3://"),
        ({"trusted_proxies": "10.0.0.0/8, proxy.internal"}, "trusted_proxies"),
        ({"trusted_proxies": "*"}, "trusted_proxies"),
        ({"proxy_header": "x-real-ip"}, "proxy_header"),
        ({"body_stall_seconds": 0}, "body_stall_seconds"),
    ],
)
def test_invalid_settings_are_refused(values: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        settings(**values)
