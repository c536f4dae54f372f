"""Small shared pieces: pagination, ETags, idempotency, problems, schemas, middleware."""
