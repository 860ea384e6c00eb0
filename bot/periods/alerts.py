"""The alert period: read every mta host's queue once, find the problems, record them, check watches.

The bot speaks first: a recipient with deferred mail for a known reason (over quota, "User
unknown" for a local address, a relay refusing, DNS), a deferred queue too big or growing too
fast, a host that cannot be reached. The decisions are pure functions of the queue entries
(`find_problems`, `host_problem`); `run_period` is the one entry point that does the I/O (one
`postqueue -j` per host, whatever the number of problems and watches) and stores the outcome.
Slack (bot/slack/alerts.py) only shows what the state holds, so a restart repeats nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from bot.config import AlertsConfig
from bot.core import fanout, reasons
from bot.core.registry import Context
from bot.i18n import N_, _
from bot.mailhost.postfix_log import summarize_reply
from bot.mailhost.postqueue import QueueEntry
from bot.periods import watches
from bot.periods.queues import HostQueue, read_queues
from bot.state.alerts import Problem

OVER_QUOTA, STALE_MAPS, RELAY, DNS = reasons.OVER_QUOTA, reasons.STALE_MAPS, reasons.RELAY, reasons.DNS
QUEUE_SIZE, QUEUE_GROWTH, UNREACHABLE = "queue_size", "queue_growth", "unreachable"
KIND_TITLES = {
    OVER_QUOTA: N_("mailbox over quota"),
    STALE_MAPS: N_("'User unknown' for a local address: stale Postfix maps?"),
    RELAY: N_("the next hop refuses or does not answer"),
    DNS: N_("DNS cannot resolve the destination"),
    QUEUE_SIZE: N_("deferred queue too big"),
    QUEUE_GROWTH: N_("deferred queue growing fast"),
    UNREACHABLE: N_("host unreachable"),
}
GROWTH_WINDOW = 3600.0  # a growth rate is measured against a sample at most this old...
GROWTH_MIN_SPAN = 600.0  # ...and at least this old, so one busy minute is not an hour's trend


@dataclass
class _Group:
    count: int = 0
    oldest: float = float("inf")
    reason: str = ""  # the gist, as the alert shows it
    answer: str = ""  # the whole delay reason, as the advice reads it


def find_problems(
    host: str,
    entries: Iterable[QueueEntry],
    lifetime: timedelta | None,
    settings: AlertsConfig,
    local_domains: frozenset[str],
    now: float,
) -> list[Problem]:
    """Deferred mail grouped per recipient and reason class, above the thresholds. One pass;
    each distinct reason is classified and summarised once (a big queue repeats a few reasons)."""
    classes: dict[tuple[str, str], str | None] = {}
    gists: dict[str, str] = {}
    groups: dict[tuple[str, str], _Group] = {}
    oldest_allowed = now - settings.min_age
    for entry in entries:
        if entry.queue_name != "deferred":
            continue
        arrival = entry.arrival_time.timestamp()
        if arrival > oldest_allowed:
            continue
        for recipient in entry.recipients:
            reason = recipient.delay_reason
            if not reason:
                continue
            address = recipient.address.lower()
            domain = address.rsplit("@", 1)[-1]
            kind = classes.get((reason, domain), "?")
            if kind == "?":
                kind = classes[(reason, domain)] = reasons.alert_kind(reason, address, local_domains)
            if kind is None:
                continue
            group = groups.get((address, kind))
            if group is None:
                gist = gists.get(reason)
                if gist is None:
                    gist = gists[reason] = summarize_reply(reason)
                group = groups[(address, kind)] = _Group(reason=gist, answer=reason)
            group.count += 1
            group.oldest = min(group.oldest, arrival)
    problems = []
    for (address, kind), group in sorted(groups.items()):
        if group.count < settings.min_messages:
            continue
        bounce_at = group.oldest + lifetime.total_seconds() if lifetime is not None else None
        problems.append(
            Problem(
                key=f"{host}|{kind}|{address}",
                host=host,
                kind=kind,
                subject=address,
                detail=group.reason,
                hint=_hint(kind, address, group, lifetime),
                count=group.count,
                oldest_at=group.oldest,
                bounce_at=bounce_at,
            )
        )
    return problems


def _hint(kind: str, address: str, group: _Group, lifetime: timedelta | None) -> str | None:
    """What the trace says for the same mail."""
    if kind == OVER_QUOTA:
        return reasons.over_quota_hint(address, group.count, lifetime)
    if kind == STALE_MAPS:
        return reasons.stale_maps_hint(address, group.count)
    return reasons.advice(group.answer, lifetime)


def host_problem(
    host: str, deferred: int, sample: tuple[int, float] | None, settings: AlertsConfig, now: float
) -> Problem | None:
    """A host's deferred queue above `queue_size`, or growing faster than `growth_per_hour`
    (measured against a sample 10 to 60 minutes old): one problem per host."""
    if settings.queue_size is not None and deferred > settings.queue_size:
        detail = _("{count} deferred messages, above the alert level of {limit}.").format(
            count=deferred, limit=settings.queue_size
        )
        return Problem(f"{host}|queue", host, QUEUE_SIZE, host, detail, None, deferred, None, None)
    if settings.growth_per_hour is not None and sample is not None:
        before, measured_at = sample
        span = now - measured_at
        if span >= GROWTH_MIN_SPAN:
            rate = (deferred - before) / span * 3600
            if rate > settings.growth_per_hour:
                detail = _("{count} deferred messages, {rate} more per hour (alert level {limit}).").format(
                    count=deferred, rate=int(rate), limit=settings.growth_per_hour
                )
                return Problem(f"{host}|queue", host, QUEUE_GROWTH, host, detail, None, deferred, None, None)
    return None


def unreachable_problem(host: str, error: str) -> Problem:
    return Problem(f"{host}|{UNREACHABLE}", host, UNREACHABLE, host, error, None, 0, None, None)


def local_domains(context: Context) -> frozenset[str]:
    """Where "User unknown" means the maps are stale: the configured domains and their aliases."""
    config = context.config
    extra = config.alerts.local_domains if config.alerts else ()
    return frozenset({*config.domains, *config.domains.values(), *extra})


@dataclass
class PeriodReport:
    at: float
    queues: list[HostQueue]
    problems: list[Problem]
    watch_news: int

    def summary(self) -> str:
        down = [q.host.name for q in self.queues if q.error]
        read = sum(len(q.entries) for q in self.queues if not q.error)
        return (
            f"alert period: {len(self.queues)} host(s), {read} queued, {len(self.problems)} problem(s), "
            f"{self.watch_news} watch event(s), unreachable: {', '.join(down) or 'none'}"
        )


def run_period(context: Context, now: Callable[[], float] = time.time) -> PeriodReport:
    """One period: the single entry point the Slack side calls (at most one replica at a time)."""
    settings = context.config.alerts
    active = context.state.watches.active()
    if settings is None and not active:
        return PeriodReport(now(), [], [], 0)  # nothing to look at: no host is asked anything
    queues = read_queues(fanout.mta_hosts(context))
    at = now()
    problems: list[Problem] = []
    if settings is not None:
        domains = local_domains(context)
        store = context.state.alerts
        for answer in queues:
            name = answer.host.name
            if answer.error is not None:
                problems.append(unreachable_problem(name, answer.error))
                continue
            lifetime = fanout.known_lifetime(answer.host) if answer.entries else None
            problems.extend(find_problems(name, answer.entries, lifetime, settings, domains, at))
            deferred = sum(1 for e in answer.entries if e.queue_name == "deferred")
            sample = store.sample(name)
            found = host_problem(name, deferred, sample, settings, at)
            if found is not None:
                problems.append(found)
            if sample is None or at - sample[1] > GROWTH_WINDOW:
                store.keep_sample(name, deferred, at)
        store.reconcile(problems, [q.host.name for q in queues if q.error is None], at)
    news = watches.check_watches(context, queues, at) if active else 0
    return PeriodReport(at, queues, problems, news)


def title(kind: str) -> str:
    return _(KIND_TITLES.get(kind, kind))
