"""What several verbs say about mail: per-host fan-out, table cells and JSON shapes of mail records.

`trace`, `message` and `queue` read the same records (messages, deliveries, refusals, queue
entries) from several hosts; their cells and JSON must read the same everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.actions import render
from bot.actions.registry import Context
from bot.errors import MailbotError
from bot.i18n import _
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
        futures = [(host, workers.submit(question, host)) for host in hosts]
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


def status_cell(delivery: Delivery | None, message: Message) -> str:
    if delivery is not None:
        return delivery.status
    if message.expired:
        return "expired"
    return "removed" if message.removed else "queued"


def detail(delivery: Delivery | None, message: Message) -> str:
    if delivery is None:
        notices = ", ".join(f"{n.kind} notice {n.queue_id}" for n in message.notices)
        return notices or f"from {message.client}" if message.client else notices
    if delivery.imap_uid is not None:
        return f"{delivery.dsn} {delivery.folder or delivery.mailbox}, UID {delivery.imap_uid}"
    if delivery.next_queue_id:
        return f"{delivery.dsn} queued as {delivery.next_queue_id} on {short_relay(delivery.relay)}"
    if delivery.status == "sent":
        return f"{delivery.dsn} {delivery.daemon} to {short_relay(delivery.relay)}"
    gist = summarize_reply(delivery.response) or delivery.dsn
    notice = next((n for n in message.notices if n.kind.endswith("non-delivery")), None)
    return f"{gist}; notice {notice.queue_id}" if delivery.status == "bounced" and notice else gist


def short_relay(relay: str) -> str:
    """`127.0.0.1[127.0.0.1]:2400` -> `127.0.0.1:2400`; `mx.example.com[192.0.2.1]:25` -> `mx.example.com:25`."""
    match = _RELAY.fullmatch(relay)
    if not match:
        return relay
    return f"{match['name']}{match['port'] or ''}"


def over_quota_advice() -> str:
    """What to do for mail waiting on a full mailbox: one sentence, the same in `trace` and `queue`."""
    return _(
        "ask the user to free space or raise the quota, then flush the queue (postqueue -f) rather than "
        "waiting for the next retry; after 3 days Postfix returns the mail to its senders."
    )


def count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


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
