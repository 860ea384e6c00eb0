"""`queue [ADDRESS|DOMAIN]`: what waits in the queue of every mta host, and why.

The summary counts by reason (normalised: "452 4.2.2 Over quota" once, not once per
Cyrus session id), by recipient domain and by age, with held and active messages marked.
With a filter it lists the matching messages. It must stay fast on 100,000 entries:
everything is one pass over the parsed entries (see bench/).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import i18n
from bot.core import fanout, reasons, records, render, scopes
from bot.core.fanout import HostFailure
from bot.core.records import QueuedMail
from bot.core.registry import Context, ReadVerb, Section
from bot.errors import BadInput, ExitStatus
from bot.i18n import N_, _, ngettext
from bot.mailhost import grammar
from bot.mailhost.host import MailHost
from bot.mailhost.postfix_log import summarize_reply
from bot.mailhost.postqueue import QueueEntry
from bot.mailhost.values import Address, parse_address

AGE_BANDS = ((3600, "< 1 h"), (6 * 3600, "1-6 h"), (86400, "6-24 h"), (3 * 86400, N_("1-3 days")))
OLDEST_BAND = N_("> 3 days")
LISTED_MAX = 200  # matching messages listed in full; the JSON carries them all
TOP = 10
_DOMAIN = re.compile(grammar.DOMAIN)


@dataclass(frozen=True)
class QueueRequest:
    address: Address | None
    domain: str | None

    @property
    def filter(self) -> str | None:
        return self.address.value if self.address else self.domain


def validate_queue(args: argparse.Namespace) -> QueueRequest:
    text = (args.target or "").strip().lower()
    if not text:
        return QueueRequest(None, None)
    if "@" in text:
        return QueueRequest(parse_address(text), None)
    if not _DOMAIN.fullmatch(text):
        raise BadInput(_("{text!r} is neither an address nor a domain (like example.com).").format(text=text[:60]))
    return QueueRequest(None, text)


def hint_for(reason: str, lifetime: timedelta | None = None) -> str | None:
    """The procedure's advice for a reason (bot.core.reasons); `lifetime` is the host's maximal_queue_lifetime."""
    return reasons.advice(reason, lifetime)


def reason_of(entry: QueueEntry) -> str:
    reasons = sorted({summarize_reply(r.delay_reason) for r in entry.recipients if r.delay_reason})
    if entry.queue_name == "hold":
        return ON_HOLD
    return "; ".join(reasons) if reasons else (BEING_DELIVERED if entry.queue_name == "active" else NOT_TRIED)


# The bot's own reasons (the JSON keeps them in English; a table shows them translated).
ON_HOLD, BEING_DELIVERED, NOT_TRIED = N_("on hold"), N_("being delivered"), N_("not tried yet")


def reason_label(reason: str) -> str:
    """A reason as a table shows it: the bot's own words translated, Postfix's quoted as is."""
    return _(reason) if reason in (ON_HOLD, BEING_DELIVERED, NOT_TRIED) else reason


def age_band(seconds: float) -> str:
    return next((label for limit, label in AGE_BANDS if seconds < limit), OLDEST_BAND)


def _matches(entry: QueueEntry, request: QueueRequest) -> bool:
    if request.address is not None:
        return entry.involves(request.address.value)
    domain = f"@{request.domain}"
    return entry.sender.lower().endswith(domain) or any(r.address.lower().endswith(domain) for r in entry.recipients)


@dataclass
class QueueReport:
    request: QueueRequest
    hosts: tuple[str, ...]
    now: datetime
    entries: list[QueuedMail] = field(default_factory=list)
    matching: list[QueuedMail] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)  # id(QueuedMail) -> its normalised reason
    failures: list[HostFailure] = field(default_factory=list)
    queue_lifetime: timedelta | None = None
    hidden: int = 0  # messages outside a scoped caller's access (bot.core.scopes), left out of everything
    exit_code: int = ExitStatus.OK

    def headline(self) -> str:
        total = len(self.entries)
        size = render.size(sum(q.entry.size for q in self.entries))
        where = ", ".join(self.hosts)
        if total == 0 and self.hidden:
            return str(scopes.hidden(self.hidden))
        if total == 0:
            return _("The queue of {where} is empty.").format(where=where)
        oldest = max(self.entries, key=lambda q: self.seconds_since(q.entry.arrival_time))
        held = sum(1 for q in self.entries if q.entry.held)
        active = sum(1 for q in self.entries if q.entry.active)
        text = ngettext(
            "Queue of {where}: {total} message, {size}; oldest {queue_id} since {when}; {held} held, {active} active.",
            "Queue of {where}: {total} messages, {size}; oldest {queue_id} since {when}; {held} held, {active} active.",
            total,
        ).format(
            where=where,
            total=total,
            size=size,
            queue_id=oldest.entry.queue_id,
            when=render.when(oldest.entry.arrival_time),
            held=held,
            active=active,
        )
        if self.request.filter:
            text += " " + _("For {filter}: {count}.").format(count=len(self.matching), filter=self.request.filter)
        return text

    def sections(self) -> list[Section]:
        parts: list[Section] = []
        if self.failures:
            parts.append(
                Section(_("Hosts that did not answer"), "\n".join(f"{f.host}: {f.error}" for f in self.failures), False)
            )
        if self.hidden:
            parts.append(Section(_("Your access"), str(scopes.hidden(self.hidden)), False))
        if not self.entries:
            return parts
        reasons = Counter(self.reason(q) for q in self.entries)
        parts.append(Section(_("By reason"), _count_table(_("Reason"), reasons)))
        domains = Counter(r.address.rsplit("@", 1)[-1].lower() for q in self.entries for r in q.entry.recipients)
        parts.append(Section(_("By recipient domain"), _count_table(_("Domain"), domains)))
        ages = Counter(age_band(self.seconds_since(q.entry.arrival_time)) for q in self.entries)
        order = [label for _, label in AGE_BANDS] + [OLDEST_BAND]
        parts.append(
            Section(
                _("By age"), render.table([_("Age"), _("Messages")], [[_(a), str(ages[a])] for a in order if ages[a]])
            )
        )
        if self.request.filter:
            parts.append(Section(_("For {filter}").format(filter=self.request.filter), self._matching_table()))
        concerned = Counter(self.reason(q) for q in self.matching) if self.request.filter else reasons
        hints = dict.fromkeys(h for reason in concerned if (h := hint_for(reason, self.queue_lifetime)))
        if hints:
            parts.append(Section(_("What to do"), "\n".join(hints), monospace=False))
        return parts

    def reason(self, queued: QueuedMail) -> str:
        found = self.reasons.get(id(queued))
        if found is None:
            found = self.reasons[id(queued)] = reason_of(queued.entry)
        return found

    def seconds_since(self, stamp: datetime) -> float:
        """Age of an arrival time; `postqueue -p` (old hosts) gives no zone: read as UTC."""
        return (self.now - (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC))).total_seconds()

    def _matching_table(self) -> str:
        if not self.matching:
            return _("(none)")
        several = len(self.hosts) > 1
        rows = []
        for queued in self.matching[:LISTED_MAX]:
            entry = queued.entry
            mark = {"active": "*", "hold": "!"}.get(entry.queue_name, "")
            recipients = ", ".join(r.address for r in entry.recipients)
            rows.append(
                ([render.clip(queued.host, 10)] if several else [])
                + [
                    entry.queue_id + mark,
                    _age_words(self.seconds_since(entry.arrival_time)),
                    render.clip(entry.sender or "<>", 24),
                    render.clip(recipients, 24),
                    reason_label(self.reason(queued)),
                ]
            )
        table = render.table(
            ([_("Host")] if several else []) + [_("Queue id"), _("Age"), _("From"), _("To"), _("Reason")], rows
        )
        if len(self.matching) > LISTED_MAX:
            table += _("\n… and {number} more (see --json).").format(number=len(self.matching) - LISTED_MAX)
        return table

    def to_json(self) -> dict[str, Any]:
        listed = self.matching if self.request.filter else self.entries
        return {
            "hosts": list(self.hosts),
            "filter": self.request.filter,
            "total": len(self.entries),
            "size": sum(q.entry.size for q in self.entries),
            "by_reason": dict(Counter(self.reason(q) for q in self.entries).most_common()),
            "matching": len(self.matching) if self.request.filter else None,
            "messages": [records.queued_json(q) | {"reason": self.reason(q)} for q in listed],
            "hidden": self.hidden,
            "errors": [{"host": f.host, "error": f.error} for f in self.failures],
        }


def _count_table(label: str, counts: Counter[str]) -> str:
    rows = [[str(n), reason_label(key)] for key, n in counts.most_common(TOP)]
    rest = sum(counts.values()) - sum(n for _, n in counts.most_common(TOP))
    if rest:
        rows.append([str(rest), _("({number} others)").format(number=len(counts) - TOP)])
    return render.table([_("Messages"), label], rows)


def _age_words(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return _("{hours} h").format(hours=i18n.decimal(seconds / 3600))
    return _("{days} d").format(days=i18n.decimal(seconds / 86400))


def summarize(request: QueueRequest, answers: list[tuple[str, list[QueueEntry]]], now: datetime) -> QueueReport:
    report = QueueReport(request, tuple(host for host, _ in answers), now)
    for host, entries in answers:
        report.entries.extend(QueuedMail(host, e) for e in entries)
    if request.filter:
        matching = (q for q in report.entries if _matches(q.entry, request))
        report.matching = sorted(matching, key=lambda q: -report.seconds_since(q.entry.arrival_time))
    return report


def run_queue(request: QueueRequest, context: Context) -> QueueReport:
    hosts = fanout.mta_hosts(context)

    def ask(host: MailHost) -> tuple[list[QueueEntry], timedelta | None]:
        entries = host.postfix.queue()
        return entries, fanout.known_lifetime(host) if entries else None

    answers, failures = fanout.ask_each_host(hosts, ask)
    listed = [(host.name, entries) for host, (entries, _lifetime) in answers]
    hidden = 0
    if context.scope is not None:  # a scoped caller: only the messages from or to their domains
        shown = [(host, context.scope.within(entries, _parties)) for host, entries in listed]
        hidden = sum(map(len, (e for _h, e in listed))) - sum(map(len, (e for _h, e in shown)))
        listed = shown
    report = summarize(request, listed, datetime.now(UTC))
    report.hidden = hidden
    lifetimes = [lifetime for _host, (_entries, lifetime) in answers if lifetime is not None]
    report.queue_lifetime = min(lifetimes) if lifetimes else None
    report.hosts = tuple(h.name for h in hosts)
    report.failures = failures
    report.exit_code = ExitStatus.FAILED if failures else ExitStatus.OK
    return report


def _parties(entry: QueueEntry) -> tuple[str, list[str]]:
    return entry.sender, [r.address for r in entry.recipients]


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", metavar="ADDRESS|DOMAIN", help=_("only the messages from or to it"))


QUEUE = ReadVerb(
    name="queue",
    summary=N_("what waits in the queue and why: by reason, domain and age, or for one address"),
    configure=_configure,
    validate=validate_queue,
    run=run_queue,
    lists_mail=True,
)
