"""The bot's own state, beside the layers: approval requests and the audit chain, in SQLite."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.state.alerts import AlertStore, WatchStore
from bot.state.audit import AuditLog
from bot.state.db import Database
from bot.state.requests import RequestStore


@dataclass(frozen=True)
class State:
    database: Database
    audit: AuditLog
    requests: RequestStore
    alerts: AlertStore
    watches: WatchStore


def open_state(path: Path) -> State:
    database = Database(path)
    audit = AuditLog(database)
    return State(database, audit, RequestStore(database, audit), AlertStore(database), WatchStore(database))
