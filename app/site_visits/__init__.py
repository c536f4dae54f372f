"""The site-visits domain: router, schemas, service."""
