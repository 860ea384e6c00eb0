"""What several verbs say about mail: per-host fan-out, table cells and JSON shapes of mail records.

`trace`, `message` and `queue` read the same records (messages, deliveries, refusals, queue
entries) from several hosts; their cells and JSON must read the same everywhere.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from bot.core import render
from bot.core.registry import Context
from bot.errors import MailbotError
from bot.i18n import N_, _, ngettext
from bot.mailhost.host import MailHost
from bot.mailhost.mail_flow import Delivery, Message, Rejection
from bot.mailhost.postfix_log import summarize_reply
from bot.mailhost.postqueue import QueueEntry

_RELAY = re.compile(r"(?P<name>[^\[\]]+)\[[^\]]*\](?P<port>:\d+)?")
Answer = TypeVar("Answer")


@dataclass(frozen=True)
class HostFailure:
    host: str
    error: str


@dataclass(frozen=True)
class QueuedMail:
    host: str
    entry: QueueEntry


def mta_hosts(context: Context) -> list[MailHost]:
    hosts = context.config.hosts_with_role("mta") or context.config.hosts
    return [MailHost(h, context.pool.connection(h)) for h in hosts]


def ask_each_host(
    hosts: Sequence[MailHost], question: Callable[[MailHost], Answer]
) -> tuple[list[tuple[MailHost, Answer]], list[HostFailure]]:
    """Ask every host at once. One host down is a failure line, not a failed answer; with a
    single host, or when no host answers, its error is the answer."""
    answers: list[tuple[MailHost, Answer]] = []
    failures: list[HostFailure] = []
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(hosts)))) as workers:
        # each job speaks the asker's language (a thread does not inherit context variables)
        futures = [(host, workers.submit(contextvars.copy_context().run, question, host)) for host in hosts]
        for host, future in futures:
            try:
                answers.append((host, future.result()))
            except MailbotError as exc:
                if len(hosts) == 1:
                    raise
                failures.append(HostFailure(host.name, exc.message))
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


def lifetime_words(lifetime: timedelta | None) -> str:
    """`3 days`, `12 hours`... for a hint; the parameter's name when the figure is unknown."""
    if lifetime is None:
        return _("maximal_queue_lifetime (Postfix's setting)")
    return duration_words(lifetime)


def duration_words(duration: timedelta) -> str:
    """`2 days 5 hours`, `3 hours 10 minutes`, `4 minutes`: two units at most, for people."""
    seconds = max(0, int(duration.total_seconds()))
    days, hours, minutes = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    parts = [
        ngettext("{n} day", "{n} days", days).format(n=days) if days else "",
        ngettext("{n} hour", "{n} hours", hours).format(n=hours) if hours else "",
        ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes) if minutes and not days else "",
    ]
    words = [p for p in parts if p][:2]
    return " ".join(words) if words else ngettext("{n} second", "{n} seconds", seconds).format(n=seconds)


# Postfix's statuses as a table shows them (the JSON keeps Postfix's own words).
STATUS_LABELS = {
    "sent": N_("sent"),
    "deferred": N_("deferred"),
    "bounced": N_("bounced"),
    "expired": N_("expired"),
    "removed": N_("removed"),
    "queued": N_("queued"),
}


def status_cell(delivery: Delivery | None, message: Message) -> str:
    if delivery is not None:
        status = delivery.status
    elif message.expired:
        status = "expired"
    else:
        status = "removed" if message.removed else "queued"
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def detail(delivery: Delivery | None, message: Message) -> str:
    if delivery is None:
        notices = ", ".join(
            _("{kind} notice {queue_id}").format(kind=n.kind, queue_id=n.queue_id) for n in message.notices
        )
        return notices or _("from {client}").format(client=message.client) if message.client else notices
    if delivery.imap_uid is not None:
        return f"{delivery.dsn} {delivery.folder or delivery.mailbox}, UID {delivery.imap_uid}"
    if delivery.next_queue_id:
        return _("{dsn} queued as {next_queue_id} on {short_relay}").format(
            dsn=delivery.dsn, next_queue_id=delivery.next_queue_id, short_relay=short_relay(delivery.relay)
        )
    if delivery.status == "sent":
        return _("{dsn} {daemon} to {short_relay}").format(
            dsn=delivery.dsn, daemon=delivery.daemon, short_relay=short_relay(delivery.relay)
        )
    gist = summarize_reply(delivery.response) or delivery.dsn
    notice = next((n for n in message.notices if n.kind.endswith("non-delivery")), None)
    return (
        _("{gist}; notice {queue_id}").format(gist=gist, queue_id=notice.queue_id)
        if delivery.status == "bounced" and notice
        else gist
    )


