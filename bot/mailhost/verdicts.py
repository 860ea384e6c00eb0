"""Verdicts: what happened to each message and recipient, read from the parsed lines. Pure.

One verdict per message and recipient, the way a support agent asks: delivered (where, when),
deferred (how many times, since when, why in plain words, still queued, when Postfix gives
up), bounced (the non-delivery notice's queue id, to whom it went), expired, refused at SMTP
time, held, deleted by an admin (`postsuper -d`), still queued. A mail handed from one Postfix
to the next (`queued as`: an edge relay, a content filter) is one story: the hops' queue ids in
order, the verdict of the last one. Nothing here reads a clock, a host or a setting: the queue
(`postqueue`) and each host's `maximal_queue_lifetime` come in as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from itertools import compress
from json.encoder import encode_basestring as _json_string
from operator import attrgetter
from typing import Any, NamedTuple, cast

from bot.mailhost.mail_flow import Delivery, Message, Rejection, Requeue, collector_paused
from bot.mailhost.postfix_log import summarize_reply
from bot.mailhost.postqueue import QueueEntry
from bot.mailhost.reasons import cause_of

# The kinds of verdict, as `--json` and `--status` name them.
DELIVERED = "delivered"
DEFERRED = "deferred"
BOUNCED = "bounced"
EXPIRED = "expired"
REFUSED = "refused"
HELD = "held"
DELETED = "deleted"
QUEUED = "queued"
PROBE = "probe"  # an address verification probe (`status=deliverable|undeliverable`): no mail
UNKNOWN = "unknown"  # the logs read hold no outcome (older than the window, or still on its way)
KINDS = (DELIVERED, DEFERRED, BOUNCED, EXPIRED, REFUSED, HELD, DELETED, QUEUED, PROBE, UNKNOWN)
PROBLEMS = frozenset({DEFERRED, BOUNCED, EXPIRED, REFUSED, HELD, DELETED})
REFUSAL_GAP = timedelta(days=1)  # refusals of the same sender, recipient and client closer than this: one story
MAX_HOPS = 8


class Hop(NamedTuple):
    """One Postfix the mail went through: the host's name and its queue id there."""

    host: str
    queue_id: str


class Verdict(NamedTuple):
    """What happened to one message for one recipient (None when the log does not name it).

    A named tuple: immutable (a frozen dataclass of this size took four times as long to make as a
    plain one, and a plain one twice as long as this). Mail delivered at its one try, most of a
    busy trace, has a lighter verdict with the same fields: `DeliveredVerdict`, `HandedOnVerdict`."""

    kind: str
    recipient: str | None
    orig_recipient: str | None
    sender: str | None
    hops: tuple[Hop, ...]  # first to last; empty for a refusal before any queue file (NOQUEUE)
    arrived: datetime  # first line of the first hop (for a refusal: the first refusal)
    at: datetime  # the last event of the verdict: the delivery, the bounce, the last attempt
    message_id: str | None = None
    client: str | None = None
    attempts: int = 0  # deferrals (refusals for REFUSED) before `at`, every hop counted
    first_deferred: datetime | None = None
    last_deferred: datetime | None = None
    # the gist of the last answer: `452 4.2.2 Over quota`; of a delivery, what local(8) or virtual(8)
    # said it did (`delivered to command: procmail`), else None
    reason: str | None = None
    cause: str | None = None  # that answer in a word (CAUSES), when it is a known one
    dsn: str | None = None
    relay: str | None = None
    mailbox: str | None = None
    folder: str | None = None
    imap_uid: int | None = None
    next_queue_id: str | None = None  # handed to a server outside the logs read, which queued it as this
    notice_queue_id: str | None = None  # the non-delivery notice of a bounce or an expiry
    notice_to: str | None = None
    in_queue: bool | None = None  # None: the host's queue could not be read
    gives_up_at: datetime | None = None  # arrival + maximal_queue_lifetime, for what is still deferred
    deleted_by_admin: bool = False
    refused_on: str | None = None  # the host of a refusal before any queue file (no hop then)
    # a rule's REDIRECT sent the mail to `recipient` instead (its `orig_recipient`): the rule, as
    # the log wrote it (`header Subject: ...`, `Recipient address triggers REDIRECT x`)
    redirect_rule: str | None = None

    @property
    def host(self) -> str | None:
        return self.hops[-1].host if self.hops else self.refused_on

    @property
    def queue_id(self) -> str | None:
        return self.hops[-1].queue_id if self.hops else None

    @property
    def problem(self) -> bool:
        return self.kind in PROBLEMS

    def names(self, address: str) -> bool:
        return _names(self, address)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "recipient": self.recipient,
            "orig_recipient": self.orig_recipient,
            "sender": self.sender,
            "queue_ids": [hop.queue_id for hop in self.hops],
            "hosts": [hop.host for hop in self.hops],
            "host": self.host,
            "arrived": self.arrived.isoformat(),
            "at": self.at.isoformat(),
            "attempts": self.attempts,
            "first_deferred": self.first_deferred.isoformat() if self.first_deferred else None,
            "last_deferred": self.last_deferred.isoformat() if self.last_deferred else None,
            "reason": self.reason,
            "cause": self.cause,
            "dsn": self.dsn,
            "relay": self.relay,
            "mailbox": self.mailbox,
            "folder": self.folder,
            "imap_uid": self.imap_uid,
            "next_queue_id": self.next_queue_id,
            "notice_queue_id": self.notice_queue_id,
            "notice_to": self.notice_to,
            "in_queue": self.in_queue,
            "gives_up_at": self.gives_up_at.isoformat() if self.gives_up_at else None,
            "redirect_rule": self.redirect_rule,
        }

    def json_text(self, stamp: Callable[[datetime], str]) -> str:
        """`json.dumps(self.to_json(), ensure_ascii=False)`, written without the dict (`stamp`: a
        time's JSON text): half the time for the 45,000 verdicts of a busy trace's `--json`
        (bench/run.py); tests/core/test_records.py compares the two."""
        q, hops = _json_string, self.hops
        return (
            f'{{"kind": {q(self.kind)}, '
            f'"recipient": {"null" if self.recipient is None else q(self.recipient)}, '
            f'"orig_recipient": {"null" if self.orig_recipient is None else q(self.orig_recipient)}, '
            f'"sender": {"null" if self.sender is None else q(self.sender)}, '
            f'"queue_ids": [{", ".join([q(hop[1]) for hop in hops])}], '
            f'"hosts": [{", ".join([q(hop[0]) for hop in hops])}], '
            f'"host": {"null" if (host := self.host) is None else q(host)}, '
            f'"arrived": {stamp(self.arrived)}, "at": {stamp(self.at)}, "attempts": {self.attempts}, '
            f'"first_deferred": {"null" if self.first_deferred is None else stamp(self.first_deferred)}, '
            f'"last_deferred": {"null" if self.last_deferred is None else stamp(self.last_deferred)}, '
            f'"reason": {"null" if self.reason is None else q(self.reason)}, '
            f'"cause": {"null" if self.cause is None else q(self.cause)}, '
            f'"dsn": {"null" if self.dsn is None else q(self.dsn)}, '
            f'"relay": {"null" if self.relay is None else q(self.relay)}, '
            f'"mailbox": {"null" if self.mailbox is None else q(self.mailbox)}, '
            f'"folder": {"null" if self.folder is None else q(self.folder)}, '
            f'"imap_uid": {"null" if self.imap_uid is None else self.imap_uid}, '
            f'"next_queue_id": {"null" if self.next_queue_id is None else q(self.next_queue_id)}, '
            f'"notice_queue_id": {"null" if self.notice_queue_id is None else q(self.notice_queue_id)}, '
            f'"notice_to": {"null" if self.notice_to is None else q(self.notice_to)}, '
            f'"in_queue": {"null" if self.in_queue is None else "true" if self.in_queue else "false"}, '
            f'"gives_up_at": {"null" if self.gives_up_at is None else stamp(self.gives_up_at)}, '
            f'"redirect_rule": {"null" if self.redirect_rule is None else q(self.redirect_rule)}}}'
        )

    def record(self) -> Verdict:
        """A verdict is its own record (`DeliveredVerdict` and `HandedOnVerdict` make theirs)."""
        return self


