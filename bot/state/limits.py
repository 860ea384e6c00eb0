"""Rate-limit counters shared by the replicas: a sliding window of hits per bucket ("user:U1").

One transaction (under the writers' lock) forgets the hits that left the window, counts the
rest and adds the new one only if it fits, so two replicas cannot both let the last one in.
"""

from __future__ import annotations

import time

from bot.state.db import Database

FORGET_SECONDS = 3600.0


class RateCounters:
    def __init__(self, database: Database) -> None:
        self.database = database

    def wait_needed(
        self, bucket: str, count: int, seconds: float, now: float | None = None, timeout: float | None = None
    ) -> float:
        """0 and counted when one more hit fits in the window; else the seconds to wait (not counted)."""
        now = time.time() if now is None else now
        with self.database.connect(timeout=timeout) as connection:
            connection.execute("DELETE FROM rate_hits WHERE bucket = ? AND at <= ?", (bucket, now - seconds))
            # Buckets nobody uses any more are forgotten too, rather than grow forever.
            connection.execute("DELETE FROM rate_hits WHERE at <= ?", (now - max(seconds, FORGET_SECONDS),))
            row = connection.execute(
                "SELECT COUNT(*) AS hits, MIN(at) AS oldest FROM rate_hits WHERE bucket = ?", (bucket,)
            ).fetchone()
            assert row is not None
            if int(row["hits"]) >= count:
                return float(seconds - (now - row["oldest"]))
            connection.execute("INSERT INTO rate_hits (bucket, at) VALUES (?, ?)", (bucket, now))
        return 0.0
