"""A Python client generated from the served `/openapi.json` really works, with usable types.

The generator (openapi-python-client) runs at test time on the document a real uvicorn server
serves; the generated package must come out whole (no operation, response or schema skipped),
typed (every success has its model; no model is an open dict where the API has a shape),
type-check under `mypy --strict` with a script that uses it, and drive a whole investigation
against the server, ending in a bundle the offline verifier accepts.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import typing
import zipfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs

from tests.client.generation import PACKAGE, GeneratedClient, generator_complaints
from tests.evidence.support import Shot, degrees, jpeg
from tests.fixtures.api import Actor, DatabaseProbe, LiveServer
from tests.fixtures.cli import CASEFILE

# Objects whose keys the API does not fix: an audit event's payload depends on its action.
OPEN_MODELS = {"AuditEventReadPayload"}
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


def test_an_investigation_runs_end_to_end_through_the_generated_client(
    generated: GeneratedClient, live_server: LiveServer, admin: Actor, tmp_path: Path
) -> None:
    from tests.client import workflow  # imports the generated package: only now it exists

    models = importlib.import_module(f"{PACKAGE}.models")
    shot = Shot()
    photo = jpeg(shot, size=(320, 240))
    wide_photo = jpeg(None, size=(640, 240), seed=7)
    done = workflow.investigate(live_server.url, admin.token, photo, wide_photo)

    assert done.investigator.role is models.GlobalRole.INVESTIGATOR
    case = done.case
    assert case.status is models.CaseStatus.OPEN
    assert case.occurred_at == datetime(2020, 9, 27, 6, 0, tzinfo=UTC)
    assert case.created_at.tzinfo is not None
    assert case.created_by == done.investigator.id
    assert case.location is not None
    assert case.location.name == "Martuni"
    assert case.casualties.children_killed == 1
    assert case.tags == ["missile", "residential-area"]

    witness = done.witness
    assert re.fullmatch(r"W-\d{4}", witness.pseudonym), witness.pseudonym
    assert witness.identity.full_name == "Anahit Gevorgyan"
    assert witness.risk_level is models.RiskLevel.HIGH
    assert witness.consent.share_identity_with_courts is True
    assert witness.case_ids == [case.id]
    assert done.testimony.witness_id == witness.id
    assert done.testimony.witness_pseudonym == witness.pseudonym
    assert done.testimony.recorded_at == datetime(2020, 12, 2, 10, 0, tzinfo=UTC)
    assert done.visit.case_ids == [case.id]
    assert done.visit.location is not None
    assert done.visit.location.lat == 39.7953

    item = done.photo
    assert item.kind is models.EvidenceKind.PHOTO
    assert item.media_type == "image/jpeg"
    assert item.size == len(photo)
    assert item.provenance.site_visit_id == done.visit.id
    assert item.captured_at == datetime(2020, 12, 3, 9, 40, tzinfo=UTC)
    assert item.withdrawn is None
    assert done.downloaded == photo
    assert done.first_bytes == photo[:16]
    _assert_exif(item, shot)
    resumed = done.resumed
    assert (resumed.kind, resumed.size) == (models.EvidenceKind.PHOTO, len(wide_photo))
    assert resumed.original_filename == "crater-wide.jpg"
    assert resumed.extracted is not None
    assert resumed.extracted.exif is None  # written without EXIF, and said so

    custody = done.custody
    assert all(isinstance(e, models.AuditEventRead) for e in custody.items)
    actions = [event.action for event in custody.items]
    assert actions == ["evidence.ingested", "evidence.downloaded", "evidence.downloaded"]
    assert all(event.resource_id == str(item.id) for event in custody.items)
    assert [e.seq for e in custody.items] == sorted(e.seq for e in custody.items)
    assert all(re.fullmatch(r"[0-9a-f]{64}", e.hash_) for e in custody.items)
    assert custody.next_cursor is None

    verification = done.verification
    assert verification.status is models.IntegrityStatus.INTACT
    assert verification.found_sha256 == verification.expected_sha256 == item.sha256
    assert verification.checked_at.tzinfo is not None

    counts = done.case_after.counts
    assert counts is not None
    assert (counts.witnesses, counts.testimonies, counts.site_visits, counts.evidence) == (
        1,
        1,
        1,
        2,
    )
    assert done.reviewed.status is models.CaseStatus.UNDER_REVIEW
    assert done.reviewed.version == case.version + 1
    assert [found.id for found in done.found.items] == [case.id]
    assert done.found.next_cursor is None
    _assert_bundle_verifies(done, tmp_path, {photo, wide_photo})

    case_again, listed, custody_again = workflow.read_back_concurrently(
        live_server.url, done.token, done
    )
    assert case_again.status is models.CaseStatus.UNDER_REVIEW
    assert case_again.id == case.id
    assert len(listed.items) == 1
    assert listed.next_cursor is not None  # two items, one per page
    assert [e.hash_ for e in custody_again.items][:3] == [e.hash_ for e in custody.items]


def test_refusals_come_out_as_typed_problems(
    generated: GeneratedClient, live_server: LiveServer, admin: Actor, db: DatabaseProbe
) -> None:
    from tests.client import workflow

    models = importlib.import_module(f"{PACKAGE}.models")
    refused = workflow.refusals(live_server.url, admin.token)
    assert refused.unknown_case.status == 404
    assert refused.bad_token.status == 401
    invalid = refused.invalid_case
    assert invalid.status == 422
    assert isinstance(invalid.errors, list)
    assert all(isinstance(error, models.FieldError) for error in invalid.errors)
    assert [error.field for error in invalid.errors] == ["occurred_at"]
    for problem in (refused.unknown_case, invalid, refused.bad_token):
        assert problem.type_
        assert problem.title
    assert db.scalar("SELECT count(*) FROM cases") == 0


def _assert_exif(item: Any, shot: Shot) -> None:
    assert item.extracted is not None
    assert item.extracted.exif is not None
    exif = item.extracted.exif
    assert (exif.make, exif.model, exif.orientation) == (shot.make, shot.model, shot.orientation)
    assert exif.captured_at == "2020-12-03T09:40:12Z"
    assert exif.gps is not None
    assert abs(exif.gps.lat - degrees(shot.lat or (0, 0, 0), shot.lat_ref)) < 1e-6
    assert abs(exif.gps.lon - degrees(shot.lon or (0, 0, 0), shot.lon_ref)) < 1e-6
    assert exif.gps.alt == shot.alt


def _assert_bundle_verifies(done: Any, tmp_path: Path, originals: set[bytes]) -> None:
    """The downloaded ZIP passes `casefile verify-bundle`, pinned to the key the server
    publishes, and holds the originals byte for byte."""
    [key] = [k for k in done.keys.items if k.current]
    pem = tmp_path / "signing-key.pem"
    pem.write_text(key.public_key_pem)
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(done.bundle)
    checked = subprocess.run(  # noqa: S603 - the installed command on our own files
        [CASEFILE, "verify-bundle", str(bundle), "--public-key", str(pem), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    assert (report["ok"], report["key_id"], report["key_pinned"]) == (True, key.key_id, True)
    with zipfile.ZipFile(BytesIO(done.bundle)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        listed = manifest["exhibits"]
        assert {e["sha256"] for e in listed} == {done.photo.sha256, done.resumed.sha256}
        assert {archive.read(e["path"]) for e in listed} == originals
