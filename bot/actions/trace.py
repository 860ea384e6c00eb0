"""`trace ADDRESS [--since D]`: what happened to this person's mail.

Runs on every `mta` host at once: the host-side log search and `postqueue`, merged into
one report with the messages (one entry per queue id), the SMTP-time refusals, what is
still queued and why, and hints that say what to do next, as the support procedure does.
"""

from __future__ import annotations

import argparse
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.actions import render
from bot.actions.registry import Context, Section, Verb, register
from bot.errors import MailbotError
from bot.mailhost.host import HostLog, MailHost
from bot.mailhost.mail_flow import Delivery, Message, Rejection
from bot.mailhost.postfix_log import summarize_reply
from bot.mailhost.postqueue import QueueEntry
from bot.mailhost.values import Address, parse_address, parse_duration

OVER_QUOTA_MARKERS = ("4.2.2", "over quota", "quota exceeded", "mailbox full")
PARTY_WIDTH = 30
_QUOTED_ADDRESS = re.compile(r"^(?P<code>[245]\d\d [245]\.\d{1,3}\.\d{1,3} )<[^>]*>: ")
_RELAY = re.compile(r"(?P<name>[^\[\]]+)\[[^\]]*\](?P<port>:\d+)?")


@dataclass(frozen=True)
class HostFailure:
    host: str
    error: str


@dataclass(frozen=True)
class QueuedMail:
    host: str
    entry: QueueEntry


@dataclass
class TraceReport:
    address: Address
    since: timedelta | None
    hosts: tuple[str, ...]
    messages: list[Message] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    queued: list[QueuedMail] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failures: list[HostFailure] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    exit_code: int = 0

    # --- Outcome -----------------------------------------------------------------------

    def headline(self) -> str:
        where = ", ".join(self.hosts)
        window = f" in the last {_duration_words(self.since)}" if self.since else ""
        parts = [
            _count(len(self.messages), "message"),
            _count(len(self.rejected), "refusal"),
            f"{len(self.queued)} still queued",
        ]
        return f"Trace of {self.address} on {where}{window}: " + ", ".join(parts) + "."

    def to_json(self) -> dict[str, Any]:
        origins = _origins(self.messages)
        return {
            "address": self.address.value,
            "since": _duration_words(self.since) if self.since else None,
            "hosts": list(self.hosts),
            "messages": [_message_json(m, origins.get(m.queue_id)) for m in self.messages],
            "rejected": [_rejection_json(r) for r in self.rejected],
            "queued": [_queued_json(q) for q in self.queued],
            "hints": self.hints,
            "warnings": self.warnings,
            "errors": [{"host": f.host, "error": f.error} for f in self.failures],
            "files_read": self.files_read,
        }

    def sections(self) -> list[Section]:
        sections = (
            [Section("Hosts that did not answer", "\n".join(f"{f.host}: {f.error}" for f in self.failures), False)]
            if self.failures
            else []
        )
        if self.messages:
            sections.append(Section("Messages", self.messages_table()))
        if self.rejected:
            sections.append(Section("Refused at SMTP time (nothing was queued for these)", self.rejected_table()))
        if self.queued:
            sections.append(Section("Still in the queue", self.queue_table()))
        if self.hints:
            sections.append(Section("What to do", "\n".join(self.hints), monospace=False))
        if self.warnings:
            sections.append(Section("Warnings", "\n".join(self.warnings), monospace=False))
        return sections

    def messages_table(self) -> str:
        several_hosts = len(self.hosts) > 1
        rows = []
        for message in self.messages:
            for delivery in message.deliveries or (None,):
                recipient = delivery.recipient if delivery else None
                row = [
                    render.when(delivery.at if delivery else message.first_seen),
                    message.queue_id,
                    render.clip(_party(self.address, message.sender, recipient), PARTY_WIDTH),
                    _status_cell(delivery, message),
                    _rerouted(self.address, message, delivery) + _detail(delivery, message),
                ]
                rows.append(([render.clip(message.host, 12)] if several_hosts else []) + row)
        headers = (["Host"] if several_hosts else []) + ["When", "Queue id", "With", "Status", "Detail"]
        return render.table(headers, rows)

    def rejected_table(self) -> str:
        rows = [
            [
                render.when(r.at),
                render.clip(r.client or "", 24),
                render.clip(_party(self.address, r.sender, r.recipient), PARTY_WIDTH),
                _rejection_reason(r),
            ]
            for r in self.rejected
        ]
        return render.table(["When", "Client", "With", "Reason"], rows)

    def queue_table(self) -> str:
        rows = []
        for queued in self.queued:
            entry = queued.entry
            reasons = {summarize_reply(r.delay_reason) for r in entry.recipients if r.delay_reason}
            mark = {"active": " (active)", "hold": " (held)"}.get(entry.queue_name, "")
            recipients = ", ".join(r.address for r in entry.recipients)
            rows.append(
                [
                    entry.queue_id + mark,
                    render.when(entry.arrival_time),
                    render.size(entry.size),
                    render.clip(_party(self.address, entry.sender, recipients), PARTY_WIDTH),
                    "; ".join(sorted(reasons)) or "waiting for delivery",
                ]
            )
        return render.table(["Queue id", "Arrived", "Size", "With", "Reason"], rows)


