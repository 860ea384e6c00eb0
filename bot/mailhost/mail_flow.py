"""From parsed log lines to messages: one record per queue id, with its deliveries.

Pure. The grouping follows Postfix's own life cycle of a queue file: a queue id is born
at `client=` / `uid=` (or the first line seen), collects its `from=`, `message-id=`,
delivery attempts, notices and rejects, and dies at `removed`. A short queue id can be
reused later (it derives from an inode), so a line after `removed` starts a new message.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, make_dataclass, replace
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar

from bot.mailhost.postfix_log import (
    ClientEvent,
    DeliveryEvent,
    ExpiredEvent,
    FilterActionEvent,
    HoldEvent,
    LineParser,
    LocalPickupEvent,
    LogLine,
    MessageIdEvent,
    NoticeEvent,
    OtherEvent,
    QueueAdminEvent,
    QueuedEvent,
    RedirectEvent,
    RejectEvent,
    RemovedEvent,
    RequeueEvent,
    parse_event,
    reply_facts,
)

_AT = attrgetter("at")
_Record = TypeVar("_Record")
_HAND_OVER = timedelta(minutes=5)  # a filter's answer and its re-injection's first line, at most apart
FINAL_STATUSES = frozenset({"sent", "bounced", "expired", "delivered"})


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt to hand the message to one recipient."""

    recipient: str
    orig_recipient: str | None
    status: str
    dsn: str
    relay: str
    delay: float
    at: datetime
    response: str
    daemon: str
    mailbox: str | None = None
    folder: str | None = None
    imap_uid: int | None = None
    next_queue_id: str | None = None
    # what a content filter's own lines say it did, when its answer does not (Proxmox's session:
    # `moved mail for <r> to spam quarantine - ...`); a 14th slot, in the same size class as 13
    filtered: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Mail refused before it was queued (NOQUEUE), or one recipient refused in a queued transaction."""

    at: datetime
    host: str
    queue_id: str | None
    action: str
    stage: str
    client: str | None
    sender: str | None
    recipient: str | None
    reason: str
    daemon: str


@dataclass(frozen=True, slots=True)
class Notice:
    """A message that `bounce` generated about this one (non-delivery, delay, success)."""

    kind: str
    queue_id: str


class Hold(NamedTuple):
    """A rule's HOLD of the message: for whom (None: the line named no recipient) and why."""

    recipient: str | None
    reason: str


class Requeue(NamedTuple):
    """MailScanner wrote the held message back as another queue file: a hop, like `queued as`."""

    next_queue_id: str
    at: datetime


class Redirect(NamedTuple):
    """A rule's REDIRECT (a header or body check, an access map): the mail for `recipient` (None:
    the line named none) went to `target` instead, because of `rule`."""

    recipient: str | None
    target: str
    rule: str


