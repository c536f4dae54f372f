"""The cases domain: router, schemas, service."""
