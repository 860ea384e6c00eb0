"""Verdicts as people read them: one line per message and recipient, in the reader's language.

The verdicts themselves (bot/mailhost/verdicts.py) are pure records; here they become a label
("deferred"), a detail in plain words ("×4 since 12-04 18:12, mailbox full; still queued, returned
to sender on 12-07 18:12 unless fixed"), a table whose detail wraps instead of being cut, the
order Slack lists them in, and the CSV rows programs read.
"""

from __future__ import annotations

import csv
import io
import re
import textwrap
from collections.abc import Iterable, Iterator, Sequence

from bot.core import reasons, records, render
from bot.i18n import N_, _
from bot.mailhost import verdicts as v
from bot.mailhost.mail_flow import Message

LABELS = {
    v.DELIVERED: N_("delivered"),
    v.DEFERRED: N_("deferred"),
    v.BOUNCED: N_("bounced"),
    v.EXPIRED: N_("expired"),
    v.REFUSED: N_("refused"),
    v.HELD: N_("held"),
    v.DELETED: N_("deleted"),
    v.QUEUED: N_("queued"),
    v.PROBE: N_("probe"),
    v.UNKNOWN: N_("unknown"),
}

# Slack lists problems first: the ones that still need someone, then the ones that are over.
_URGENCY = {
    v.DEFERRED: 0,
    v.HELD: 0,
    v.BOUNCED: 1,
    v.EXPIRED: 1,
    v.REFUSED: 1,
    v.DELETED: 1,
    v.QUEUED: 2,
    v.UNKNOWN: 2,
    v.PROBE: 3,
    v.DELIVERED: 3,
}


def label(verdict: v.AnyVerdict) -> str:
    return _(LABELS[verdict.kind]) if verdict.kind in LABELS else verdict.kind


def why(verdict: v.AnyVerdict) -> str:
    """The last answer in plain words, with the server's own words when they add something."""
    words = reasons.words(verdict.cause)
    if words is not None:
        return f"{words} ({verdict.reason})" if verdict.reason and verdict.kind != v.DEFERRED else words
    return verdict.reason or ""


def detail(verdict: v.AnyVerdict) -> str:
    """What happened and what happens next, in one sentence-like line."""
    kind = verdict.kind
    after = (
        _("after {count} deferrals").format(count=verdict.attempts)
        if verdict.attempts > 1
        else _("after 1 deferral")
        if verdict.attempts == 1
        else ""
    )
    if kind == v.DELIVERED:
        if verdict.imap_uid is not None:
            where = _("in {folder}, UID {uid}").format(folder=verdict.folder or verdict.mailbox, uid=verdict.imap_uid)
        elif verdict.next_queue_id and verdict.reason:  # local(8)'s `forwarded as`: an alias, a .forward
            where = _("forwarded by {relay} as {queue_id}").format(
                relay=records.short_relay(verdict.relay or ""), queue_id=verdict.next_queue_id
            )
        elif verdict.next_queue_id:
            where = _("handed to {relay}, queued there as {queue_id}").format(
                relay=records.short_relay(verdict.relay or ""), queue_id=verdict.next_queue_id
            )
        else:
            where = _("to {relay}").format(relay=records.short_relay(verdict.relay or "")) if verdict.relay else ""
            if verdict.reason:  # local(8)'s words: a mailbox, a command, a file
                where = f"{where} ({verdict.reason})" if where else verdict.reason
        at, arrived = verdict.at, verdict.arrived
        if (
            at.minute == arrived.minute
            and at.hour == arrived.hour
            and at.day == arrived.day
            and at.month == arrived.month
        ):
            text = where  # the row's own `when` (render.when shows month, day, hour and minute)
        else:
            shown = render.when(at)
            text = _("{where} at {at}").format(where=where, at=shown) if where else shown
        text = _and(text, after) if after else text
    elif kind == v.DEFERRED:
        since = verdict.first_deferred or verdict.arrived
        text = (
            _("×{count} since {since}").format(count=verdict.attempts, since=render.when(since))
            if verdict.attempts
            else _("waiting since {since}").format(since=render.when(since))
        )
        if reason := why(verdict):
            text = _and(text, reason)
        if verdict.in_queue is False:
            text = _then(text, _("no longer in the queue"))
        elif verdict.gives_up_at is not None:
            text = _then(
                text,
                _("still queued, returned to sender on {at} unless fixed").format(at=render.when(verdict.gives_up_at)),
            )
        elif verdict.in_queue:
            text = _then(text, _("still queued"))
    elif kind == v.BOUNCED:
        text = why(verdict) or (verdict.dsn or "")
        if verdict.notice_queue_id and verdict.notice_to:
            text = _then(
                text,
                _("notice {queue_id} to {sender}").format(queue_id=verdict.notice_queue_id, sender=verdict.notice_to),
            )
        elif verdict.notice_queue_id:  # the sender's line is older than the logs read: to whom is not known
            text = _then(text, _("notice {queue_id}").format(queue_id=verdict.notice_queue_id))
    elif kind == v.EXPIRED:
        text = _("returned to sender on {at}").format(at=render.when(verdict.at))
        if after:
            text = _and(text, after)
        if reason := why(verdict):
            text = f"{text} ({reason})" if verdict.cause is None else _and(text, reason)
        if verdict.notice_queue_id:
            text = _then(text, _("notice {queue_id}").format(queue_id=verdict.notice_queue_id))
    elif kind == v.REFUSED:
        text = why(verdict)
        if verdict.attempts > 1:
            times = _("×{count} between {first} and {last}").format(
                count=verdict.attempts, first=render.when(verdict.arrived), last=render.when(verdict.at)
            )
            text = _and(times, text) if text else times
        if verdict.client:
            text = _then(text, _("client {client}").format(client=verdict.client))
    elif kind == v.HELD:
        text = _("on hold: not delivered until an admin releases it (postsuper -H)")
        if after:
            text = _then(text, after)
        if reason := why(verdict):
            text = _and(text, reason)
    elif kind == v.DELETED:
        text = _("deleted from the queue by an admin (postsuper -d) at {at}").format(at=render.when(verdict.at))
        if after:
            text = _and(text, after)
        if reason := why(verdict):
            text = _and(text, reason)
    elif kind == v.QUEUED:
        text = _("waiting in the queue since {since}").format(since=render.when(verdict.arrived))
    elif kind == v.PROBE:
        text = _("an address check by Postfix, not a mail")
    elif kind == v.UNKNOWN and verdict.next_queue_id:  # MailScanner wrote it back as a file not in the logs read
        text = _("scanned and queued again as {queue_id}, whose lines are not in the logs read").format(
            queue_id=verdict.next_queue_id
        )
    elif verdict.client and verdict.sender is None and not verdict.message_id:
        # smtpd gave a queue id at RCPT and nothing followed (no cleanup, no qmgr): the client quit
        # before DATA, as a sender verification callout does (pixelpark's log has two)
        text = _(
            "the client hung up before sending the mail: nothing was received "
            "(often another server checking an address)"
        )
    else:
        text = _("no outcome in the logs read: older than them, or the sender gave up before sending")
    if verdict.redirect_rule:  # the mail went to `recipient`, not to the address it was sent to
        text = _then(
            text,
            _("redirected from {recipient} by a rule: {rule}").format(
                recipient=verdict.orig_recipient, rule=verdict.redirect_rule
            )
            if verdict.orig_recipient
            else _("redirected by a rule: {rule}").format(rule=verdict.redirect_rule),
        )
    if len(verdict.hops) > 1:
        text += " (" + " → ".join(f"{hop.host} {hop.queue_id}" for hop in verdict.hops) + ")"
    return text


