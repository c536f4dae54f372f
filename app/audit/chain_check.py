"""Checking hash chains and signed checkpoints, one event at a time, in constant memory.

Pure: fed rows from the database (app.audit.verify) or from a bundle's event log (the offline
bundle verifier); knows nothing of either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from app.audit import canonical
from app.audit.signing import verify_signature

MAX_PROBLEMS = 100


class EventRow(NamedTuple):
    """One stored event (a NamedTuple: a million of them are made during a verification)."""

    chain: str
    seq: int
    prev_hash: str
    hash: str
    resource_type: str
    resource_id: str
    # None only in a case bundle, where a body naming a protected witness is withheld: its
    # hash is then taken as given, still bound by the next event's link and the checkpoint.
    body: bytes | None


@dataclass(frozen=True)
class CheckpointRow:
    chain: str
    length: int
    head_hash: str
    signed_at: str
    key_id: str
    signature: str


@dataclass(frozen=True)
class HeadRow:
    chain: str
    length: int
    head_hash: str


@dataclass(frozen=True)
class Problem:
    """The first broken link of a chain: where, what, and what was expected vs found."""

    chain: str
    seq: int | None
    kind: str
    expected: str | None
    found: str | None

    def describe(self) -> str:
        where = f"chain {self.chain}" + (f" seq {self.seq}" if self.seq is not None else "")
        return f"{where}: {self.kind}: expected {self.expected}, found {self.found}"


@dataclass
class Report:
    chains: int = 0
    events: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)
    broken_chains: int = 0
    keys_used: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return self.broken_chains == 0

    def add(self, problem: Problem) -> None:
        self.broken_chains += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "chains": self.chains,
            "events": self.events,
            "checkpoints": self.checkpoints,
            "broken_chains": self.broken_chains,
            "first_problem": _problem_dict(self.problems[0]) if self.problems else None,
            "problems": [_problem_dict(p) for p in self.problems],
            "keys_used": sorted(self.keys_used),
        }


def _problem_dict(problem: Problem) -> dict[str, Any]:
    return {
        "chain": problem.chain,
        "seq": problem.seq,
        "kind": problem.kind,
        "expected": problem.expected,
        "found": problem.found,
        "description": problem.describe(),
    }


class ChainCheck:
    """One chain, fed its events in sequence order; stops at the chain's first problem."""

    def __init__(
        self,
        chain: str,
        checkpoints: Iterable[CheckpointRow],
        public_keys: Mapping[str, str],
        report: Report,
    ) -> None:
        self.chain = chain
        self.public_keys = public_keys
        self.report = report
        self.expected_seq = 1
        self.prev_hash = canonical.GENESIS_HASH
        self.problem: Problem | None = None
        self.checkpoints = {c.length: c for c in checkpoints}
        report.chains += 1
        report.checkpoints += len(self.checkpoints)
        if not canonical.valid_chain(chain):
            self._fail(
                None, "malformed chain id", "system, case:<uuid> or protection:<uuid>", chain
            )

    def feed(self, row: EventRow) -> None:
        if self.problem is not None:
            return
        self.report.events += 1
        if row.seq != self.expected_seq:
            self._fail(self.expected_seq, "sequence", str(self.expected_seq), str(row.seq))
            return
        if row.prev_hash != self.prev_hash:
            self._fail(row.seq, "link (prev_hash)", self.prev_hash, row.prev_hash)
            return
        if "\n" in row.resource_type or "\n" in row.resource_id:
            # A line break could shift bytes between fields without changing the preimage.
            self._fail(row.seq, "malformed event", "fields without line breaks", "a line break")
            return
        if row.body is None:
            recomputed = row.hash
        else:
            recomputed = canonical.event_hash_of_checked_fields(
                row.chain, row.seq, row.prev_hash, row.resource_type, row.resource_id, row.body
            )
        if recomputed != row.hash:
            self._fail(row.seq, "hash (content altered)", recomputed, row.hash)
            return
        checkpoint = self.checkpoints.pop(row.seq, None)
        if checkpoint is not None and not self._checkpoint_holds(checkpoint, row.hash):
            return
        self.prev_hash = row.hash
        self.expected_seq += 1

    def finish(self, head: HeadRow | None) -> None:
        if self.problem is not None:
            return
        length = self.expected_seq - 1
        if self.checkpoints:
            beyond = min(self.checkpoints)
            self._fail(beyond, "checkpoint beyond the last event", f"<= {length}", str(beyond))
            return
        if head is None:
            self._fail(None, "chain head", f"a head at {length}", "no head row")
        elif (head.length, head.head_hash) != (length, self.prev_hash):
            self._fail(
                head.length,
                "chain head (events missing or added at the end)",
                f"length {length}, hash {self.prev_hash}",
                f"length {head.length}, hash {head.head_hash}",
            )

    def _checkpoint_holds(self, checkpoint: CheckpointRow, event_hash: str) -> bool:
        if checkpoint.head_hash != event_hash:
            self._fail(checkpoint.length, "checkpoint head_hash", event_hash, checkpoint.head_hash)
            return False
        public_pem = self.public_keys.get(checkpoint.key_id)
        if public_pem is None:
            self._fail(checkpoint.length, "checkpoint key", "a published key", checkpoint.key_id)
            return False
        message = canonical.checkpoint_message(
            chain=checkpoint.chain,
            length=checkpoint.length,
            head_hash=checkpoint.head_hash,
            signed_at=checkpoint.signed_at,
            key_id=checkpoint.key_id,
        )
        if not verify_signature(public_pem, message, checkpoint.signature):
            self._fail(checkpoint.length, "checkpoint signature", "a valid signature", "invalid")
            return False
        self.report.keys_used.add(checkpoint.key_id)
        return True

    def _fail(self, seq: int | None, kind: str, expected: str | None, found: str | None) -> None:
        self.problem = Problem(chain=self.chain, seq=seq, kind=kind, expected=expected, found=found)
        self.report.add(self.problem)
