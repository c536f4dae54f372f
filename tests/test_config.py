"""Configuration: exactly the contract's CASEFILE_* variables, validated before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import Settings

CONTRACT_VARIABLES = {
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
    defaults = settings()
    assert defaults.database_url == "sqlite:///./casefile-data/casefile.db"
    assert defaults.storage.scheme == "file"
    assert defaults.storage.path == Path("casefile-data/objects")
    assert defaults.max_upload_bytes == 20 * 1024**3
    assert defaults.s3_object_lock_days is None
    assert defaults.body_stall_seconds == 60
    assert defaults.trusted_proxy_networks == ()  # nobody's forwarding header is believed


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