# `Verdict(...)` without the Python-level `__new__` of a NamedTuple, for the records of the light
# verdicts, made when asked (each written twice by `--json`). Every field is given, in order: no
# default applies.
_new_verdict = tuple.__new__


class _DeliveredAtOnce:
    """What the verdicts read from their records (`DeliveredVerdict`, `HandedOnVerdict`) share:
    a recipient delivered at its one try on each hop (`delivery`, the last one, of `message`'s
    mail), and `Verdict`'s methods.

    Most verdicts of a busy address are of these two kinds (45,000 of the 49,000 of the frequent
    address of bench/run.py). As `Verdict`s, each copied 27 fields out of its message and delivery
    and held its hops, 380 bytes: the verdicts added 16 MB to that trace's memory. These read the
    same fields from the records the trace holds anyway (64-80 bytes each; 3 MB for all the
    verdicts); `record()` is the `Verdict` they stand for, and tests/mailhost/test_verdicts.py
    checks that each field read of them is that one's."""

    __slots__ = ()
    message: Message
    delivery: Delivery
    in_queue: bool | None
    kind: str = DELIVERED
    attempts: int = 0
    first_deferred: datetime | None = None
    last_deferred: datetime | None = None
    cause: str | None = None
    notice_queue_id: str | None = None
    notice_to: str | None = None
    gives_up_at: datetime | None = None
    deleted_by_admin: bool = False
    refused_on: str | None = None
    redirect_rule: str | None = None
    problem: bool = False

    # Each kind's own: `orig_recipient`, `sender`, `hops`, `message_id` (and `host`, `queue_id`)
    @property
    def orig_recipient(self) -> str | None:
        raise NotImplementedError

    @property
    def sender(self) -> str | None:
        raise NotImplementedError

    @property
    def hops(self) -> tuple[Hop, ...]:
        raise NotImplementedError

    @property
    def message_id(self) -> str | None:
        raise NotImplementedError

    def names(self, address: str) -> bool:
        return _names(cast("AnyVerdict", self), address)

    def to_json(self) -> dict[str, Any]:
        return self.record().to_json()

    def json_text(self, stamp: Callable[[datetime], str]) -> str:
        """`record().json_text(stamp)`, written from the records without making it: `--json` writes
        each verdict twice, 100,000 texts for a busy trace, and the record cost as much as the text
        (tests/mailhost/test_verdicts.py compares the two)."""
        q, delivery = _json_string, self.delivery
        orig_recipient, sender, reason = self.orig_recipient, self.sender, _own_words(delivery)
        folder, uid, onward = delivery.folder, delivery.imap_uid, delivery.next_queue_id
        return (
            f'{{"kind": "delivered", "recipient": {q(delivery.recipient)}, '
            f'"orig_recipient": {"null" if orig_recipient is None else q(orig_recipient)}, '
            f'"sender": {"null" if sender is None else q(sender)}, {self._hops_text()}, '
            f'"arrived": {stamp(self.message.first_seen)}, "at": {stamp(delivery.at)}, "attempts": 0, '
            f'"first_deferred": null, "last_deferred": null, '
            f'"reason": {"null" if reason is None else q(reason)}, "cause": null, '
            f'"dsn": {"null" if delivery.dsn is None else q(delivery.dsn)}, '
            f'"relay": {"null" if delivery.relay is None else q(delivery.relay)}, '
            f'"mailbox": {"null" if delivery.mailbox is None else q(delivery.mailbox)}, '
            f'"folder": {"null" if folder is None else q(folder)}, "imap_uid": {"null" if uid is None else uid}, '
            f'"next_queue_id": {"null" if onward is None else q(onward)}, '
            f'"notice_queue_id": null, "notice_to": null, '
            f'"in_queue": {"null" if self.in_queue is None else "true" if self.in_queue else "false"}, '
            f'"gives_up_at": null, "redirect_rule": null}}'
        )

    def _hops_text(self) -> str:
        """The members `queue_ids`, `hosts` and `host` of the JSON text."""
        raise NotImplementedError

    def record(self) -> Verdict:
        """The `Verdict` this one stands for, made when asked: a reader of most of its fields (the
        JSON, the table's detail, the CSV) reads them from it, as each field asked of this one is a
        property (55 ns, against 20 for a field of the named tuple)."""
        message, delivery = self.message, self.delivery
        return _new_verdict(
            Verdict,
            (
                DELIVERED,
                delivery.recipient,
                self.orig_recipient,
                self.sender,
                self.hops,
                message.first_seen,
                delivery.at,
                self.message_id,
                message.client,
                0,
                None,
                None,
                _own_words(delivery),
                None,
                delivery.dsn,
                delivery.relay,
                delivery.mailbox,
                delivery.folder,
                delivery.imap_uid,
                delivery.next_queue_id,
                None,
                None,
                self.in_queue,
                None,
                False,
                None,
                None,
            ),
        )

    @property
    def recipient(self) -> str:
        return self.delivery.recipient

    @property
    def arrived(self) -> datetime:
        return self.message.first_seen

    @property
    def at(self) -> datetime:
        return self.delivery.at

    @property
    def client(self) -> str | None:
        return self.message.client

    @property
    def reason(self) -> str | None:
        return _own_words(self.delivery)

    @property
    def dsn(self) -> str:
        return self.delivery.dsn

    @property
    def relay(self) -> str:
        return self.delivery.relay

    @property
    def mailbox(self) -> str | None:
        return self.delivery.mailbox

    @property
    def folder(self) -> str | None:
        return self.delivery.folder

    @property
    def imap_uid(self) -> int | None:
        return self.delivery.imap_uid

    @property
    def next_queue_id(self) -> str | None:
        return self.delivery.next_queue_id


