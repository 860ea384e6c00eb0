"""Asking every mail host at once: one host down is a line in the answer, not a failed answer.

`trace`, `message`, `queue`, `flush` and the alert period ask their hosts the same way.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from bot.core.registry import Context
from bot.errors import MailbotError
from bot.mailhost.host import MailHost

Answer = TypeVar("Answer")


@dataclass(frozen=True)
class HostFailure:
    host: str
    error: str


def mta_hosts(context: Context) -> list[MailHost]:
    hosts = context.config.hosts_with_role("mta") or context.config.hosts
    return [MailHost(h, context.pool.connection(h)) for h in hosts]


def each_host(
    hosts: Sequence[MailHost], question: Callable[[MailHost], Answer]
) -> list[tuple[MailHost, Answer | MailbotError]]:
    """Ask every host at once, each job in the asker's language (a thread does not inherit context
    variables: a host's error would be English in a French channel); a host that fails is its error."""
    found: list[tuple[MailHost, Answer | MailbotError]] = []
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(hosts)))) as workers:
        futures = [(host, workers.submit(contextvars.copy_context().run, question, host)) for host in hosts]
        for host, future in futures:
            try:
                found.append((host, future.result()))
            except MailbotError as exc:
                found.append((host, exc))
    return found


def meanwhile(question: Callable[[], Answer]) -> Callable[[], Answer]:
    """Start `question` in its own thread now, in the asker's language; the call returned waits
    for its answer (or raises its error). Two commands of one host on two channels of its one
    connection: the queue beside the log search saves a trace its 30 ms on the lab (issue 24)."""
    workers = ThreadPoolExecutor(max_workers=1)
    try:
        return workers.submit(contextvars.copy_context().run, question).result
    finally:
        workers.shutdown(wait=False)


def ask_each_host(
    hosts: Sequence[MailHost], question: Callable[[MailHost], Answer]
) -> tuple[list[tuple[MailHost, Answer]], list[HostFailure]]:
    """Ask every host at once. One host down is a failure line, not a failed answer; with a
    single host, or when no host answers, its error is the answer."""
    answers: list[tuple[MailHost, Answer]] = []
    failures: list[HostFailure] = []
    for host, answer in each_host(hosts, question):
        if isinstance(answer, MailbotError):
            if len(hosts) == 1:
                raise answer
            failures.append(HostFailure(host.name, answer.message))
        else:
            answers.append((host, answer))
    if failures and not answers:
        raise MailbotError(" ".join(f"{f.host}: {f.error}" for f in failures))
    return answers, failures


def known_lifetime(host: MailHost) -> timedelta | None:
    """The host's `maximal_queue_lifetime`, or None when it cannot be read (an older guard on the
    host, postconf missing): a hint then names the parameter instead of a figure."""
    try:
        return host.postfix.queue_lifetime()
    except MailbotError:
        return None