def _and(first: str, then: str) -> str:
    """Two parts of a detail, as a comma joins them in the reader's language."""
    return _("{first}, {then}").format(first=first, then=then) if first else then


def _then(first: str, then: str) -> str:
    """Two parts of a detail, as a semicolon joins them (French puts a space before it)."""
    return _("{first}; {then}").format(first=first, then=then) if first else then


def slack_order(verdicts: Iterable[v.AnyVerdict]) -> list[v.AnyVerdict]:
    """Problems first, then the most recent first."""
    by_time = sorted(verdicts, key=lambda x: x.at, reverse=True)
    return sorted(by_time, key=lambda x: _URGENCY.get(x.kind, 2))


def wrapped_table(
    headers: Sequence[str],
    leading: Sequence[Sequence[str]],
    last: Iterable[str],
    width: int = render.TEXT_WIDTH,
) -> Iterator[str]:
    """A plain table whose last column wraps onto indented lines instead of being cut, as pieces
    of text (a few hundred rows each, "\n" between lines, none at the end).

    `leading` holds the columns before the last, whole (their widths lay out every line); `last`
    is read one cell at a time, as the lines go out: a busy trace's 45,000 details, their lines
    and the table's text were all alive at once, 23 MB of its peak (bench/run.py, issue 24)."""
    columns = len(headers) - 1
    if not leading or not leading[0]:
        return
    widths = [max(len(headers[i]) + 2, max(map(len, leading[i]))) for i in range(columns)]
    indent = sum(widths) + 2 * columns
    margin = " " * indent
    room = max(30, width - indent)
    yield "  ".join(h.ljust(w) for h, w in zip(headers[:columns], widths, strict=True)) + "  " + headers[columns]
    yield "\n" + "  ".join("-" * w for w in [*widths, min(room, max(len(headers[columns]) + 2, 10))])
    lines: list[str] = []
    for row, said in enumerate(last):
        first = "  ".join(column[row].ljust(w) for column, w in zip(leading, widths, strict=True))
        pieces = [said] if _fits(said, room) else _wrapped(said, room)
        lines.append(f"{first}  {pieces[0]}".rstrip())
        lines.extend(margin + piece for piece in pieces[1:])
        if len(lines) >= _LINES_PER_PIECE:
            yield "\n" + "\n".join(lines)
            lines = []
    if lines:
        yield "\n" + "\n".join(lines)


_LINES_PER_PIECE = 512