class DeliveredVerdict(_DeliveredAtOnce):
    """Mail delivered at its one try on one hop, not handed on (the usual mail, and each recipient
    of mail to several): the verdict `walk` makes of it (`_delivered`)."""

    __slots__ = ("delivery", "in_queue", "message")

    def __init__(self, message: Message, delivery: Delivery, in_queue: bool | None) -> None:
        self.message = message
        self.delivery = delivery
        self.in_queue = in_queue

    @property
    def orig_recipient(self) -> str | None:
        return self.delivery.orig_recipient or None  # `orig_to=<>`: none, as `walk` says

    @property
    def sender(self) -> str | None:
        return self.message.sender

    @property
    def hops(self) -> tuple[Hop, ...]:
        return (Hop(self.message.host, self.message.queue_id),)

    @property
    def host(self) -> str:
        return self.message.host

    @property
    def queue_id(self) -> str:
        return self.message.queue_id

    @property
    def message_id(self) -> str | None:
        return self.message.message_id

    def _hops_text(self) -> str:
        host = _json_string(self.message.host)
        return f'"queue_ids": [{_json_string(self.message.queue_id)}], "hosts": [{host}], "host": {host}'


class HandedOnVerdict(_DeliveredAtOnce):
    """Mail handed on at its one try (`handed`: to a content filter, the edge relay) and delivered
    at the next hop's one try (`delivery`, of a `_simple_hop`): one story of two hops."""

    __slots__ = ("child", "delivery", "handed", "in_queue", "message")

    def __init__(
        self, message: Message, handed: Delivery, child: Message, delivery: Delivery, in_queue: bool | None
    ) -> None:
        self.message = message
        self.handed = handed
        self.child = child
        self.delivery = delivery
        self.in_queue = in_queue

    @property
    def orig_recipient(self) -> str | None:
        return self.delivery.orig_recipient or self.handed.orig_recipient

    @property
    def sender(self) -> str | None:
        return self.message.sender if self.message.sender is not None else self.child.sender

    @property
    def hops(self) -> tuple[Hop, ...]:
        return (Hop(self.message.host, self.message.queue_id), Hop(self.child.host, self.child.queue_id))

    @property
    def host(self) -> str:
        return self.child.host

    @property
    def queue_id(self) -> str:
        return self.child.queue_id

    @property
    def message_id(self) -> str | None:
        return self.message.message_id or self.child.message_id

    def _hops_text(self) -> str:
        q, message, child = _json_string, self.message, self.child
        host = q(child.host)
        return (
            f'"queue_ids": [{q(message.queue_id)}, {q(child.queue_id)}], "hosts": [{q(message.host)}, {host}], '
            f'"host": {host}'
        )


