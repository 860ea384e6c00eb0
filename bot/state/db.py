"""One SQLite file for requests and audit: opened per use, WAL, waits instead of failing when busy.

Every write that decides something is a single statement inside a transaction, so two bot
threads (or two clicks) can never both win; a busy database makes a writer wait up to
`BUSY_TIMEOUT_MS` rather than lose its update.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.errors import ConfigError
from bot.state.alerts import ALERTS_SCHEMA

BUSY_TIMEOUT_MS = 10_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
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
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    decided_by TEXT,
    decided_at REAL,
    card_channel TEXT,
    card_ts TEXT,
    response_url TEXT,
    exit_status INTEGER,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS requests_state ON requests (state, expires_at);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    request_id TEXT,
    event TEXT NOT NULL,
    user TEXT NOT NULL,
    verb TEXT,
    host TEXT,
    command TEXT,
    exit_status INTEGER,
    output_digest TEXT,
    duration REAL,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
"""


class Database:
    """The state file. Thread-safe: each use opens its own connection (cheap for SQLite)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False
        self._lock = threading.Lock()

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in one IMMEDIATE transaction: committed on success, rolled back on error."""
        self._ensure_schema()
        connection = self._open()
        try:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"Cannot open the state database {self.path}: {exc}.") from None
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return connection

    def _ensure_schema(self) -> None:
        with self._lock:
            if self._ready:
                return
            connection = self._open()
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                connection.executescript(SCHEMA + ALERTS_SCHEMA)
            except sqlite3.Error as exc:
                raise ConfigError(f"The state database {self.path} cannot be used: {exc}.") from None
            finally:
                connection.close()
            self._ready = True
