"""The audit trail: who asked what, who decided, what ran, what came back.

Each record carries the hash of the one before it, and its own hash covers its fields
and that link, so editing or deleting a record in the middle breaks the chain at that
record, which `verify` names. (Cutting records off the end cannot be seen from the chain
alone; the Slack cards and the host's own logs are the other witnesses.)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from bot.state.db import Connection, Database, Row

GENESIS = "0" * 64
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
        """The first record whose hash or link does not hold, or None when the chain is whole."""
        prev_hash = GENESIS
        expected_seq = 1
        for record in self.records():
            fields = {k: getattr(record, k) for k in FIELDS}
            if (
                record.seq != expected_seq
                or record.prev_hash != prev_hash
                or record.hash != record_hash(prev_hash, fields)
            ):
                return record
            prev_hash = record.hash
            expected_seq += 1
        return None


def _record(row: Row) -> AuditRecord:
    return AuditRecord(**row)
