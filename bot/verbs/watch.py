"""`watch ADDRESS [for 2h]` and `unwatch [ADDRESS]`: be told when queued mail finally lands.

A watch follows the messages for ADDRESS that are in the queue when it starts. Each period
(bot/verbs/alerts.py) reads every host's queue once, whatever the number of watches; only a
message that left the queue costs a log search, on its host, for its address, since the last
check (the trace's `--since`), which says whether it was delivered (folder and IMAP UID on
BlueMind), bounced or expired. Watches live in the state, so they survive a restart.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from bot.core import render
from bot.core.registry import Context, Section, Verb
from bot.errors import BadInput, MailbotError
from bot.i18n import N_, _, ngettext
from bot.mailhost.mail_flow import Delivery, Message
from bot.mailhost.values import Address, parse_address, parse_duration
from bot.state.alerts import Watch, WatchedMessage
from bot.verbs import mail
from bot.verbs.mailbox import resolve
from bot.verbs.trace import TraceReport

if TYPE_CHECKING:
    from bot.verbs.alerts import HostQueue

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
    exit_code: int = 0

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
                most=mail.duration_words(timedelta(seconds=limits.max_for))
            )
        )
    answers, failures = mail.ask_each_host(mail.mta_hosts(context), lambda host: host.postfix.queue())
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
            exit_code=1 if failures else 0,
        )
    now = time.time()
    watch = store.create(address, context.requester, None, now + duration, queued, limits.max_per_user, now)
    ids = ", ".join(queue_id for _host, queue_id in queued)
    text = ngettext(
        "Watching {address} for {duration}: {n} message in the queue ({ids}); news will come here.",
        "Watching {address} for {duration}: {n} messages in the queue ({ids}); news will come here.",
        len(queued),
    ).format(address=address, duration=mail.duration_words(timedelta(seconds=duration)), n=len(queued), ids=ids[:300])
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


# --- the period's part: what left the queue, and how --------------------------------------------


def check_watches(context: Context, queues: Sequence[HostQueue], now: float, only: Sequence[str] | None = None) -> int:
    """Settle the watched messages that left the queue; end watches that are over. Returns how
    much news there is to tell. Log searches: one per host and address with a message gone."""
    store = context.state.watches
    watches = [w for w in store.active() if only is None or w.id in only]
    for watch in [w for w in watches if w.ends_at <= now]:
        store.end(watch.id, "time", now)
    watches = [w for w in watches if w.ends_at > now]
    by_id = {w.id: w for w in watches}
    answered = {q.host.name: q for q in queues if q.error is None}
    still = {name: {e.queue_id for e in q.entries} for name, q in answered.items()}
    pending = [m for m in store.messages(list(by_id)) if m.outcome is None]
    gone: dict[tuple[str, str], list[WatchedMessage]] = defaultdict(list)
    for message in pending:
        if message.host in still and message.queue_id not in still[message.host]:
            gone[(message.host, by_id[message.watch_id].address)].append(message)
    unread: set[str] = set()  # watches whose logs could not be read: their window stays open
    for (host_name, address), messages in gone.items():
        since = now - min(by_id[m.watch_id].checked_at for m in messages) + LOG_SLACK
        try:
            log = answered[host_name].host.postfix.trace_log(parse_address(address), timedelta(seconds=since))
        except MailbotError:
            unread.update(m.watch_id for m in messages)
            continue  # the next period tries again
        found = {m.queue_id: m for m in log.flow.messages}
        for message in messages:
            settled = _settled(found.get(message.queue_id), address, host_name, context, by_id[message.watch_id])
            if settled is not None:
                store.settle(message, *settled)
            elif message.misses + 1 >= MAX_MISSES:
                store.settle(
                    message,
                    "gone",
                    _("{queue_id} left the queue of {host}, but its logs do not say how.").format(
                        queue_id=message.queue_id, host=host_name
                    ),
                )
            else:
                store.missed(message)
    waiting_hosts = defaultdict(set)
    for message in pending:
        waiting_hosts[message.watch_id].add(message.host)
    store.checked([w.id for w in watches if w.id not in unread and waiting_hosts[w.id] <= set(answered)], now)
    remaining = {m.watch_id for m in store.messages(list(by_id)) if m.outcome is None}
    for watch in watches:
        if watch.id not in remaining:
            store.end(watch.id, "settled", now)
    return len(store.news(list(by_id) if only is not None else None))


def _settled(
    message: Message | None, address: str, host: str, context: Context, watch: Watch
) -> tuple[str, str] | None:
    """(outcome, what to tell) once the log shows how the message ended, else None."""
    if message is None:
        return None
    final = _final_for(message, address)
    if final is not None and final.status == "sent" and final.imap_uid is None and final.daemon == "lmtp":
        final = _with_index_uid(final, message, address, context, watch)
    if message.expired or (final is not None and final.status == "expired"):
        outcome, words = "expired", _("expired: Postfix gave up and returned it to its sender")
    elif final is not None and final.status == "sent":
        outcome = "delivered"
        words = (
            _("delivered to {folder}, IMAP UID {uid}").format(folder=final.folder or final.mailbox, uid=final.imap_uid)
            if final.imap_uid is not None
            else _("delivered ({detail})").format(detail=mail.detail(final, message))
        )
    elif final is not None and final.status == "bounced":
        outcome, words = "bounced", _("bounced: {detail}").format(detail=mail.detail(final, message))
    else:
        return None
    report = TraceReport(address=Address(address), since=None, hosts=(host,), messages=[message])
    return outcome, f"{message.queue_id} {words}.\n{report.messages_table()}"


def _with_index_uid(final: Delivery, message: Message, address: str, context: Context, watch: Watch) -> Delivery:
    """Stock Cyrus (unlike BlueMind's LMTP) does not put the folder and UID in its reply: on a
    BlueMind 4 store they are read from the mailbox index (mbexamine): the mail from this sender
    that arrived since the watch began, the closest in size. Left as is when that fails."""
    try:
        resolved = resolve(Address(address), context)
        if resolved.version != 4:
            return final
        records = resolved.host.cyrus.present_mails(resolved.mailbox)
    except MailbotError:
        return final
    sender = (message.sender or "").lower()
    own = f"user/{resolved.mailbox.login}"
    arrived = [
        r
        for r in records
        if r.mailbox.startswith((f"{own}@", f"{own}/"))
        and r.internal_date >= watch.created_at - 5
        and sender in (r.sender or "").lower()
    ]
    if not arrived:
        return final
    best = min(arrived, key=lambda r: (abs(r.size - (message.size or r.size)), -r.uid))
    folder = "INBOX" if best.mailbox == resolved.mailbox.cyrus_name else best.mailbox
    return replace(final, mailbox=best.mailbox, folder=folder, imap_uid=best.uid)


def _final_for(message: Message, address: str) -> Delivery | None:
    attempts = [d for d in message.deliveries if address in (d.recipient.lower(), (d.orig_recipient or "").lower())]
    return attempts[-1] if attempts else None


def follow(outcome: WatchOutcome, context: Context, out: TextIO) -> int:
    """`mailbot watch ADDRESS` on a terminal: wait, print the news, return when the watch ends."""
    from bot.verbs.alerts import read_queues

    if outcome.watch_id is None:
        return outcome.exit_code
    every = context.config.watch.every
    store = context.state.watches
    try:
        while True:
            check_watches(context, read_queues(mail.mta_hosts(context)), time.time(), only=[outcome.watch_id])
            for news in store.news([outcome.watch_id]):
                out.write(news.text + "\n")
                out.flush()
                store.told(news)
                if news.message is None:
                    return 0
            time.sleep(every)
    except KeyboardInterrupt:  # the terminal's watch ends with the terminal
        store.end(outcome.watch_id, "unwatched", time.time())
        raise


def _configure_watch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", nargs="?", metavar="ADDRESS", help=_("the recipient whose queued mail to follow"))
    parser.add_argument("duration", nargs="*", metavar="for DURATION", help=_("how long (default 2h), e.g. for 30m"))


def _configure_unwatch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", nargs="?", metavar="ADDRESS", help=_("the watch to end (default: all yours)"))


def validate_unwatch(args: argparse.Namespace) -> WatchRequest:
    return WatchRequest(parse_address(args.address) if args.address else None, None)


WATCH = Verb(
    name="watch",
    summary=N_("be told when the mail queued now for an address is delivered, bounced or expires"),
    policy="read",
    configure=_configure_watch,
    validate=validate_watch,
    run=run_watch,
    follow=follow,
)

UNWATCH = Verb(
    name="unwatch",
    summary=N_("end your watches (of one address, or all)"),
    policy="read",
    configure=_configure_unwatch,
    validate=validate_unwatch,
    run=run_unwatch,
)
