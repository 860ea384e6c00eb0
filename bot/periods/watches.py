"""The watches' part of each period: which watched messages left the queue, and how they ended.

Each period (bot.periods.alerts) reads every host's queue once, whatever the number of watches;
only a message that left the queue costs a log search, on its host, for its address, since the
last check (the trace's `--since`), which says whether it was delivered (folder and IMAP UID on
BlueMind), bounced or expired. `mailbot watch` on a terminal runs the same check in its own loop.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import TextIO

from bot.core import fanout, records
from bot.core.mailboxes import resolve
from bot.core.registry import Context
from bot.errors import MailbotError
from bot.i18n import _
from bot.mailhost.mail_flow import Delivery, Message
from bot.mailhost.values import Address, parse_address
from bot.periods.queues import HostQueue, read_queues
from bot.state.alerts import Watch, WatchedMessage
from bot.verbs.trace import TraceReport

LOG_SLACK = 120.0  # seconds read before the last check: a delivery logged as the check ran
MAX_MISSES = 3  # periods a message may be gone from the queue without a log line before we say so


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
            else _("delivered ({detail})").format(detail=records.detail(final, message))
        )
    elif final is not None and final.status == "bounced":
        outcome, words = "bounced", _("bounced: {detail}").format(detail=records.detail(final, message))
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
        present = resolved.host.cyrus.present_mails(resolved.mailbox)
    except MailbotError:
        return final
    sender = (message.sender or "").lower()
    own = f"user/{resolved.mailbox.login}"
    arrived = [
        r
        for r in present
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


def follow(watch_id: str, context: Context, out: TextIO) -> int:
    """`mailbot watch ADDRESS` on a terminal: wait, print the news, return when the watch ends."""
    every = context.config.watch.every
    store = context.state.watches
    try:
        while True:
            check_watches(context, read_queues(fanout.mta_hosts(context)), time.time(), only=[watch_id])
            for news in store.news([watch_id]):
                out.write(news.text + "\n")
                out.flush()
                store.told(news)
                if news.message is None:
                    return 0
            time.sleep(every)
    except KeyboardInterrupt:  # the terminal's watch ends with the terminal
        store.end(watch_id, "unwatched", time.time())
        raise
