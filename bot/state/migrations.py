"""The state's schema, as numbered migrations: the one list every new table is added to.

The bot applies, in order, each migration newer than the database's `schema_version`, inside
one transaction (on PostgreSQL under the writers' lock, so two replicas starting together
migrate once). A migration is never edited once released: a change is a new number at the
end. The SQL is portable (SQLite and PostgreSQL): no AUTOINCREMENT, floats DOUBLE PRECISION,
booleans INTEGER 0/1, and `user` only quoted (a reserved word in PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "requests and the audit chain",
        (
            """CREATE TABLE IF NOT EXISTS requests (
                id TEXT PRIMARY KEY,
                verb TEXT NOT NULL,
                arguments TEXT NOT NULL,
                host TEXT NOT NULL,
                template TEXT NOT NULL,
                argv TEXT NOT NULL,
                display TEXT NOT NULL,
                preview TEXT NOT NULL,
                summary TEXT NOT NULL,
                policy TEXT NOT NULL CHECK (policy IN ('confirm', 'approve')),
                requester TEXT NOT NULL,
                channel TEXT NOT NULL,
                reason TEXT,
                state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'ran', 'failed')),
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                decided_by TEXT,
                decided_at DOUBLE PRECISION,
                card_channel TEXT,
                card_ts TEXT,
                response_url TEXT,
                exit_status INTEGER,
                finished_at DOUBLE PRECISION
            )""",
            "CREATE INDEX IF NOT EXISTS requests_state ON requests (state, expires_at)",
            """CREATE TABLE IF NOT EXISTS audit (
                seq INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                request_id TEXT,
                event TEXT NOT NULL,
                "user" TEXT NOT NULL,
                verb TEXT,
                host TEXT,
                command TEXT,
                exit_status INTEGER,
                output_digest TEXT,
                duration DOUBLE PRECISION,
                detail TEXT,
                prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        2,
        "replicas: who runs an approved request, leases, heartbeats, shared answers, rate limits",
        (
            # The replica that took an approved request, and when its command started: a run whose
            # replica stopped is failed after the host's command timeout, never run again. (A table
            # beside `requests`, not new columns: bots that read `requests` whole stay unaffected.)
            """CREATE TABLE runs (
                request_id TEXT PRIMARY KEY,
                runner TEXT,
                started_at DOUBLE PRECISION
            )""",
            """CREATE TABLE leases (
                name TEXT PRIMARY KEY,
                holder TEXT NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            )""",
            """CREATE TABLE replicas (
                replica TEXT PRIMARY KEY,
                hostname TEXT NOT NULL,
                pid INTEGER NOT NULL,
                started_at DOUBLE PRECISION NOT NULL,
                seen_at DOUBLE PRECISION NOT NULL
            )""",
            """CREATE TABLE shares (
                share_key TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                channel TEXT NOT NULL,
                filename TEXT NOT NULL,
                answer TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX shares_expiry ON shares (expires_at)",
            """CREATE TABLE rate_hits (
                bucket TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX rate_hits_bucket ON rate_hits (bucket, at)",
        ),
    ),
    Migration(
        3,
        "known queue problems (alerts) and mail watches",
        (
            """CREATE TABLE alert_problems (
                problem_key TEXT PRIMARY KEY,
                host TEXT NOT NULL,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                detail TEXT NOT NULL,
                hint TEXT,
                message_count INTEGER NOT NULL,
                oldest_at DOUBLE PRECISION,
                bounce_at DOUBLE PRECISION,
                first_seen DOUBLE PRECISION NOT NULL,
                last_seen DOUBLE PRECISION NOT NULL,
                resolved_at DOUBLE PRECISION,
                version INTEGER NOT NULL,
                shown_version INTEGER NOT NULL,
                channel TEXT,
                ts TEXT
            )""",
            """CREATE TABLE alert_host_samples (
                host TEXT PRIMARY KEY,
                deferred INTEGER NOT NULL,
                measured_at DOUBLE PRECISION NOT NULL
            )""",
            """CREATE TABLE mail_watches (
                id TEXT PRIMARY KEY,
                address TEXT NOT NULL,
                owner TEXT NOT NULL,
                channel TEXT,
                thread_ts TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                ends_at DOUBLE PRECISION NOT NULL,
                checked_at DOUBLE PRECISION NOT NULL,
                ended_at DOUBLE PRECISION,
                end_reason TEXT,
                end_told INTEGER NOT NULL
            )""",
            "CREATE INDEX mail_watches_owner ON mail_watches (owner, ended_at)",
            """CREATE TABLE mail_watch_messages (
                watch_id TEXT NOT NULL,
                host TEXT NOT NULL,
                queue_id TEXT NOT NULL,
                outcome TEXT,
                note TEXT,
                misses INTEGER NOT NULL,
                told INTEGER NOT NULL,
                PRIMARY KEY (watch_id, host, queue_id)
            )""",
        ),
    ),
    Migration(
        4,
        "audit retention: the signed checkpoints of pruned heads",
        (
            # One row per pruning: the chain left is checked from `head_hash` (bot.state.audit).
            """CREATE TABLE audit_checkpoints (
                through_seq INTEGER PRIMARY KEY,
                head_hash TEXT NOT NULL,
                pruned INTEGER NOT NULL,
                first_at TEXT,
                last_at TEXT,
                made_at TEXT NOT NULL,
                previous TEXT NOT NULL,
                signature TEXT NOT NULL
            )""",
            "CREATE INDEX audit_at ON audit (at)",
        ),
    ),
)
