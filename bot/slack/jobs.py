"""The bot's own bounded pool: Slack's 3-second ack never waits for SSH work.

`JobRunner` is what the desks and MailBot need ("run this later, or tell me why not");
`BoundedJobs` runs it in a thread pool with a cap on work waiting, in the asker's language.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from bot.i18n import _

log = logging.getLogger("mailbot.slack")


class JobRunner(Protocol):
    def submit(self, work: Callable[[], None]) -> str | None:
        """Queue work; None when taken, else a sentence for the user saying why not."""


class BoundedJobs:
    """A thread pool that refuses work beyond `max_pending` rather than queueing it for ever."""

    def __init__(self, workers: int, max_pending: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mail-job")
        self._slots = threading.BoundedSemaphore(max_pending)
        self.workers = workers
        self._taken = 0  # accepted and not finished: running (up to `workers`) or waiting (metrics)
        self._count_lock = threading.Lock()

    def submit(self, work: Callable[[], None]) -> str | None:
        if not self._slots.acquire(blocking=False):
            return _("The bot is busy with many requests; try again in a minute.")
        with self._count_lock:
            self._taken += 1
        try:
            # the job speaks the language of whoever asked (a pool thread does not inherit it)
            self._pool.submit(contextvars.copy_context().run, self._guarded, work)
        except RuntimeError:  # shutting down
            with self._count_lock:
                self._taken -= 1
            self._slots.release()
            return _("The bot is restarting; try again in a minute.")
        return None

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking work; with `wait`, let work in flight finish."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def _guarded(self, work: Callable[[], None]) -> None:
        try:
            work()
        except Exception:
            log.exception("a job failed")
        finally:
            with self._count_lock:
                self._taken -= 1
            self._slots.release()

    def load(self) -> tuple[int, int]:
        """(busy, waiting): jobs running now, and accepted jobs waiting for a worker."""
        with self._count_lock:
            taken = self._taken
        return min(taken, self.workers), max(0, taken - self.workers)