class FilterAction(NamedTuple):
    """Proxmox Mail Gateway's filter session (a `Message` of its own id) on one recipient:
    `accept` (queued again as `queue_id`), `spam`, `virus`, `attachment` (quarantined), `block`."""

    action: str
    recipient: str
    queue_id: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Message:
    queue_id: str
    host: str
    first_seen: datetime
    last_seen: datetime
    message_id: str | None
    sender: str | None
    client: str | None
    size: int | None
    nrcpt: int | None
    deliveries: tuple[Delivery, ...]
    rejections: tuple[Rejection, ...]
    notices: tuple[Notice, ...]
    expired: bool
    removed: bool
    # postsuper's verbs (`placed on hold`, `deleted`...), and after a rule's `placed on hold` its
    # `Hold` (the recipient and reason of its `hold:` line); MailScanner's `Requeue`; the
    # `FilterAction`s of a Proxmox filter's session; a rule's `Redirect`. Not fields of their own: one slot more on this
    # record and on its builder put both in a larger size class, and the busy trace's peak (58,000
    # of each) went up by 10 MB.
    admin_actions: tuple[str | Hold | Requeue | FilterAction | Redirect, ...]
    lines: tuple[LogLine, ...]

    @property
    def holds(self) -> tuple[Hold, ...]:
        """The HOLDs of rules (`hold: ... to=<r> ...: reason`), in their order."""
        return tuple(action for action in self.admin_actions if isinstance(action, Hold))

    @property
    def requeue(self) -> Requeue | None:
        """MailScanner's writing of the message back as another queue file, if it did."""
        return next((action for action in self.admin_actions if isinstance(action, Requeue)), None)

    @property
    def redirect(self) -> Redirect | None:
        """The rule's REDIRECT that sent the mail elsewhere, if one did (the last: it wins)."""
        redirects = [action for action in self.admin_actions if isinstance(action, Redirect)]
        return redirects[-1] if redirects else None

    def final_attempts(self) -> dict[str, Delivery]:
        """The latest attempt for each recipient: what the message's state is now."""
        latest: dict[str, Delivery] = {}
        for delivery in self.deliveries:
            latest[delivery.recipient.lower()] = delivery
        return latest

    def involves(self, address: str) -> bool:
        address = address.lower()
        if (self.sender or "").lower() == address:
            return True
        for delivery in self.deliveries:
            if delivery.recipient.lower() == address or (delivery.orig_recipient or "").lower() == address:
                return True
        if self.admin_actions and any(
            isinstance(action, Hold | Redirect) and (action.recipient or "").lower() == address
            for action in self.admin_actions
        ):
            return True
        return any((r.recipient or "").lower() == address for r in self.rejections)


def _maker(record: type[_Record]) -> Callable[..., _Record]:
    """A maker of `record` (a frozen, slotted dataclass) from all its fields, by position: the same
    record as `record(...)` makes, at a quarter of the cost.

    A frozen dataclass's `__init__` sets each field through `object.__setattr__`: 2.4 µs for a
    `Delivery`, 2.8 for a `Message`, 0.3 s of a busy trace's parse (66,000 deliveries, 58,000
    messages). This fills a twin class, the same slots but not frozen (its `__init__` stores
    them as any attribute), then makes the record its own class: the two layouts are the same
    (Python checks), so the object is then exactly a `record`: 0.6 µs for a `Delivery`, 0.7 for a
    `Message` (bench/run.py, issue 24)."""
    twin = make_dataclass(f"_{record.__name__}Fields", [f.name for f in fields(record)], slots=True)  # type: ignore[arg-type]
    if getattr(twin, "__slots__", ()) != getattr(record, "__slots__", None):
        raise TypeError(f"{record.__name__} is not a slotted dataclass")
    set_class = object.__setattr__

    def make(*values: Any) -> _Record:
        made = twin(*values)
        set_class(made, "__class__", record)
        return made  # type: ignore[no-any-return]

    return make


_new_delivery = _maker(Delivery)
_new_message = _maker(Message)


@dataclass(slots=True)
class _Builder:
    queue_id: str
    host: str
    first_seen: datetime
    last_seen: datetime
    message_id: str | None = None
    sender: str | None = None
    client: str | None = None
    size: int | None = None
    nrcpt: int | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    # What most messages have none of, as tuples grown by one: an empty list costs 56 bytes and
    # its making, for each of a busy trace's 58,000 builders.
    rejections: tuple[Rejection, ...] = ()
    notices: tuple[Notice, ...] = ()
    expired: bool = False
    removed: bool = False
    admin_actions: tuple[str | Hold | Requeue | FilterAction | Redirect, ...] = ()
    lines: list[LogLine] | None = None  # made for the first line kept (a mailing list's message has thousands)
    origin: str | None = None  # `orig_queue_id=` of its `client=` line: `_name_the_next_hops`

    def freeze(self) -> Message:
        return _new_message(  # every field, by position, in Message's order (`_maker`)
            self.queue_id,
            self.host,
            self.first_seen,
            self.last_seen,
            self.message_id,
            self.sender,
            self.client,
            self.size,
            self.nrcpt,
            tuple(self.deliveries),
            self.rejections,
            self.notices,
            self.expired,
            self.removed,
            self.admin_actions,
            tuple(self.lines) if self.lines else (),
        )