# A verdict as the trace holds it: the record, or one read from the records of a delivery.
AnyVerdict = Verdict | DeliveredVerdict | HandedOnVerdict


def _names(verdict: AnyVerdict, address: str) -> bool:
    address = address.lower()
    for value in (verdict.recipient, verdict.orig_recipient, verdict.sender):
        if value and (value == address or value.lower() == address):  # as written first: no copy
            return True
    return not address and not (verdict.recipient and verdict.orig_recipient and verdict.sender)  # "" is a missing one


# --- reading the verdicts ---------------------------------------------------------------------


class _Story(NamedTuple):
    """What the first hop knew, carried to the last one."""

    arrived: datetime
    sender: str | None
    message_id: str | None
    client: str | None
    hops: tuple[Hop, ...]
    deferrals: tuple[Delivery, ...]  # the deferrals of the earlier hops, for this recipient
    orig_recipient: str | None = None  # as the first hop knew it (a filter's hop may not repeat it)
    redirect_rule: str | None = None  # a rule's REDIRECT at a hop before


def _next_story(story: _Story, child: Message, deferrals: tuple[Delivery, ...], orig_recipient: str | None) -> _Story:
    """What the first hop knew, carried to the hop it handed the mail to."""
    return _Story(
        story.arrived,
        story.sender,
        story.message_id or child.message_id,
        story.client,
        (*story.hops, Hop(child.host, child.queue_id)),
        deferrals,
        orig_recipient,
        story.redirect_rule or _redirect_rule(child),
    )


def read_verdicts(
    messages: Sequence[Message],
    rejections: Iterable[Rejection] = (),
    queue: Mapping[str, Sequence[QueueEntry]] | None = None,
    lifetimes: Mapping[str, timedelta] | None = None,
    queued: Iterable[tuple[str, QueueEntry]] = (),
) -> list[AnyVerdict]:
    """One verdict per message and recipient, in the order the mail arrived.

    `messages` and `rejections` are what the logs of every host said (mail_flow); `queue` is
    each host's queue by host name (a host missing: its queue was not read, so whether a mail
    is still queued is unknown there); `lifetimes` each host's maximal_queue_lifetime; `queued`
    the queue entries to report on even when no log line names them (a held mail, a mail whose
    lines are older than the logs).
    """
    with collector_paused():  # tens of thousands of records, no cycles: see mail_flow
        return _read(messages, rejections, queue or {}, lifetimes or {}, queued)


_AT = attrgetter("at")
_ARRIVED = attrgetter("arrived")


def _read(
    messages: Sequence[Message],
    rejections: Iterable[Rejection],
    queue: Mapping[str, Sequence[QueueEntry]],
    lifetimes: Mapping[str, timedelta],
    queued: Iterable[tuple[str, QueueEntry]],
) -> list[AnyVerdict]:
    entries = {(host, entry.queue_id): entry for host, host_queue in queue.items() for entry in host_queue}
    queued_ids = frozenset(queue_id for _host, queue_id in entries)  # a str looked up: no tuple per message
    children, linked = _links(messages)
    queues_read = set(queue)
    reader = _Reader(entries, queues_read, lifetimes, children)
    verdicts: list[AnyVerdict] = []
    append, walk, in_queue_of = verdicts.append, reader.walk, reader.in_queue_of
    for message in messages:
        if linked and id(message) in linked:
            continue
        deliveries = message.deliveries
        if deliveries and not message.admin_actions and not message.rejections:
            if len(deliveries) == 1:
                final = deliveries[0]
                if final.status == "sent" and final.dsn[2:3] not in _FILTER_CLASSES and final.daemon != "discard":
                    next_queue_id = final.next_queue_id
                    child = children.get((id(message), next_queue_id)) if next_queue_id and children else None
                    if child is None:
                        # Most mail: one attempt, delivered, one hop: the verdict `leaf` makes, read from
                        # its message and delivery (a frequent address has 30,000 of them: bench/run.py).
                        host, queue_id = message.host, message.queue_id
                        append(
                            DeliveredVerdict(
                                message,
                                final,
                                True
                                if queue_id in queued_ids and (host, queue_id) in entries
                                else False
                                if host in queues_read or message.removed
                                else None,
                            )
                        )
                        continue
                    if _simple_hop(child, children):  # most of the rest: handed on once, delivered there at once
                        in_queue = in_queue_of(child)
                        for last in _onward(child, final):
                            append(HandedOnVerdict(message, final, child, last, in_queue))
                        continue
            else:
                onward = _each_sent_once(message, deliveries, children)
                if onward is not None:  # mail to several recipients, each delivered at its one try
                    in_queue = in_queue_of(message)
                    for final, child in zip(deliveries, onward, strict=True):
                        if child is None:
                            append(DeliveredVerdict(message, final, in_queue))
                            continue
                        in_queue_there = in_queue_of(child)
                        for last in _onward(child, final):
                            append(HandedOnVerdict(message, final, child, last, in_queue_there))
                    continue
        story = _Story(
            message.first_seen,
            message.sender,
            message.message_id,
            message.client,
            (Hop(message.host, message.queue_id),),
            (),
            None,
            _redirect_rule(message),
        )
        walk(message, story, None, 0, verdicts)
    if queued:
        covered = {hop for verdict in verdicts for hop in verdict.hops}
        seen_entries: set[tuple[str, str]] = set()
        for host, entry in queued:
            key = (host, entry.queue_id)
            if Hop(host, entry.queue_id) in covered or key in seen_entries:
                continue
            seen_entries.add(key)
            verdicts.extend(reader.from_queue(host, entry))
    verdicts.extend(_refusals(rejections))
    # By arrival, then last event: two stable sorts, whose keys are the verdicts' own times (a
    # key of both made a pair for each of 45,000 verdicts, 2.5 MB at the trace's peak).
    verdicts.sort(key=_AT)
    verdicts.sort(key=_ARRIVED)
    return verdicts


