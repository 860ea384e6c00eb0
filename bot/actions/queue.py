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
from datetime import UTC, datetime
from typing import Any

from bot.actions import mail, render
from bot.actions.mail import HostFailure, QueuedMail
from bot.actions.registry import Context, Section, Verb, register
from bot.errors import BadInput
from bot.i18n import _
from bot.mailhost import grammar
from bot.mailhost.host import MailHost
from bot.mailhost.postfix_log import is_over_quota, summarize_reply
from bot.mailhost.postqueue import QueueEntry
from bot.mailhost.values import Address, parse_address

AGE_BANDS = ((3600, "< 1 h"), (6 * 3600, "1-6 h"), (86400, "6-24 h"), (3 * 86400, "1-3 days"))
OLDEST_BAND = "> 3 days"
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
        raise BadInput(f"{text[:60]!r} is neither an address nor a domain (like example.com).")
    return QueueRequest(None, text)


# What the support procedure says for the usual reasons a mail waits (first match wins).
REASON_HINTS = (
    (
        ("connection refused", "timed out", "network is unreachable", "no route to host", "lost connection"),
        "The next hop does not answer: check that it is up; Postfix retries by itself, flush once it is back.",
    ),
    (
        ("host or domain name not found", "name service error"),
        "DNS cannot resolve the destination: check the domain's MX records and the host's resolver.",
    ),
    (("greylist",), "The remote server greylists: the next retry normally goes through, nothing to do."),
    (
        ("mail transport unavailable",),
        "A Postfix transport is broken: look for warnings in the mail log, fix master.cf, then flush.",
    ),
    (("on hold",), "Held by an admin or a filter: release with postsuper -H once checked."),
)


def over_quota_hint() -> str:
    return _("Mailbox full: {advice}").format(advice=mail.over_quota_advice())


def hint_for(reason: str) -> str | None:
    if is_over_quota(reason):
        return over_quota_hint()
    lowered = reason.lower()
    return next((hint for markers, hint in REASON_HINTS if any(m in lowered for m in markers)), None)


def reason_of(entry: QueueEntry) -> str:
    reasons = sorted({summarize_reply(r.delay_reason) for r in entry.recipients if r.delay_reason})
    if entry.queue_name == "hold":
        return "on hold"
    return "; ".join(reasons) if reasons else ("being delivered" if entry.queue_name == "active" else "not tried yet")


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
    exit_code: int = 0

    def headline(self) -> str:
        total = len(self.entries)
        size = render.size(sum(q.entry.size for q in self.entries))
        where = ", ".join(self.hosts)
        if total == 0:
            return f"The queue of {where} is empty."
        oldest = max(self.entries, key=lambda q: self.seconds_since(q.entry.arrival_time))
        held = sum(1 for q in self.entries if q.entry.held)
        active = sum(1 for q in self.entries if q.entry.active)
        text = (
            f"Queue of {where}: {total} message(s), {size}; oldest {oldest.entry.queue_id} since "
            f"{render.when(oldest.entry.arrival_time)}; {held} held, {active} active."
        )
        if self.request.filter:
            text += f" {len(self.matching)} for {self.request.filter}."
        return text

    def sections(self) -> list[Section]:
        parts: list[Section] = []
        if self.failures:
            parts.append(
                Section("Hosts that did not answer", "\n".join(f"{f.host}: {f.error}" for f in self.failures), False)
            )
        if not self.entries:
            return parts
        reasons = Counter(self.reason(q) for q in self.entries)
        parts.append(Section("By reason", _count_table("Reason", reasons)))
        domains = Counter(r.address.rsplit("@", 1)[-1].lower() for q in self.entries for r in q.entry.recipients)
        parts.append(Section("By recipient domain", _count_table("Domain", domains)))
        ages = Counter(age_band(self.seconds_since(q.entry.arrival_time)) for q in self.entries)
        order = [label for _, label in AGE_BANDS] + [OLDEST_BAND]
        parts.append(
            Section("By age", render.table(["Age", "Messages"], [[a, str(ages[a])] for a in order if ages[a]]))
        )
        if self.request.filter:
            parts.append(Section(f"For {self.request.filter}", self._matching_table()))
        concerned = Counter(self.reason(q) for q in self.matching) if self.request.filter else reasons
        hints = dict.fromkeys(h for reason in concerned if (h := hint_for(reason)))
        if hints:
            parts.append(Section("What to do", "\n".join(hints), monospace=False))
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
            return "(none)"
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
                    self.reason(queued),
                ]
            )
        table = render.table((["Host"] if several else []) + ["Queue id", "Age", "From", "To", "Reason"], rows)
        if len(self.matching) > LISTED_MAX:
            table += f"\n… and {len(self.matching) - LISTED_MAX} more (see --json)."
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
            "messages": [mail.queued_json(q) | {"reason": self.reason(q)} for q in listed],
            "errors": [{"host": f.host, "error": f.error} for f in self.failures],
        }


def _count_table(label: str, counts: Counter[str]) -> str:
    rows = [[str(n), key] for key, n in counts.most_common(TOP)]
    rest = sum(counts.values()) - sum(n for _, n in counts.most_common(TOP))
    if rest:
        rows.append([str(rest), f"({len(counts) - TOP} others)"])
    return render.table(["Messages", label], rows)


def _age_words(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def summarize(request: QueueRequest, answers: list[tuple[str, list[QueueEntry]]], now: datetime) -> QueueReport:
    report = QueueReport(request, tuple(host for host, _ in answers), now)
    for host, entries in answers:
        report.entries.extend(QueuedMail(host, e) for e in entries)
    if request.filter:
        matching = (q for q in report.entries if _matches(q.entry, request))
        report.matching = sorted(matching, key=lambda q: -report.seconds_since(q.entry.arrival_time))
    return report


def run_queue(request: QueueRequest, context: Context) -> QueueReport:
    hosts = mail.mta_hosts(context)

    def ask(host: MailHost) -> list[QueueEntry]:
        return host.queue()

    answers, failures = mail.ask_each_host(hosts, ask)
    report = summarize(request, [(host.name, entries) for host, entries in answers], datetime.now(UTC))
    report.hosts = tuple(h.name for h in hosts)
    report.failures = failures
    report.exit_code = 1 if failures else 0
    return report


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", metavar="ADDRESS|DOMAIN", help="only the messages from or to it")


QUEUE = register(
    Verb(
        name="queue",
        summary="what waits in the queue and why: by reason, domain and age, or for one address",
        policy="read",
        configure=_configure,
        validate=validate_queue,
        run=run_queue,
    )
)