@dataclass(frozen=True, slots=True)
class MailFlow:
    """Everything one host's log says: messages by queue id, and refusals without one."""

    messages: tuple[Message, ...]
    rejections: tuple[Rejection, ...]


def assemble(lines: Iterable[LogLine], host: str, keep_lines: bool = True) -> MailFlow:
    """Group lines into messages and rejections.

    Reads `lines` once, as they come (a stream of hundreds of thousands of lines is never held
    as a list), and reads each line's event then, while the host is still searching. A message
    is made as soon as its `removed` is read (`_Groups`); the lines of each queue id are put in
    time order. `keep_lines=False` leaves each message's `lines` empty: a trace shows what the
    lines say, and a busy address has 300,000 of them.
    """
    groups = _Groups(host, 4 if keep_lines else 3)
    by_queue_id, loose, ended = groups.by_queue_id, groups.loose, groups.ended
    with _collector_paused():
        for line in lines:
            if line.queue_id is not None:
                event = parse_event(line)
                seen: tuple[Any, ...] = (line.at, line.daemon, event)
                if keep_lines:
                    seen += (line,)
                group = by_queue_id.get(line.queue_id)
                if group is None:
                    by_queue_id[line.queue_id] = list(seen)
                else:
                    group += seen
                if type(event) is RemovedEvent:
                    ended(line.queue_id)
            elif "reject" in line.text or "discard" in line.text:  # only these can be refusals
                loose.append(line)
        return groups.flow()


def assemble_blocks(blocks: Iterable[str], parser: LineParser, host: str) -> MailFlow:
    """`assemble` of the lines of text blocks, without their lines (`keep_lines=False`): what a
    trace reads. `LineParser.collect` reads each block straight into the groups (a third of the
    time of `LogLine`s and `parse_event`); the same messages and rejections."""
    groups = _Groups(host, 3)
    with _collector_paused():
        for block in blocks:
            parser.collect(block, groups.by_queue_id, groups.loose, groups.ended)
        return groups.flow()


class _Groups:
    """The lines read so far, by queue id, each line as `width` items in a row of its queue id's
    list (time, daemon, event, and the line when kept; no tuple per line), and the messages made.

    A message is made as soon as its `removed` is read, and its lines' records freed: the logs
    have each message's lines in time order, and the trace script sends them in the order they
    were written, so its lines are all in. Held until the end, the records of a busy address's
    300,000 lines and the messages made of them were alive together: the peak of its trace was
    8-10 MB higher (bench/run.py, issue 24; the same answers).
    A line of a queue id after its `removed` starts another message (a short queue id is reused),
    as one after it in time always did. A second `removed`, or a line older than the `removed`,
    right after it, is added to that message, as before; further away it would start another,
    but no real log read here (the corpus's, the lab's, the benchmark's) had either."""

    def __init__(self, host: str, width: int) -> None:
        self.host = host
        self.width = width
        self.by_queue_id: dict[str, list[Any]] = {}
        self.loose: list[LogLine] = []
        self.messages: list[Message] = []
        self.origins: list[tuple[Message, str]] = []  # a filter's re-injection, and the queue id it names
        self._last: tuple[str, list[Any], int] | None = None  # the lines of the messages made last

    def ended(self, queue_id: str) -> None:
        group = self.by_queue_id.pop(queue_id)
        messages = self.messages
        last = self._last
        if (
            last is not None
            and last[0] == queue_id
            and (group[0] < messages[-1].last_seen or all(type(e) is RemovedEvent for e in group[2 :: self.width]))
        ):
            # More of the message just made: a second `removed`, or a line older than its first.
            dropped = messages[len(messages) - last[2] :]
            del messages[len(messages) - last[2] :]
            while self.origins and any(self.origins[-1][0] is m for m in dropped):
                self.origins.pop()
            group = last[1] + group
        before = len(messages)
        _messages_of(queue_id, group, self.host, self.width, messages, self.origins)
        self._last = (queue_id, group, len(messages) - before)

    def flow(self) -> MailFlow:
        """Every message (those not removed too), and the refusals. Consumes the groups."""
        by_queue_id, messages, host = self.by_queue_id, self.messages, self.host
        while by_queue_id:
            queue_id, group = by_queue_id.popitem()
            _messages_of(queue_id, group, host, self.width, messages, self.origins)
        if self.origins:
            _name_the_next_hops(messages, self.origins)
        _tell_what_the_filter_did(messages)
        rejections: list[Rejection] = []
        for line in sorted(self.loose, key=_AT):
            event = parse_event(line)
            if isinstance(event, RejectEvent):
                rejections.append(_rejection(line.at, line.daemon, line.queue_id, event, host))
        messages.sort(key=lambda m: (m.first_seen, m.queue_id))
        return MailFlow(messages=tuple(messages), rejections=tuple(rejections))