# local(8) and virtual(8) say where they put the mail (`delivered to command: procmail -a
# "$EXTENSION"`, `delivered to file: /var/mail/archive`, `delivered to maildir`): the verdict keeps it
# as its `reason`. An LMTP or SMTP server's answer, or pipe(8)'s `delivered via X service`, says no
# more than the relay and the folder read from it.
_OWN_WORDS = frozenset({"local", "virtual"})


def _own_words(delivery: Delivery) -> str | None:
    return (delivery.response or None) if delivery.daemon in _OWN_WORDS else None


def _each_sent_once(
    message: Message, deliveries: tuple[Delivery, ...], children: Mapping[tuple[int, str], Message]
) -> list[Message | None] | None:
    """For mail to several recipients (no two the same, in any case), each sent at its one try: the
    next hop of each (None: delivered there), each a `_simple_hop`. None for any other mail: `walk`
    tells it."""
    onward: list[Message | None] = []
    for delivery in deliveries:
        if delivery.status != "sent" or delivery.dsn[2:3] in _FILTER_CLASSES or delivery.daemon == "discard":
            return None
        child = children.get((id(message), delivery.next_queue_id)) if delivery.next_queue_id and children else None
        if child is not None and not _simple_hop(child, children):
            return None
        onward.append(child)
    return onward if _distinct(deliveries) else None


def _simple_hop(message: Message, children: Mapping[tuple[int, str], Message]) -> bool:
    """A hop that delivered each of its recipients (no two the same) at its one try, and handed
    none of them to a hop in the logs read: what `walk` makes one `_delivered` verdict of each."""
    deliveries = message.deliveries
    if not deliveries or message.rejections or message.admin_actions:
        return False
    for delivery in deliveries:
        if (
            delivery.status != "sent"
            or delivery.dsn[2:3] in _FILTER_CLASSES
            or delivery.daemon == "discard"
            or (delivery.next_queue_id and children and (id(message), delivery.next_queue_id) in children)
        ):
            return False
    return len(deliveries) == 1 or _distinct(deliveries)


def _distinct(deliveries: tuple[Delivery, ...]) -> bool:
    """No two deliveries to the same recipient, in any case (`walk` groups the attempts by it)."""
    if len(deliveries) == 2:
        return deliveries[0].recipient.lower() != deliveries[1].recipient.lower()
    return len({delivery.recipient.lower() for delivery in deliveries}) == len(deliveries)


def _onward(child: Message, final: Delivery) -> Sequence[Delivery]:
    """The deliveries of a `_simple_hop` that `walk` follows a hand-over (`final`) to: those of its
    recipient (or original recipient), else all of them (an alias expanded there)."""
    deliveries = child.deliveries
    if len(deliveries) == 1:
        return deliveries
    names = (final.recipient.lower(), final.orig_recipient.lower() if final.orig_recipient else None)
    wanted = [d for d in deliveries if d.recipient.lower() in names or (d.orig_recipient or "").lower() in names]
    return wanted or deliveries


def _links(messages: Sequence[Message]) -> tuple[dict[tuple[int, str], Message], set[int]]:
    """The `queued as` hand-overs between the messages read: (id of the message, next queue id) ->
    the next hop, and the ids of the messages that are a next hop."""
    children: dict[tuple[int, str], Message] = {}
    linked: set[int] = set()
    handed: list[tuple[Message, Delivery | Requeue]] = [
        (m, d) for m in messages for d in m.deliveries if d.next_queue_id
    ]
    handed.extend((m, r) for m in messages if m.admin_actions and (r := m.requeue) is not None)
    if not handed:
        return children, linked
    wanted = {d.next_queue_id for _m, d in handed}
    by_id: dict[str, Message] = {}  # the first message of each queue id handed to
    several: dict[str, list[Message]] = {}  # a queue id of more than one message (reused, or on two hosts)
    for message in compress(messages, map(wanted.__contains__, map(_QUEUE_ID, messages))):
        first = by_id.setdefault(message.queue_id, message)
        if first is not message:
            several.setdefault(message.queue_id, [first]).append(message)
    for message, delivery in handed:
        next_queue_id = delivery.next_queue_id or ""
        child = by_id.get(next_queue_id)
        if child is None:
            continue
        if several and next_queue_id in several:
            child = _next_hop(message, delivery, several)
            if child is None:
                continue
        elif child is message or (child.first_seen > delivery.at and child.first_seen > delivery.at + _HAND_OVER):
            continue  # `_next_hop` of a queue id of one message, without its lists
        children[(id(message), next_queue_id)] = child
        linked.add(id(child))
    return children, linked


_QUEUE_ID = attrgetter("queue_id")


def _next_hop(message: Message, delivery: Delivery | Requeue, by_id: Mapping[str, list[Message]]) -> Message | None:
    """The message a `queued as` reply names: of that queue id, the one that began closest to the
    hand-over (a short queue id comes back after a while; another host may hold the same one)."""
    same_id = by_id.get(delivery.next_queue_id or "", ())
    latest = delivery.at + _HAND_OVER
    candidates = [m for m in same_id if m is not message and m.first_seen <= latest]
    if len(candidates) < 2:
        return candidates[0] if candidates else None
    return min(candidates, key=lambda m: abs((delivery.at - m.first_seen).total_seconds()))


