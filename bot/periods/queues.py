"""Each mta host's queue, read once per period for the alerts and the watches alike."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bot.errors import MailbotError
from bot.mailhost.host import MailHost
from bot.mailhost.postqueue import QueueEntry


@dataclass
class HostQueue:
    """One host's answer in a period: its queue, or why it could not be read."""

    host: MailHost
    entries: list[QueueEntry] = field(default_factory=list)
    error: str | None = None


def read_queues(hosts: list[MailHost]) -> list[HostQueue]:
    """One `postqueue -j` per host, all at once; a host that fails is an error, not an exception."""

    def ask(host: MailHost) -> HostQueue:
        try:
            return HostQueue(host, host.postfix.queue())
        except MailbotError as failure:
            return HostQueue(host, error=failure.message)

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(hosts)))) as workers:
        return list(workers.map(ask, hosts))
