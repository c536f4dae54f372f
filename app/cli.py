"""The `casefile` command: serve, migrate and manage users from a shell."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import make_url, select
from sqlalchemy.exc import OperationalError

from app import __version__
from app.audit import service as audit
from app.audit.canonical import SYSTEM_CHAIN
from app.audit.signing import (
    Signer,
    SigningKeyError,
    key_id_for,
    load_or_create_signer,
    public_pem_of,
)
from app.audit.verify import verify_all
from app.config import Settings
from app.db import Database, create_database
from app.demo import DEMO_USERS, load_demo
from app.errors import AppError
from app.evidence.integrity import reconcile, verify_store
from app.migrate import schema_is_current, upgrade_to_head
from app.models.audit import AuditChain
from app.models.user import GlobalRole, User
from app.protection.refresh import backfill, refresh_all
from app.storage import StorageMisconfigured, open_object_store
from app.users import service as users
from app.witnesses.crypto import IdentityKeyError, IdentityKeyring
from app.witnesses.service import reseal_identities

EXIT_FAILURE = 1
EXIT_USAGE = 2


# Only these may start a new SQLite database (and say so); every other command refuses a
# missing file instead of quietly making a second, empty database somewhere else.
CREATING_COMMANDS = frozenset({"serve", "migrate"})


class CommandError(Exception):
    """A failure the user can fix; printed as one line, without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "verify-bundle":  # offline: needs no configuration, database or store
        try:
            return _verify_bundle(args)
        except CommandError as exc:
            print(f"casefile: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        settings = Settings()
    except ValidationError as exc:
        errors = _field_errors(exc, prefix="CASEFILE_")
        print(f"casefile: invalid configuration:\n{errors}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if getattr(args, "needs_database", True):
            _check_sqlite_file(settings, creates=args.command in CREATING_COMMANDS)
        code: int = args.handler(settings, args)
    except CommandError as exc:
        print(f"casefile: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OperationalError as exc:
        print(f"casefile: cannot use the database: {exc.orig}", file=sys.stderr)
        return EXIT_FAILURE
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="casefile", description=__doc__)
    parser.add_argument(
        "--version", action="version", version=f"casefile {__version__}", help="print the version"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply migrations, then serve the API")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.set_defaults(handler=_migrate)

    user_commands = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users_command", required=True
    )
    create = user_commands.add_parser("create", help="create a user and print its API token")
    create.add_argument("name", help="the user's unique name")
    create.add_argument(
        "--role", required=True, choices=[r.value for r in GlobalRole], help="the global role"
    )
    create.set_defaults(handler=_create_user)
    listing = user_commands.add_parser(
        "list", help="list every user: id, name, role, active (never tokens)"
    )
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=_list_users)

    audit_commands = commands.add_parser("audit", help="the audit trail").add_subparsers(
        dest="audit_command", required=True
    )
    verify = audit_commands.add_parser(
        "verify", help="recompute every chain and checkpoint; non-zero exit on the first break"
    )
    verify.add_argument("--json", action="store_true", help="print the full report as JSON")
    verify.add_argument(
        "--public-key",
        action="append",
        type=Path,
        metavar="PEM",
        help="trust only checkpoints signed by this key (repeatable); default: published keys",
    )
    verify.set_defaults(handler=_audit_verify)
    sign = audit_commands.add_parser("checkpoint", help="sign every chain head not yet signed")
    sign.set_defaults(handler=_audit_checkpoint)

    storage_commands = commands.add_parser("storage", help="the object store").add_subparsers(
        dest="storage_command", required=True
    )
    storage_verify = storage_commands.add_parser(
        "verify", help="re-hash every original; non-zero exit if any is missing or altered"
    )
    storage_verify.set_defaults(handler=_storage_verify)
    reconcile_parser = storage_commands.add_parser(
        "reconcile", help="compare the store with the database; --fix removes temp objects only"
    )
    reconcile_parser.add_argument(
        "--fix",
        action="store_true",
        help="remove stale temporary objects and expired uploads (never an original)",
    )
    reconcile_parser.set_defaults(handler=_storage_reconcile)

    bundle = commands.add_parser(
        "verify-bundle", help="verify a case bundle offline; non-zero exit naming the first problem"
    )
    bundle.add_argument("file", type=Path, metavar="FILE.zip", help="the bundle to verify")
    bundle.add_argument(
        "--public-key",
        action="append",
        type=Path,
        metavar="PEM",
        help="the key the bundle must be signed with (repeatable): the organisation's key",
    )
    bundle.add_argument("--json", action="store_true", help="print the report as JSON")

    demo = commands.add_parser(
        "demo",
        help="load the demonstration data set (idempotent) and issue its users new tokens",
    )
    demo.add_argument(
        "--tokens-file",
        type=Path,
        metavar="PATH",
        help="write the demo users' tokens to this new file (mode 0600) instead of stdout",
    )
    demo.set_defaults(handler=_demo)

    key_commands = commands.add_parser("keys", help="encryption keys").add_subparsers(
        dest="keys_command", required=True
    )
    rotate = key_commands.add_parser(
        "rotate-identity", help="add a new identity key and re-encrypt every witness identity"
    )
    rotate.set_defaults(handler=_rotate_identity_key)
    public = key_commands.add_parser(
        "public",
        help="print the public key that signs bundles and checkpoints (PEM, byte-identical to a "
        "bundle's public-key.pem): the key a court pins with --public-key",
    )
    public.add_argument(
        "--output",
        type=Path,
        metavar="PATH",
        help="write the key to this new file instead of stdout",
    )
    public.set_defaults(handler=_public_key, needs_database=False)

    protection_commands = commands.add_parser(
        "protection", help="witness protection in free text"
    ).add_subparsers(dest="protection_command", required=True)
    refresh = protection_commands.add_parser(
        "refresh",
        help="recompute how every text is shown to those who may not identify witnesses "
        "(after an upgrade of the matching rules; never needed otherwise)",
    )
    refresh.set_defaults(handler=_protection_refresh)
    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app.kit.server import uvicorn_options
    from app.logs import configure_logging, logging_config
    from app.main import create_app

    configure_logging()
    upgrade_to_head(settings.database_url)
    _preflight_storage(settings)
    database = _open_database(settings)
    try:
        _protect_pending(database)
        with database.write_sessions.begin() as session:
            issued = users.bootstrap_admin(session)
    finally:
        database.dispose()
    base_url = f"http://{args.host}:{args.port}"
    if issued is not None:
        print(f"Admin token: {issued.secret}", flush=True)
        print("(shown once: store it now; `casefile users create` makes more users)", flush=True)
    print(f"Casefile is serving at {base_url} (API docs: {base_url}/docs)", flush=True)
    common = {
        "host": args.host,
        "port": args.port,
        "log_config": logging_config(),
        "access_log": False,
        **uvicorn_options(),
    }
    if args.workers > 1:
        # Each worker builds its own app from the same environment.
        uvicorn.run("app.main:create_app", factory=True, workers=args.workers, **common)
    else:
        uvicorn.run(create_app(settings), **common)
    return 0


def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    upgrade_to_head(settings.database_url)
    database = _open_database(settings)
    try:
        _protect_pending(database)
    finally:
        database.dispose()
    print("database schema is current", file=sys.stderr)
    return 0


def _protect_pending(database: Database) -> None:
    """Texts a migration left without their shown form (it has no identity key) get it now,
    before anything is served (docs/witness-protection.md)."""
    cases = backfill(database)
    if cases:
        print(f"witness protection: texts of {cases} case(s) computed", file=sys.stderr)


def _protection_refresh(settings: Settings, _args: argparse.Namespace) -> int:
    database = _open_database(settings)
    try:
        cases = refresh_all(database)
    finally:
        database.dispose()
    print(f"witness protection: texts of {cases} case(s) recomputed", file=sys.stderr)
    return 0


def _create_user(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.schemas import UserCreate

    try:
        data = UserCreate(name=args.name, role=GlobalRole(args.role))
    except ValidationError as exc:
        raise CommandError(f"invalid user:\n{_field_errors(exc)}") from exc
    database = _open_database(settings)
    try:
        with database.write_sessions.begin() as session:
            try:
                user = users.create_user(
                    session, name=data.name, role=data.role, actor_id=None, via="cli"
                )
                session.flush()
                issued = users.issue_token(
                    session, user_id=user.id, issued_by=None, label="cli", via="cli"
                )
            except AppError as exc:
                raise CommandError(exc.detail) from exc
    finally:
        database.dispose()
    print(issued.secret)
    return 0


def _list_users(settings: Settings, args: argparse.Namespace) -> int:
    """Read-only: opens the database without the signing key and records nothing."""
    database = create_database(settings.database_url)
    try:
        _require_current_schema(database)
        with database.read_sessions() as session:
            rows = session.scalars(select(User).order_by(User.created_at, User.name)).all()
            listed = [
                {"id": str(u.id), "name": u.name, "role": u.role, "active": u.active} for u in rows
            ]
    finally:
        database.dispose()
    if args.json:
        print(json.dumps(listed, indent=2))
        return 0
    print("id\tname\trole\tactive")
    for user in listed:
        print(f"{user['id']}\t{user['name']}\t{user['role']}\t{'yes' if user['active'] else 'no'}")
    return 0


def _audit_verify(settings: Settings, args: argparse.Namespace) -> int:
    pinned = _pinned_keys(args.public_key) if args.public_key else None
    signer = _existing_signer(settings)
    database = create_database(settings.database_url)
    try:
        _require_current_schema(database)
        local = {signer.key_id: signer.public_pem} if signer else {}
        report = verify_all(database.engine, extra_keys=local, pinned_keys=pinned)
    finally:
        database.dispose()
    summary = report.as_dict()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{summary['chains']} chains, {summary['events']} events, "
            f"{summary['checkpoints']} checkpoints checked"
        )
    # The verdict is the command's result: stdout, unless stdout already holds the JSON report.
    verdict = sys.stderr if args.json else sys.stdout
    if report.ok:
        print("audit trail intact", file=verdict)
        return 0
    for problem in report.problems:
        print(f"BROKEN: {problem.describe()}", file=verdict)
    return EXIT_FAILURE


def _audit_checkpoint(settings: Settings, _args: argparse.Namespace) -> int:
    database = _open_database(settings)
    try:
        with database.write_sessions.begin() as session:
            chains = session.scalars(select(AuditChain.chain_id)).all()
            signed = sum(1 for chain in chains if audit.checkpoint(session, chain) is not None)
    finally:
        database.dispose()
    print(f"signed {signed} chain head(s)", file=sys.stderr)
    return 0


def _storage_verify(settings: Settings, _args: argparse.Namespace) -> int:
    database = _open_database(settings)
    store = open_object_store(settings)
    try:
        results = verify_store(database, store)
    except AppError as exc:
        raise CommandError(exc.detail) from exc
    finally:
        store.close()
        database.dispose()
    bad = [r for r in results if r.status != "intact"]
    for result in bad:  # the verdict, on stdout
        print(f"{result.status.upper()}: {result.exhibit_number} ({result.evidence_id})")
    print(f"{len(results)} originals checked, {len(bad)} missing or altered")
    return EXIT_FAILURE if bad else 0


def _storage_reconcile(settings: Settings, args: argparse.Namespace) -> int:
    database = _open_database(settings)
    store = open_object_store(settings)
    try:
        report = reconcile(database, store, fix=args.fix)
    except AppError as exc:
        raise CommandError(exc.detail) from exc
    finally:
        store.close()
        database.dispose()
    for key in report.orphan_objects:  # findings and verdict on stdout, what --fix did on stderr
        print(f"ORPHAN OBJECT (no evidence row): {key}")
    for missing in report.missing_objects:
        print(f"MISSING OBJECT (row without its original): {missing}")
    if args.fix:
        print(
            f"removed {report.purged_temp_objects} stale temp object(s) and "
            f"{report.purged_uploads} expired upload(s)",
            file=sys.stderr,
        )
    print("consistent" if report.clean else "inconsistent")
    return 0 if report.clean else EXIT_FAILURE


def _verify_bundle(args: argparse.Namespace) -> int:
    from app.bundles.verify import verify_bundle

    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file")
    pinned = _pinned_keys(args.public_key) if args.public_key else None
    report = verify_bundle(args.file, pinned)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        _print_bundle_report(report.facts, report.notes)
    # The verdict is the command's result: stdout, unless stdout already holds the JSON report.
    verdict = sys.stderr if args.json else sys.stdout
    if report.ok:
        print("OK: the bundle is intact and signed by its key", file=verdict)
        return 0
    print(f"FAILED: {report.problems[0]}", file=verdict)
    return EXIT_FAILURE


def _print_bundle_report(facts: dict[str, Any], notes: list[str]) -> None:
    """What was found, as far as the checks got (they stop at the first problem)."""
    f = facts.get
    pinned = "pinned" if f("key_pinned") else "not pinned: pass --public-key to pin it"
    lines = [
        ("bundle", "bundle_id", f"{f('bundle_id')} of {f('case_title')!r}"),
        ("generated", "generated_at", f"{f('generated_at')} for {f('requester')}"),
        ("signed by", "key_id", f"{f('key_id')} ({pinned})"),
        ("files", "files", f"{f('files')} checked ({f('bytes')} bytes); SHA256SUMS agrees"),
        (
            "audit log",
            "audit_events",
            f"{f('audit_events')} events of {f('audit_chain')} up to {f('audit_head')}, "
            "its checkpoint signed",
        ),
        (
            "exhibits",
            "exhibits",
            f"{f('exhibits')} listed, {f('exhibit_files')} files, matching their ingest events",
        ),
    ]
    for label, key, text in lines:
        if f(key) is not None:
            print(f"{label:>10}: {text}")
    for note in notes:
        print(f"{'note':>10}: {note}")


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    """Tokens are stored only as hashes, so each run issues the demo users new ones (recorded in
    the audit trail like any other) and shows them once."""
    target: Path | None = args.tokens_file
    if target is not None and target.exists():
        raise CommandError(f"{target} exists: choose a new file for the tokens")
    keyring = _keyring(settings)
    database = _open_database(settings)
    store = open_object_store(settings)
    try:
        with database.write_sessions.begin() as session:
            created = load_demo(session, keyring, store)
            tokens = []
            for name, role in DEMO_USERS:
                user = session.scalars(select(User).where(User.name == name)).one()
                issued = users.issue_token(
                    session, user_id=user.id, issued_by=None, label="demo", via="cli"
                )
                tokens.append(f"{name}\t{role.value}\t{issued.secret}\n")
    finally:
        store.close()
        database.dispose()
    for line in created:
        print(f"created {line}", file=sys.stderr)
    print(f"demo data set loaded ({len(created)} new item(s))", file=sys.stderr)
    if target is None:
        sys.stdout.write("".join(tokens))
    else:
        _write_private(target, "".join(tokens))
        print(f"tokens of {len(tokens)} demo user(s) written to {target}", file=sys.stderr)
    return 0


def _write_private(path: Path, text: str) -> None:
    """A new file only its owner can read: it holds bearer tokens."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise CommandError(f"cannot create {path}: {exc.strerror}") from exc
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def _public_key(settings: Settings, args: argparse.Namespace) -> int:
    """Never creates a key: a new one would sign nothing the service has signed."""
    signer = _existing_signer(settings)
    if signer is None:
        raise CommandError(
            f"no signing key at {settings.signing_key_file}: set CASEFILE_DATA_DIR (or "
            "CASEFILE_SIGNING_KEY_FILE) to the service's, or start `casefile serve` once"
        )
    target: Path | None = args.output
    if target is None:
        sys.stdout.write(signer.public_pem)
    else:
        try:
            with target.open("x") as file:
                file.write(signer.public_pem)
        except OSError as exc:
            raise CommandError(f"cannot create {target}: {exc.strerror}") from exc
    print(f"key id {signer.key_id}", file=sys.stderr)
    return 0


def _rotate_identity_key(settings: Settings, _args: argparse.Namespace) -> int:
    keyring = _keyring(settings)
    database = _open_database(settings)
    try:
        new_key = keyring.rotate()
        total = 0
        while True:  # in batches, each its own transaction: an interrupted run just resumes
            with database.write_sessions.begin() as session:
                done = reseal_identities(session, keyring, batch=500)
            total += done
            if done == 0:
                break
        with database.write_sessions.begin() as session:
            audit.record(
                session,
                chain=SYSTEM_CHAIN,
                action="identity_key.rotated",
                resource_type="identity_key",
                resource_id=new_key.split(":")[-1],
                actor_id=None,
                payload={"key_id": new_key, "identities_resealed": total, "via": "cli"},
            )
    except IdentityKeyError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        database.dispose()
    print(f"identity key {new_key} is current; {total} identities re-encrypted", file=sys.stderr)
    return 0


def _keyring(settings: Settings) -> IdentityKeyring:
    try:
        return IdentityKeyring(settings.identity_key_file)
    except IdentityKeyError as exc:
        raise CommandError(str(exc)) from exc


def _open_database(settings: Settings) -> Database:
    """The database with the signing key, for commands that write (and so append to the audit
    trail); refuses a schema that is not current."""
    try:
        signer = load_or_create_signer(settings.signing_key_file)
    except SigningKeyError as exc:
        raise CommandError(str(exc)) from exc
    database = create_database(settings.database_url, signer=signer, keyring=_keyring(settings))
    try:
        _require_current_schema(database)
        with database.write_sessions.begin() as session:
            audit.register_signing_key(session, signer)
    except BaseException:
        database.dispose()
        raise
    return database


def _check_sqlite_file(settings: Settings, *, creates: bool) -> None:
    if not settings.is_sqlite:
        return
    name = make_url(settings.database_url).database
    if not name or name == ":memory:" or Path(name).exists():
        return
    if not creates:
        raise CommandError(
            f"no database at {name}: set CASEFILE_DATA_DIR (or CASEFILE_DATABASE_URL) to the "
            "data of the running service, or run `casefile migrate` to start a new one"
        )
    print(f"casefile: starting a new, empty database at {name}", file=sys.stderr)


def _pinned_keys(paths: list[Path]) -> dict[str, str]:
    keys = {}
    for path in paths:
        try:
            public = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read a public key from {path}: {exc}") from exc
        if not isinstance(public, Ed25519PublicKey):
            raise CommandError(f"{path} is not an Ed25519 public key")
        keys[key_id_for(public)] = public_pem_of(public)
    return keys


def _existing_signer(settings: Settings) -> Signer | None:
    if not settings.signing_key_file.exists():
        return None
    try:
        return load_or_create_signer(settings.signing_key_file)
    except SigningKeyError as exc:
        raise CommandError(str(exc)) from exc


def _require_current_schema(database: Database) -> None:
    if not schema_is_current(database.engine):
        raise CommandError("the database schema is not current: run `casefile migrate` first")


def _preflight_storage(settings: Settings) -> None:
    store = open_object_store(settings)
    try:
        store.check()
    except (StorageMisconfigured, AppError) as exc:
        raise CommandError(f"object storage ({store.description}) is not usable: {exc}") from exc
    finally:
        store.close()


def _field_errors(exc: ValidationError, prefix: str = "") -> str:
    return "\n".join(
        f"  {prefix}{'.'.join(str(p) for p in err['loc']).upper() if prefix else err['loc'][0]}: "
        f"{err['msg']}"
        for err in exc.errors(include_input=False)
    )


if __name__ == "__main__":
    sys.exit(main())
