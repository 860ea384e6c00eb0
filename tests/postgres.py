"""A real PostgreSQL (Debian's postgresql-15) started by the tests in a temporary folder.

initdb + pg_ctl, no systemd: the cluster listens on a loopback port and a Unix socket in its
own folder, runs as the `postgres` system account (initdb refuses root), trusts local
connections, and is stopped at the end of the session. Each test gets a database of its own.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OWNER = "postgres"  # the system account the server runs as
ROLE = "mailbot"  # the database role the bot connects as


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_owner(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", OWNER, "--", *args], capture_output=True, text=True, check=check)


@dataclass
class PostgresCluster:
    folder: Path
    port: int
    fsync: bool = False  # the tests need no durability; the benchmark does

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str) -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        fsync = "on" if self.fsync else "off"
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync={fsync}"
        started = _as_owner(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start"
        )
        assert started.returncode == 0, started.stderr

    def stop(self, mode: str = "fast") -> None:
        _as_owner(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def psql(self, database: str, sql: str) -> str:
        run = _as_owner(
            str(PG_BIN / "psql"), "-h", str(self.folder), "-p", str(self.port), "-U", ROLE, "-d", database,
            "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        return run.stdout

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        self.psql("postgres", f"CREATE DATABASE {name}")
        return name


def start_cluster(fsync: bool = False) -> PostgresCluster:
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is not installed (apt-get install postgresql-15; `make test` does it).")
    folder = Path(tempfile.mkdtemp(prefix="mailbot-pg-"))
    shutil.chown(folder, OWNER)
    folder.chmod(0o755)
    made = _as_owner(
        str(PG_BIN / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", ROLE, "--no-sync", "-E", "UTF8"
    )
    assert made.returncode == 0, made.stderr
    cluster = PostgresCluster(folder, _free_port(), fsync)
    cluster.start()
    return cluster


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One cluster for the session (about 2 s to start)."""
    cluster = start_cluster()
    yield cluster
    cluster.stop("immediate")
    shutil.rmtree(cluster.folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres: PostgresCluster) -> str:
    """A fresh, empty database on the session's cluster."""
    return postgres.url(postgres.new_database())
