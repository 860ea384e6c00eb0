"""Leases: one replica at a time does a periodic job (the expiry sweeper, the alert loop of issue 15).

A lease is a row (name, holder, expires_at). `hold` takes it when it is free or expired, or
renews it for its holder, in one conditional upsert, so two replicas asking at the same
instant cannot both get it. A holder that dies simply stops renewing: after `ttl_seconds`
another replica takes over.
"""

from __future__ import annotations

import time

from bot.state.db import Database


class Leases:
    def __init__(self, database: Database) -> None:
        self.database = database

    def hold(self, name: str, holder: str, ttl_seconds: float) -> bool:
        """Take or renew the lease `name` for `holder` until now + ttl; False while another holds it."""
        now = time.time()
        with self.database.connect() as connection:
            taken = connection.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
                (name, holder, now + ttl_seconds, now),
            ).rowcount
        return taken == 1

    def release(self, name: str, holder: str) -> None:
        """Give the lease up at once (a clean stop), so another replica need not wait for its expiry."""
        with self.database.connect() as connection:
            connection.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    def holder(self, name: str) -> str | None:
        with self.database.connect(reading=True) as connection:
            row = connection.execute(
                "SELECT holder FROM leases WHERE name = ? AND expires_at > ?", (name, time.time())
            ).fetchone()
        return str(row["holder"]) if row else None