_WRAPPED_SPACE = re.compile(r"[\t\n\x0b\x0c\r]")


def _fits(text: str, room: int) -> bool:
    """A detail that `textwrap.wrap` would give back whole, as one line: it fits, ends with no space
    and holds no whitespace that wrapping would rewrite. Most do, and textwrap took 0.5 s of a busy
    trace's table (45,000 rows) to say so."""
    return 0 < len(text) <= room and not text[-1].isspace() and not _WRAPPED_SPACE.search(text)


# Where textwrap may break a word at a hyphen (after two letters, or at an em dash made of hyphens):
# a superset of its own rule, so a text it does not match is broken at its spaces only.
_HYPHEN_BREAK = re.compile(r"[^\d\W]-|--")


def _wrapped(text: str, room: int) -> list[str]:
    """`textwrap.wrap(text, room)`, by hand for the usual detail too long for one line: words
    between single spaces, none longer than a line, no hyphen textwrap would break at. textwrap's
    regex split took 15 µs a row, 0.2 s of a busy trace's table (13,770 of 45,328 rows wrap)."""
    words = text.split(" ")
    if (
        not text
        or text[0] == " "
        or text[-1] == " "
        or "  " in text
        or _WRAPPED_SPACE.search(text)
        or ("-" in text and _HYPHEN_BREAK.search(text))
        or max(map(len, words)) > room
    ):
        return textwrap.wrap(text, room) or [""]
    lines: list[str] = []
    line = words[0]
    for word in words[1:]:
        if len(line) + 1 + len(word) <= room:
            line = f"{line} {word}"
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines


# --- CSV: one row per message, recipient and attempt, columns named in English for programs ---------

CSV_COLUMNS = (
    "verdict",
    "arrived",
    "at",
    "host",
    "queue_id",
    "queue_ids",
    "sender",
    "recipient",
    "orig_recipient",
    "message_id",
    "client",
    "status",
    "dsn",
    "relay",
    "delay",
    "response",
    "folder",
    "imap_uid",
    "next_queue_id",
    "attempts",
    "reason",
    "cause",
    "in_queue",
    "gives_up_at",
    "notice_queue_id",
    "redirect_rule",
)


def csv_text(verdicts: Sequence[v.AnyVerdict], messages: Sequence[Message]) -> str:
    """Every attempt behind every verdict (a verdict without an attempt: one row of its own).

    Each row made by position, in CSV_COLUMNS' order: a busy trace's 66,000 rows took 0.95 s
    through a dict per row, 0.75 s so (the Slack file of a long answer holds it); the same text.
    tests/core/test_verdict_text.py reads it back by column name."""
    by_hop = {(m.host, m.queue_id): m for m in messages}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    write = writer.writerow
    for each in verdicts:
        verdict = each.record()  # most of its fields are read (`v.AnyVerdict`)
        kind, arrived = verdict.kind, verdict.arrived.isoformat()
        queue_ids = " ".join([hop.queue_id for hop in verdict.hops])
        sender, message_id, client = verdict.sender or "", verdict.message_id or "", verdict.client or ""
        tail = (
            verdict.attempts,
            verdict.reason or "",
            verdict.cause or "",
            "" if verdict.in_queue is None else "true" if verdict.in_queue else "false",
            verdict.gives_up_at.isoformat() if verdict.gives_up_at else "",
            verdict.notice_queue_id or "",
            verdict.redirect_rule or "",
        )
        names = {(verdict.recipient or "").lower(), (verdict.orig_recipient or "").lower()} - {""}
        rows = 0
        for hop in verdict.hops:
            message = by_hop.get((hop.host, hop.queue_id))
            for attempt in message.deliveries if message else ():
                if (
                    names
                    and attempt.recipient.lower() not in names
                    and (attempt.orig_recipient or "").lower() not in names
                ):
                    continue
                rows += 1
                write(
                    (
                        kind,
                        arrived,
                        attempt.at.isoformat(),
                        hop.host,
                        hop.queue_id,
                        queue_ids,
                        sender,
                        attempt.recipient,
                        attempt.orig_recipient or "",
                        message_id,
                        client,
                        attempt.status,
                        attempt.dsn,
                        attempt.relay,
                        attempt.delay,
                        attempt.response,
                        attempt.folder or "",
                        "" if attempt.imap_uid is None else attempt.imap_uid,
                        attempt.next_queue_id or "",
                        *tail,
                    )
                )
        if not rows:
            write(
                (
                    kind,
                    arrived,
                    verdict.at.isoformat(),
                    verdict.host or "",
                    verdict.queue_id or "",
                    queue_ids,
                    sender,
                    verdict.recipient or "",
                    verdict.orig_recipient or "",
                    message_id,
                    client,
                    kind,
                    verdict.dsn or "",
                    verdict.relay or "",
                    "",
                    verdict.reason or "",
                    verdict.folder or "",
                    "" if verdict.imap_uid is None else verdict.imap_uid,
                    verdict.next_queue_id or "",
                    *tail,
                )
            )
    return out.getvalue()