def _messages_of(
    queue_id: str,
    group: list[Any],
    host: str,
    width: int,
    messages: list[Message],
    origins: list[tuple[Message, str]],
) -> None:
    """The messages of one queue id's lines, added to `messages`: more than one when a line
    follows a `removed` in time (the queue id reused). A content filter's re-injection that
    names the queue id it came from goes to `origins` too."""
    times = group[::width]
    if len(times) > 1 and times != sorted(times):  # out of time order: the stable sort by time
        order = sorted(range(len(times)), key=times.__getitem__)
        group = [item for index in order for item in group[index * width : index * width + width]]
    apply = _APPLY
    builder: _Builder | None = None
    for index in range(0, len(group), width):
        at, daemon, event = group[index], group[index + 1], group[index + 2]
        kind = type(event)
        if builder is not None and builder.removed and kind is not RemovedEvent:  # the queue id, reused
            messages.append(builder.freeze())
            if builder.origin is not None:
                origins.append((messages[-1], builder.origin))
            builder = None
        if builder is None:
            builder = _Builder(queue_id, host, at, at)
        builder.last_seen = at
        if width == 4:
            if builder.lines is None:
                builder.lines = []
            builder.lines.append(group[index + 3])
        apply[kind](builder, at, daemon, event)
    if builder is not None:
        messages.append(builder.freeze())
        if builder.origin is not None:
            origins.append((messages[-1], builder.origin))


def _tell_what_the_filter_did(messages: list[Message]) -> None:
    """Proxmox Mail Gateway answers Postfix `250 2.5.0 OK (SESSION)` whatever it did, and says what
    in its session's lines: a delivery to it is given the next queue id of its `accept`, or the
    words of its quarantine or block (`filtered`: what `verdicts` reads as refused)."""
    sessions: dict[str, dict[str, FilterAction]] = {}
    for message in messages:
        if message.admin_actions:
            for told in message.admin_actions:
                if isinstance(told, FilterAction):
                    sessions.setdefault(message.queue_id, {})[told.recipient.lower()] = told
    if not sessions:
        return
    for index, message in enumerate(messages):
        changed = False
        deliveries = list(message.deliveries)
        for number, delivery in enumerate(deliveries):
            response = delivery.response
            if delivery.status != "sent" or delivery.next_queue_id or not response.endswith(")"):
                continue
            session = sessions.get(response[response.rfind("(") + 1 : -1])
            action = session.get(delivery.recipient.lower()) if session else None
            if action is None:
                continue
            if action.action == "accept" and action.queue_id:
                deliveries[number] = replace(delivery, next_queue_id=action.queue_id)
            elif action.action in ("spam", "virus", "block"):
                deliveries[number] = replace(delivery, filtered=action.text)
            else:
                continue
            changed = True
        if changed:
            messages[index] = replace(message, deliveries=tuple(deliveries))


