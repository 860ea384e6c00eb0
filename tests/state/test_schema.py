"""The schema the bot creates and migrates itself, and the `state` settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.errors import ConfigError
from bot.state import State, open_state
from bot.state.db import StateUnavailable, safe_url
from bot.state.migrations import MIGRATIONS
from tests.postgres import start_cluster
from tests.state.conftest import OpenState
from tests.state.test_requests import new

HOST = {"name": "mx1", "address": "10.0.0.5", "user": "bm", "key_file": "k", "known_hosts": "/etc/kh"}

# The schema of the bot before numbered migrations: a file made by it must keep its requests and audit.
SCHEMA_BEFORE_MIGRATIONS = """
CREATE TABLE requests (id TEXT PRIMARY KEY, verb TEXT NOT NULL, arguments TEXT NOT NULL, host TEXT NOT NULL,
 template TEXT NOT NULL, argv TEXT NOT NULL, display TEXT NOT NULL, preview TEXT NOT NULL, summary TEXT NOT NULL,
 policy TEXT NOT NULL, requester TEXT NOT NULL, channel TEXT NOT NULL, reason TEXT, state TEXT NOT NULL,
 created_at REAL NOT NULL, expires_at REAL NOT NULL, decided_by TEXT, decided_at REAL, card_channel TEXT,
 card_ts TEXT, response_url TEXT, exit_status INTEGER, finished_at REAL);
CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, request_id TEXT, event TEXT NOT NULL,
 user TEXT NOT NULL, verb TEXT, host TEXT, command TEXT, exit_status INTEGER, output_digest TEXT, duration REAL,
 detail TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
"""


def test_a_new_database_gets_the_newest_schema(state: State):
    assert state.database.schema_version() == MIGRATIONS[-1].version
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))  # numbered, none skipped


def test_a_schema_newer_than_the_bot_is_refused_in_one_sentence(open_replica: OpenState):
    newer = open_replica()
    with newer.database.connect() as connection:
        connection.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 'later')", (999,))
    older = open_replica()
    with pytest.raises(ConfigError) as refused:
        older.requests.get("R1")
    assert f"has schema version 999, newer than this bot's {MIGRATIONS[-1].version}" in refused.value.message
    assert "upgrade the bot" in refused.value.message


def test_a_file_of_the_bot_before_migrations_is_migrated_and_keeps_its_audit(tmp_path: Path):
    before = open_state(tmp_path / "old.db")  # records made today, then the file is cut back to the old schema
    change = before.requests.create(new())
    with sqlite3.connect(tmp_path / "old.db") as db:
        db.executescript(SCHEMA_BEFORE_MIGRATIONS.replace("CREATE TABLE ", "CREATE TABLE old_"))
        db.execute("INSERT INTO old_requests SELECT * FROM requests")
        db.execute("INSERT INTO old_audit SELECT * FROM audit")
        newer = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'old_%' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        db.executescript(
            "".join(f"DROP TABLE {name};" for (name,) in newer)
            + " ALTER TABLE old_requests RENAME TO requests; ALTER TABLE old_audit RENAME TO audit;"
        )
    after = open_state(tmp_path / "old.db")
    assert after.database.schema_version() == MIGRATIONS[-1].version
    assert after.audit.verify() is None and [r.event for r in after.audit.records()] == ["requested"]
    assert after.requests.decide(change.id, "U2", approve=True, runner="A")
    assert after.leases.hold("sweeper", "A", 10)


def test_postgresql_url_in_the_config(tmp_path: Path):
    config = parse_config({"hosts": [HOST], "state": {"url": "postgresql://mailbot@db:5432/mailbot"}}, tmp_path / "c")
    assert config.state_url == "postgresql://mailbot@db:5432/mailbot"
    assert parse_config({"hosts": [HOST]}, tmp_path / "c").state_url is None  # SQLite stays the default
    with pytest.raises(ConfigError, match="holds a password; remove it and set MAILBOT_STATE_PASSWORD") as refused:
        parse_config({"hosts": [HOST], "state": {"url": "postgresql://mailbot:s3cret@db/mailbot"}}, tmp_path / "c")
    assert "s3cret" not in refused.value.message
    with pytest.raises(ConfigError, match="must start with postgresql://"):
        parse_config({"hosts": [HOST], "state": {"url": "mysql://db/mailbot"}}, tmp_path / "c")
    with pytest.raises(ConfigError, match="not both"):
        parse_config({"hosts": [HOST], "state": {"url": "postgresql://db/m", "path": "x.db"}}, tmp_path / "c")
    assert safe_url("postgresql://mailbot:s3cret@db:5433/mailbot") == "postgresql://mailbot@db:5433/mailbot"


def test_the_password_comes_from_the_environment(postgres, monkeypatch, tmp_path: Path, caplog):
    database = postgres.new_database()
    postgres.psql(database, "CREATE ROLE guarded LOGIN PASSWORD 'pw-from-env'")
    hba = postgres.data / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text("local all all trust\nhost all guarded 127.0.0.1/32 scram-sha-256\n" + original)
    postgres.psql("postgres", "SELECT pg_reload_conf()")
    postgres.psql(database, "GRANT ALL ON SCHEMA public TO guarded")
    url = f"postgresql://guarded@127.0.0.1:{postgres.port}/{database}"
    try:
        monkeypatch.setenv("MAILBOT_STATE_PASSWORD", "wrong")
        wrong = open_state(tmp_path / "unused.db", url)
        with pytest.raises(ConfigError) as refused:
            wrong.requests.get("R1")
        assert refused.value.message == (
            f'The bot\'s state database ({url}) refused the bot: password authentication failed for user "guarded".'
        )
        wrong.database.close()
        monkeypatch.setenv("MAILBOT_STATE_PASSWORD", "pw-from-env")
        right = open_state(tmp_path / "unused.db", url)
        assert right.requests.create(new()).state == "pending"
        assert right.database.describe() == url
        right.database.close()
        assert "pw-from-env" not in caplog.text and "pw-from-env" not in refused.value.message
    finally:
        hba.write_text(original)
        postgres.psql("postgres", "SELECT pg_reload_conf()")


@pytest.mark.postgres
def test_postgresql_down_says_approvals_are_unavailable_then_reconnects(tmp_path: Path):
    cluster = start_cluster()  # a cluster of its own: this test stops it
    try:
        cluster.psql("postgres", "CREATE DATABASE bot")
        state = open_state(tmp_path / "unused.db", cluster.url("bot"))
        change = state.requests.create(new())
        cluster.stop("immediate")
        with pytest.raises(StateUnavailable) as down:
            state.requests.create(new())
        assert down.value.message == (
            f"The bot's state database (postgresql://mailbot@127.0.0.1:{cluster.port}/bot) does not answer;"
            " approvals are unavailable until it is back."
        )
        cluster.start()
        assert state.requests.decide(change.id, "U2", approve=True)  # the pool reconnected by itself
        assert [r.event for r in state.audit.records()] == ["requested", "approved"]
        state.database.close()
    finally:
        cluster.stop("immediate")
