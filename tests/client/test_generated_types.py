"""A Python client generated from the served `/openapi.json` comes out whole and typed.

The generator (openapi-python-client) runs at test time on the document a real uvicorn server
serves; the generated package must come out whole (no operation, response or schema skipped),
typed (every success has its model; no model is an open dict where the API has a shape), and
type-check under `mypy --strict` with the script that test_generated_workflow.py runs.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import typing
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from tests.client.generation import PACKAGE, GeneratedClient, generator_complaints

# Objects whose keys the API does not fix: an audit event's payload depends on its action, and
# the texts it refers to are keyed by their references (each value is a typed AuditTextRead).
OPEN_MODELS = {"AuditEventReadPayload", "AuditEventReadTexts"}
ANY = re.compile(r"\bAny\b")
MYPY_CONFIG = "[mypy]\nstrict = True\nwarn_unreachable = True\n"


def _document(generated: GeneratedClient) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((generated.root / "openapi.json").read_bytes())
    return loaded


def _operations(generated: GeneratedClient) -> dict[str, tuple[str, dict[str, Any]]]:
    """operationId → (generated module name, operation)."""
    found = {}
    for item in _document(generated)["paths"].values():
        for operation in item.values():
            tag = operation["tags"][0].replace("-", "_")
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", operation["operationId"]).lower()
            found[operation["operationId"]] = (f"{PACKAGE}.api.{tag}.{name}", operation)
    return found


def _generated_endpoint_modules(generated: GeneratedClient) -> set[str]:
    api = generated.package_dir / "api"
    return {
        f"{PACKAGE}.api.{path.parent.name}.{path.stem}"
        for path in api.glob("*/*.py")
        if path.stem != "__init__"
    }


def _result_types(module: ModuleType) -> set[Any]:
    """The members of `T` in `sync_detailed(...) -> Response[T]`."""
    returned = typing.get_type_hints(module.sync_detailed)["return"]
    (union,) = typing.get_args(returned)
    return set(typing.get_args(union)) or {union}


def _expected_success_types(response: dict[str, Any]) -> set[str]:
    """What a 2xx response should come out as: its models by name, File or str; none if the
    response has no body."""
    names = set()
    for media_type, content in response.get("content", {}).items():
        schema = content["schema"]
        if media_type == "application/json":
            refs = [schema, *schema.get("anyOf", [])]
            models = {ref["$ref"].rsplit("/", 1)[1] for ref in refs if "$ref" in ref}
            assert models, f"an inline JSON schema, generated as an anonymous model: {schema}"
            names |= models
        elif media_type.startswith("text/"):
            names.add("str")
        else:
            assert schema == {"type": "string", "format": "binary"}, schema
            names.add("File")
    return names


def test_the_generator_takes_every_operation_without_complaint(
    generated: GeneratedClient,
) -> None:
    assert generator_complaints(generated.generator_output) == []
    assert _generated_endpoint_modules(generated) == {
        module for module, _ in _operations(generated).values()
    }


def test_every_reference_resolves(generated: GeneratedClient) -> None:
    """A `$ref` that points nowhere (a pydantic `#/$defs/…` pasted into an operation) makes
    generators drop the operation that holds it: uploadEvidence was lost that way."""
    document = _document(generated)
    refs = re.findall(r'"\$ref": "([^"]*)"', json.dumps(document))
    assert refs
    components = document["components"]["schemas"]
    for ref in set(refs):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in components, ref


def test_every_success_comes_out_as_its_typed_model(generated: GeneratedClient) -> None:
    for operation_id, (module_name, operation) in _operations(generated).items():
        results = _result_types(importlib.import_module(module_name))
        names = {getattr(t, "__name__", repr(t)) for t in results}
        successes = [r for s, r in operation["responses"].items() if s.startswith("2")]
        expected = set().union(*(_expected_success_types(r) for r in successes))
        assert expected <= names, (operation_id, expected, names)
        if all(r.get("content") for r in successes):  # Any stands for an empty body only
            assert Any not in results, (operation_id, names)
        if any(s.startswith(("4", "5")) for s in operation["responses"]):
            assert "Problem" in names, operation_id


def test_models_have_fields_not_any(generated: GeneratedClient) -> None:
    """No model is an open dict or an `Any` where the API has a shape: a client author gets
    attributes to read, not keys to guess."""
    models = importlib.import_module(f"{PACKAGE}.models")
    classes = [getattr(models, name) for name in models.__all__]
    open_models, untyped = set(), []
    for cls in filter(attrs.has, classes):
        fields = [f for f in attrs.fields(cls) if f.name != "additional_properties"]
        if not fields:
            open_models.add(cls.__name__)
        untyped += [f"{cls.__name__}.{f.name}" for f in fields if ANY.search(str(f.type))]
    assert open_models == OPEN_MODELS
    assert untyped == []
    assert len(classes) > 60  # every schema became a model or an enum


def test_the_multipart_upload_has_its_body_model(generated: GeneratedClient) -> None:
    upload = importlib.import_module(f"{PACKAGE}.api.evidence.upload_evidence")
    models = importlib.import_module(f"{PACKAGE}.models")
    types = importlib.import_module(f"{PACKAGE}.types")
    body = typing.get_type_hints(upload.sync_detailed)["body"]
    assert body is models.UploadEvidenceBody
    fields = {f.name: f.type for f in attrs.fields(body)}
    assert fields["file"] == "File"
    assert "EvidenceKind" in fields["kind"]
    assert "datetime" in fields["captured_at"]
    assert "UUID" in fields["site_visit_id"]
    parts = body(file=types.File(payload=BytesIO(b"x")), kind=models.EvidenceKind.PHOTO)
    assert [name for name, _ in parts.to_multipart()] == ["file", "kind"]


def test_a_script_using_the_client_type_checks_strictly(generated: GeneratedClient) -> None:
    """`mypy --strict` on the generated package and on workflow.py, the script the
    investigation test runs: proof that the types are usable, not `Any` in disguise."""
    script = generated.root / "workflow.py"
    script.write_text(Path(__file__).with_name("workflow.py").read_text())
    config = generated.root / "mypy.ini"
    config.write_text(MYPY_CONFIG)
    checked = subprocess.run(  # noqa: S603 - our own venv's mypy on files we wrote
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--cache-dir",
            str(generated.root / ".mypy_cache"),
            "workflow.py",
            PACKAGE,
        ],
        cwd=generated.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Success: no issues found" in checked.stdout
