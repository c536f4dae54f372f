"""The members domain: router, schemas, service."""