def _name_the_next_hops(messages: list[Message], origins: list[tuple[Message, str]]) -> None:
    """A content filter that re-injects a mail through smtpd with XFORWARD IDENT (amavis, Proxmox
    Mail Gateway) has its `client=` line name the queue id the mail came from (`orig_queue_id=`):
    where the filter's answer did not say `queued as` (Proxmox's `250 2.5.0 OK (its own id)`), the
    first hop's deliveries to it are given that next queue id here, as the reply would have. Those
    of the re-injection's recipients, sent within minutes of its first line (a filter answers once
    it has queued the mail again)."""
    wanted = {origin for _child, origin in origins}
    at_index: dict[str, list[int]] = {}
    for index, message in enumerate(messages):
        if message.queue_id in wanted:
            at_index.setdefault(message.queue_id, []).append(index)
    for child, origin in origins:
        if origin == child.queue_id:
            continue
        earlier = [i for i in at_index.get(origin, ()) if messages[i].first_seen <= child.first_seen]
        if not earlier:
            continue  # the first hop's lines are older than the logs read
        index = max(earlier, key=lambda i: messages[i].first_seen)
        parent = messages[index]
        if any(d.next_queue_id == child.queue_id for d in parent.deliveries):
            continue  # its answer said `queued as` already
        names = {d.recipient.lower() for d in child.deliveries} | {
            d.orig_recipient.lower() for d in child.deliveries if d.orig_recipient
        }
        handed = tuple(
            replace(d, next_queue_id=child.queue_id)
            if d.status == "sent"
            and d.next_queue_id is None
            and abs(d.at - child.first_seen) <= _HAND_OVER
            and (not names or d.recipient.lower() in names)
            else d
            for d in parent.deliveries
        )
        if handed != parent.deliveries:
            messages[index] = replace(parent, deliveries=handed)


class _CollectorPause:
    """Python's cycle collector off while records pile up (they make no cycles): each of its
    passes walks every live record, which doubles the time of a 300,000-line trace. Nested and
    concurrent uses count; the collector comes back on when the last one ends.

    What was made while paused then goes straight to the oldest generation (`gc.freeze()` then
    `gc.unfreeze()`: two list splices, whatever the number of objects), where only a full pass looks
    at it: without this, the first pass after the pause walked every record still alive (0.07 s
    after the 45,000 verdicts of a frequent address, bench/run.py), and the records of an answer
    are freed by their reference counts long before a full pass. Cyclic garbage made meanwhile, by
    any thread, waits for that full pass too: later, never lost. (Nothing in the bot uses
    `gc.freeze()` for itself, which `gc.unfreeze()` would undo.)"""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._disabled = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            self._users += 1
            if self._users == 1 and gc.isenabled():
                gc.disable()
                self._disabled = True
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0 and self._disabled:
                    self._disabled = False
                    gc.freeze()  # what was made while paused, to the oldest generation: see the docstring
                    gc.unfreeze()
                    gc.enable()


_collector_paused = _CollectorPause()
collector_paused = _collector_paused  # for the other readers of many records (verdicts)


# What each kind of line changes in its message (lines of other kinds change nothing).


def _on_client(builder: _Builder, at: datetime, daemon: str, event: ClientEvent) -> None:
    builder.client = event.client
    builder.origin = event.orig_queue_id


def _on_pickup(builder: _Builder, at: datetime, daemon: str, event: LocalPickupEvent) -> None:
    builder.client = f"local (uid {event.uid})"
    builder.sender = builder.sender or event.sender


def _on_message_id(builder: _Builder, at: datetime, daemon: str, event: MessageIdEvent) -> None:
    builder.message_id = event.message_id or None


def _on_queued(builder: _Builder, at: datetime, daemon: str, event: QueuedEvent) -> None:
    builder.sender = event.sender
    builder.size = event.size
    builder.nrcpt = event.nrcpt


def _on_delivery(builder: _Builder, at: datetime, daemon: str, event: DeliveryEvent) -> None:
    next_queue_id, mailbox, folder, imap_uid = reply_facts(event.response)
    builder.deliveries.append(  # every field, by position, in Delivery's order (`_maker`)
        _new_delivery(
            event.recipient,
            event.orig_recipient,
            event.status,
            event.dsn,
            event.relay,
            event.delay,
            at,
            event.response,
            daemon,
            mailbox,
            folder,
            imap_uid,
            next_queue_id,
            None,
        )
    )


def _on_expired(builder: _Builder, at: datetime, daemon: str, event: ExpiredEvent) -> None:
    builder.expired = True
    builder.sender = builder.sender or event.sender
    builder.deliveries.extend(_expiries(builder.deliveries, at, daemon, event))


