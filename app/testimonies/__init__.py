"""The testimonies domain: router, schemas, service."""
