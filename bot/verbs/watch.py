"""`watch ADDRESS [for 2h]` and `unwatch [ADDRESS]`: be told when queued mail finally lands.

A watch follows the messages for ADDRESS that are in the queue when it starts; each period settles
the ones that left it (bot/periods/watches.py: one queue read per host, a log search only for a
message gone). Watches live in the state, so they survive a restart.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.core import fanout, render
from bot.core.registry import Context, ReadVerb, Section
from bot.errors import BadInput, ExitStatus
from bot.i18n import N_, _, ngettext
from bot.mailhost.values import Address, parse_address, parse_duration
from bot.state.alerts import Watch

if TYPE_CHECKING:
    pass

LOG_SLACK = 120.0  # seconds read before the last check: a delivery logged as the check ran
MAX_MISSES = 3  # periods a message may be gone from the queue without a log line before we say so


@dataclass(frozen=True)
class WatchRequest:
    address: Address | None
    duration: timedelta | None


def validate_watch(args: argparse.Namespace) -> WatchRequest:
    words = list(args.duration or [])
    if args.address is None:
        return WatchRequest(None, None)
    if words and words[0].lower() == "for":
        words = words[1:]
    if len(words) > 1:
        raise BadInput(_("Say how long in one word, like `for 2h` or `for 30m`."))
    duration = parse_duration(words[0]) if words else None
    return WatchRequest(parse_address(args.address), duration)


@dataclass
class WatchOutcome:
    """The answer to `watch` / `unwatch`: what is watched now."""

    text: str
    watches: list[Watch] = field(default_factory=list)
    watch_id: str | None = None  # a new watch: Slack opens its thread, the CLI follows it
    queued: list[str] = field(default_factory=list)
    exit_code: int = ExitStatus.OK

    def headline(self) -> str:
        return self.text

    def sections(self) -> list[Section]:
        if not self.watches:
            return []
        rows = [[w.address, render.when(_local(w.created_at)), render.when(_local(w.ends_at))] for w in self.watches]
        return [Section(_("Your watches"), render.table([_("Address"), _("Since"), _("Until")], rows))]

    def to_json(self) -> dict[str, Any]:
        return {
            "watch_id": self.watch_id,
            "queued": self.queued,
            "watches": [
                {"id": w.id, "address": w.address, "created_at": w.created_at, "ends_at": w.ends_at}
                for w in self.watches
            ],
            "message": self.text,
        }


def _local(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def run_watch(request: WatchRequest, context: Context) -> WatchOutcome:
    store = context.state.watches
    limits = context.config.watch
    if request.address is None:
        mine = store.active(context.requester)
        if not mine:
            return WatchOutcome(_("You watch no address; start with /mail watch ADDRESS [for 2h]."))
        text = ngettext("You watch one address.", "You watch {n} addresses.", len(mine)).format(n=len(mine))
        return WatchOutcome(text, mine)
    address = request.address.value
    duration = request.duration.total_seconds() if request.duration else limits.default_for
    if duration > limits.max_for:
        raise BadInput(
            _("A watch lasts at most {most}; ask for less.").format(
                most=render.duration_words(timedelta(seconds=limits.max_for))
            )
        )
    answers, failures = fanout.ask_each_host(fanout.mta_hosts(context), lambda host: host.postfix.queue())
    queued = [
        (host.name, entry.queue_id)
        for host, entries in answers
        for entry in entries
        if any(r.address.lower() == address for r in entry.recipients)
    ]
    if not queued:
        unread = "".join(f" {f.host}: {f.error}" for f in failures)
        return WatchOutcome(
            _("Nothing for {address} is in the queue now, so there is nothing to watch.").format(address=address)
            + unread,
            exit_code=ExitStatus.FAILED if failures else ExitStatus.OK,
        )
    now = time.time()
    watch = store.create(address, context.requester, None, now + duration, queued, limits.max_per_user, now)
    ids = ", ".join(queue_id for _host, queue_id in queued)
    text = ngettext(
        "Watching {address} for {duration}: {n} message in the queue ({ids}); news will come here.",
        "Watching {address} for {duration}: {n} messages in the queue ({ids}); news will come here.",
        len(queued),
    ).format(address=address, duration=render.duration_words(timedelta(seconds=duration)), n=len(queued), ids=ids[:300])
    return WatchOutcome(text, watch_id=watch.id, queued=[q for _host, q in queued])


def run_unwatch(request: WatchRequest, context: Context) -> WatchOutcome:
    store = context.state.watches
    mine = [w for w in store.active(context.requester) if request.address is None or w.address == request.address.value]
    if not mine:
        target = request.address.value if request.address else None
        return WatchOutcome(
            _("You do not watch {address}.").format(address=target) if target else _("You watch no address.")
        )
    now = time.time()
    for watch in mine:
        store.end(watch.id, "unwatched", now)
    text = ngettext("{n} watch ended: {addresses}.", "{n} watches ended: {addresses}.", len(mine)).format(
        n=len(mine), addresses=", ".join(w.address for w in mine)
    )
    return WatchOutcome(text)


def _configure_watch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", nargs="?", metavar="ADDRESS", help=_("the recipient whose queued mail to follow"))
    parser.add_argument("duration", nargs="*", metavar="for DURATION", help=_("how long (default 2h), e.g. for 30m"))


def _configure_unwatch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", nargs="?", metavar="ADDRESS", help=_("the watch to end (default: all yours)"))


def validate_unwatch(args: argparse.Namespace) -> WatchRequest:
    return WatchRequest(parse_address(args.address) if args.address else None, None)


WATCH = ReadVerb(
    name="watch",
    summary=N_("be told when the mail queued now for an address is delivered, bounced or expires"),
    configure=_configure_watch,
    validate=validate_watch,
    run=run_watch,
)

UNWATCH = ReadVerb(
    name="unwatch",
    summary=N_("end your watches (of one address, or all)"),
    configure=_configure_unwatch,
    validate=validate_unwatch,
    run=run_unwatch,
)
