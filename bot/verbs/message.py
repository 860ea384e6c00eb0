"""`message QUEUE_ID|MESSAGE_ID`: one message's whole journey, across every mta host.

A queue id finds its own lines, and the line of the hop before it (`queued as QID`) or of
the message a notice is about; a Message-ID finds every hop at once (cleanup logs it on
each). Each `queued as NEXT` or notice id found is then searched for in turn, on every
host, so a mail is followed from the edge relay to its delivery in the store.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from bot.core import fanout, records, render, scopes
from bot.core.fanout import HostFailure
from bot.core.registry import Context, ReadVerb, Section
from bot.errors import BadInput, ExitStatus, MailbotError
from bot.i18n import N_, _
from bot.mailhost.host import MailHost
from bot.mailhost.mail_flow import Message
from bot.mailhost.postfix_log import DeliveryEvent, LogLine, parse_event, summarize_reply
from bot.mailhost.tools.postfix import HostLog
from bot.mailhost.values import MessageId, QueueId, is_queue_id, parse_message_id, parse_queue_id, quoted

MAX_ROUNDS = 6  # hops followed: edge -> filter -> backend -> notice... is never this deep


@dataclass
class Journey:
    query: QueueId | MessageId
    hosts: tuple[str, ...]
    hops: list[Message] = field(default_factory=list)
    failures: list[HostFailure] = field(default_factory=list)
    hidden: int = 0  # hops outside a scoped caller's access (bot.core.scopes), left out of everything
    exit_code: int = ExitStatus.OK

    def headline(self) -> str:
        if not self.hops and self.hidden:
            return str(scopes.hidden(self.hidden))
        if not self.hops:
            return _("No trace of {query} in the logs of {join}.").format(query=self.query, join=", ".join(self.hosts))
        chain = " -> ".join(f"{m.host}:{m.queue_id}" for m in self.hops)
        return _("Message {query} ({chain}): {where_now}").format(
            query=self.query, chain=chain, where_now=self.where_now()
        )

    def where_now(self) -> str:
        """Where the mail is now: the last attempt per recipient on each hop that did not hand it on."""
        notices = {n.queue_id for m in self.hops for n in m.notices}
        states: list[str] = []
        for message in self.hops:
            if any(d.next_queue_id for d in message.deliveries):
                continue  # handed to the next hop, which tells the rest
            label = _("notice to ") if message.queue_id in notices else ""
            finals = message.final_attempts()
            states += [f"{label}{recipient}: {_state_words(a, message)}" for recipient, a in finals.items()]
            if not finals:
                state = _("removed from the queue") if message.removed else _("in the queue, not tried yet")
                states.append(
                    _("{queue_id} on {host}: {state}").format(queue_id=message.queue_id, host=message.host, state=state)
                )
        return "; ".join(states) + "." if states else _("no delivery attempt logged.")

    def sections(self) -> list[Section]:
        parts: list[Section] = []
        if self.failures:
            parts.append(
                Section(_("Hosts that did not answer"), "\n".join(f"{f.host}: {f.error}" for f in self.failures), False)
            )
        if self.hidden and self.hops:
            parts.append(Section(_("Your access"), str(scopes.hidden(self.hidden)), False))
        if self.hops:
            several = len(self.hosts) > 1
            rows = [
                [render.when_seconds(line.at)]
                + ([render.clip(message.host, 10)] if several else [])
                + [message.queue_id, line.daemon, describe(line)]
                for message in self.hops
                for line in message.lines
            ]
            rows.sort(key=lambda row: row[0])
            headers = [_("When")] + ([_("Host")] if several else []) + [_("Queue id"), _("Daemon"), _("What")]
            parts.append(Section(_("Timeline"), render.table(headers, rows)))
        return parts

    def to_json(self) -> dict[str, Any]:
        origins = records.origins(self.hops)
        return {
            "query": str(self.query),
            "hosts": list(self.hosts),
            "hops": [records.message_json(m, origins.get(m.queue_id)) for m in self.hops],
            "timeline": [
                {
                    "at": render.iso(line.at),
                    "host": m.host,
                    "queue_id": m.queue_id,
                    "program": line.program,
                    "text": line.text,
                }
                for m in self.hops
                for line in m.lines
            ],
            "where": self.where_now() if self.hops else None,
            "hidden": self.hidden,
            "errors": [{"host": f.host, "error": f.error} for f in self.failures],
        }


def describe(line: LogLine) -> str:
    """A log line in few words: a delivery attempt's outcome first, the rest as Postfix wrote it."""
    event = parse_event(line)
    if isinstance(event, DeliveryEvent):
        gist = summarize_reply(event.response)
        alias = _(" (for {orig_recipient})").format(orig_recipient=event.orig_recipient) if event.orig_recipient else ""
        return _("{status} to {recipient}{alias} via {short_relay}: {gist}").format(
            status=_(records.STATUS_LABELS[event.status]) if event.status in records.STATUS_LABELS else event.status,
            recipient=event.recipient,
            alias=alias,
            short_relay=records.short_relay(event.relay),
            gist=gist,
        )
    return line.text


