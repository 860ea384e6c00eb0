"""Postfix log lines, from text to typed records. Pure: no I/O, no clock.

Three prefix formats occur in the field (FORMATS.md): classic syslog `Mar  1 20:45:32`
(no year), Postfix's own `maillog_file` writer `Mar 01 20:45:32`, and RFC 3339
`2023-03-14T00:00:31.185246+01:00`. Two syslog daemons add the level: BusyBox's before the
daemon (`host mail.info postfix/smtp[123]: `, tests/fixtures/captures/busybox-syslogd-maillog.txt),
Solaris's after it (`postfix/smtp[123]: [ID 197553 mail.info] `); both are read past.
A line without a year takes it from a reference time (the log file's mtime: every line in a
file is older than its last write), which also handles the December -> January turn.

Each kind of line Postfix writes about a message has one regex here, with named groups,
and becomes one event; anything else about a queue id is kept as `OtherEvent`
so a timeline can still show it. Events are slotted dataclasses, not frozen ones: a busy
address's trace makes 300,000 of them, and a frozen dataclass's `__init__` takes five times
as long (1.0 µs against 0.2 for eight fields); nothing changes an event once made.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from bot.mailhost.grammar import QUEUE_ID
from bot.mailhost.values import is_queue_id

MONTHS = {
    m: i
    for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)
}

_PREFIX = re.compile(
    r"(?:(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r"|(?P<month>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s(?P<time>\d\d:\d\d:\d\d)(?:\.\d+)?)"
    r"\s+(?P<host>\S+)\s+(?:(?P<level>[a-z0-9]+\.[a-z]+|<\d+>)\s+)?(?P<speaker>[^\s\[:]+(?:\[\d+\])?:)\s(?P<payload>.*)"
)
# Solaris's syslogd puts a message id and the level between the daemon and its text:
# `postfix/smtp[2076]: [ID 197553 mail.info] 2E35E2F68: to=<...>` (syslogd(8) on Solaris and illumos).
_MESSAGE_TAG = re.compile(r"\[ID \d+ [a-z0-9]+\.[a-z]+\] ")
_SPEAKER = re.compile(r"(?P<program>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?:")
_CLOCK = re.compile(r"\d\d:\d\d:\d\d")
_SECOND = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")  # what `collect` reads as a second
_DAY = re.compile(r"\d?\d")
_UNSEEN = object()
_intern = sys.intern
_SECONDS = {f"{n:02d}": timedelta(seconds=n) for n in range(60)}


class LogLine(NamedTuple):
    """One line of the mail log, split into its prefix and what the daemon said.

    A named tuple, without a copy of the whole line: a frequent address's trace makes
    hundreds of thousands of them, and a tuple is made in a third of a frozen dataclass's time.
    """

    at: datetime
    host: str
    program: str
    daemon: str
    pid: int | None
    queue_id: str | None
    text: str


def parse_line(line: str, reference: datetime, local_tz: tzinfo | None = None) -> LogLine | None:
    """Split one log line; None for lines that are not in syslog shape.

    `reference` is a time no line can be later than (the file's mtime); `local_tz` is the
    host's offset, given to the stamps that carry none. For many lines, `LineParser`.
    """
    return LineParser(reference, local_tz).parse(line)


class LineParser:
    """The one syslog line parser: `parse_line` for the lines of one file (one reference time, one zone).

    The usual prefix, `Nov 28 02:27:30 host program[pid]: payload` (classic syslog or Postfix's own
    writer), is read by splitting on its five spaces, each part converted once and remembered (a
    trace reads hundreds of thousands of lines, of a few thousand seconds and daemons); a padded day
    (`Nov  1`) too; an RFC 3339 stamp or anything unusual takes the general pattern. The same records
    either way (tests/mailhost/test_trace_script.py compares the two paths line by line).
    """

    def __init__(self, reference: datetime, local_tz: tzinfo | None = None) -> None:
        self.reference = reference
        self.local_tz = local_tz
        self._stamps: dict[tuple[str, str, str], datetime | None] = {}  # None: not a stamp
        self._years: dict[tuple[int, int], int] = {}
        self._speakers: dict[str, tuple[str, str, int | None] | None] = {}
        self._hosts: set[str] = set()
        self._queue_ids: dict[str, bool] = {}  # is this word a queue id (or NOQUEUE)?
        self._prefixes: dict[str, datetime | None] = {}  # a line's first 16 characters: its stamp
        self._daemons: dict[str, str] = {}  # the daemon of each speaker met (`postfix/smtpd[123]:`)
        self._group_ids: dict[str, bool] = {}  # a queue id (not NOQUEUE)?
        self._minutes: dict[str, datetime | None] = {}  # `Nov 28 02:27:`: that minute's time
        self._seconds: dict[str, datetime | None] = {}  # `2026-11-28T02:27:30+01:00`: its time
        self._second_parts: dict[str, tuple[int, int, int, int, int, int]] = {}  # and its parts
        self._levels: set[str] = set()  # `mail.info` met between host and daemon (BusyBox's syslogd)

    def parse(self, line: str) -> LogLine | None:
        line = line.rstrip("\r\n")
        at: datetime | None = None
        if line[10:11] == "T":  # `2026-11-28T02:27:30.123456+01:00 host program[pid]: text`
            at, start = self._rfc3339(line)
            parts = line[start:].split(" ", 2) if at is not None else []
            if len(parts) == 3:
                host, speaker, payload = parts
            else:
                at = None
        else:  # `Nov 28 02:27:30 host program[pid]: text`
            parts = line.split(" ", 5)
            if len(parts) == 6 and not parts[1]:  # a padded day, `Nov  1`
                parts = line.split(" ", 6)
                del parts[1]
            if len(parts) == 6 and parts[1]:
                month, day, clock, host, speaker, payload = parts
                key = (month, day, clock)
                at = self._stamps[key] if key in self._stamps else self._remember_stamp(key)
        if at is not None:  # and the line's host, speaker and payload were split
            said = self._speakers.get(speaker, _UNSEEN)
            if said is _UNSEEN:
                said = self._remember_speaker(speaker)
            if isinstance(said, tuple) and (host in self._hosts or self._host(host)):
                return self._line(at, host, said, payload)
        return self._general(line)

    def set_clock(self, reference: datetime, local_tz: tzinfo | None) -> None:
        """The next lines are of another file (or the host's zone is known now)."""
        self.reference = reference
        self.local_tz = local_tz
        self._stamps.clear()
        self._years.clear()
        self._prefixes.clear()
        self._minutes.clear()
        self._seconds.clear()
        self._second_parts.clear()

    def collect(
        self, block: str, groups: dict[str, list[Any]], loose: list[LogLine], ended: Callable[[str], None]
    ) -> None:
        """Reads a block of whole lines (no markers) straight into `groups`: for each line of a
        queue id, its time, daemon and event (`event_of`), three items in a row of the queue id's
        list; a line without one is kept in `loose` only if it may be a refusal. `ended` is told
        each queue id whose `removed` was just read, with that line in its group.

        `parse` then `parse_event` give the same, line by line, at three times the cost (a busy
        address's 300,000 lines: 2.0 s there, about 0.6 s here): no `LogLine` is made, the
        stamp is looked up by the line's first 16 characters (`Nov 28 02:27:30 `), the rest split
        once. An RFC 3339 stamp (`2026-11-28T02:27:30.123456+01:00 `, what rsyslog writes by default
        since Debian 12) is its second's time, looked up, with its microseconds: those lines took
        the general pattern, and 1.9 times as long as the classic ones. A line of any other shape
        goes through `parse` itself.
        """
        prefixes = self._prefixes
        daemons = self._daemons
        hosts = self._hosts
        group_ids = self._group_ids
        levels = self._levels
        event = event_of
        removed = _REMOVED
        lines = block.split("\n")
        if "\r" in block:
            lines = [line.rstrip("\r") for line in lines]
        for line in lines:
            # The usual line, every part already met: `Nov 28 02:27:30 host program[pid]: QUEUEID: text`
            if line[10:11] != "T":
                at = prefixes.get(line[:16])
                if at is None and line[:16] not in prefixes:
                    at = self._remember_prefix(line[:16])
                start = 16
            else:
                at, start = self._rfc3339(line)
            if at is not None:
                parts = line[start:].split(" ", 2)
                if len(parts) == 3:
                    host, speaker, text = parts
                    daemon = daemons.get(speaker)
                    if daemon is None and speaker in levels:  # `host mail.info program[pid]: text`
                        speaker, _, text = text.partition(" ")
                        daemon = daemons.get(speaker)
                    if daemon is not None and host in hosts:
                        colon = text.find(": ")
                        queue_id = text[:colon]
                        known = group_ids.get(queue_id) if colon >= 6 else False
                        if known is None:
                            if text[:4] == "[ID ":  # `program[pid]: [ID 197553 mail.info] QUEUEID: text`
                                text = _untagged(text)
                                colon = text.find(": ")
                                queue_id = text[:colon]
                                known = group_ids.get(queue_id) if colon >= 6 else False
                            if known is None:
                                known = self._remember_queue_id(queue_id)
                        if known:
                            said = text[colon + 2 :]
                            seen = (at, daemon, removed if said == "removed" else event(said, daemon))
                            group = groups.get(queue_id)
                            if group is None:
                                groups[queue_id] = list(seen)
                            else:
                                group += seen
                            if seen[2] is removed:
                                ended(queue_id)
                            continue
            self._collect_line(line, groups, loose, ended)

    def _collect_line(
        self, line: str, groups: dict[str, list[Any]], loose: list[LogLine], ended: Callable[[str], None]
    ) -> None:
        """`collect` of one line not in the usual shape, or with a part not met yet."""
        parsed = self.parse(line)
        if parsed is None:
            return
        if parsed.queue_id is not None:
            seen = (parsed.at, parsed.daemon, event_of(parsed.text, parsed.daemon))
            group = groups.get(parsed.queue_id)
            if group is None:
                groups[parsed.queue_id] = list(seen)
            else:
                group += seen
            if seen[2] is _REMOVED:
                ended(parsed.queue_id)
        elif "reject" in parsed.text or "discard" in parsed.text:  # only these can be refusals
            loose.append(parsed)

    def _remember_queue_id(self, word: str) -> bool:
        """Is this word (before `: `) a queue id, or NOQUEUE? True only for a queue id.

        The words of the last few thousand messages are kept (each message's lines come close
        together): kept for every message, a busy trace's 58,000 queue ids held 7 MB, two tables
        and a second copy of each id, until the answer was written (bench/run.py, issue 24)."""
        if len(self._queue_ids) >= _QUEUE_IDS_KEPT:
            self._queue_ids.clear()
            self._group_ids.clear()
        known = self._queue_ids[word] = word == "NOQUEUE" or is_queue_id(word)
        group = self._group_ids[word] = known and word != "NOQUEUE"
        return group

    def _rfc3339(self, line: str) -> tuple[datetime | None, int]:
        """The time of a line that starts with an RFC 3339 stamp, and where the rest starts:
        `2026-11-28T02:27:30.123456+01:00 ` (its second's parts looked up, and its microseconds: a
        `replace` took three times as long as making the time) or `2026-11-28T02:27:30+01:00 `.
        None for any other shape (that line goes through the general pattern)."""
        if line[19:20] == "." and line[32:33] == " " and (micro := line[20:26]).isdigit() and micro.isascii():
            key = line[:19] + line[26:32]
            second = self._seconds[key] if key in self._seconds else self._remember_second(key)
            if second is None:
                return None, 0
            return datetime(*self._second_parts[key], int(micro), second.tzinfo), 33
        if line[25:26] == " ":
            key = line[:25]
            return (self._seconds[key] if key in self._seconds else self._remember_second(key)), 26
        return None, 0

    def _remember_second(self, key: str) -> datetime | None:
        """The time of an RFC 3339 stamp to the second, with its offset (`2026-11-28T02:27:30+01:00`);
        None if it is not one (that line goes through `parse`)."""
        at = self._seconds[key] = _iso_stamp(key, self.local_tz) if _SECOND.fullmatch(key) else None
        if at is not None:
            self._second_parts[key] = (at.year, at.month, at.day, at.hour, at.minute, at.second)
        return at

    def _remember_prefix(self, key: str) -> datetime | None:
        """The stamp of a line starting `Nov 28 02:27:30 ` or `Nov  1 02:27:30 `; None for any other
        start (that line goes through `parse`). A new second of a known minute is that minute's
        time plus its seconds (a busy trace meets 77,000 different seconds)."""
        at: datetime | None = None
        if len(key) == 16 and key[3] == " " and key[6] == " " and key[15] == " " and " " not in key[:3]:
            day = key[4:6] if key[4] != " " else key[5]
            if " " not in day and " " not in key[7:15]:
                if key[:13] in self._minutes:
                    minute = self._minutes[key[:13]]
                else:
                    minute = self._minutes[key[:13]] = self._known_stamp((key[:3], day, key[7:13] + "00"))
                second = _SECONDS.get(key[13:15])
                if minute is not None and second is not None:
                    at = minute + second
                else:
                    at = self._known_stamp((key[:3], day, key[7:15]))
        self._prefixes[key] = at
        return at

    def _known_stamp(self, stamp: tuple[str, str, str]) -> datetime | None:
        found = self._stamps[stamp] if stamp in self._stamps else self._remember_stamp(stamp)
        return found if isinstance(found, datetime) else None

    def _general(self, line: str) -> LogLine | None:
        match = _PREFIX.match(line)
        if not match:
            return None
        if match["iso"]:
            at = _iso_stamp(match["iso"], self.local_tz)
        else:
            key = (match["month"], match["day"], match["time"])
            at = self._stamps[key] if key in self._stamps else self._remember_stamp(key)
        speaker = match["speaker"]
        said = self._speakers[speaker] if speaker in self._speakers else self._remember_speaker(speaker)
        if at is None or said is None:
            return None
        self._hosts.add(match["host"])  # the next lines of this host take `collect`'s split
        if match["level"]:  # and of this level
            self._levels.add(match["level"])
        return self._line(at, match["host"], said, match["payload"])

    def _line(self, at: datetime, host: str, said: tuple[str, str, int | None], payload: str) -> LogLine:
        """`QUEUEID: text` (or `NOQUEUE: text`) is split off the payload when it is one."""
        program, daemon, pid = said
        queue_id: str | None = None
        if payload[:4] == "[ID ":
            payload = _untagged(payload)
        if (
            payload[:9] == "Requeue: "
            and (requeue := _REQUEUE.fullmatch(payload))
            and is_queue_id(requeue["queue_id"])
            and is_queue_id(requeue["next_queue_id"])
        ):  # MailScanner's line names its queue id after its own word: kept whole, as its event reads it
            return LogLine(at, host, program, daemon, pid, requeue["queue_id"], payload)
        colon = payload.find(": ")
        if colon >= 6:  # the shortest queue id
            candidate = payload[:colon]
            known = self._queue_ids.get(candidate)
            if known is None:
                self._remember_queue_id(candidate)
                known = self._queue_ids[candidate]
            if known:
                queue_id = None if candidate == "NOQUEUE" else candidate
                payload = payload[colon + 2 :]
        return LogLine(at, host, program, daemon, pid, queue_id, payload)

    def _remember_stamp(self, key: tuple[str, str, str]) -> datetime | None:
        at = self._stamps[key] = self._stamp(*key) if _CLOCK.fullmatch(key[2]) and _DAY.fullmatch(key[1]) else None
        return at

    def _stamp(self, month: str, day: str, clock: str) -> datetime | None:
        """A classic stamp's time: the year from the reference, the zone the host's."""
        number = MONTHS.get(month)
        if number is None:
            return None
        day_of_month = int(day)
        year = self._years.get((number, day_of_month))
        if year is None:
            year = self._years[(number, day_of_month)] = infer_year(number, day_of_month, self.reference)
        try:
            return datetime(
                year, number, day_of_month, int(clock[:2]), int(clock[3:5]), int(clock[6:8]), tzinfo=self.local_tz
            )
        except ValueError:
            return None

    def _remember_speaker(self, token: str) -> tuple[str, str, int | None] | None:
        """`postfix/smtpd[123]:` -> (program, daemon, pid); None if it is not one."""
        match = _SPEAKER.fullmatch(token)
        said = None
        if match is not None:
            program = match["program"]
            said = (program, program.rsplit("/", 1)[-1], int(match["pid"]) if match["pid"] else None)
            self._daemons[token] = said[1]
        self._speakers[token] = said
        return said

    def _host(self, host: str) -> bool:
        if not host or any(c.isspace() for c in host):
            return False
        self._hosts.add(host)
        return True


def _untagged(text: str) -> str:
    """What the daemon said, without the `[ID 197553 mail.info] ` Solaris puts before it."""
    tag = _MESSAGE_TAG.match(text)
    return text[tag.end() :] if tag else text


def _iso_stamp(text: str, local_tz: tzinfo | None) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None
    return stamp if stamp.tzinfo or local_tz is None else stamp.replace(tzinfo=local_tz)


def infer_year(month: int, day: int, reference: datetime) -> int:
    """The year of a `Mmm dd` stamp in a file last written at `reference`.

    A date more than a day after the reference belongs to the year before (a file
    written in January holds December's lines); the day of slack covers time zones.
    """
    year = reference.year
    try:
        candidate = date(year, month, day)
    except ValueError:  # 29 February outside a leap year: it was an earlier year
        return year - 1
    return year - 1 if candidate > reference.date() + timedelta(days=1) else year


# --- events: what the line says about a message -----------------------------------------


@dataclass(slots=True)
class ClientEvent:
    client: str
    # the queue id a content filter's re-injection names (XFORWARD IDENT): the mail it came from
    orig_queue_id: str | None = None


@dataclass(slots=True)
class LocalPickupEvent:
    """Mail submitted on the host itself (sendmail/pickup): no SMTP client."""

    uid: int
    sender: str


@dataclass(slots=True)
class MessageIdEvent:
    message_id: str


@dataclass(slots=True)
class QueuedEvent:
    sender: str
    size: int
    nrcpt: int


@dataclass(slots=True)
class DeliveryEvent:
    recipient: str
    orig_recipient: str | None
    relay: str
    delay: float
    delays: str
    dsn: str
    status: str
    response: str


@dataclass(slots=True)
class ExpiredEvent:
    sender: str
    forced: bool


@dataclass(slots=True)
class NoticeEvent:
    """`bounce` created a notice (non-delivery, delay, success) with its own queue id."""

    kind: str
    notice_queue_id: str


@dataclass(slots=True)
class RejectEvent:
    """An SMTP-time refusal (smtpd), a content reject (cleanup) or a milter's or filter's verdict.

    Warnings and other soft actions are not refusals: they stay `OtherEvent`; a hold is a `HoldEvent`,
    read by the same patterns (its lines are these, with `hold` for the action).
    """

    action: str
    stage: str
    client: str | None
    reason: str
    sender: str | None
    recipient: str | None
    helo: str | None


@dataclass(slots=True)
class HoldEvent:
    """A HOLD by a rule: cleanup's header or body checks, an access map (smtpd), a milter. The mail
    waits in the hold queue for an admin; qmgr never logs it, so this line is the only one that
    names its sender and recipient. (`postsuper -h` is a `QueueAdminEvent`.)"""

    sender: str | None
    recipient: str | None
    reason: str


@dataclass(slots=True)
class RedirectEvent:
    """A REDIRECT by a rule: cleanup's header or body checks (`rule` is the check, `header Subject:
    ...`), an access map (smtpd: `<r>: Recipient address triggers REDIRECT x`). Every recipient
    of the mail becomes `target`; the delivery lines name it `to=`, the address given `orig_to=`."""

    sender: str | None
    recipient: str | None
    target: str
    rule: str


@dataclass(slots=True)
class RemovedEvent:
    pass


@dataclass(slots=True)
class RequeueEvent:
    """MailScanner's `Requeue: QUEUEID.XXXXX to NEXT`: it took the mail a rule held for it out of
    the hold queue, scanned it and wrote it back as a new queue file, NEXT (Postfix logs no
    `removed` for the first). The line's own queue id is the held one."""

    next_queue_id: str


@dataclass(slots=True)
class FilterActionEvent:
    """What Proxmox Mail Gateway's filter did with a mail for one recipient, on a line of its own
    session (`pmg-smtp-filter[pid]: SESSION: ...`): `accept` (queued again as `queue_id`), `spam`,
    `virus` or `attachment` (moved to that quarantine, as `queue_id` there), `block`."""

    action: str
    recipient: str
    queue_id: str | None
    text: str


@dataclass(slots=True)
class QueueAdminEvent:
    """postsuper's verbs on a message: requeued, placed on hold, released from hold, expired."""

    action: str


@dataclass(slots=True)
class OtherEvent:
    text: str


Event = (
    ClientEvent
    | LocalPickupEvent
    | MessageIdEvent
    | QueuedEvent
    | DeliveryEvent
    | ExpiredEvent
    | NoticeEvent
    | RejectEvent
    | HoldEvent
    | RedirectEvent
    | RemovedEvent
    | RequeueEvent
    | FilterActionEvent
    | QueueAdminEvent
    | OtherEvent
)

_CLIENT = re.compile(r"client=(?P<client>[^,\s]+)(?:,.*)?")
_ORIG_QUEUE_ID = re.compile(r", orig_queue_id=([^,\s]+)")
_PICKUP = re.compile(r"uid=(?P<uid>\d+) from=<(?P<sender>[^>]*)>")
_MESSAGE_ID = re.compile(r"message-id=<?(?P<message_id>[^>]*?)>?")
_QUEUED = re.compile(r"from=<(?P<sender>[^>]*)>, size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+) \(queue active\) ?")
# MailScanner: `Requeue: 210F0261C9D.AFE5C to CDCFE261CA1` (the held queue file's name, a dot and
# its own suffix, then the queue id of the file it wrote back)
_REQUEUE = re.compile(r"Requeue: (?P<queue_id>[0-9A-Za-z]+)\.[0-9A-Za-z]+ to (?P<next_queue_id>[0-9A-Za-z]+)")
# Proxmox Mail Gateway's filter, for one recipient (PMG::RuleDB's Accept, Quarantine, Block)
_PMG_ACTION = re.compile(
    r"(?:(?P<verb>accept) mail to <(?P<r1>[^>]*)> \((?P<q1>[0-9A-Za-z]+)\)"
    r"|moved mail for <(?P<r2>[^>]*)> to (?P<quarantine>spam|virus|attachment) quarantine - (?P<q2>[0-9A-Za-z]+)"
    r"|(?P<block>block) mail to <(?P<r3>[^>]*)>)"
)
_EXPIRED = re.compile(r"from=<(?P<sender>[^>]*)>, status=(?P<status>expired|force-expired), returned to sender")
# `to=<r>, [orig_to=<o>,] relay=..., [conn_use=N,] delay=D, delays=a/b/c/d, [tls=...,] dsn=X.Y.Z, status=S (reply)`
# Old and `local` lines may write addresses without brackets; newer Postfix adds fields.
_DELIVERY = re.compile(
    r"to=(?:<(?P<recipient>[^>]*)>|(?P<bare_recipient>[^<>,\s]+)), (?P<fields>(?:[a-z_]+=[^,]*, )+)"
    r"status=(?P<status>[\w-]+)(?: \((?P<response>.*?)\)?)?"
)
# (A reply without its `)`: syslog cut a line of over 1 kB, or a newline in it split the line.)
# The shape of nearly every delivery line, read without splitting its fields one by one.
_USUAL_DELIVERY = re.compile(
    r"to=<(?P<recipient>[^>]*)>, (?:orig_to=<(?P<orig_recipient>[^>]*)>, )?relay=(?P<relay>[^,]*), "
    r"(?:conn_use=\d+, )?delay=(?P<delay>\d+(?:\.\d+)?), delays=(?P<delays>[^,]*), (?:tls=[^,]*, )?"
    r"dsn=(?P<dsn>[^,]*), status=(?P<status>[\w-]+)(?: \((?P<response>.*)\))?"
)
_DELIVERY_FIELD = re.compile(r"(?P<key>[a-z_]+)=(?P<value>[^,]*), ")
_BRACKETED = re.compile(r"<(?P<address>[^>]*)>")
_NOTICE = re.compile(
    r"(?P<kind>sender non-delivery|postmaster non-delivery|sender delivery status|sender delay|postmaster delay)"
    r" notification: (?P<notice>\w+)"
)
# Each refusal's pattern also reads the HOLD of the same check (`hold:`, `milter-hold:`), and the
# REDIRECT of a header or body check or of an access map (`redirect:`): the same line. A header
# check's REDIRECT, as the lab's Postfix 3.7 writes it: `redirect: header Subject: x from host[ip];
# from=<s> to=<r> proto=ESMTP helo=<h>: NEW-ADDRESS`.
# smtpd: `reject: RCPT from host[ip]: 550 5.1.1 <r>: ...; from=<s> to=<r> proto=ESMTP helo=<h>`;
# postscreen writes `[ip]:port` and commas: `...; from=<s>, to=<r>, proto=SMTP, helo=<h>`
# (An address as a broken client sent it may hold brackets: `from=<<>@example.com>`.)
_SMTPD_REJECT = re.compile(
    r"(?P<action>reject|discard|hold|redirect): (?P<stage>[A-Z][A-Z-]*) from "
    r"(?P<client>\S*?\[[^\]]*\](?::\d+)?): (?P<reason>.*?)"
    r"(?:; (?:from=<(?P<sender>(?:[^<>]|<[^<>]*>)*)>,? ?)?(?:to=<(?P<recipient>(?:[^<>]|<[^<>]*>)*)>,? ?)?"
    r"(?:proto=[^,\s]+,? ?)?"
    r"(?:helo=<(?P<helo>[^>]*)>)?)?"
)
# smtpd with a before-queue filter: `proxy-reject: END-OF-MESSAGE: 554 5.7.0 text; from=<s> to=<r> ...`
# (no tail when the envelope was not known yet: `proxy-reject: END-OF-MESSAGE: 451 4.3.0 Error: queue file write error`)
_PROXY_REJECT = re.compile(
    r"proxy-(?P<action>reject): (?P<stage>[A-Z][A-Z-]*): (?P<reason>.*?)(?:; from=<(?P<sender>[^>]*)> "
    r"to=<(?P<recipient>[^>]*)>(?: proto=\S+)?(?: helo=<(?P<helo>[^>]*)>)?)?"
)
# cleanup: `reject: header Subject: x from host[ip]; from=<s> to=<r> proto=ESMTP helo=<h>: 5.7.1 text`;
# a mail submitted on the host: `reject: body x from local; from=<s>: 5.7.1 text` (no `to=` yet)
_CONTENT_REJECT = re.compile(
    r"(?P<action>reject|discard|hold|redirect): (?P<rule>(?P<stage>header|body) .*?) from "
    r"(?P<client>local|\S+?\[[^\]]*\](?::\d+)?); from=<(?P<sender>[^>]*)>(?: to=<(?P<recipient>[^>]*)>)?"
    r"(?: proto=\S+)?(?: helo=<(?P<helo>[^>]*)>)?(?:: (?P<reason>.*))?"
)
# cleanup or smtpd: `milter-reject: END-OF-MESSAGE from host[ip]: 5.7.1 text; from=<s> to=<r> proto=ESMTP helo=<h>`;
# at CONNECT, HELO or MAIL there is no `from=` or `to=` yet: `...: 451 4.7.1 text; proto=SMTP`
_MILTER_REJECT = re.compile(
    r"milter-(?P<action>reject|discard|hold): (?P<stage>[A-Z][A-Z-]*) from (?P<client>\S+?\[[^\]]*\](?::\d+)?): "
    r"(?P<reason>.*?)(?:; (?:from=<(?P<sender>[^>]*)> ?)?(?:to=<(?P<recipient>[^>]*)> ?)?(?:proto=\S+ ?)?"
    r"(?:helo=<(?P<helo>[^>]*)>)?)?"
)
_REJECTS = (_SMTPD_REJECT, _MILTER_REJECT, _CONTENT_REJECT, _PROXY_REJECT)
_QUEUE_ADMIN = re.compile(r"(?P<action>requeued|placed on hold|released from hold|expired)")


def parse_event(line: LogLine) -> Event:
    """What one line says about its message (or, for NOQUEUE, about a refused attempt)."""
    return event_of(line.text, line.daemon)


_REMOVED = RemovedEvent()  # every `removed` line says the same: one record for all of them


def event_of(text: str, daemon: str) -> Event:
    """`parse_event` of a line's text and daemon (the trace's reader makes no `LogLine`).

    The values that repeat from message to message (addresses, relays, codes, clients) are
    interned: a busy address's trace holds 66,000 deliveries, most to the same few places.
    """
    # Each pattern starts with its own word: the first letters pick the one to try.
    start = text[:3]
    if start == "to=":
        if usual := _USUAL_DELIVERY.fullmatch(text):
            recipient, orig_recipient, relay, delay, delays, dsn, status, response = usual.groups()
            if status == "SOFTBOUNCE":
                status = "deferred"
            return DeliveryEvent(
                _intern(recipient),
                orig_recipient if orig_recipient is None else _intern(orig_recipient),
                _intern(relay),
                _DELAYS.get(delay) or _delay(delay),
                delays,  # not kept past the event: interned, it left its 60,000 texts' table (2 MB)
                _intern(dsn),
                _intern(status),
                response or "",
            )
        if (match := _DELIVERY.fullmatch(text)) and (delivery := _delivery(match)):
            return delivery
    elif start == "fro":
        if match := _QUEUED.fullmatch(text):
            sender, size, nrcpt = match.groups()
            return QueuedEvent(_intern(sender), int(size), int(nrcpt))
        if match := _EXPIRED.fullmatch(text):
            return ExpiredEvent(match["sender"], forced=match["status"] == "force-expired")
    elif start == "cli":
        if match := _CLIENT.fullmatch(text):
            if ", orig_queue_id=" not in text:
                return ClientEvent(_intern(match[1]))
            origin = _ORIG_QUEUE_ID.search(text)
            return ClientEvent(_intern(match[1]), origin[1] if origin and is_queue_id(origin[1]) else None)
    elif start == "mes":
        # _MESSAGE_ID's reading without it: one `<` and one `>` around, none inside
        if text.startswith("message-id="):
            value = text[12:] if text[11:12] == "<" else text[11:]
            if value[-1:] == ">":
                value = value[:-1]
            if ">" not in value:
                return MessageIdEvent(_RECENT_MESSAGE_IDS.get(value) or _recent_message_id(value))
    elif text == "removed":
        return _REMOVED
    elif start == "uid":
        if match := _PICKUP.fullmatch(text):
            return LocalPickupEvent(int(match["uid"]), match["sender"])
    elif daemon == "postsuper" and (admin := _QUEUE_ADMIN.fullmatch(text)):
        return QueueAdminEvent(admin["action"])
    elif start == "Req":
        if match := _REQUEUE.fullmatch(text):
            return RequeueEvent(match["next_queue_id"])
    elif daemon == "pmg-smtp-filter" and start in ("acc", "mov", "blo"):
        if match := _PMG_ACTION.match(text):
            action = match["verb"] or match["quarantine"] or match["block"]
            recipient = match["r1"] or match["r2"] or match["r3"] or ""
            return FilterActionEvent(action, recipient, match["q1"] or match["q2"], text)
    elif match := _NOTICE.fullmatch(text):
        return NoticeEvent(match["kind"], match["notice"])
    else:
        for pattern in _REJECTS:
            if match := pattern.fullmatch(text):
                groups = match.groupdict()
                reason = (match["reason"] or "").strip()
                if match["action"] == "hold":  # a header check's HOLD without a text of its own: the rule's
                    return HoldEvent(match["sender"], match["recipient"], reason or groups.get("rule") or "")
                if match["action"] == "redirect":
                    return _redirect(match["sender"], match["recipient"], reason, groups.get("rule"), text)
                if not reason and match["action"] == "discard":  # a header check's DISCARD, no text: its rule
                    reason = groups.get("rule") or ""
                return RejectEvent(
                    action=match["action"],
                    stage=match["stage"],
                    client=groups.get("client"),
                    reason=reason,
                    sender=match["sender"],
                    recipient=match["recipient"],
                    helo=match["helo"],
                )
    return OtherEvent(text)


_TRIGGERS_REDIRECT = re.compile(r"triggers REDIRECT (?P<target>\S+)$")


def _redirect(sender: str | None, recipient: str | None, reason: str, rule: str | None, text: str) -> Event:
    """A header or body check's REDIRECT (the rule, then the new address as the line's text), or an
    access map's (`<r>: Recipient address triggers REDIRECT x`: the reason is the rule)."""
    if rule is not None:
        return RedirectEvent(sender, recipient, reason, rule) if reason else OtherEvent(text)
    triggered = _TRIGGERS_REDIRECT.search(reason)
    if triggered is None:
        return OtherEvent(text)
    return RedirectEvent(sender, recipient, triggered["target"], _QUOTED_RECIPIENT.sub("", reason, count=1))


_QUOTED_RECIPIENT = re.compile(r"^<[^>]*>: ")


# `soft_bounce = yes` makes Postfix log `status=SOFTBOUNCE` where it would bounce, and keep the
# mail deferred (bounce(8)): it is read as the deferral it is, its 4.X.Y code kept.
# Postfix before 2.3 wrote no `dsn=` (`to=<r>, relay=..., delay=0, status=deferred (reply)`): the
# reply's enhanced code stands for it, else the class Postfix 2.3 and later give a reply without one.
_ENHANCED_CODE = re.compile(r"(?:^|\s)(?P<code>[245])\d\d[ -](?P<dsn>(?P=code)\.\d{1,3}\.\d{1,3})(?=[\s;,)]|$)")
_DSN_OF_STATUS = {"sent": "2.0.0", "deferred": "4.0.0", "bounced": "5.0.0", "expired": "4.0.0"}


def _delivery(match: re.Match[str]) -> DeliveryEvent | None:
    fields = {f["key"]: f["value"] for f in _DELIVERY_FIELD.finditer(match["fields"])}
    if "relay" not in fields:
        return None
    status = match["status"]
    soft = status == "SOFTBOUNCE"
    if soft:
        status = "deferred"
    dsn = fields.get("dsn")
    if dsn is None:
        code = _ENHANCED_CODE.search(match["response"] or "")
        dsn = code["dsn"] if code else _DSN_OF_STATUS.get(status)
        if dsn is None:
            return None
        if soft and dsn[0] == "5":
            dsn = "4" + dsn[1:]
    orig = fields.get("orig_to")
    if orig is not None and (bracketed := _BRACKETED.fullmatch(orig)):
        orig = bracketed["address"]
    try:
        delay = float(fields.get("delay", "0"))
    except ValueError:
        delay = 0.0
    return DeliveryEvent(
        recipient=match["recipient"] if match["recipient"] is not None else match["bare_recipient"],
        orig_recipient=orig,
        relay=fields["relay"],
        delay=delay,
        delays=fields.get("delays", ""),
        dsn=dsn,
        status=status,
        response=match["response"] or "",
    )


# --- what a delivery's server reply tells -----------------------------------------------

# `queued as` (the next hop's answer), `forwarded as` (local(8) sending a .forward's copy on)
_QUEUED_AS = re.compile(rf"\b(?:queued|forwarded) as (?P<queue_id>{QUEUE_ID})\b")
# BlueMind's LMTP: `250 2.1.5 Ok SESSIONID=<cyrus-...> [bluemind.net!user.user.INBOX () 2294]`
_BLUEMIND_LMTP = re.compile(r"\[(?P<mailbox>[^\s\[\]]+!user\.[^\s\[\]]+) \((?P<flags>[^)]*)\) (?P<uid>\d+)\]")
_SAID = re.compile(r"^(?:host|conversation with) \S+ (?:said|refused to talk to me): ")
_IN_REPLY = re.compile(r"\s*\(in reply to [^)]*\)\s*$")
_FINAL_REPLY_LINE = re.compile(r"(?:^|\s)(?P<code>[245]\d\d) (?=[245]\.\d{1,3}\.\d{1,3}\b)")
_SESSION_ID = re.compile(r"\s*SESSIONID=<[^>]*>")


class ReplyFacts(NamedTuple):
    """What a delivery's reply tells beside its words. A named tuple: a frozen dataclass took
    twice as long to make, once per delivery (a busy trace has 66,000)."""

    next_queue_id: str | None
    mailbox: str | None
    folder: str | None
    imap_uid: int | None


_NO_FACTS = ReplyFacts(None, None, None, None)  # most replies: a remote server's, or a local delivery's


def reply_facts(response: str) -> ReplyFacts:
    queued = _QUEUED_AS.search(response) if "d as " in response else None
    next_queue_id = queued["queue_id"] if queued else None
    lmtp = _BLUEMIND_LMTP.search(response) if "!" in response else None
    if not lmtp:
        return ReplyFacts(next_queue_id, None, None, None) if next_queue_id else _NO_FACTS
    # The same few mailboxes and folders again and again, kept once (a busy trace: 44,000 of each, 6 MB)
    mailbox = _intern(lmtp["mailbox"])
    folder = _FOLDERS.get(mailbox)
    if folder is None:
        folder = _intern(bluemind_folder(mailbox))
        if len(_FOLDERS) < 10_000:  # a long-running bot meets many: the first ones are kept
            _FOLDERS[mailbox] = folder
    return ReplyFacts(next_queue_id, mailbox, folder, int(lmtp["uid"]))


_FOLDERS: dict[str, str] = {}  # mailbox -> its folder (`bluemind_folder`)
_QUEUE_IDS_KEPT = 8192  # words before `: ` a `LineParser` remembers (`_remember_queue_id`)
_MESSAGE_IDS_KEPT = 4096  # Message-IDs shared with the next hop's line (`_recent_message_id`)


def _recent_message_id(value: str) -> str:
    """One string for a Message-ID met again soon after: each hop of a mail through a content
    filter or the edge relay logs it (13,000 of a busy trace's 58,000 messages, 1.1 MB)."""
    if len(_RECENT_MESSAGE_IDS) >= _MESSAGE_IDS_KEPT:
        _RECENT_MESSAGE_IDS.clear()
    _RECENT_MESSAGE_IDS[value] = value
    return value


_RECENT_MESSAGE_IDS: dict[str, str] = {}


def _delay(text: str) -> float:
    """A delivery's `delay=`, one float per text: Postfix writes a few thousand of them (`0.84`,
    `12`), and a busy trace's 66,000 deliveries held 1.6 MB of equal floats."""
    value = float(text)
    if len(_DELAYS) < 10_000:  # as `_FOLDERS`: the first ones are kept
        _DELAYS[text] = value
    return value


_DELAYS: dict[str, float] = {}


def bluemind_folder(mailbox: str) -> str:
    """`bluemind.net!user.jdoe.INBOX` -> `INBOX`; `...!user.jdoe.Archives.2019` -> `Archives/2019`.

    Cyrus writes a login's own dots as `^`, so the login is always one dot-separated part.
    """
    parts = mailbox.split("!", 1)[-1].split(".")
    if len(parts) >= 3 and parts[0] == "user":
        return "/".join(parts[2:])
    return "INBOX" if len(parts) == 2 and parts[0] == "user" else "/".join(parts)


def summarize_reply(text: str) -> str:
    """The gist of a server's reply, the same for every session: `452 4.2.2 Over quota`.

    Drops `host X said:`, `(in reply to ... command)` and Cyrus' SESSIONID, and keeps only
    the last line of a multi-line reply (`550-...550-...550 5.1.1 User unknown`).
    """
    gist = text.strip()
    # Each rewrite is tried only when its marker is there: queues of 100,000 messages pass here.
    if gist.startswith(("host ", "conversation with ")):
        gist = _SAID.sub("", gist)
    if "(in reply to" in gist:
        gist = _IN_REPLY.sub("", gist)
    if "-" in gist and re.search(r"\b[245]\d\d-", gist):
        finals = list(_FINAL_REPLY_LINE.finditer(gist))
        if finals:
            gist = gist[finals[-1].start("code") :]
    if "SESSIONID=" in gist:
        gist = _SESSION_ID.sub("", gist)
    return " ".join(gist.split())
