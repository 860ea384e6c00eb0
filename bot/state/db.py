"""Where the state lives: one SQLite file (the embedded default) or a PostgreSQL database shared by replicas.

Both backends offer the same small surface: `with database.connect() as connection:` gives a
connection inside one transaction (committed on success, rolled back on error), whose
`execute(sql, params)` takes `?` placeholders and returns rows read by column name.

Writers are serialised on both, so every decision is a single conditional statement that
two clicks, or two replicas, can never both win: SQLite's `BEGIN IMMEDIATE` takes the file's
write lock; on PostgreSQL a writing transaction first takes one transaction-level advisory
lock (`pg_advisory_xact_lock`), which also keeps the audit chain a single chain, and, taken
before any row lock, cannot deadlock with another writer.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.errors import ConfigError, MailbotError
from bot.i18n import _
from bot.state.migrations import MIGRATIONS

log = logging.getLogger("mailbot.state")

BUSY_TIMEOUT_MS = 10_000
PASSWORD_ENV = "MAILBOT_STATE_PASSWORD"  # noqa: S105  (the name of the variable, not a password)
WRITE_LOCK_KEY = 0x6D61696C  # "mail": the one advisory lock every writer of the state takes first
POOL_MAX = 10
CONNECT_TIMEOUT_SECONDS = 5
# What libpq says when the server is not there (yet): the state is unavailable, not misconfigured.
UNREACHABLE = (
    "Connection refused",
    "timeout expired",
    "No such file or directory",
    "starting up",
    "shutting down",
    "could not translate host name",
    "Network is unreachable",
    "server closed the connection",
)

Row = dict[str, Any]


class StateUnavailable(MailbotError):
    """The shared state cannot be reached: approvals wait until it is back; reads need no state."""


@dataclass
class Result:
    """What one statement gave back: its rows (read at once, by column name) and how many rows it changed."""

    rows: list[Row]
    rowcount: int

    def fetchone(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Row]:
        return list(self.rows)


class Connection:
    """One transaction's connection; `execute` is the only way in, with `?` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        raise NotImplementedError


class Database:
    """The state store. Thread-safe; each `connect()` is one transaction."""

    backend = "none"

    def connect(self, timeout: float | None = None, reading: bool = False) -> AbstractContextManager[Connection]:
        """One transaction. `reading`: it only reads, so it need not wait for the writers' lock."""
        raise NotImplementedError

    def describe(self) -> str:
        """Where the state is, fit to print (never a password)."""
        raise NotImplementedError

    def schema_version(self) -> int:
        with self.connect(reading=True) as connection:
            row = connection.execute("SELECT MAX(version) AS version FROM schema_version").fetchone()
        return int(row["version"]) if row and row["version"] is not None else 0

    def close(self) -> None:
        return None

    def answers(self, timeout: float = 2.0) -> bool:
        """Whether the state answers now (for GET /health); never raises."""
        try:
            with self.connect(timeout=timeout, reading=True) as connection:
                connection.execute("SELECT 1 AS one")
        except MailbotError as exc:
            log.warning("health: %s", exc.message)
            return False
        return True

    def _migrate(self, connection: Connection) -> None:
        """Create or bring the schema up to this bot's version; refuse a schema newer than the bot."""
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        row = connection.execute("SELECT MAX(version) AS version FROM schema_version").fetchone()
        current = int(row["version"]) if row and row["version"] is not None else 0
        newest = MIGRATIONS[-1].version
        if current > newest:
            raise ConfigError(
                _(
                    "The state database {where} has schema version {current}, newer than this bot's {newest}: "
                    "upgrade the bot (an older one must not write to it)."
                ).format(where=self.describe(), current=current, newest=newest)
            )
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, CURRENT_TIMESTAMP)", (migration.version,)
            )
            log.info("state schema migrated to version %s (%s)", migration.version, migration.summary)


# --- SQLite ------------------------------------------------------------------------------------


class _SqliteConnection(Connection):
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        cursor = self._connection.execute(sql, tuple(params))
        rows = [dict(row) for row in cursor.fetchall()] if cursor.description else []
        return Result(rows, cursor.rowcount)


class SqliteDatabase(Database):
    """The state file. Each use opens its own connection (cheap for SQLite); WAL; busy writers wait."""

    backend = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ready = False
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    @contextmanager
    def connect(self, timeout: float | None = None, reading: bool = False) -> Iterator[Connection]:
        """A connection in one IMMEDIATE transaction (a plain one for `reading`): committed on success,
        rolled back on error."""
        self._ensure_schema()
        with self._transaction(reading) as connection:
            yield connection

    @contextmanager
    def _transaction(self, reading: bool = False) -> Iterator[Connection]:
        connection = self._open()
        try:
            connection.execute("BEGIN" if reading else "BEGIN IMMEDIATE")
            yield _SqliteConnection(connection)
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
            raise ConfigError(
                _("Cannot open the state database {path}: {reason}.").format(path=self.path, reason=exc)
            ) from None
        connection.row_factory = sqlite3.Row
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return connection

    def _ensure_schema(self) -> None:
        """Migrate (waiting for the file's write lock like any writer), then switch to WAL. Another
        handle on the same file may hold a lock meanwhile, and the journal switch does not wait for
        it: it is retried for as long as a writer would wait."""
        with self._lock:
            if self._ready:
                return
            try:
                with self._transaction() as transaction:
                    self._migrate(transaction)
                connection = self._open()
                try:
                    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
                    while True:
                        try:
                            connection.execute("PRAGMA journal_mode = WAL")
                            break
                        except sqlite3.OperationalError as exc:
                            if "locked" not in str(exc) or time.monotonic() > deadline:
                                raise
                            time.sleep(0.05)
                finally:
                    connection.close()
            except sqlite3.Error as exc:
                raise ConfigError(
                    _("The state database {path} cannot be used: {reason}.").format(path=self.path, reason=exc)
                ) from None
            self._ready = True


