"""The ops domain: router, schemas, service."""
