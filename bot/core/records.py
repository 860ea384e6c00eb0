"""Mail records as several verbs show them: table cells and JSON shapes of messages, deliveries,
refusals and queue entries.

`trace`, `message`, `queue` and `watch` read the same records from several hosts; their cells and
JSON must read the same everywhere (the `--json` contract of DESIGN.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core import render
from bot.i18n import N_, _
from bot.mailhost.mail_flow import Delivery, Message, Rejection
from bot.mailhost.postfix_log import summarize_reply
from bot.mailhost.postqueue import QueueEntry

_RELAY = re.compile(r"(?P<name>[^\[\]]+)\[[^\]]*\](?P<port>:\d+)?")


@dataclass(frozen=True)
class QueuedMail:
    host: str
    entry: QueueEntry


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


def delivery_text(delivery: Delivery, stamp: Callable[[datetime], str]) -> str:
    """`encode(delivery_json(delivery))`, written without the dict: see `message_text`."""
    q, d = render.json_string, delivery
    delay = d.delay
    return (
        f'{{"recipient": {q(d.recipient)}, '
        f'"orig_recipient": {"null" if d.orig_recipient is None else q(d.orig_recipient)}, '
        f'"status": {q(d.status)}, "dsn": {q(d.dsn)}, "relay": {q(d.relay)}, '
        f'"delay": {repr(delay) if delay - delay == 0 else render.encode(delay)}, '  # not NaN nor infinite
        f'"at": {stamp(d.at)}, "response": {q(d.response)}, '
        f'"mailbox": {"null" if d.mailbox is None else q(d.mailbox)}, '
        f'"folder": {"null" if d.folder is None else q(d.folder)}, '
        f'"imap_uid": {"null" if d.imap_uid is None else d.imap_uid}, '
        f'"next_queue_id": {"null" if d.next_queue_id is None else q(d.next_queue_id)}}}'
    )


def origins(messages: list[Message]) -> dict[str, str]:
    """Which queue id each hop or notice came from: `queued as` replies, MailScanner's requeues
    and bounce notices."""
    origins: dict[str, str] = {}
    for message in messages:
        for delivery in message.deliveries:
            if delivery.next_queue_id:
                origins.setdefault(delivery.next_queue_id, message.queue_id)
        for notice in message.notices:
            origins.setdefault(notice.queue_id, message.queue_id)
        if message.admin_actions and (requeue := message.requeue) is not None:
            origins.setdefault(requeue.next_queue_id, message.queue_id)
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


def message_text(message: Message, previous: str | None, stamp: Callable[[datetime], str], more: str = "") -> str:
    """`encode(message_json(message, previous))`, written without the dict, `more` (further members,
    `, "key": value`) before its closing brace.

    The same text (tests/core/test_records.py compares them) in half the time: a busy trace's
    `--json` writes 57,000 messages and 66,000 deliveries, and the C encoder spent most of its
    0.6 s on their keys, written again for each (bench/run.py).
    """
    q, m = render.json_string, message
    return (
        f'{{"queue_id": {q(m.queue_id)}, "host": {q(m.host)}, '
        f'"message_id": {"null" if m.message_id is None else q(m.message_id)}, '
        f'"sender": {"null" if m.sender is None else q(m.sender)}, '
        f'"client": {"null" if m.client is None else q(m.client)}, '
        f'"size": {"null" if m.size is None else m.size}, '
        f'"nrcpt": {"null" if m.nrcpt is None else m.nrcpt}, '
        f'"first_seen": {stamp(m.first_seen)}, "last_seen": {stamp(m.last_seen)}, '
        f'"deliveries": [{", ".join([delivery_text(d, stamp) for d in m.deliveries])}], '
        f'"notices": [{", ".join([_notice_text(n.kind, n.queue_id) for n in m.notices])}], '
        f'"previous_queue_id": {"null" if previous is None else q(previous)}, '
        f'"expired": {"true" if m.expired else "false"}, "removed": {"true" if m.removed else "false"}{more}}}'
    )


def _notice_text(kind: str, queue_id: str) -> str:
    return f'{{"kind": {render.json_string(kind)}, "queue_id": {render.json_string(queue_id)}}}'


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