def _on_notice(builder: _Builder, at: datetime, daemon: str, event: NoticeEvent) -> None:
    builder.notices += (Notice(event.kind, event.notice_queue_id),)


def _on_reject(builder: _Builder, at: datetime, daemon: str, event: RejectEvent) -> None:
    builder.rejections += (_rejection(at, daemon, builder.queue_id, event, builder.host),)


def _on_removed(builder: _Builder, at: datetime, daemon: str, event: RemovedEvent) -> None:
    builder.removed = True
    if daemon == "postsuper":  # `postsuper -d`: an admin deleted it (qmgr writes the usual `removed`)
        builder.admin_actions += ("deleted",)


def _on_queue_admin(builder: _Builder, at: datetime, daemon: str, event: QueueAdminEvent) -> None:
    builder.admin_actions += (event.action,)


def _on_hold(builder: _Builder, at: datetime, daemon: str, event: HoldEvent) -> None:
    builder.admin_actions += ("placed on hold", Hold(event.recipient, event.reason))
    if builder.sender is None:
        builder.sender = event.sender


def _on_redirect(builder: _Builder, at: datetime, daemon: str, event: RedirectEvent) -> None:
    builder.admin_actions += (Redirect(event.recipient, event.target, event.rule),)
    if builder.sender is None:
        builder.sender = event.sender


def _on_requeue(builder: _Builder, at: datetime, daemon: str, event: RequeueEvent) -> None:
    builder.admin_actions += (Requeue(event.next_queue_id, at),)
    builder.removed = True  # MailScanner deleted the held file itself: Postfix logs no `removed`


def _on_filter_action(builder: _Builder, at: datetime, daemon: str, event: FilterActionEvent) -> None:
    builder.admin_actions += (FilterAction(event.action, event.recipient, event.queue_id, event.text),)


def _unchanged(builder: _Builder, at: datetime, daemon: str, event: OtherEvent) -> None:
    if event.text.startswith(("hold: ", "milter-hold: ")):  # a HOLD line of a shape `HoldEvent` does not read
        builder.admin_actions += ("placed on hold",)


_APPLY: dict[type, Callable[[_Builder, datetime, str, Any], None]] = {
    ClientEvent: _on_client,
    LocalPickupEvent: _on_pickup,
    MessageIdEvent: _on_message_id,
    QueuedEvent: _on_queued,
    DeliveryEvent: _on_delivery,
    ExpiredEvent: _on_expired,
    NoticeEvent: _on_notice,
    RejectEvent: _on_reject,
    HoldEvent: _on_hold,
    RedirectEvent: _on_redirect,
    RemovedEvent: _on_removed,
    RequeueEvent: _on_requeue,
    FilterActionEvent: _on_filter_action,
    QueueAdminEvent: _on_queue_admin,
    OtherEvent: _unchanged,
}


def _expiries(attempts: list[Delivery], at: datetime, daemon: str, event: ExpiredEvent) -> list[Delivery]:
    """qmgr's `status=expired, returned to sender` names no recipient: it ends every recipient
    still deferred, so each gets a final `expired` entry carrying its last server answer."""
    last: dict[str, Delivery] = {}
    for attempt in attempts:
        last[attempt.recipient.lower()] = attempt
    reason = "force-expired" if event.forced else "expired"
    return [
        Delivery(
            recipient=attempt.recipient,
            orig_recipient=attempt.orig_recipient,
            status="expired",
            dsn=attempt.dsn,
            relay=attempt.relay,
            delay=attempt.delay,
            at=at,
            response=f"{reason}, returned to sender; last answer: {attempt.response}",
            daemon=daemon,
        )
        for attempt in last.values()
        if attempt.status == "deferred"
    ]


def _rejection(at: datetime, daemon: str, queue_id: str | None, event: RejectEvent, host: str) -> Rejection:
    return Rejection(
        at=at,
        host=host,
        queue_id=queue_id,
        action=event.action,
        stage=event.stage,
        client=event.client,
        sender=event.sender,
        recipient=event.recipient,
        reason=event.reason,
        daemon=daemon,
    )
