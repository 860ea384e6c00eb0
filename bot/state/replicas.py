"""Heartbeats: each `mailbot serve` says regularly that it is alive, so the others (and `mailbot check`)
know how many replicas serve, and a request taken by a replica that stopped beating can be failed.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from dataclasses import dataclass

from bot.state.db import Database

BEAT_SECONDS = 5.0
ALIVE_SECONDS = 3 * BEAT_SECONDS  # three missed beats: the replica is gone


def new_replica_id() -> str:
    """Unique per process, readable in `mailbot check`: host, pid and a random tail."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class ReplicaSeen:
    replica: str
    hostname: str
    pid: int
    started_at: float
    seen_at: float


class Replicas:
    def __init__(self, database: Database) -> None:
        self.database = database

    def beat(self, replica: str, started_at: float) -> None:
        with self.database.connect() as connection:
            connection.execute(
                "INSERT INTO replicas (replica, hostname, pid, started_at, seen_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (replica) DO UPDATE SET seen_at = excluded.seen_at",
                (replica, socket.gethostname(), os.getpid(), started_at, time.time()),
            )

    def leave(self, replica: str) -> None:
        with self.database.connect() as connection:
            connection.execute("DELETE FROM replicas WHERE replica = ?", (replica,))

    def count_seen(self, within_seconds: float) -> int:
        """How many replicas beat in the last `within_seconds` (a read only, for the metrics)."""
        with self.database.connect(reading=True) as connection:
            row = connection.execute(
                "SELECT COUNT(*) AS n FROM replicas WHERE seen_at > ?", (time.time() - within_seconds,)
            ).fetchone()
        return int(row["n"]) if row else 0

    def seen(self, within_seconds: float) -> list[ReplicaSeen]:
        """The replicas that beat in the last `within_seconds`, oldest first; older rows are forgotten."""
        now = time.time()
        with self.database.connect() as connection:
            connection.execute("DELETE FROM replicas WHERE seen_at < ?", (now - 24 * 3600,))
            rows = connection.execute(
                "SELECT * FROM replicas WHERE seen_at > ? ORDER BY started_at", (now - within_seconds,)
            ).fetchall()
        return [ReplicaSeen(**row) for row in rows]
