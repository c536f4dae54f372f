"""The users domain: router, schemas, service."""
