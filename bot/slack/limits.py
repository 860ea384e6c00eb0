"""Rate limits per user and per channel, so one busy person cannot starve everyone else.

A sliding window per key: at most `count` commands in `seconds`. Checked when a command
arrives, before anything runs; the refusal says how long to wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from bot.errors import MailbotError
from bot.state.limits import RateCounters

log = logging.getLogger("mailbot.slack")


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: float


class RateLimiter:
    def __init__(self, limit: Limit, max_keys: int = 10_000) -> None:
        self.limit = limit
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def wait_needed(self, key: str, now: float | None = None) -> float:
        """0 and counted when the command may run; else the seconds to wait (not counted)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = self._seen.setdefault(key, deque())
            while recent and now - recent[0] >= self.limit.seconds:
                recent.popleft()
            if len(recent) >= self.limit.count:
                return self.limit.seconds - (now - recent[0])
            recent.append(now)
            if len(self._seen) > self._max_keys:  # forget idle keys rather than grow forever
                for idle in [k for k, v in self._seen.items() if not v]:
                    del self._seen[idle]
            return 0.0


class SharedRateLimiter:
    """The same window, counted in the state, so that every replica sees every hit (bucket "user:U1").

    Checked before the 3-second ack, so the state gets one second; when it does not answer, the
    command is counted here in memory instead: a read verb needs no state and must keep answering.
    """

    STATE_TIMEOUT = 1.0

    def __init__(self, counters: RateCounters, scope: str, limit: Limit) -> None:
        self.counters = counters
        self.scope = scope
        self.limit = limit
        self._fallback = RateLimiter(limit)

    def wait_needed(self, key: str, now: float | None = None) -> float:
        try:
            return self.counters.wait_needed(
                f"{self.scope}:{key}", self.limit.count, self.limit.seconds, now, timeout=self.STATE_TIMEOUT
            )
        except MailbotError as failure:
            log.warning("rate limits counted in memory: %s", failure.message)
            return self._fallback.wait_needed(key, now)
