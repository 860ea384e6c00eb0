"""How many large answers the Slack bot builds at once, and what the one who waits is told.

The busiest address of the 1 GB benchmark makes a 40 MB stream of log lines and about 150 MB of
records in the bot (bench/README.md); the bot runs `slack.workers` jobs at once (8). Past
`large_answer_mb` of log lines, a job takes one of `large_answers` turns before it reads on, so a
burst of busy traces costs a few of those at a time, not eight. A job that has to wait says so
once, with how many are being built; the others never notice. The CLI builds one answer: no gate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from bot.i18n import ngettext


class LargeAnswers:
    """The turns of the bot's large answers (`slack.large_answers` at once)."""

    def __init__(self, at_once: int, threshold_bytes: int) -> None:
        self.at_once = at_once
        self.threshold_bytes = threshold_bytes
        self._turns = threading.BoundedSemaphore(at_once)

    @contextmanager
    def job(self, say: Callable[[str], None]) -> Iterator[AnswerSize]:
        """One job's reading: its turn, if it grows large enough to need one, ends with the job."""
        size = AnswerSize(self, say)
        try:
            yield size
        finally:
            size.release()


class AnswerSize:
    """What one job has read so far (all its hosts at once: thread-safe), and its turn."""

    def __init__(self, gate: LargeAnswers, say: Callable[[str], None]) -> None:
        self._gate = gate
        self._say = say
        self._read = 0
        self._lock = threading.Lock()
        self._holding = False
        self._released = False

    def grew(self, size: int) -> None:
        """`size` more bytes read. The first time the job passes the threshold, it takes a turn,
        waiting for one (and saying so) when every turn is taken."""
        with self._lock:
            self._read += size
            if self._holding or self._released or self._read < self._gate.threshold_bytes:
                return
            turns = self._gate._turns
            if not turns.acquire(blocking=False):
                at_once = self._gate.at_once
                self._say(
                    ngettext(
                        "This answer is large (over {size} MB of log lines) and the bot builds {count} such "
                        "answer at a time: yours goes on as soon as it is done.",
                        "This answer is large (over {size} MB of log lines) and the bot builds {count} such "
                        "answers at a time: yours goes on as soon as one is done.",
                        at_once,
                    ).format(size=f"{self._gate.threshold_bytes / 1e6:g}", count=at_once)
                )
                turns.acquire()
            self._holding = True

    def release(self) -> None:
        with self._lock:
            if self._holding and not self._released:
                self._gate._turns.release()
            self._released = True
            self._holding = False
