"""The evidence domain: ingest (streamed, fingerprinted), retrieval, integrity, withdrawal."""
