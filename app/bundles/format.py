"""The bundle format's fixed names (docs/bundle-format.md). Shared by the server and the
offline verifier, which imports nothing of the server's database code."""

FORMAT = "casefile-bundle-v1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
PUBLIC_KEY = "public-key.pem"
CHECKSUMS = "SHA256SUMS"
AUDIT_LOG = "audit/case-events.jsonl"
AUDIT_TEXTS = (
    "audit/texts.jsonl"  # the texts the log's events refer to, as the requester may see them
)
INDEX = "index.html"
EXHIBITS = "exhibits.csv"
# Files the manifest cannot list by hash: itself, its signature, and the checksums made last.
UNLISTED = (MANIFEST, SIGNATURE, CHECKSUMS)
EXPORT_ACTION = "bundle.exported"
INGEST_ACTION = "evidence.ingested"