_HAND_OVER = timedelta(minutes=5)  # the next hop's first line is at most this after the hand-over


class _Reader:
    def __init__(
        self,
        entries: Mapping[tuple[str, str], QueueEntry],
        queues_read: set[str],
        lifetimes: Mapping[str, timedelta],
        children: Mapping[tuple[int, str], Message],
    ) -> None:
        self.entries = entries
        self.queues_read = queues_read
        self.lifetimes = lifetimes
        self.children = children

    def walk(self, message: Message, story: _Story, only: set[str] | None, depth: int, out: list[AnyVerdict]) -> None:
        """Appends the verdicts of `message` (and of the hops it handed its mail to) to `out`."""
        deliveries = message.deliveries
        if not deliveries and message.admin_actions and (requeue := message.requeue) is not None:
            child = self.children.get((id(message), requeue.next_queue_id))
            if child is not None and depth < MAX_HOPS:  # MailScanner's copy goes on for every recipient
                self.walk(child, _next_story(story, child, story.deferrals, story.orig_recipient), only, depth + 1, out)
                return
        if len(deliveries) == 1 and not message.rejections:  # most mail: one try (what `only` wants, or all)
            final = deliveries[0]
            child = self.children.get((id(message), final.next_queue_id)) if final.next_queue_id else None
            if child is None or final.status not in ("sent", "delivered") or depth >= MAX_HOPS:
                out.append(self.leaf(message, deliveries, story))
                return
            key = final.recipient.lower()
            onward = _next_story(story, child, story.deferrals, story.orig_recipient or final.orig_recipient)
            self.walk(
                child, onward, {key, final.orig_recipient.lower()} if final.orig_recipient else {key}, depth + 1, out
            )
            return
        attempts: dict[str, list[Delivery]] = {}
        for delivery in message.deliveries:
            attempts.setdefault(delivery.recipient.lower(), []).append(delivery)
        if only is not None:
            wanted = {
                key: tries
                for key, tries in attempts.items()
                if key in only or (tries[-1].orig_recipient or "").lower() in only
            }
            attempts = wanted or attempts  # an alias expanded to other addresses: all of them
        refused = {(r.recipient or "").lower(): r for r in message.rejections if r.recipient}
        if not attempts:
            out.extend(self.undelivered(message, story))
            return
        for key, tries in attempts.items():
            final = tries[-1]
            child = self.children.get((id(message), final.next_queue_id or ""))
            if final.status in ("sent", "delivered") and child is not None and depth < MAX_HOPS:
                names = {key} | ({final.orig_recipient.lower()} if final.orig_recipient else set())
                deferrals = story.deferrals + tuple(t for t in tries if t.status == "deferred")
                onward = _next_story(story, child, deferrals, story.orig_recipient or final.orig_recipient)
                self.walk(child, onward, names, depth + 1, out)
            else:
                out.append(self.leaf(message, tries, story))
        for key, rejection in refused.items():
            if key not in attempts:
                out.append(self.refused_in_queue(message, rejection, story))

    def leaf(self, message: Message, tries: Sequence[Delivery], story: _Story) -> Verdict:
        final = tries[-1]
        status = final.status
        filtered = _filter_outcome(final) if status == "sent" else None
        if status == "sent" and len(tries) == 1 and not story.deferrals and not message.admin_actions and not filtered:
            return self._delivered(message, final, story)
        deferrals = [t for t in tries if t.status == "deferred"]
        if story.deferrals:
            deferrals[:0] = story.deferrals
        entry = self.entries.get((message.host, message.queue_id)) if self.entries else None
        in_queue = self._in_queue(message.host, entry, message)
        held = _held(message, entry)
        deleted = "deleted" in message.admin_actions
        reason = None
        if status not in ("sent", "delivered") or filtered:  # a delivery's answer says nothing a verdict shows
            last_answer = final if status != "expired" or not deferrals else deferrals[-1]
            reason = summarize_reply(last_answer.response) or final.dsn or None
            if final.daemon == "discard":  # its text is the transport's own (`discard:TEXT`), as a check's
                reason = f"discard: {final.response}" if final.response else "discard"
            elif final.filtered:  # the filter's own words after its answer
                reason = f"{reason}: {final.filtered}"
            if status == "expired" and deferrals:
                reason = summarize_reply(deferrals[-1].response) or reason
        notice_queue_id = notice_to = None
        gives_up_at = None
        if filtered:
            kind = filtered
        elif status in ("sent", "delivered"):
            kind = DELIVERED
        elif status == "bounced":
            kind = BOUNCED
        elif status == "expired":
            kind = EXPIRED
        elif status in ("deliverable", "undeliverable"):
            kind = PROBE
        elif status == "deferred":
            if deleted:
                kind = DELETED
            elif held:
                kind = HELD
            elif message.expired:
                kind = EXPIRED
            elif in_queue is False and message.removed:
                kind = UNKNOWN
            else:
                kind = DEFERRED
                arrival = entry.arrival_time if entry else message.first_seen
                lifetime = self.lifetimes.get(message.host)
                if lifetime is not None and in_queue is not False:
                    gives_up_at = _aware_like(arrival, final.at) + lifetime
        else:  # a status of a Postfix to come, or of a patched one
            kind = BOUNCED if status.startswith("bounce") else UNKNOWN
        if kind in (BOUNCED, EXPIRED):
            notice = next((n for n in message.notices if n.kind.endswith("non-delivery")), None)
            if notice is not None:
                notice_queue_id = notice.queue_id
                notice_to = message.sender or None
        delivered = kind == DELIVERED
        return Verdict(
            kind=kind,
            recipient=final.recipient,
            orig_recipient=final.orig_recipient or story.orig_recipient,
            sender=story.sender if story.sender is not None else message.sender,
            hops=story.hops,
            arrived=story.arrived,
            at=final.at,
            message_id=story.message_id or message.message_id,
            client=story.client,
            attempts=len(deferrals),
            first_deferred=deferrals[0].at if deferrals else None,
            last_deferred=deferrals[-1].at if deferrals else None,
            reason=_own_words(final) if delivered else reason,
            cause=None if delivered else cause_of(reason),
            dsn=final.dsn,
            relay=final.relay,
            mailbox=final.mailbox,
            folder=final.folder,
            imap_uid=final.imap_uid,
            next_queue_id=final.next_queue_id,
            notice_queue_id=notice_queue_id,
            notice_to=notice_to,
            in_queue=in_queue,
            gives_up_at=gives_up_at,
            deleted_by_admin=deleted,
            redirect_rule=story.redirect_rule,
        )

    def _delivered(self, message: Message, final: Delivery, story: _Story) -> Verdict:
        """`leaf` for mail delivered at the first try (most of it), without what it does not need."""
        return Verdict(
            DELIVERED,
            final.recipient,
            final.orig_recipient or story.orig_recipient,
            story.sender if story.sender is not None else message.sender,
            story.hops,
            story.arrived,
            final.at,
            story.message_id or message.message_id,
            story.client,
            0,
            None,
            None,
            _own_words(final),
            None,
            final.dsn,
            final.relay,
            final.mailbox,
            final.folder,
            final.imap_uid,
            final.next_queue_id,
            None,
            None,
            self._in_queue(message.host, self.entries.get((message.host, message.queue_id)), message),
            None,
            False,
            None,
            story.redirect_rule,
        )

    def undelivered(self, message: Message, story: _Story) -> Iterator[Verdict]:
        """A message without a delivery attempt in the logs read: refused, deleted, held, queued."""
        if message.rejections:
            for rejection in message.rejections:
                yield self.refused_in_queue(message, rejection, story)
            return
        entry = self.entries.get((message.host, message.queue_id))
        in_queue = self._in_queue(message.host, entry, message)
        if "deleted" in message.admin_actions:
            kind = DELETED
        elif _held(message, entry):
            kind = HELD
        elif message.expired:
            kind = EXPIRED
        elif in_queue:
            kind = QUEUED
        else:
            kind = UNKNOWN
        holds = message.holds
        recipients: Sequence[tuple[str | None, str | None]] = [(None, None)]
        if entry is not None and entry.recipients:
            recipients = [(r.address, r.delay_reason) for r in entry.recipients]
        elif holds:  # held by a rule, never seen by qmgr: the hold lines name the recipients
            recipients = list(dict.fromkeys((hold.recipient, None) for hold in holds))
        hold_reason = holds[-1].reason if holds and kind == HELD else None
        requeue = message.requeue if message.admin_actions else None  # its copy, not in the logs read
        for recipient, delay_reason in recipients:
            reason = summarize_reply(delay_reason) if delay_reason else hold_reason
            this_kind = DEFERRED if kind == QUEUED and reason else kind
            gives_up_at = None
            if this_kind == DEFERRED and entry is not None and message.host in self.lifetimes:
                gives_up_at = entry.arrival_time + self.lifetimes[message.host]
            yield Verdict(
                kind=this_kind,
                recipient=recipient,
                orig_recipient=None,
                sender=story.sender if story.sender is not None else message.sender,
                hops=story.hops,
                arrived=story.arrived,
                at=message.last_seen,
                message_id=story.message_id or message.message_id,
                client=story.client,
                attempts=len(story.deferrals),
                reason=reason,
                cause=cause_of(reason),
                next_queue_id=requeue.next_queue_id if requeue else None,
                in_queue=in_queue,
                gives_up_at=gives_up_at,
                deleted_by_admin=kind == DELETED,
                redirect_rule=story.redirect_rule,
            )

    def refused_in_queue(self, message: Message, rejection: Rejection, story: _Story) -> Verdict:
        """One recipient refused in a transaction that had a queue id, or a whole message refused
        by a content check (cleanup), a milter or a before-queue filter."""
        reason = _refusal_reason(rejection)
        return Verdict(
            kind=REFUSED,
            recipient=rejection.recipient,
            orig_recipient=None,
            sender=rejection.sender if rejection.sender is not None else story.sender,
            hops=story.hops,
            arrived=story.arrived,
            at=rejection.at,
            message_id=story.message_id or message.message_id,
            client=rejection.client or story.client,
            attempts=1,
            reason=reason,
            cause=cause_of(reason),
            in_queue=False,
        )

    def from_queue(self, host: str, entry: QueueEntry) -> Iterator[Verdict]:
        """A queue entry no log line read speaks of."""
        lifetime = self.lifetimes.get(host)
        for recipient in entry.recipients or (None,):
            reason = summarize_reply(recipient.delay_reason) if recipient and recipient.delay_reason else None
            kind = HELD if entry.held else DEFERRED if reason else QUEUED
            yield Verdict(
                kind=kind,
                recipient=recipient.address if recipient else None,
                orig_recipient=None,
                sender=entry.sender,
                hops=(Hop(host, entry.queue_id),),
                arrived=entry.arrival_time,
                at=entry.arrival_time,
                reason=reason,
                cause=cause_of(reason),
                in_queue=True,
                gives_up_at=entry.arrival_time + lifetime if kind == DEFERRED and lifetime is not None else None,
            )

    def in_queue_of(self, message: Message) -> bool | None:
        return self._in_queue(message.host, self.entries.get((message.host, message.queue_id)), message)

    def _in_queue(self, host: str, entry: QueueEntry | None, message: Message) -> bool | None:
        if entry is not None:
            return True
        if host in self.queues_read or message.removed:
            return False
        return None


