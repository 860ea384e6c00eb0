"""The audit trail: who asked what, who decided, what ran, what came back.

Each record carries the hash of the one before it, and its own hash covers its fields
and that link, so editing or deleting a record in the middle breaks the chain at that
record, which `verify` names. (Cutting records off the end cannot be seen from the chain
alone; the Slack cards and the host's own logs are the other witnesses.)

Retention (`audit: {retention: 400d}`) prunes the oldest records without losing that property:
only records that verified are dropped, and the hash of the last one dropped (the pruned head)
is kept in a checkpoint row signed with MAILBOT_AUDIT_KEY (HMAC-SHA256), so the chain left is
checked from that hash instead of from the genesis. A checkpoint whose signature does not hold,
or cannot be checked for want of the key, makes the chain unverified, never silently whole.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from bot.state.db import Connection, Database, Row

GENESIS = "0" * 64
KEY_ENV = "MAILBOT_AUDIT_KEY"  # the name of the variable, not a key
PAGE = 1000  # records read at a time while walking the chain
FIELDS: tuple[str, ...] = (
    "seq",
    "at",
    "request_id",
    "event",
    "user",
    "verb",
    "host",
    "command",
    "exit_status",
    "output_digest",
    "duration",
    "detail",
)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: str
    request_id: str | None
    event: str
    user: str
    verb: str | None
    host: str | None
    command: str | None
    exit_status: int | None
    output_digest: str | None
    duration: float | None
    detail: str | None
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def record_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps({k: fields[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def digest(output: bytes) -> str:
    return "sha256:" + hashlib.sha256(output).hexdigest()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class AuditLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    def append(
        self,
        connection: Connection,
        event: str,
        user: str,
        *,
        request_id: str | None = None,
        verb: str | None = None,
        host: str | None = None,
        command: str | None = None,
        exit_status: int | None = None,
        output_digest: str | None = None,
        duration: float | None = None,
        detail: str | None = None,
    ) -> AuditRecord:
        """Add a record inside the caller's transaction, so a decision and its record commit together.

        The transaction holds the writers' lock (see bot.state.db), so reading the chain's head and
        appending to it cannot interleave with another append, on this replica or another.
        """
        last = connection.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        if last is None:  # everything was pruned: the chain goes on from the checkpoint's head
            last = connection.execute(
                "SELECT through_seq AS seq, head_hash AS hash FROM audit_checkpoints ORDER BY through_seq DESC LIMIT 1"
            ).fetchone()
        prev_hash = last["hash"] if last else GENESIS
        fields: dict[str, Any] = {
            "seq": (last["seq"] + 1) if last else 1,
            "at": now_iso(),
            "request_id": request_id,
            "event": event,
            "user": user,
            "verb": verb,
            "host": host,
            "command": command,
            "exit_status": exit_status,
            "output_digest": output_digest,
            "duration": round(duration, 3) if duration is not None else None,
            "detail": detail,
        }
        own_hash = record_hash(prev_hash, fields)
        connection.execute(
            'INSERT INTO audit (seq, at, request_id, event, "user", verb, host, command, exit_status, output_digest,'
            " duration, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*(fields[k] for k in FIELDS), prev_hash, own_hash),
        )
        return AuditRecord(**fields, prev_hash=prev_hash, hash=own_hash)

    def record(self, event: str, user: str, **details: Any) -> AuditRecord:
        with self.database.connect() as connection:
            return self.append(connection, event, user, **details)

    def records(self, limit: int | None = None) -> list[AuditRecord]:
        """The newest `limit` records (all without a limit), oldest first."""
        with self.database.connect(reading=True) as connection:
            if limit:
                rows = connection.execute("SELECT * FROM audit ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = connection.execute("SELECT * FROM audit ORDER BY seq DESC").fetchall()
        return [_record(row) for row in reversed(rows)]

    def verify(self) -> AuditRecord | None:
        """The first record whose hash or link does not hold, or None when the chain is whole.

        Behind a checkpoint that does not verify, the first record left is the one named.
        """
        check = self.check()
        if check.intact:
            return None
        if check.broken is not None:
            return check.broken
        with self.database.connect(reading=True) as connection:
            first = connection.execute("SELECT * FROM audit ORDER BY seq LIMIT 1").fetchone()
        return _record(first) if first else None

    def check(self) -> ChainCheck:
        """Walk the whole chain (from the newest checkpoint): what held, and the first thing that did not."""
        walk = ChainWalk(self)
        for _record_checked, _verified in walk:
            pass
        return walk.result()

    def checkpoints(self, connection: Connection | None = None) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""
        if connection is None:
            with self.database.connect(reading=True) as reading:
                return self.checkpoints(reading)
        rows = connection.execute("SELECT * FROM audit_checkpoints ORDER BY through_seq").fetchall()
        return [Checkpoint(**row) for row in rows]

    def prune(self, before: str, key: bytes, user: str = "mailbot") -> Pruning:
        """Drop the records older than `before` (ISO 8601, UTC) that verify, in one transaction.

        The walk stops at the first record that does not verify (it and everything after it are kept,
        as evidence), and at the first record not older than `before`. The last record dropped becomes
        the head of a new signed checkpoint, and a `pruned` record in the chain says who pruned what.
        """
        with self.database.connect() as connection:
            checkpoints = self.checkpoints(connection)
            problem = _checkpoint_problem(checkpoints, key)
            if problem is not None:
                return Pruning(0, None, None, problem)
            start = checkpoints[-1] if checkpoints else None
            prev_hash = start.head_hash if start else GENESIS
            expected = start.through_seq + 1 if start else 1
            head: AuditRecord | None = None
            first_at: str | None = None
            count = 0
            stopped: AuditRecord | None = None
            done = False
            while not done:
                rows = connection.execute(
                    "SELECT * FROM audit WHERE seq >= ? ORDER BY seq LIMIT ?", (expected, PAGE)
                ).fetchall()
                if not rows:
                    break
                for row in rows:
                    record = _record(row)
                    if record.at >= before:
                        done = True
                        break
                    if not _holds(record, prev_hash, expected):
                        stopped, done = record, True
                        break
                    head, prev_hash, expected, count = record, record.hash, expected + 1, count + 1
                    first_at = first_at or record.at
            if head is None:
                return Pruning(0, None, stopped, None)
            connection.execute("DELETE FROM audit WHERE seq <= ?", (head.seq,))
            fields: dict[str, Any] = {
                "through_seq": head.seq,
                "head_hash": head.hash,
                "pruned": count,
                "first_at": first_at,
                "last_at": head.at,
                "made_at": now_iso(),
                "previous": checkpoints[-1].signature if checkpoints else GENESIS,
            }
            checkpoint = Checkpoint(**fields, signature=checkpoint_signature(key, fields))
            connection.execute(
                "INSERT INTO audit_checkpoints (through_seq, head_hash, pruned, first_at, last_at, made_at, previous,"
                " signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(asdict(checkpoint).values()),
            )
            self.append(
                connection,
                "pruned",
                user,
                detail=f"{count} records through #{head.seq} ({first_at} to {head.at}); head {head.hash}",
            )
        return Pruning(count, checkpoint, stopped, None)


@dataclass(frozen=True)
class Checkpoint:
    """The head of the records a pruning dropped: the chain left goes on from `head_hash`.

    `previous` is the signature of the checkpoint before it (GENESIS for the first), so the
    checkpoints are a chain too, and `signature` covers every other field.
    """

    through_seq: int
    head_hash: str
    pruned: int
    first_at: str | None
    last_at: str | None
    made_at: str
    previous: str
    signature: str

    def fields(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "signature"}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Pruning:
    """What a pruning did: how many records it dropped, its checkpoint, where it stopped short and why."""

    pruned: int
    checkpoint: Checkpoint | None
    stopped_at: AuditRecord | None  # the first old record that did not verify (kept)
    problem: str | None  # the checkpoints do not verify: nothing was pruned


@dataclass(frozen=True)
class ChainCheck:
    """What walking the chain found.

    `problem`: None when intact; `edited` (a record's hash or link does not hold: `broken`),
    `no_key` (a checkpoint exists but MAILBOT_AUDIT_KEY is not set, so its signature cannot be
    checked), `checkpoint` (a checkpoint's signature or link does not hold).
    """

    checked: int
    broken: AuditRecord | None
    checkpoint: Checkpoint | None
    problem: str | None
    head: str

    @property
    def intact(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        return {
            "verified": self.intact,
            "checked": self.checked,
            "problem": self.problem,
            "broken_at": self.broken.seq if self.broken else None,
            "head_hash": self.head,
            "checkpoint": self.checkpoint.to_json() if self.checkpoint else None,
        }


class ChainWalk:
    """The chain, oldest first, checked as it is read: iterate for (record, verified) pairs, then `result()`.

    Records are read a page at a time, so an export of years of records holds one page in memory.
    With `since` (ISO 8601), older records are checked but not given. After the first record that
    does not hold, none is verified: the chain no longer vouches for what follows.
    """

    def __init__(self, audit: AuditLog, since: str | None = None, key: bytes | None = None) -> None:
        self._audit = audit
        self._since = since
        self._key = key if key is not None else audit_key()
        self._result: ChainCheck | None = None

    def __iter__(self) -> Iterator[tuple[AuditRecord, bool]]:
        checkpoints = self._audit.checkpoints()
        problem = _checkpoint_problem(checkpoints, self._key)
        start = checkpoints[-1] if checkpoints else None
        prev_hash = start.head_hash if start else GENESIS
        expected = start.through_seq + 1 if start else 1
        broken: AuditRecord | None = None
        checked = 0
        after = 0
        while True:
            with self._audit.database.connect(reading=True) as connection:
                rows = connection.execute("SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", (after, PAGE))
            if not rows.rows:
                break
            for row in rows.rows:
                record = _record(row)
                after = record.seq
                ok = problem is None and broken is None and _holds(record, prev_hash, expected)
                if ok:
                    checked += 1
                elif problem is None and broken is None:
                    broken, problem = record, "edited"
                prev_hash, expected = record.hash, expected + 1
                if self._since is None or record.at >= self._since:
                    yield record, ok
        self._result = ChainCheck(checked, broken, start, problem, prev_hash)

    def result(self) -> ChainCheck:
        """What the walk found; only after it was iterated to the end."""
        if self._result is None:
            raise RuntimeError("the chain was not walked to its end")
        return self._result


def _holds(record: AuditRecord, prev_hash: str, expected_seq: int) -> bool:
    fields = {k: getattr(record, k) for k in FIELDS}
    return (
        record.seq == expected_seq and record.prev_hash == prev_hash and record.hash == record_hash(prev_hash, fields)
    )


def audit_key() -> bytes | None:
    """The checkpoints' signing key (MAILBOT_AUDIT_KEY), None when unset."""
    value = os.environ.get(KEY_ENV, "")
    return value.encode() if value else None


def checkpoint_signature(key: bytes, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "hmac-sha256:" + hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def _checkpoint_problem(checkpoints: list[Checkpoint], key: bytes | None) -> str | None:
    """None when every checkpoint is signed with `key` and links to the one before it."""
    if not checkpoints:
        return None
    if key is None:
        return "no_key"
    previous = GENESIS
    for checkpoint in checkpoints:
        expected = checkpoint_signature(key, checkpoint.fields())
        if checkpoint.previous != previous or not hmac.compare_digest(checkpoint.signature, expected):
            return "checkpoint"
        previous = checkpoint.signature
    return None


def _record(row: Row) -> AuditRecord:
    return AuditRecord(**row)