@dataclass(frozen=True)
class TraceRequest:
    address: Address
    since: timedelta | None


def validate_trace(args: argparse.Namespace) -> TraceRequest:
    return TraceRequest(parse_address(args.address), parse_duration(args.since) if args.since else None)


def run_trace(request: TraceRequest, context: Context) -> TraceReport:
    address, since = request.address, request.since
    hosts = context.config.hosts_with_role("mta") or context.config.hosts
    report = TraceReport(address=address, since=since, hosts=tuple(h.name for h in hosts))
    context.progress(f"Searching the mail logs of {', '.join(report.hosts)} for {address}…")

    def ask(host: MailHost) -> tuple[HostLog, list[QueueEntry]]:
        return host.trace_log(address, since), host.queue()

    mail_hosts = [MailHost(h, context.pool.connection(h)) for h in hosts]
    with ThreadPoolExecutor(max_workers=min(8, len(mail_hosts))) as workers:
        futures = [(host, workers.submit(ask, host)) for host in mail_hosts]
        answers: list[tuple[HostLog, list[QueueEntry]]] = []
        for host, future in futures:
            try:
                answers.append(future.result())
            except MailbotError as exc:
                if len(mail_hosts) == 1:
                    raise
                report.failures.append(HostFailure(host.name, exc.message))
    if report.failures and not answers:
        raise MailbotError(" ".join(f"{f.host}: {f.error}" for f in report.failures))

    for host_log, queue in answers:
        report.files_read.extend(f"{host_log.host}:{path}" for path in host_log.files_read)
        report.warnings.extend(host_log.warnings)
        report.messages.extend(m for m in host_log.flow.messages if _names(m, address))
        report.rejected.extend(r for r in host_log.flow.rejections if _rejection_names(r, address))
        for message in host_log.flow.messages:
            report.rejected.extend(r for r in message.rejections if _rejection_names(r, address))
        report.queued.extend(QueuedMail(host_log.host, e) for e in queue if e.involves(address.value))
    report.messages.sort(key=lambda m: (m.first_seen, m.host, m.queue_id))
    report.rejected.sort(key=lambda r: r.at)
    report.queued.sort(key=lambda q: q.entry.arrival_time)
    report.hints = hints_for(report)
    if report.failures:
        report.exit_code = 1
    return report


def _names(message: Message, address: Address) -> bool:
    """The address is this message's sender, a recipient, or an original recipient."""
    wanted = address.value
    if (message.sender or "").lower() == wanted:
        return True
    return any(d.recipient.lower() == wanted or (d.orig_recipient or "").lower() == wanted for d in message.deliveries)


def _rejection_names(rejection: Rejection, address: Address) -> bool:
    return address.value in ((rejection.recipient or "").lower(), (rejection.sender or "").lower())


# --- hints: what the support procedure says to do next ----------------------------------


