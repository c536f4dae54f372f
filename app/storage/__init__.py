"""Object storage: where evidence bytes live. `open_object_store` picks the implementation."""

from __future__ import annotations

from app.config import Settings
from app.storage.base import (
    ObjectExists,
    ObjectMissing,
    ObjectStore,
    ObjectWriter,
    ResumableAppender,
    ResumableState,
    StorageMisconfigured,
    StoredObject,
    put_chunks,
)
from app.storage.local import LocalObjectStore
from app.storage.s3 import S3ObjectStore, make_s3_client


def open_object_store(settings: Settings) -> ObjectStore:
    """Build the configured store. Connects lazily; call `check()` to fail fast at start."""
    location = settings.storage
    if location.scheme == "s3":
        client = make_s3_client(settings.s3_endpoint_url)
        return S3ObjectStore(client, location.bucket, location.prefix)
    return LocalObjectStore(location.path)


__all__ = [
    "LocalObjectStore",
    "ObjectExists",
    "ObjectMissing",
    "ObjectStore",
    "ObjectWriter",
    "ResumableAppender",
    "ResumableState",
    "S3ObjectStore",
    "StorageMisconfigured",
    "StoredObject",
    "open_object_store",
    "put_chunks",
]
