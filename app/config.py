"""Runtime configuration: exactly the `CASEFILE_*` variables of the operations contract."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.kit.forwarded import IPNetwork, ProxyHeader, parse_networks

GIB = 1024**3


def default_data_dir() -> Path:
    """Where an embedded setup keeps everything when `CASEFILE_DATA_DIR` is unset: the user's
    data directory (`$XDG_DATA_HOME/casefile`, else `~/.local/share/casefile`), the same from
    whichever folder a command is run, so no command quietly starts a second, empty database."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "casefile"


# The local paths derived from the data directory when not set one by one.
DATA_DIR_DEFAULTS: dict[str, Callable[[Path], str | Path]] = {
    "database_url": lambda d: f"sqlite:///{d / 'casefile.db'}",
    "storage_url": lambda d: f"file://{d / 'objects'}",
    "signing_key_file": lambda d: d / "signing-key.pem",
    "identity_key_file": lambda d: d / "identity-key",
}


class StorageLocation:
    """A parsed `CASEFILE_STORAGE_URL`: either a local directory or an S3 bucket and prefix."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.scheme = parts.scheme
        if parts.scheme == "file":
            # file://./rel/path and file:///abs/path both mean a directory on this machine.
            raw = (parts.netloc + parts.path) if parts.netloc else parts.path
            if not raw:
                raise ValueError("file:// storage URL needs a directory path")
            self.path = Path(raw)
            self.bucket = ""
            self.prefix = ""
        elif parts.scheme == "s3":
            if not parts.netloc:
                raise ValueError("s3:// storage URL needs a bucket name: s3://BUCKET[/PREFIX]")
            self.path = Path()
            self.bucket = parts.netloc
            self.prefix = parts.path.strip("/")
        else:
            raise ValueError("storage URL must start with file:// or s3://")
        if parts.query or parts.fragment:
            raise ValueError("storage URL takes no query string or fragment")


class Settings(BaseSettings):
    """Read once at start; every process of a deployment must see the same values."""

    model_config = SettingsConfigDict(
        env_prefix="CASEFILE_", env_file=".env", extra="ignore", frozen=True
    )

    # -- persistence -------------------------------------------------------------------------
    # The one folder of an embedded setup: the SQLite file, local objects and keys live under
    # it unless their own variables say otherwise. Always absolute once read.
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""
    storage_url: str = ""
    s3_endpoint_url: str | None = None
    s3_object_lock_days: Annotated[int, Field(gt=0, le=36500)] | None = None

    # -- keys ----------------------------------------------------------------------------------
    signing_key_file: Path = Path()
    identity_key_file: Path = Path()

    # -- limits --------------------------------------------------------------------------------
    max_upload_bytes: Annotated[int, Field(gt=0)] = 20 * GIB
    # Longest silence while a request body arrives (JSON or upload); then 408.
    body_stall_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0

    # -- network -------------------------------------------------------------------------------
    # Reverse proxies whose forwarding header is believed (comma-separated addresses or CIDR
    # blocks); empty: nobody's, the socket's peer is the client (app/kit/forwarded.py).
    trusted_proxies: str = ""
    proxy_header: ProxyHeader = "x-forwarded-for"

    @model_validator(mode="before")
    @classmethod
    def _paths_under_data_dir(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        values = dict(values)
        data_dir = Path(values.get("data_dir") or default_data_dir()).expanduser().absolute()
        values["data_dir"] = data_dir
        for name, derive in DATA_DIR_DEFAULTS.items():
            if not values.get(name):
                values[name] = derive(data_dir)
        return values

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if scheme in ("postgresql", "postgres"):
            # One driver everywhere: psycopg 3. Accept the plain libpq spelling too.
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        if scheme not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
            raise ValueError("database URL must be sqlite:///PATH or postgresql+psycopg://…")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("storage_url")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        StorageLocation(value)
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _http_endpoint(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("S3 endpoint must be an http:// or https:// URL")
        return value or None

    @model_validator(mode="after")
    def _object_lock_needs_s3(self) -> Self:
        if self.s3_object_lock_days is not None and self.storage.scheme != "s3":
            raise ValueError("CASEFILE_S3_OBJECT_LOCK_DAYS needs s3:// storage")
        return self

    @property
    def storage(self) -> StorageLocation:
        # Not cached: a cache would survive model_copy(update={"storage_url": …}) and lie.
        return StorageLocation(self.storage_url)

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
