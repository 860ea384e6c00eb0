"""Requests to change the mail system, and their one-way life: pending -> decided -> ran.

Each move is one conditional UPDATE (`WHERE state = 'pending' AND expires_at > now`), so two
clicks at the same instant, a click after expiry or a payload Slack sends twice find the
row already moved and do nothing. The command that runs is the one stored here when the
request was made, never rebuilt from a click.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot import observe
from bot.state.audit import AuditLog
from bot.state.db import Database, Row

PENDING, APPROVED, REJECTED, EXPIRED, RAN, FAILED = "pending", "approved", "rejected", "expired", "ran", "failed"
INTERRUPTED_DETAIL = "the bot stopped while this ran; check the host"
# A request with who runs it and since when (table `runs`, beside `requests`).
WITH_RUN = (
    "SELECT requests.*, runs.runner, runs.started_at FROM requests LEFT JOIN runs ON runs.request_id = requests.id"
)


@dataclass(frozen=True)
class Proposal:
    """What is asked: the verb, where, the exact command, and what the host looked like."""

    verb: str
    arguments: dict[str, Any]
    host: str
    template: str
    argv: tuple[str, ...]
    display: str
    preview: str
    summary: str
    policy: str
    requester: str
    channel: str
    reason: str | None


@dataclass(frozen=True)
class NewRequest(Proposal):
    lifetime_seconds: float


@dataclass(frozen=True)
class ChangeRequest(Proposal):
    """A stored request and where it stands."""

    id: str
    state: str
    created_at: float
    expires_at: float
    decided_by: str | None
    decided_at: float | None
    card_channel: str | None
    card_ts: str | None
    response_url: str | None
    exit_status: int | None
    finished_at: float | None
    runner: str | None = None  # the replica that took the approved request to run it
    started_at: float | None = None  # when its command started on the host


class RequestStore:
    def __init__(self, database: Database, audit: AuditLog) -> None:
        self.database = database
        self.audit = audit

    def create(self, new: NewRequest) -> ChangeRequest:
        # the id of the command that asked (so its logs and its audit records share one id), else a new one
        request_id = observe.request_id() or "R" + secrets.token_hex(6)
        now = time.time()
        with self.database.connect() as connection:
            connection.execute(
                "INSERT INTO requests (id, verb, arguments, host, template, argv, display, preview, summary, policy,"
                " requester, channel, reason, state, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?, ?, ?, ?, ?)",
                (
                    request_id,
                    new.verb,
                    json.dumps(new.arguments, sort_keys=True),
                    new.host,
                    new.template,
                    json.dumps(list(new.argv)),
                    new.display,
                    new.preview,
                    new.summary,
                    new.policy,
                    new.requester,
                    new.channel,
                    new.reason,
                    PENDING,
                    now,
                    now + new.lifetime_seconds,
                ),
            )
            self.audit.append(
                connection,
                "requested",
                new.requester,
                request_id=request_id,
                verb=new.verb,
                host=new.host,
                command=new.display,
                detail=new.reason,
            )
        found = self.get(request_id)
        assert found is not None
        return found

    def counts(self) -> dict[str, int]:
        """How many requests are in each state (pending, approved, rejected, expired, ran, failed), for the metrics."""
        with self.database.connect(reading=True) as connection:
            rows = connection.execute("SELECT state, COUNT(*) AS n FROM requests GROUP BY state").fetchall()
        return {row["state"]: int(row["n"]) for row in rows}

    def get(self, request_id: str) -> ChangeRequest | None:
        with self.database.connect(reading=True) as connection:
            row = connection.execute(f"{WITH_RUN} WHERE requests.id = ?", (request_id,)).fetchone()
        return _request(row) if row else None

    def attach_card(self, request_id: str, channel: str, ts: str | None, response_url: str | None = None) -> None:
        with self.database.connect() as connection:
            connection.execute(
                "UPDATE requests SET card_channel = ?, card_ts = ?, response_url = ? WHERE id = ?",
                (channel, ts, response_url, request_id),
            )

    def recent(self, limit: int = 50) -> list[ChangeRequest]:
        """The latest requests, newest first (the Home tab)."""
        with self.database.connect(reading=True) as connection:
            rows = connection.execute(f"{WITH_RUN} ORDER BY requests.created_at DESC LIMIT ?", (limit,)).fetchall()
        return [_request(row) for row in rows]

    def decide(
        self, request_id: str, user: str, approve: bool, runner: str | None = None, detail: str | None = None
    ) -> bool:
        """Move a pending, unexpired request to approved or rejected; False if it was not pending.
        `runner`: the replica that will run it, so that its death can be told from a long run;
        `detail`: why (a rejection's reason), in the audit."""
        state, event = (APPROVED, "approved") if approve else (REJECTED, "rejected")
        now = time.time()
        with self.database.connect() as connection:
            moved = connection.execute(
                "UPDATE requests SET state = ?, decided_by = ?, decided_at = ? "
                "WHERE id = ? AND state = 'pending' AND expires_at > ?",
                (state, user, now, request_id, now),
            ).rowcount
            if moved and approve:
                connection.execute("INSERT INTO runs (request_id, runner) VALUES (?, ?)", (request_id, runner))
            if moved:
                row = connection.execute(
                    "SELECT verb, host, display FROM requests WHERE id = ?", (request_id,)
                ).fetchone()
                assert row is not None  # just updated, in this transaction
                self.audit.append(
                    connection,
                    event,
                    user,
                    request_id=request_id,
                    verb=row["verb"],
                    host=row["host"],
                    command=row["display"],
                    detail=detail,
                )
        return bool(moved)

    def endorse(
        self, request_id: str, user: str, required: int, runner: str | None = None
    ) -> tuple[bool, tuple[str, ...]]:
        """One approval of a request that needs `required` different approvers (config
        `approvals.required`). It is kept in the audit (`endorsed`); the one that makes `required`
        moves the request to approved (`approved`, as `decide`), in the same transaction, so two
        last approvals at once approve it once. Returns (approved now, who approved so far); an
        approval of a request no longer pending, or a second one by the same person, changes nothing."""
        now = time.time()
        with self.database.connect() as connection:
            row = connection.execute(
                "SELECT verb, host, display, state, expires_at FROM requests WHERE id = ?", (request_id,)
            ).fetchone()
            if row is None or row["state"] != PENDING or row["expires_at"] <= now:
                return False, ()
            earlier = self._endorsers(connection, request_id)
            if user in earlier:
                return False, earlier
            if len(earlier) + 1 < required:
                self.audit.append(
                    connection,
                    "endorsed",
                    user,
                    request_id=request_id,
                    verb=row["verb"],
                    host=row["host"],
                    command=row["display"],
                    detail=f"{len(earlier) + 1} of {required}",
                )
                return False, (*earlier, user)
        moved = self.decide(
            request_id, user, True, runner=runner, detail=f"with {', '.join(earlier)}" if earlier else None
        )
        return moved, (*earlier, user) if moved else earlier

    def endorsers(self, request_id: str) -> tuple[str, ...]:
        """Who approved a request that needs several approvers, in order (not counting the last one)."""
        with self.database.connect(reading=True) as connection:
            return self._endorsers(connection, request_id)

    @staticmethod
    def _endorsers(connection: Any, request_id: str) -> tuple[str, ...]:
        rows = connection.execute(
            "SELECT \"user\" FROM audit WHERE request_id = ? AND event = 'endorsed' ORDER BY seq", (request_id,)
        ).fetchall()
        seen: list[str] = []
        for found in rows:
            if found["user"] not in seen:
                seen.append(str(found["user"]))
        return tuple(seen)

    def start(self, request_id: str) -> None:
        """The approved command is about to reach the host: its timeout counts from now."""
        with self.database.connect() as connection:
            connection.execute(
                "INSERT INTO runs (request_id, started_at) VALUES (?, ?) "
                "ON CONFLICT (request_id) DO UPDATE SET started_at = excluded.started_at",
                (request_id, time.time()),
            )

    def finish(
        self, request_id: str, user: str, exit_status: int, output_digest: str, duration: float, detail: str | None
    ) -> None:
        """Record the run of an approved request (only an approved one: a run is never recorded twice)."""
        with self.database.connect() as connection:
            moved = connection.execute(
                "UPDATE requests SET state = ?, exit_status = ?, finished_at = ? WHERE id = ? AND state = 'approved'",
                (RAN if exit_status == 0 else FAILED, exit_status, time.time(), request_id),
            ).rowcount
            if not moved:
                raise RuntimeError(f"request {request_id} was not approved when its run ended")
            row = connection.execute("SELECT verb, host, display FROM requests WHERE id = ?", (request_id,)).fetchone()
            assert row is not None  # just updated, in this transaction
            self.audit.append(
                connection,
                "ran",
                user,
                request_id=request_id,
                verb=row["verb"],
                host=row["host"],
                command=row["display"],
                exit_status=exit_status,
                output_digest=output_digest,
                duration=duration,
                detail=detail,
            )

    def expire_due(self) -> list[ChangeRequest]:
        """Mark every pending request past its expiry; returns them so their cards can be edited."""
        now = time.time()
        with self.database.connect() as connection:
            rows = connection.execute(
                "SELECT * FROM requests WHERE state = 'pending' AND expires_at <= ?", (now,)
            ).fetchall()
            expired = []
            for row in rows:
                moved = connection.execute(
                    "UPDATE requests SET state = 'expired', decided_at = ? WHERE id = ? AND state = 'pending'",
                    (now, row["id"]),
                ).rowcount
                if moved:
                    self.audit.append(
                        connection,
                        "expired",
                        "mailbot",
                        request_id=row["id"],
                        verb=row["verb"],
                        host=row["host"],
                        command=row["display"],
                    )
                    expired.append(row["id"])
        return [r for r in (self.get(i) for i in expired) if r is not None]

    def interrupted(
        self,
        older_than_seconds: float,
        host_timeouts: Mapping[str, float] | None = None,
        live_runners: frozenset[str] | None = None,
    ) -> list[ChangeRequest]:
        """Approved requests whose run never recorded an end (the bot stopped mid-run). They are not
        run again (at most once): they are marked failed for a human to check.

        One is interrupted when its run began more than `older_than_seconds` ago, or, when the
        replica that took it is not among `live_runners` (its heartbeat stopped), once the host's
        command timeout (`host_timeouts`) has passed since its command started.
        """
        now = time.time()
        interrupted = []
        with self.database.connect() as connection:
            rows = connection.execute(f"{WITH_RUN} WHERE requests.state = 'approved'").fetchall()
            for row in rows:
                since = row["started_at"] or row["decided_at"] or row["created_at"]
                runner_gone = live_runners is not None and row["runner"] not in live_runners
                limit = (
                    (host_timeouts or {}).get(row["host"], older_than_seconds) if runner_gone else older_than_seconds
                )
                if now - since <= min(limit, older_than_seconds):
                    continue
                moved = connection.execute(
                    "UPDATE requests SET state = 'failed', finished_at = ? WHERE id = ? AND state = 'approved'",
                    (now, row["id"]),
                ).rowcount
                if not moved:
                    continue
                self.audit.append(
                    connection,
                    "interrupted",
                    "mailbot",
                    request_id=row["id"],
                    verb=row["verb"],
                    host=row["host"],
                    command=row["display"],
                    detail=INTERRUPTED_DETAIL,
                )
                interrupted.append(row["id"])
        return [r for r in (self.get(i) for i in interrupted) if r is not None]


def _request(row: Row) -> ChangeRequest:
    values = dict(row)
    values["arguments"] = json.loads(values["arguments"])
    values["argv"] = tuple(json.loads(values["argv"]))
    return ChangeRequest(**values)