def _redirect_rule(message: Message) -> str | None:
    redirect = message.redirect if message.admin_actions else None
    return redirect.rule if redirect is not None else None


def _held(message: Message, entry: QueueEntry | None) -> bool:
    if entry is not None:
        return entry.held
    holds = [a for a in message.admin_actions if a in ("placed on hold", "released from hold")]
    return bool(holds) and holds[-1] == "placed on hold" and not message.removed


def _aware_like(stamp: datetime, like: datetime) -> datetime:
    """A queue entry's time (aware) and a log line's (aware or naive) made comparable."""
    if (stamp.tzinfo is None) == (like.tzinfo is None):
        return stamp
    return (
        stamp.replace(tzinfo=like.tzinfo)
        if stamp.tzinfo is None
        else stamp.astimezone(like.tzinfo).replace(tzinfo=None)
    )


_QUOTED_ADDRESS = re.compile(r"^(?P<code>[245]\d\d [245]\.\d{1,3}\.\d{1,3} )<[^>]*>: ")


# The classes of a `2.X.Y` code by which a content filter says it did not pass a mail on: X.7 (policy,
# amavis and Proxmox Mail Gateway) and X.5 (amavis's `BOUNCE` and `DISCARD(...)`). Any other
# sent mail with one goes the long way, `leaf`, which tells; so does mail Postfix's own discard(8)
# agent `sent` (a transport map's `discard:`: dropped, `relay=none`).
_FILTER_CLASSES = "57"