# --- PostgreSQL --------------------------------------------------------------------------------


def safe_url(url: str) -> str:
    """The URL without any password, for errors, logs and `mailbot check`."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _pg_sql(sql: str) -> str:
    """`?` placeholders become psycopg's `%s` (a literal `%` is doubled first)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _PostgresConnection(Connection):
    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        cursor = self._connection.execute(_pg_sql(sql), tuple(params))
        rows = [dict(row) for row in cursor.fetchall()] if cursor.description else []
        return Result(rows, cursor.rowcount)


class PostgresDatabase(Database):
    """A PostgreSQL database shared by every replica, through a pool that reconnects by itself."""

    backend = "postgresql"

    def __init__(self, url: str, pool_size: int = POOL_MAX) -> None:
        import psycopg
        from psycopg.rows import dict_row

        self.url = url
        self._psycopg = psycopg
        kwargs: dict[str, Any] = {"row_factory": dict_row, "autocommit": False}
        password = os.environ.get(PASSWORD_ENV)
        if password:
            kwargs["password"] = password
        if "connect_timeout" not in url:
            kwargs["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        self._kwargs = kwargs
        self._pool_size = pool_size
        self._pool = self._new_pool()
        self._ready = False
        self._broken = False  # the database stopped answering: probe it directly before using the pool
        self._lock = threading.Lock()

    def _new_pool(self) -> Any:
        from psycopg_pool import ConnectionPool

        return ConnectionPool(
            self.url,
            kwargs=self._kwargs,
            min_size=1,
            max_size=self._pool_size,
            open=False,
            check=ConnectionPool.check_connection,
            name="mailbot-state",
        )

    def _usable_pool(self) -> Any:
        """The pool, or, after the database stopped answering, a fresh one once a direct connection
        works again: the old pool's reconnection backs off (up to minutes after a long outage), and
        while the database is down each use fails at once instead of waiting for the pool."""
        psycopg = self._psycopg
        with self._lock:
            if self._broken:
                try:
                    psycopg.connect(self.url, **self._kwargs).close()
                except psycopg.OperationalError:
                    raise self._unavailable() from None
                old, self._pool = self._pool, self._new_pool()
                self._pool.open(wait=False)
                self._broken = False
                threading.Thread(target=old.close, name="state-pool-close", daemon=True).start()
                log.info("the state database %s answers again", self.describe())
            return self._pool

    def describe(self) -> str:
        return safe_url(self.url)

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def connect(self, timeout: float | None = None, reading: bool = False) -> Iterator[Connection]:
        """One transaction on a pooled connection, holding the writers' lock from its start (unless `reading`)."""
        self._ensure_schema(timeout)
        with self._transaction(timeout, reading) as connection:
            yield connection

    @contextmanager
    def _transaction(self, timeout: float | None, reading: bool = False) -> Iterator[Connection]:
        psycopg = self._psycopg
        from psycopg_pool import PoolTimeout

        pool = self._usable_pool()
        try:
            with pool.connection(timeout=timeout or CONNECT_TIMEOUT_SECONDS) as raw, raw.transaction():
                if not reading:
                    raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
                yield _PostgresConnection(raw)
        except PoolTimeout:
            self._broken = True
            raise self._unavailable() from None
        except psycopg.OperationalError as exc:
            log.warning("the state database %s failed: %s", self.describe(), type(exc).__name__)
            self._broken = True
            raise self._unavailable() from None

    def _unavailable(self) -> StateUnavailable:
        return StateUnavailable(
            _("The bot's state database ({where}) does not answer; approvals are unavailable until it is back.").format(
                where=self.describe()
            )
        )

    def _ensure_schema(self, timeout: float | None) -> None:
        """On first use, one direct connection migrates the schema: a refused login or a missing
        database is then said at once, in a sentence, instead of after the pool's wait."""
        psycopg = self._psycopg
        with self._lock:
            if self._ready:
                return
            try:
                with psycopg.connect(self.url, **self._kwargs) as raw, raw.transaction():
                    raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
                    self._migrate(_PostgresConnection(raw))
            except psycopg.OperationalError as exc:
                reason = _first_line(str(exc))
                if any(sign in str(exc) for sign in UNREACHABLE):
                    log.warning("the state database %s does not answer: %s", self.describe(), reason)
                    raise self._unavailable() from None
                raise ConfigError(
                    _("The bot's state database ({where}) refused the bot: {reason}.").format(
                        where=self.describe(), reason=reason.rstrip(".")
                    )
                ) from None
            except psycopg.Error as exc:
                raise ConfigError(
                    _("The bot's state database ({where}) cannot be used: {reason}.").format(
                        where=self.describe(), reason=_first_line(str(exc)).rstrip(".")
                    )
                ) from None
            self._pool.open(wait=False)
            self._ready = True


def _first_line(message: str) -> str:
    """libpq's last line says why ("FATAL:  password authentication failed ..."), without the server address."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else message
    return last.rsplit("failed: ", 1)[-1].replace("FATAL:  ", "").strip()


def open_database(path: Path, url: str | None = None) -> Database:
    """PostgreSQL when a URL is configured, else the SQLite file."""
    return PostgresDatabase(url) if url else SqliteDatabase(path)