def hints_for(report: TraceReport) -> list[str]:
    address = report.address.value
    hints: list[str] = []
    to_address = [d for m in report.messages for d in m.final_attempts().values() if d.recipient.lower() == address]
    queued_for_address = [q for q in report.queued if any(r.address.lower() == address for r in q.entry.recipients)]
    over_quota = [d for d in to_address if d.status == "deferred" and _is_over_quota(d.response)]
    over_quota_queued = [
        q for q in queued_for_address if any(_is_over_quota(r.delay_reason or "") for r in q.entry.recipients)
    ]
    if over_quota or over_quota_queued:
        waiting = len(over_quota_queued) or len(over_quota)
        hints.append(
            f"{address}'s mailbox is over quota: {_count(waiting, 'message')} waiting in the queue. "
            "Ask the user to free space or raise the quota, then flush the queue (postqueue -f) "
            "rather than waiting for the next retry; after 3 days Postfix returns them to the senders."
        )
    unknown_in_store = [d for d in to_address if d.status == "bounced" and d.dsn == "5.1.1"]
    if unknown_in_store:
        hints.append(
            f"Postfix accepted mail for {address}, then the mailbox server answered 'User unknown' (5.1.1) "
            f"{_count(len(unknown_in_store), 'time')}: if this address exists in BlueMind, the Postfix maps "
            "are stale. Rebuild them (Mail maintenance > Execute, or regen-maps); no restart is needed."
        )
    unknown_at_smtp = [r for r in report.rejected if (r.recipient or "").lower() == address and "5.1.1" in r.reason]
    if unknown_at_smtp:
        hints.append(
            f"Postfix refused {address} as an unknown user at SMTP time "
            f"{_count(len(unknown_at_smtp), 'time')}; the senders got an error from their own server. If the "
            "address should exist (new user, renamed login, new alias), rebuild the Postfix maps."
        )
    other_deferrals = [q for q in queued_for_address if q not in over_quota_queued and not q.entry.held]
    if other_deferrals:
        reasons = sorted(
            {summarize_reply(r.delay_reason) for q in other_deferrals for r in q.entry.recipients if r.delay_reason}
        )
        hints.append(
            f"{_count(len(other_deferrals), 'message')} to {address} {'is' if len(other_deferrals) == 1 else 'are'} "
            f"waiting in the queue" + (f" ({'; '.join(reasons)[:200]})" if reasons else "") + "."
        )
    expired = [d for d in to_address if d.status == "expired"]
    if expired:
        hints.append(
            f"{_count(len(expired), 'message')} to {address} stayed in the queue until Postfix gave up "
            "(maximal_queue_lifetime) and returned them to their senders; they must be sent again."
        )
    held = [q for q in report.queued if q.entry.held]
    if held:
        hints.append(
            f"{_count(len(held), 'message')} for {address} {'is' if len(held) == 1 else 'are'} on hold: an admin "
            "or a filter put them there; they will not be delivered until released (postsuper -H)."
        )
    bounced_out = [
        d
        for m in report.messages
        if (m.sender or "").lower() == address
        for d in m.final_attempts().values()
        if d.status == "bounced" and d.recipient.lower() != address
    ]
    if bounced_out and not unknown_in_store:
        hints.append(
            f"{_count(len(bounced_out), 'message')} sent by {address} bounced; {address} received a "
            "non-delivery notice that quotes the remote server's answer."
        )
    if not report.messages and not report.rejected and not report.queued and not report.failures:
        window = f" in the last {_duration_words(report.since)}" if report.since else " in the logs kept on the host"
        hints.append(
            f"No trace of {address}{window}: the mail never reached this server. Check the antispam or "
            "gateway in front of it, the spelling of the address, and that the address is in the Postfix maps."
        )
    return hints


def _is_over_quota(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in OVER_QUOTA_MARKERS)


# --- rendering details ------------------------------------------------------------------


def _party(address: Address, sender: str | None, recipient: str | None) -> str:
    """The other side of the exchange, seen from the traced address: `from X` or `to Y`."""
    if (sender or "").lower() == address.value:
        return f"to {recipient}" if recipient and recipient.lower() != address.value else "to self"
    return f"from {sender or '<>'}"


def _rerouted(address: Address, message: Message, delivery: Delivery | None) -> str:
    """`for john@lab.test: ` when mail to an alias of the traced address went elsewhere."""
    if delivery is None or (message.sender or "").lower() == address.value:
        return ""
    return "" if delivery.recipient.lower() == address.value else f"for {delivery.recipient}: "


def _status_cell(delivery: Delivery | None, message: Message) -> str:
    if delivery is not None:
        return delivery.status
    if message.expired:
        return "expired"
    return "removed" if message.removed else "queued"


def _detail(delivery: Delivery | None, message: Message) -> str:
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


def _rejection_reason(rejection: Rejection) -> str:
    """`550 5.1.1 <r>: Recipient address rejected: ...` without the address the With column shows."""
    return _QUOTED_ADDRESS.sub(r"\g<code>", rejection.reason, count=1)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _duration_words(duration: timedelta | None) -> str:
    if duration is None:
        return ""
    seconds = int(duration.total_seconds())
    for unit, length in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % length == 0:
            return f"{seconds // length}{unit}"
    return f"{seconds}s"


def _delivery_json(delivery: Delivery) -> dict[str, Any]:
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


def _origins(messages: list[Message]) -> dict[str, str]:
    """Which queue id each hop or notice came from: `queued as` replies and bounce notices."""
    origins: dict[str, str] = {}
    for message in messages:
        for delivery in message.deliveries:
            if delivery.next_queue_id:
                origins.setdefault(delivery.next_queue_id, message.queue_id)
        for notice in message.notices:
            origins.setdefault(notice.queue_id, message.queue_id)
    return origins


def _message_json(message: Message, previous: str | None) -> dict[str, Any]:
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
        "deliveries": [_delivery_json(d) for d in message.deliveries],
        "notices": [{"kind": n.kind, "queue_id": n.queue_id} for n in message.notices],
        "previous_queue_id": previous,
        "expired": message.expired,
        "removed": message.removed,
    }


def _rejection_json(rejection: Rejection) -> dict[str, Any]:
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


def _queued_json(queued: QueuedMail) -> dict[str, Any]:
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


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDRESS", help="the email address to follow (any case)")
    parser.add_argument("--since", metavar="DURATION", help="only the last 30m, 12h, 2d, 1w... (default: all logs)")


TRACE = register(
    Verb(
        name="trace",
        summary="every message to or from an address: deliveries, refusals, queue, hints",
        policy="read",
        configure=_configure,
        validate=validate_trace,
        run=run_trace,
    )
)
