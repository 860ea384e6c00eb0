"""Each mta host's queue, read once per period for the alerts and the watches alike."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.fanout import each_host
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
    return [
        HostQueue(host, error=answer.message) if isinstance(answer, MailbotError) else HostQueue(host, answer)
        for host, answer in each_host(hosts, lambda host: host.postfix.queue())
    ]
