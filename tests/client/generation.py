"""Generating the Python client from the served OpenAPI document, as a client's author would.

`openapi-python-client` runs in a subprocess on the exact bytes `/openapi.json` served; the
package it writes is imported under the fixed name `casefile_client`, the name the typed
workflow (`workflow.py`) is written and type-checked against. A test process generates once:
both backends must serve the same document, and a second, different one fails loudly rather
than silently testing a stale client.
"""

from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

PACKAGE = "casefile_client"
BIN = Path(sys.executable).parent
# Binary media types the generator has no rule for, read as bytes (its documented remedy):
# tus's PATCH body and the bundle's ZIP. The generated code still sends the document's own
# type in its Content-Type header. Nothing else is overridden: the test must see the rest.
CONFIG = """\
post_hooks: []
content_type_overrides:
  application/offset+octet-stream: application/octet-stream
  application/zip: application/octet-stream
"""


@dataclass(frozen=True)
class GeneratedClient:
    digest: str
    root: Path  # on sys.path; holds the package and the generator's own output
    package: ModuleType
    generator_output: str
    seconds: float

    @property
    def package_dir(self) -> Path:
        return self.root / PACKAGE


class ClientGenerator:
    """One generated client per test process, keyed on the document's SHA-256."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.generated: GeneratedClient | None = None

    def __call__(self, document: bytes) -> GeneratedClient:
        digest = hashlib.sha256(document).hexdigest()
        if self.generated is None:
            self.generated = self._generate(document, digest)
        assert self.generated.digest == digest, (
            "the served /openapi.json differs between backends (or tests): the generated "
            "client no longer describes this server"
        )
        return self.generated

    def _generate(self, document: bytes, digest: str) -> GeneratedClient:
        assert PACKAGE not in sys.modules, f"{PACKAGE} was imported before it was generated"
        root = self.workspace / digest[:16]
        root.mkdir(parents=True)
        spec = root / "openapi.json"
        spec.write_bytes(document)
        config = root / "generator.yaml"
        config.write_text(CONFIG)
        started = time.monotonic()
        done = subprocess.run(  # noqa: S603 - our own venv's generator on our own files
            [
                str(BIN / "openapi-python-client"),
                "generate",
                "--path",
                str(spec),
                "--output-path",
                str(root / PACKAGE),
                "--meta",
                "none",
                "--config",
                str(config),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        seconds = time.monotonic() - started
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        sys.path.insert(0, str(root))
        importlib.invalidate_caches()
        package = importlib.import_module(PACKAGE)
        return GeneratedClient(digest, root, package, output, seconds)


def generator_complaints(output: str) -> list[str]:
    """Every line of the generator's output but its banner: a warning about a schema it could
    not parse, an endpoint or response it left out, a hook it could not run."""
    return [
        line for line in output.splitlines() if line.strip() and not line.startswith("Generating ")
    ]