def _state_words(attempt: Any, message: Message) -> str:
    if attempt.status == "sent":
        where = (
            _(" in {folder}, UID {imap_uid}").format(folder=attempt.folder, imap_uid=attempt.imap_uid)
            if attempt.imap_uid is not None
            else ""
        )
        return _("delivered by {host}{where} ({summarize_reply})").format(
            host=message.host, where=where, summarize_reply=render.clip(summarize_reply(attempt.response), 60)
        )
    if attempt.status == "deferred":
        return _("deferred on {host}: {summarize_reply}").format(
            host=message.host, summarize_reply=summarize_reply(attempt.response)
        )
    notice = next((n.queue_id for n in message.notices if n.kind.endswith("non-delivery")), None)
    return _("{status} on {host}: {summarize_reply}").format(
        status=attempt.status, host=message.host, summarize_reply=summarize_reply(attempt.response)
    ) + (_(" (notice {notice})").format(notice=notice) if notice else "")


@dataclass(frozen=True)
class MessageRequest:
    query: QueueId | MessageId


def validate_message(args: argparse.Namespace) -> MessageRequest:
    text = str(args.id).strip()
    if is_queue_id(text):
        return MessageRequest(parse_queue_id(text))
    if text and "@" not in text and not text.startswith("<"):
        # Not a Message-ID's shape: a queue id typed wrong, whose search would find nothing
        if is_queue_id(text.upper()):  # a short queue id in small letters: Postfix writes capitals
            return MessageRequest(parse_queue_id(text.upper()))
        raise BadInput(
            _(
                "{candidate} is not a Postfix queue id (like C5BF3135FAF or 4PcV4K5FPLz3tBr) nor a Message-ID, "
                "which has an @ (like <20261128.1234@example.org>); give one without an @ in angle brackets."
            ).format(candidate=quoted(text))
        )
    return MessageRequest(parse_message_id(text))


def run_message(request: MessageRequest, context: Context) -> Journey:
    hosts = fanout.mta_hosts(context)
    journey = Journey(request.query, tuple(h.name for h in hosts))
    context.progress(_("Following {query} through {join}…").format(query=request.query, join=", ".join(journey.hosts)))
    found: dict[tuple[str, str, str], Message] = {}  # (host, queue id, first seen) -> message
    wanted: set[str] = {request.query.value} if isinstance(request.query, QueueId) else set()
    searched: set[str] = set()
    needles: list[QueueId | MessageId] = [request.query]
    for _round in range(MAX_ROUNDS):
        if not needles:
            break

        def ask(host: MailHost, needles: list[QueueId | MessageId] = needles) -> list[HostLog]:
            return [host.postfix.message_log(needle) for needle in needles]

        answers, failures = fanout.ask_each_host(hosts, ask)
        journey.failures = failures
        searched.update(n.value for n in needles)
        for _host, logs in answers:
            for log in logs:
                for message in log.flow.messages:
                    if _belongs(message, request.query, wanted):
                        found[(message.host, message.queue_id, message.first_seen.isoformat())] = message
        for message in found.values():
            wanted.add(message.queue_id)
            wanted.update(d.next_queue_id for d in message.deliveries if d.next_queue_id)
            wanted.update(n.queue_id for n in message.notices)
        needles = [QueueId(q) for q in sorted(wanted - searched)]
    journey.hops = sorted(found.values(), key=lambda m: (m.first_seen, m.host))
    if context.scope is not None:  # a scoped caller: only the hops from or to their domains
        shown = context.scope.within(journey.hops, _parties)
        journey.hidden, journey.hops = len(journey.hops) - len(shown), shown
        context.scope.check_queue_id(context, str(request.query), journey.hidden, len(shown))  # all others': refused
    if journey.failures:
        journey.exit_code = ExitStatus.FAILED
    if not journey.hops and journey.failures:
        raise MailbotError(" ".join(f"{f.host}: {f.error}" for f in journey.failures))
    return journey


def _belongs(message: Message, query: QueueId | MessageId, wanted: set[str]) -> bool:
    if isinstance(query, MessageId) and message.message_id == query.value:
        return True
    return message.queue_id in wanted or any(d.next_queue_id in wanted for d in message.deliveries)


def _parties(message: Message) -> tuple[str | None, list[str | None]]:
    """Its sender, and its recipients: delivered to (and as addressed, before an alias), rejected."""
    recipients = [d.recipient for d in message.deliveries] + [d.orig_recipient for d in message.deliveries]
    return message.sender, recipients + [r.recipient for r in message.rejections]


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", metavar="QUEUE_ID|MESSAGE_ID", help=_("a queue id (C5BF3135FAF) or a Message-ID"))


MESSAGE = ReadVerb(
    name="message",
    summary=N_("one message's whole journey, by queue id or Message-ID, across every host"),
    configure=_configure,
    validate=validate_message,
    run=run_message,
    lists_mail=True,
)
