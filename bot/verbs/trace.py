"""`trace ADDRESS [--since D]`: what happened to this person's mail; or to any mail of one client
(`--client IP`), of one Message-ID (`--message-id`), from or to an address (`--from`, `--to`),
narrowed to one verdict (`--status`).

Runs on every `mta` host at once: the host-side log search and `postqueue`, merged into
one report with the messages (one entry per queue id), the SMTP-time refusals, what is
still queued and why, and hints that say what to do next, as the support procedure does.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot import i18n
from bot.core import fanout, reasons, records, render, scopes, verdict_text
from bot.core.fanout import HostFailure
from bot.core.records import QueuedMail
from bot.core.registry import Context, ReadVerb, Section
from bot.errors import BadInput, ExitStatus
from bot.i18n import N_, _, ngettext
from bot.mailhost.host import MailHost
from bot.mailhost.mail_flow import Message, Rejection, collector_paused
from bot.mailhost.postfix_log import summarize_reply
from bot.mailhost.postqueue import QueueEntry
from bot.mailhost.reasons import UNKNOWN_RECIPIENT, cause_of, is_over_quota
from bot.mailhost.tools.postfix import HostLog, TraceKey
from bot.mailhost.values import (
    Address,
    ClientIp,
    MessageId,
    parse_address,
    parse_client_ip,
    parse_duration,
    parse_message_id,
    parse_trace_status,
    quoted,
)
from bot.mailhost.verdicts import DELETED, HELD, QUEUED, REFUSED, AnyVerdict, client_ip, read_verdicts

PARTY_WIDTH = 30
SLACK_INLINE = 15  # verdicts listed in Slack when the answer goes to a file
_QUOTED_ADDRESS = re.compile(r"^(?P<code>[245]\d\d [245]\.\d{1,3}\.\d{1,3} )<[^>]*>: ")
_RELAY = re.compile(r"(?P<name>[^\[\]]+)\[[^\]]*\](?P<port>:\d+)?")


@dataclass(frozen=True)
class HostWindow:
    """What was searched on one host: the files read, from the first line of the oldest to the
    last write of the newest."""

    host: str
    files: tuple[str, ...]
    oldest: datetime | None
    newest: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "files": list(self.files),
            "oldest": render.iso(self.oldest),
            "newest": render.iso(self.newest),
        }


@dataclass(frozen=True)
class TraceRequest:
    """What to follow (one key searched on the hosts) and what to keep of it (every other one given)."""

    address: Address | None
    since: timedelta | None
    attempts: bool = False
    client: ClientIp | None = None
    message_id: MessageId | None = None
    sender: Address | None = None  # --from
    recipient: Address | None = None  # --to
    status: str | None = None  # a verdict's kind; `queued`: anything still in a queue

    def search_key(self) -> TraceKey:
        """The one fixed string the hosts search for: the most selective key given."""
        key = self.message_id or self.address or self.sender or self.recipient or self.client
        if key is None:
            raise ValueError("a trace needs a key")
        return key

    @property
    def perspective(self) -> Address | None:
        """The address the answer is told from (`from X`, `to Y`), when there is one."""
        return self.address or self.sender or self.recipient

    def subject(self) -> str:
        """What was followed, as the headline and the window sentence name it."""
        parts = [self.address.value] if self.address else []
        if self.sender:
            parts.append(_("mail from {address}").format(address=self.sender))
        if self.recipient:
            parts.append(_("mail to {address}").format(address=self.recipient))
        if self.client:
            parts.append(_("client {client}").format(client=self.client))
        if self.message_id:
            parts.append(_("Message-ID {message_id}").format(message_id=self.message_id))
        if self.status:
            parts.append(_("status {status}").format(status=_(verdict_text.LABELS[self.status])))
        return ", ".join(parts)

    def keeps_message(self, message: Message) -> bool:
        """Before the verdicts: the messages of the search key (a hop of their mail comes along)."""
        if self.address is not None:
            return message.involves(self.address.value)
        if self.sender is not None and self.message_id is None:
            return message.involves(self.sender.value)
        if self.recipient is not None and self.message_id is None:
            return message.involves(self.recipient.value)
        return True  # a client's or a Message-ID's: kept or not by their verdicts, hops and all

    def keeps(self, verdict: AnyVerdict, client_hops: frozenset[tuple[str, str]] = frozenset()) -> bool:
        """Every key and filter given, on one message and recipient (`client_hops`: the hops whose
        `client=` is the client's: its mail reinjected by a content filter is its mail too)."""
        if self.address is not None and not _verdict_names(verdict, self.address):
            return False
        if self.sender is not None and (verdict.sender or "").lower() != self.sender.value:
            return False
        if self.recipient is not None:
            if verdict.recipient is None:
                if (verdict.sender or "").lower() == self.recipient.value:
                    return False
            elif self.recipient.value not in {verdict.recipient.lower(), (verdict.orig_recipient or "").lower()}:
                return False
        if (
            self.client is not None
            and client_ip(verdict.client) != self.client.value
            and not any((hop.host, hop.queue_id) in client_hops for hop in verdict.hops)
        ):
            return False
        if self.message_id is not None and verdict.message_id != self.message_id.value:
            return False
        if self.status is not None:
            if self.status == QUEUED:
                return verdict.kind == QUEUED or verdict.in_queue is True
            return verdict.kind == self.status
        return True

    def kept(
        self, verdicts: list[AnyVerdict], client_hops: frozenset[tuple[str, str]] = frozenset()
    ) -> list[AnyVerdict]:
        """The verdicts that `keeps`. For an address alone (most traces), its test inlined: the parser's
        own string first, by identity, then `Verdict.names` (three calls a verdict and the address
        lowered each time were about 25 ms for the 45,000 verdicts of a frequent address; 8 ms now,
        bench/run.py)."""
        address = self.address
        if address is None or self != TraceRequest(address, self.since, self.attempts):
            return [verdict for verdict in verdicts if self.keeps(verdict, client_hops)]
        value = sys.intern(address.value)  # the parser's own string (postfix_log): `is` finds it
        return [
            verdict
            for verdict in verdicts
            if verdict.recipient is None
            or verdict.recipient is value
            or verdict.sender is value
            or verdict.names(value)
        ]

    def keeps_rejection(self, rejection: Rejection) -> bool:
        if self.status not in (None, REFUSED) or self.message_id is not None:
            return False
        sender, recipient = (rejection.sender or "").lower(), (rejection.recipient or "").lower()
        if self.address is not None and self.address.value not in (sender, recipient):
            return False
        if self.sender is not None and sender != self.sender.value:
            return False
        if self.recipient is not None and recipient != self.recipient.value:
            return False
        return self.client is None or client_ip(rejection.client) == self.client.value

    def keeps_entry(self, entry: QueueEntry) -> bool:
        """A queue entry for the addresses given (a client's or a Message-ID's: by its queue id)."""
        if self.status not in (None, QUEUED, "deferred", "held"):
            return False
        wanted = [a for a in (self.address, self.sender, self.recipient) if a is not None]
        if not wanted:
            return False
        if self.sender is not None and (entry.sender or "").lower() != self.sender.value:
            return False
        if self.recipient is not None and all(r.address.lower() != self.recipient.value for r in entry.recipients):
            return False
        return self.address is None or entry.involves(self.address.value)


@dataclass
class TraceReport:
    address: Address | None
    since: timedelta | None
    hosts: tuple[str, ...]
    messages: list[Message] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    queued: list[QueuedMail] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failures: list[HostFailure] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    queue_lifetime: timedelta | None = None  # the shortest of the hosts' maximal_queue_lifetime
    verdicts: list[AnyVerdict] = field(default_factory=list)  # one per message and recipient
    attempts: bool = False  # `--attempts`: every attempt's line, as the trace showed before verdicts
    windows: list[HostWindow] = field(default_factory=list)  # what each host's logs cover
    request: TraceRequest | None = None  # the keys and filters, when not the address alone
    hidden: int = 0  # mails outside a scoped caller's access (bot.core.scopes), left out of everything
    exit_code: int = ExitStatus.OK

    @property
    def perspective(self) -> Address | None:
        return self.request.perspective if self.request else self.address

    def subject(self) -> str:
        return self.request.subject() if self.request else str(self.address)

    # --- Outcome -----------------------------------------------------------------------

    def headline(self) -> str:
        counts = {
            "address": self.subject(),
            "where": ", ".join(self.hosts),
            "messages": render.count(len(self.messages), "message"),
            "refusals": render.count(len(self.rejected), "refusal"),
            "queued": len(self.queued),
        }
        if self.since:
            return _(
                "Trace of {address} on {where} in the last {duration}: {messages}, {refusals}, {queued} still queued."
            ).format(duration=since_words(self.since), **counts)
        return _("Trace of {address} on {where}: {messages}, {refusals}, {queued} still queued.").format(**counts)

    def to_json(self) -> dict[str, Any]:
        origins = records.origins(self.messages)
        # A verdict's text is made where its messages are written, and again in the list of
        # verdicts: keeping a busy trace's 45,000 texts for the list held 30 MB, making them again
        # costs 0.15 s. Each time's text is made once while it is used (render.stamp_texts).
        stamp = render.stamp_texts()
        # Each hop's verdicts, by host and queue id: the verdict itself when it is the only one
        # (most are). A list made for each of 45,000 hops held 9 MB; a key made for each (the
        # verdicts read from their records make their hops when asked) 4 MB: the hop's own strings
        # are the keys.
        by_hop: dict[str, dict[str, AnyVerdict | list[AnyVerdict]]] = {}
        for verdict in self.verdicts:
            for host, queue_id in verdict.hops:
                of_host = by_hop.get(host)
                if of_host is None:
                    of_host = by_hop[host] = {}
                held = of_host.get(queue_id)
                if held is None:
                    of_host[queue_id] = verdict
                elif isinstance(held, list):
                    held.append(verdict)
                else:
                    of_host[queue_id] = [held, verdict]

        def verdicts_of(m: Message) -> Iterable[AnyVerdict]:
            held = by_hop.get(m.host, {}).get(m.queue_id)
            return () if held is None else held if isinstance(held, list) else (held,)

        def message(m: Message) -> dict[str, Any]:
            shown = [verdict.to_json() for verdict in verdicts_of(m)]
            return {**records.message_json(m, origins.get(m.queue_id)), "verdict": shown}

        def message_text(m: Message) -> str:
            """`message`'s JSON text, its verdicts' texts spliced in."""
            shown = ", ".join([verdict.json_text(stamp) for verdict in verdicts_of(m)])
            return records.message_text(m, origins.get(m.queue_id), stamp, f', "verdict": [{shown}]')

        return {
            "address": self.address.value if self.address else None,
            "key": self._key_json(),
            "since": _duration_words(self.since) if self.since else None,
            "hosts": list(self.hosts),
            "messages": render.JsonRows(self.messages, message, message_text),
            "verdicts": render.JsonRows(
                self.verdicts, lambda verdict: verdict.to_json(), lambda verdict: verdict.json_text(stamp)
            ),
            "rejected": [records.rejection_json(r) for r in self.rejected],
            "queued": [records.queued_json(q) for q in self.queued],
            "hints": self.hints,
            "queue_lifetime": int(self.queue_lifetime.total_seconds()) if self.queue_lifetime else None,
            "warnings": self.warnings,
            "errors": [{"host": f.host, "error": f.error} for f in self.failures],
            "files_read": self.files_read,
            "window": [w.to_json() for w in self.windows],
            "hidden": self.hidden,
        }

    def _key_json(self) -> dict[str, str | None]:
        request = self.request
        return {
            "address": self.address.value if self.address else None,
            "client": request.client.value if request and request.client else None,
            "message_id": request.message_id.value if request and request.message_id else None,
            "from": request.sender.value if request and request.sender else None,
            "to": request.recipient.value if request and request.recipient else None,
            "status": request.status if request else None,
        }

    def sections(self) -> list[Section]:
        sections = (
            [Section(_("Hosts that did not answer"), "\n".join(f"{f.host}: {f.error}" for f in self.failures), False)]
            if self.failures
            else []
        )
        if self.attempts:
            if self.messages:
                sections.append(Section(_("Messages"), self.messages_table()))
            if self.rejected:
                sections.append(
                    Section(_("Refused at SMTP time (nothing was queued for these)"), self.rejected_table())
                )
            if self.queued:
                sections.append(Section(_("Still in the queue"), self.queue_table()))
        elif self.verdicts:
            sections.append(Section(_("What happened to each message"), self.verdicts_table))
        if self.hidden:
            sections.append(Section(_("Your access"), str(scopes.hidden(self.hidden)), False))
        if self.hints:
            sections.append(Section(_("What to do"), "\n".join(self.hints), monospace=False))
        if self.windows:
            sections.append(Section(_("Searched"), "\n".join(self.window_lines()), monospace=False))
        if self.warnings:
            sections.append(Section(_("Warnings"), "\n".join(self.warnings), monospace=False))
        return sections

    def verdicts_table(self) -> Iterator[str]:
        """One line per message and recipient, in the order the mail came; the detail wraps and ends
        with the queue id(s), the host's name first when the trace read several hosts. As pieces of
        text: the details are made as the table is written (`verdict_text.wrapped_table`)."""
        several_hosts = len(self.hosts) > 1
        perspective, width = self.perspective, PARTY_WIDTH - 2
        when, clip, label = render.when, render.clip, verdict_text.label
        leading: tuple[list[str], list[str], list[str]] = ([], [], [])
        # Each cell made once per minute, party and kind, the rows sharing it: a busy trace's 45,000
        # rows have 5,000 minutes and a few thousand senders; the first three columns took 0.35 s and
        # held 45,000 texts each (bench/run.py, issue 24).
        minutes: dict[tuple[int, int, int, int], str] = {}
        parties: dict[tuple[str | None, str | None], str] = {}
        labels: dict[str, str] = {}
        for verdict in self.verdicts:
            at = verdict.arrived
            minute = (at.month, at.day, at.hour, at.minute)  # all that `render.when` shows
            cell = minutes.get(minute)
            if cell is None:
                cell = minutes[minute] = when(at)
            leading[0].append(cell)
            pair = (verdict.sender, verdict.recipient)
            cell = parties.get(pair)
            if cell is None:
                cell = parties[pair] = clip(_party(perspective, verdict.sender, verdict.recipient), width)
            leading[1].append(cell)
            cell = labels.get(verdict.kind)
            if cell is None:
                cell = labels[verdict.kind] = label(verdict)
            leading[2].append(cell)

        def details() -> Iterator[str]:
            for each in self.verdicts:
                verdict = each.record()  # most of its fields are read (`AnyVerdict`)
                text = _rerouted(perspective, verdict.sender, verdict.recipient) + verdict_text.detail(verdict)
                if len(verdict.hops) == 1:
                    hop = verdict.hops[0]
                    text += f" ({hop.host} {hop.queue_id})" if several_hosts else f" ({hop.queue_id})"
                elif not verdict.hops and several_hosts and verdict.host:
                    text += f" ({verdict.host})"
                yield text

        return verdict_text.wrapped_table([_("When"), _("With"), _("Verdict"), _("Detail")], leading, details())

    def slack_inline(self) -> Section:
        """For Slack, when the answer goes to a file: up to 15 verdicts, problems first, then the most recent."""
        ordered = verdict_text.slack_order(self.verdicts)
        lines = [
            f"{render.when(x.arrived)} · {_party(self.perspective, x.sender, x.recipient)} · "
            f"{verdict_text.label(x)}: {_rerouted(self.perspective, x.sender, x.recipient)}{verdict_text.detail(x)}"
            for x in ordered[:SLACK_INLINE]
        ]
        if len(ordered) > SLACK_INLINE:
            more = len(ordered) - SLACK_INLINE
            lines.append(
                ngettext("… {count} more verdict in the file.", "… {count} more verdicts in the file.", more).format(
                    count=more
                )
            )
        return Section(_("What happened to each message"), "\n".join(lines), monospace=False)

    def window_lines(self) -> list[str]:
        """Per host: the files read and the time their lines cover, and the --since limit."""
        lines = []
        for window in self.windows:
            files = ngettext("{count} file", "{count} files", len(window.files)).format(count=len(window.files))
            if window.oldest and window.newest:
                lines.append(
                    _("{host}: {files} ({paths}), from {oldest} to {newest}").format(
                        host=window.host,
                        files=files,
                        paths=", ".join(window.files),
                        oldest=render.when(window.oldest),
                        newest=render.when(window.newest),
                    )
                )
            else:
                lines.append(_("{host}: {files}").format(host=window.host, files=files))
        if self.since:
            lines.append(_("Only the last {duration}.").format(duration=since_words(self.since)))
        return lines

    def coverage(self) -> tuple[datetime, datetime] | None:
        """From the oldest line of any host to the newest write, when every host said."""
        oldest = [w.oldest for w in self.windows if w.oldest]
        newest = [w.newest for w in self.windows if w.newest]
        if not oldest or not newest:
            return None
        start = min(oldest)
        if self.since and newest:
            start = max(start, max(newest) - self.since)
        return start, max(newest)

    def to_csv(self) -> str:
        return verdict_text.csv_text(self.verdicts, self.messages)

    def messages_table(self) -> str:
        several_hosts = len(self.hosts) > 1
        rows = []
        for message in self.messages:
            for delivery in message.deliveries or (None,):
                recipient = delivery.recipient if delivery else None
                row = [
                    render.when(delivery.at if delivery else message.first_seen),
                    message.queue_id,
                    render.clip(_party(self.perspective, message.sender, recipient), PARTY_WIDTH),
                    records.status_cell(delivery, message),
                    _rerouted(self.perspective, message.sender, recipient) + records.detail(delivery, message),
                ]
                rows.append(([render.clip(message.host, 12)] if several_hosts else []) + row)
        headers = ([_("Host")] if several_hosts else []) + [
            _("When"),
            _("Queue id"),
            _("With"),
            _("Status"),
            _("Detail"),
        ]
        return render.table(headers, rows)

    def rejected_table(self) -> str:
        rows = [
            [
                render.when(r.at),
                render.clip(r.client or "", 24),
                render.clip(_party(self.perspective, r.sender, r.recipient), PARTY_WIDTH),
                _rejection_reason(r),
            ]
            for r in self.rejected
        ]
        return render.table([_("When"), _("Client"), _("With"), _("Reason")], rows)

    def queue_table(self) -> str:
        rows = []
        for queued in self.queued:
            entry = queued.entry
            gists = {summarize_reply(r.delay_reason) for r in entry.recipients if r.delay_reason}
            state = {"active": _("active"), "hold": _("held")}.get(entry.queue_name)
            mark = f" ({state})" if state else ""
            recipients = ", ".join(r.address for r in entry.recipients)
            rows.append(
                [
                    entry.queue_id + mark,
                    render.when(entry.arrival_time),
                    render.size(entry.size),
                    render.clip(_party(self.perspective, entry.sender, recipients), PARTY_WIDTH),
                    "; ".join(sorted(gists)) or _("waiting for delivery"),
                ]
            )
        return render.table([_("Queue id"), _("Arrived"), _("Size"), _("With"), _("Reason")], rows)


def validate_trace(args: argparse.Namespace) -> TraceRequest:
    def given(name: str) -> str | None:
        value = getattr(args, name, None)
        return value if isinstance(value, str) else None

    message_id = None
    if (text := given("message_id")) is not None:
        try:
            message_id = parse_message_id(text)
        except BadInput:
            raise BadInput(
                _("{text} is not a Message-ID (like <20261128.1234@example.org>).").format(text=quoted(text))
            ) from None
    request = TraceRequest(
        parse_address(args.address) if given("address") is not None else None,
        parse_duration(args.since) if given("since") else None,
        bool(getattr(args, "attempts", False)),
        client=parse_client_ip(text) if (text := given("client")) is not None else None,
        message_id=message_id,
        sender=parse_address(text) if (text := given("sender")) is not None else None,
        recipient=parse_address(text) if (text := given("recipient")) is not None else None,
        status=parse_trace_status(text) if (text := given("status")) is not None else None,
    )
    if not (request.address or request.client or request.message_id or request.sender or request.recipient):
        raise BadInput(
            _("Say what to trace: an address, or --client IP, --message-id ID, --from ADDRESS or --to ADDRESS.")
        )
    return request


def run_trace(request: TraceRequest, context: Context) -> TraceReport:
    address, since = request.address, request.since
    key = request.search_key()
    hosts = context.config.hosts_with_role("mta") or context.config.hosts
    alone = request == TraceRequest(address, since, request.attempts)  # the address alone, as before
    report = TraceReport(
        address=address,
        since=since,
        hosts=tuple(h.name for h in hosts),
        attempts=request.attempts,
        request=None if alone else request,
    )
    context.progress(
        _("Searching the mail logs of {join} for {address}…").format(
            join=", ".join(report.hosts), address=report.subject()
        )
    )

    def ask(host: MailHost) -> tuple[HostLog, list[QueueEntry], timedelta | None, frozenset[str]]:
        """The host's log and queue, its queue lifetime when it matters, and the queue ids of its queue
        entries that a verdict may name (of a message read, or of an entry for the addresses given)."""
        postfix = host.postfix
        queue_of_host = fanout.meanwhile(postfix.queue)
        host_log = postfix.trace_log(key, since, grew=context.answer_size.grew if context.answer_size else None)
        queue = queue_of_host()
        ids = {m.queue_id for m in host_log.flow.messages}
        involved = frozenset(e.queue_id for e in queue if request.keeps_entry(e) or e.queue_id in ids)
        lifetime = fanout.known_lifetime(host) if involved else None
        return host_log, queue, lifetime, involved

    answers, report.failures = fanout.ask_each_host(fanout.mta_hosts(context), ask)
    # What follows makes tens of thousands of records (verdicts, hints) and no cycles: the cycle
    # collector's passes over them, and over the parsed messages, cost more than the verdicts
    # themselves (bench/run.py, issue 22); paused as the parse does (bot.mailhost.mail_flow).
    with collector_paused():
        lifetimes = [lifetime for _host, (_log, _queue, lifetime, _ids) in answers if lifetime is not None]
        report.queue_lifetime = min(lifetimes) if lifetimes else None
        refusals: list[Rejection] = []  # before any queue file: the in-queue ones are their messages' own
        for _host, (host_log, _queue, _lifetime, _ids) in answers:
            report.files_read.extend(f"{host_log.host}:{path}" for path in host_log.files_read)
            report.windows.append(HostWindow(host_log.host, host_log.files_read, host_log.oldest, host_log.newest))
            report.warnings.extend(host_log.warnings)
            report.messages.extend(m for m in host_log.flow.messages if request.keeps_message(m))
            refusals.extend(r for r in host_log.flow.rejections if request.keeps_rejection(r))
        report.messages.sort(key=lambda m: (m.first_seen, m.host, m.queue_id))
        refusals.sort(key=lambda r: r.at)
        client_hops = frozenset(
            (m.host, m.queue_id)
            for m in report.messages
            if request.client and client_ip(m.client) == request.client.value
        )
        report.verdicts = request.kept(
            read_verdicts(
                report.messages,
                refusals,
                {host.name: queue for host, (_log, queue, _lifetime, _ids) in answers},
                {host.name: lifetime for host, (_log, _queue, lifetime, _ids) in answers if lifetime is not None},
                [
                    (host.name, e)
                    for host, (_log, queue, _lifetime, _ids) in answers
                    for e in queue
                    if request.keeps_entry(e)
                ],
            ),
            client_hops,
        )
        if context.scope is not None:  # a scoped caller: only the mail from or to their domains (bot.core.scopes)
            report.verdicts, report.hidden = _within_scope(context.scope, report.verdicts)
        if not alone or report.hidden:  # the messages, refusals and queue entries of the verdicts kept
            shown = {(hop.host, hop.queue_id) for verdict in report.verdicts for hop in verdict.hops}
            report.messages = [m for m in report.messages if (m.host, m.queue_id) in shown]
        else:  # only for the queue entries below: of the hops in a queue, those of the verdicts kept
            in_queues = {(host.name, queue_id) for host, (_log, _queue, _lifetime, ids) in answers for queue_id in ids}
            shown = (
                {hop for verdict in report.verdicts for hop in verdict.hops if hop in in_queues} if in_queues else set()
            )
        report.rejected = [*refusals]
        for message in report.messages:
            report.rejected.extend(r for r in message.rejections if request.keeps_rejection(r))
        if context.scope is not None:
            report.rejected = context.scope.within(report.rejected, lambda r: (r.sender, (r.recipient,)))
        report.rejected.sort(key=lambda r: r.at)
        for host, (_log, queue, _lifetime, _ids) in answers:
            report.queued.extend(
                QueuedMail(host.name, e)
                for e in queue
                if (request.keeps_entry(e) and request.status is None) or (host.name, e.queue_id) in shown
            )
        if context.scope is not None:
            report.queued = context.scope.within(
                report.queued, lambda q: (q.entry.sender, [r.address for r in q.entry.recipients])
            )
        report.queued.sort(key=lambda q: q.entry.arrival_time)
        report.hints = hints_for(report)
    if report.failures:
        report.exit_code = ExitStatus.FAILED
    return report


def _within_scope(scope: scopes.Scope, verdicts: list[AnyVerdict]) -> tuple[list[AnyVerdict], int]:
    """The verdicts of the mail whose sender or a recipient is in scope (a mail shown whole: every
    recipient's verdict), and how many mails (hops, or refusals) were left out."""
    seen = {hop for x in verdicts if scope.shows(x.sender, (x.recipient, x.orig_recipient)) for hop in x.hops}
    shown: list[AnyVerdict] = []
    hidden: set[object] = set()
    for verdict in verdicts:
        if scope.shows(verdict.sender, (verdict.recipient, verdict.orig_recipient)) or any(
            hop in seen for hop in verdict.hops
        ):
            shown.append(verdict)
        else:
            hidden.add(verdict.hops or id(verdict))
    return shown, len(hidden)


def _verdict_names(verdict: AnyVerdict, address: Address) -> bool:
    """A message the address sent (every recipient), or the address's own part of one it received;
    a verdict that names no recipient (a queue file without a delivery yet) stays."""
    return verdict.recipient is None or verdict.names(address.value)


# --- hints: what the support procedure says to do next ----------------------------------


def hints_for(report: TraceReport) -> list[str]:
    hints = _address_hints(report, report.perspective.value) if report.perspective else []
    coverage = report.coverage()
    subject = report.subject()
    if report.hidden:  # there was mail, outside the caller's access: "nothing" would not be true
        return hints
    if not report.messages and not report.rejected and not report.queued and not report.failures and coverage:
        hints.append(
            _(
                "Nothing for {address} between {oldest} and {newest} on {hosts}: the mail did not reach these "
                "servers in that time, or it is older than their logs. Check the antispam or gateway in front "
                "of them, the spelling of the address, and that the address is in the Postfix maps."
            ).format(
                address=subject,
                oldest=render.when(coverage[0]),
                newest=render.when(coverage[1]),
                hosts=", ".join(w.host for w in report.windows),
            )
        )
    elif not report.messages and not report.rejected and not report.queued and not report.failures:
        advice = _(
            "Check the antispam or gateway in front of it, the spelling of the address, and that the address is "
            "in the Postfix maps."
        )
        if report.since:
            found = _("No trace of {address} in the last {duration}: the mail never reached this server.").format(
                address=subject, duration=since_words(report.since)
            )
        else:
            found = _("No trace of {address} in the logs kept on the host: the mail never reached this server.").format(
                address=subject
            )
        hints.append(f"{found} {advice}")
    return hints


def _address_hints(report: TraceReport, address: str) -> list[str]:
    """What the support procedure says about this address's mail."""
    hints: list[str] = []
    stopped = {(hop.host, hop.queue_id) for x in report.verdicts if x.kind in (HELD, DELETED) for hop in x.hops}
    to_address = [
        d
        for m in report.messages
        if (m.host, m.queue_id) not in stopped  # held or deleted by an admin: not waiting for the mailbox
        for d in m.final_attempts().values()
        if d.recipient.lower() == address or (d.orig_recipient and d.orig_recipient.lower() == address)
    ]
    # the mailboxes the address's mail goes to: its own, or the one an alias or a rule's REDIRECT
    # leads to (then the full or unknown mailbox is that one, and the hint names it)
    mailboxes = {d.recipient.lower() for d in to_address} | {address}
    queued_for_address = [q for q in report.queued if any(r.address.lower() in mailboxes for r in q.entry.recipients)]
    over_quota = [d for d in to_address if d.status == "deferred" and is_over_quota(d.response)]
    over_quota_queued = [
        q
        for q in queued_for_address
        if not q.entry.held and any(is_over_quota(r.delay_reason or "") for r in q.entry.recipients)
    ]
    if over_quota or over_quota_queued:
        full = {d.recipient.lower() for d in over_quota} | {
            r.address.lower()
            for q in over_quota_queued
            for r in q.entry.recipients
            if r.address.lower() in mailboxes and is_over_quota(r.delay_reason or "")
        }
        for mailbox in sorted(full) or [address]:
            waiting = len(
                [q for q in over_quota_queued if any(r.address.lower() == mailbox for r in q.entry.recipients)]
            ) or len([d for d in over_quota if d.recipient.lower() == mailbox])
            hints.append(reasons.over_quota_hint(mailbox, waiting or len(over_quota_queued), report.queue_lifetime))
    unknown_in_store = [d for d in to_address if d.status == "bounced" and d.dsn == "5.1.1"]
    for mailbox in sorted({d.recipient.lower() for d in unknown_in_store}):
        count = len([d for d in unknown_in_store if d.recipient.lower() == mailbox])
        hints.append(reasons.stale_maps_hint(mailbox, count))
    unknown_at_smtp = [
        r for r in report.rejected if (r.recipient or "").lower() == address and cause_of(r.reason) == UNKNOWN_RECIPIENT
    ]
    if unknown_at_smtp:
        hints.append(
            _(
                "Postfix refused {address} as an unknown user at SMTP time {count}; the senders got an "
                "error from their own server. If the address should exist (new user, renamed login, "
                "new alias), rebuild the Postfix maps."
            ).format(address=address, count=render.count(len(unknown_at_smtp), "time"))
        )
    other_deferrals = [q for q in queued_for_address if q not in over_quota_queued and not q.entry.held]
    if other_deferrals:
        gists = sorted(
            {summarize_reply(r.delay_reason) for q in other_deferrals for r in q.entry.recipients if r.delay_reason}
        )
        because = f" ({render.clip('; '.join(gists), 200)})" if gists else ""
        hints.append(
            ngettext(
                "{count} message to {address} is waiting in the queue{because}.",
                "{count} messages to {address} are waiting in the queue{because}.",
                len(other_deferrals),
            ).format(count=len(other_deferrals), address=address, because=because)
        )
    expired = [d for d in to_address if d.status == "expired"]
    if expired:
        hints.append(
            ngettext(
                "{count} message to {address} stayed in the queue until Postfix gave up "
                "(maximal_queue_lifetime) and returned it to its sender; it must be sent again.",
                "{count} messages to {address} stayed in the queue until Postfix gave up "
                "(maximal_queue_lifetime) and returned them to their senders; they must be sent again.",
                len(expired),
            ).format(count=len(expired), address=address)
        )
    dropped = [
        x
        for x in report.verdicts
        if x.kind == REFUSED
        and x.hops
        and (x.dsn or "").startswith("2.")
        and address in ((x.recipient or "").lower(), (x.orig_recipient or "").lower())
    ]
    if dropped:  # a content filter answered `250 2.7.0 Ok, discarded`, `DISCARD`: the mail is gone, no one told
        hints.append(
            ngettext(
                "{count} message to {address} was taken by the content filter and dropped ({reason}): no one "
                "was told, neither its sender nor {address}. If it was wanted, look in the filter's quarantine.",
                "{count} messages to {address} were taken by the content filter and dropped (the last: "
                "{reason}): no one was told, neither their senders nor {address}. If they were wanted, look in "
                "the filter's quarantine.",
                len(dropped),
            ).format(count=len(dropped), address=address, reason=render.clip(dropped[-1].reason or "", 120))
        )
    held = [q for q in report.queued if q.entry.held]
    if held:
        hints.append(
            ngettext(
                "{count} message for {address} is on hold: an admin or a filter put it there; it will not "
                "be delivered until released (postsuper -H).",
                "{count} messages for {address} are on hold: an admin or a filter put them there; they "
                "will not be delivered until released (postsuper -H).",
                len(held),
            ).format(count=len(held), address=address)
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
            ngettext(
                "{count} message sent by {address} bounced; {address} received a non-delivery notice that "
                "quotes the remote server's answer.",
                "{count} messages sent by {address} bounced; {address} received non-delivery notices that "
                "quote the remote servers' answers.",
                len(bounced_out),
            ).format(count=len(bounced_out), address=address)
        )
    return hints


# --- rendering details ------------------------------------------------------------------


def _party(address: Address | None, sender: str | None, recipient: str | None) -> str:
    """The other side of the exchange, seen from the traced address: `from X` or `to Y`; both
    sides (`X → Y`) for a trace without one (a client's, a Message-ID's)."""
    if address is None:
        return f"{sender or '<>'} → {recipient or '?'}"
    if (sender or "").lower() == address.value:
        return (
            _("to {recipient}").format(recipient=recipient)
            if recipient and recipient.lower() != address.value
            else _("to self")
        )
    return _("from {value}").format(value=sender or "<>")


def _rerouted(address: Address | None, sender: str | None, recipient: str | None) -> str:
    """`for john@lab.test: ` when mail to the traced address went to another mailbox: an alias of
    it (`jdoe@` is `john@`), or a rule's REDIRECT (the log's `to=` is then the new address, its
    `orig_to=` the traced one)."""
    if address is None or recipient is None or recipient == address.value or (sender or "").lower() == address.value:
        return ""
    return "" if recipient.lower() == address.value else _("for {recipient}: ").format(recipient=recipient)


def _rejection_reason(rejection: Rejection) -> str:
    """`550 5.1.1 <r>: Recipient address rejected: ...` without the address the With column shows."""
    return _QUOTED_ADDRESS.sub(r"\g<code>", rejection.reason, count=1)


def since_words(duration: timedelta | None) -> str:
    """`2d` as typed, in English; `2 jours`, `1 jour 12 heures` in French."""
    if duration is None:
        return ""
    return _duration_words(duration) if i18n.current_language() == i18n.ENGLISH else render.duration_words(duration)


def _duration_words(duration: timedelta | None) -> str:
    if duration is None:
        return ""
    seconds = int(duration.total_seconds())
    for unit, length in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % length == 0:
            return f"{seconds // length}{unit}"
    return f"{seconds}s"


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDRESS", nargs="?", help=_("the email address to follow (any case)"))
    parser.add_argument("--client", metavar="IP", help=_("the mail of one SMTP client, by its IP address"))
    parser.add_argument("--message-id", metavar="ID", help=_("the mail of one Message-ID, every hop"))
    parser.add_argument("--from", dest="sender", metavar="ADDRESS", help=_("only the mail sent by this address"))
    parser.add_argument("--to", dest="recipient", metavar="ADDRESS", help=_("only the mail sent to this address"))
    parser.add_argument(
        "--status",
        metavar="STATUS",
        help=_("only the mail in this state: delivered, deferred, bounced, expired, refused, held, deleted, queued"),
    )
    parser.add_argument("--since", metavar="DURATION", help=_("only the last 30m, 12h, 2d, 1w... (default: all logs)"))
    parser.add_argument(
        "--attempts",
        action="store_true",
        help=_("every delivery attempt, one line each, instead of one verdict per mail"),
    )
    parser.add_argument(
        "--csv", action="store_true", help=_("print CSV (one row per message, recipient and attempt) instead of tables")
    )


TRACE = ReadVerb(
    name="trace",
    summary=N_("every message to or from an address: deliveries, refusals, queue, hints"),
    configure=_configure,
    validate=validate_trace,
    run=run_trace,
    lists_mail=True,  # `--client`, `--message-id`: a scoped caller is shown only theirs
)
