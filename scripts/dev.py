#!/usr/bin/env python3
"""Set up a virtual environment and run Casefile or its tests. Needs only Python 3.11+.

    python3 scripts/dev.py run  [casefile serve options]   # serve on SQLite + local files
    python3 scripts/dev.py test [pytest options]           # the whole test suite
    python3 scripts/dev.py lint                            # ruff and mypy --strict

The environment lives in .venv and is reinstalled only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):  # noqa: UP036 - runs on whatever python3 the machine has
        print("Casefile needs Python 3.11 or newer.", file=sys.stderr)
        return 2
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    return COMMANDS[command](rest)


def run(args: list[str]) -> int:
    ensure_environment(extra=None)
    return exec_in_venv(["casefile", "serve", *args])


def test(args: list[str]) -> int:
    ensure_environment(extra="dev")
    os.chdir(ROOT)
    # Most tests wait on sockets and disks: three workers keep two cores busy (a later -n wins).
    return exec_in_venv(["pytest", "-n", "3", *args])


def lint(_args: list[str]) -> int:
    ensure_environment(extra="dev")
    for command in (["ruff", "check", "app", "tests", "migrations", "scripts", "bench"], ["mypy"]):
        code = subprocess.call([str(BIN / command[0]), *command[1:]], cwd=ROOT)
        if code:
            return code
    return 0


COMMANDS = {"run": run, "test": test, "lint": lint}


def ensure_environment(extra: str | None) -> None:
    if not (BIN / "python").exists() and not (BIN / "python.exe").exists():
        print("creating .venv …", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / f".casefile-installed-{extra or 'runtime'}"
    # The dev install is a superset of the runtime one.
    for candidate in {stamp, VENV / ".casefile-installed-dev"}:
        if candidate.exists() and candidate.read_text() == fingerprint:
            return
    target = f".[{extra}]" if extra else "."
    print(f"installing Casefile ({target}) into .venv …", file=sys.stderr)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check"]
    subprocess.check_call([*pip, "install", "--quiet", "--upgrade", "pip"], cwd=ROOT)
    subprocess.check_call([*pip, "install", "--quiet", "--editable", target], cwd=ROOT)
    stamp.write_text(fingerprint)


def exec_in_venv(command: list[str]) -> int:
    executable = str(BIN / command[0])
    if os.name == "nt":
        return subprocess.call([executable, *command[1:]], cwd=Path.cwd())
    os.execv(executable, [executable, *command[1:]])  # noqa: S606 - replaces this process
    return 0  # unreachable


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
