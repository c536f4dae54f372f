"""The witnesses domain: router, schemas, service."""