def short_relay(relay: str) -> str:
    """`127.0.0.1[127.0.0.1]:2400` -> `127.0.0.1:2400`; `mx.example.com[192.0.2.1]:25` -> `mx.example.com:25`."""
    match = _RELAY.fullmatch(relay)
    if not match:
        return relay
    return f"{match['name']}{match['port'] or ''}"


def over_quota_advice(lifetime: timedelta | None = None) -> str:
    """What to do for mail waiting on a full mailbox: one sentence, the same in `trace` and `queue`;
    `lifetime` is the host's maximal_queue_lifetime."""
    return _(
        "ask the user to free space or raise the quota, then flush the queue (postqueue -f) rather than "
        "waiting for the next retry; after {lifetime} in the queue Postfix returns the mail to its senders."
    ).format(lifetime=lifetime_words(lifetime))


def count(number: int, noun: str) -> str:
    """`1 message`, `3 refusals`, `2 times`, in the reader's language (the nouns the verbs count)."""
    forms = {
        "message": lambda: ngettext("{count} message", "{count} messages", number),
        "refusal": lambda: ngettext("{count} refusal", "{count} refusals", number),
        "time": lambda: ngettext("{count} time", "{count} times", number),
    }
    return forms[noun]().format(count=number)


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "recipient": delivery.recipient,
        "orig_recipient": delivery.orig_recipient,
        "status": delivery.status,
        "dsn": delivery.dsn,
        "relay": delivery.relay,
        "delay": delivery.delay,
        "at": render.iso(delivery.at),
        "response": delivery.response,
        "mailbox": delivery.mailbox,
        "folder": delivery.folder,
        "imap_uid": delivery.imap_uid,
        "next_queue_id": delivery.next_queue_id,
    }


def origins(messages: list[Message]) -> dict[str, str]:
    """Which queue id each hop or notice came from: `queued as` replies and bounce notices."""
    origins: dict[str, str] = {}
    for message in messages:
        for delivery in message.deliveries:
            if delivery.next_queue_id:
                origins.setdefault(delivery.next_queue_id, message.queue_id)
        for notice in message.notices:
            origins.setdefault(notice.queue_id, message.queue_id)
    return origins


def message_json(message: Message, previous: str | None) -> dict[str, Any]:
    return {
        "queue_id": message.queue_id,
        "host": message.host,
        "message_id": message.message_id,
        "sender": message.sender,
        "client": message.client,
        "size": message.size,
        "nrcpt": message.nrcpt,
        "first_seen": render.iso(message.first_seen),
        "last_seen": render.iso(message.last_seen),
        "deliveries": [delivery_json(d) for d in message.deliveries],
        "notices": [{"kind": n.kind, "queue_id": n.queue_id} for n in message.notices],
        "previous_queue_id": previous,
        "expired": message.expired,
        "removed": message.removed,
    }


def rejection_json(rejection: Rejection) -> dict[str, Any]:
    return {
        "at": render.iso(rejection.at),
        "host": rejection.host,
        "queue_id": rejection.queue_id,
        "stage": rejection.stage,
        "action": rejection.action,
        "client": rejection.client,
        "sender": rejection.sender,
        "recipient": rejection.recipient,
        "reason": rejection.reason,
    }


def queued_json(queued: QueuedMail) -> dict[str, Any]:
    entry = queued.entry
    reasons = [r.delay_reason for r in entry.recipients if r.delay_reason]
    return {
        "host": queued.host,
        "queue_id": entry.queue_id,
        "queue_name": entry.queue_name,
        "arrival_time": render.iso(entry.arrival_time),
        "size": entry.size,
        "sender": entry.sender,
        "recipients": [{"address": r.address, "delay_reason": r.delay_reason} for r in entry.recipients],
        "reason": summarize_reply(reasons[0]) if reasons else None,
        "forced_expire": entry.forced_expire,
    }