def _filter_outcome(delivery: Delivery) -> str | None:
    """What a content filter that answered `250` did with the mail, when it did not pass it on.

    Postfix logs `status=sent` for each: amavis's `250 2.7.0 Ok, discarded, id=03491-01 - spam` (or
    `- INFECTED: ...`, `- BANNED: ...`) and `250 2.5.0 Ok, id=03164-18, DISCARD(bounce.suppressed)`,
    Proxmox Mail Gateway's `250 2.7.0 BLOCKED (3802E45DFA503808B06)`, and its `250 2.5.0 OK (SESSION)`
    when the session moved the mail to the spam or virus quarantine or blocked it, and Postfix's own
    discard(8) agent: dropped, no one told, refused as a `discard` of Postfix's own checks is.
    amavis's `250 2.5.0 Ok, id=18438-02, BOUNCE`: it returned the mail to its sender itself, bounced."""
    if delivery.daemon == "discard":
        return REFUSED
    dsn = delivery.dsn
    if dsn[:4] == "2.7.":
        answer = delivery.response.lower()
        return REFUSED if "discarded" in answer or "blocked" in answer else None
    if dsn[:4] == "2.5.":
        answer = delivery.response
        if ", id=" in answer:
            if answer.endswith(", BOUNCE"):
                return BOUNCED
            if ", DISCARD" in answer:
                return REFUSED
        elif delivery.filtered:
            return REFUSED  # Proxmox's session said it (`mail_flow._tell_what_the_filter_did`)
    return None


def _refusal_reason(rejection: Rejection) -> str:
    reason = _QUOTED_ADDRESS.sub(r"\g<code>", rejection.reason, count=1)
    return f"{rejection.action}: {reason}" if rejection.action == "discard" else reason


def client_ip(client: str | None) -> str:
    """`name[192.0.2.1]`, `[192.0.2.1]:25` -> `192.0.2.1`."""
    if not client:
        return ""
    start = client.find("[")
    return client[start + 1 : client.find("]", start)] if start >= 0 else client


def _refusals(rejections: Iterable[Rejection]) -> Iterator[Verdict]:
    """Refusals before any queue file (NOQUEUE): a sender's server that tries again is refused
    again, so the same sender, recipient, client and answer within a day are one verdict."""
    open_stories: dict[tuple[str, str, str, str, str], list[Rejection]] = {}
    for rejection in sorted(rejections, key=lambda r: r.at):
        reason = _refusal_reason(rejection)
        key = (
            rejection.host,
            (rejection.sender or "").lower(),
            (rejection.recipient or "").lower(),
            client_ip(rejection.client),
            reason,
        )
        group = open_stories.get(key)
        if group is not None and rejection.at - group[-1].at <= REFUSAL_GAP:
            group.append(rejection)
            continue
        if group is not None:
            yield _refusal(group)
        open_stories[key] = [rejection]
    for group in open_stories.values():
        yield _refusal(group)


def _refusal(group: list[Rejection]) -> Verdict:
    first, last = group[0], group[-1]
    reason = _refusal_reason(last)
    return Verdict(
        kind=REFUSED,
        recipient=last.recipient,
        orig_recipient=None,
        sender=last.sender,
        hops=(),
        arrived=first.at,
        at=last.at,
        client=last.client,
        attempts=len(group),
        first_deferred=None,
        reason=reason,
        cause=cause_of(reason),
        in_queue=False,
        refused_on=last.host,
    )
