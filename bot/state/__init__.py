"""The bot's own state, beside the layers: requests, the audit chain, and what replicas share
(leases, heartbeats, answers to share, rate-limit counters), in SQLite or PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.state.alerts import AlertStore, WatchStore
from bot.state.audit import AuditLog
from bot.state.db import Database, open_database
from bot.state.leases import Leases
from bot.state.limits import RateCounters
from bot.state.replicas import Replicas
from bot.state.requests import RequestStore
from bot.state.shares import ShareStore


@dataclass(frozen=True)
class State:
    database: Database
    audit: AuditLog
    requests: RequestStore
    alerts: AlertStore
    watches: WatchStore
    leases: Leases
    replicas: Replicas
    shares: ShareStore
    rates: RateCounters


def open_state(path: Path, url: str | None = None) -> State:
    """The state in the SQLite file `path`, or in the PostgreSQL database at `url` when one is given."""
    database = open_database(path, url)
    audit = AuditLog(database)
    return State(
        database,
        audit,
        RequestStore(database, audit),
        AlertStore(database),
        WatchStore(database),
        Leases(database),
        Replicas(database),
        ShareStore(database),
        RateCounters(database),
    )
