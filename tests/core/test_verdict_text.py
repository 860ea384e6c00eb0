"""The verdict table's wrapping: the detail column is textwrap's, whatever the text."""

from __future__ import annotations

import random
import textwrap

import pytest

from bot.core.verdict_text import wrapped_table

# What details are made of (French and English words, queue ids, arrows, the spaces a translator
# or a server reply may put in), and the whitespace textwrap rewrites or drops.
PIECES = ["in INBOX,", "UID 1003", "(lab 12A664EC08 → lab 8A0BB864D5)", "différé ×4", "boîte pleine ;", "x" * 30]
PIECES += [" ", "  ", "\xa0", "\u2009", "\t", "\n", "-", "—", "well-known", ""]
# Hyphens textwrap breaks at (after two letters, between letters, `--`) and those it keeps (a date's).
PIECES += ["e-mail", "re-routed", "a-b-c", "12-01 05:16", "mx-in.example.com", "x--y", "--", "-x", "x-"]
PIECES += ["y" * 60, "relayed", "to", "mx.example.com[192.0.2.1]:25,", "at 12-01 05:16"]


@pytest.mark.parametrize("width", [100, 88, 79])
def test_the_detail_column_wraps_as_textwrap_does(width):
    chance = random.Random(width)
    rows = []
    for _ in range(5000):
        detail = "".join(chance.choice(PIECES) + chance.choice(["", " ", " "]) for _ in range(chance.randint(0, 12)))
        rows.append(["12-01 05:03", "from someone@example.com", "delivered", detail])
    leading = [[row[i] for row in rows] for i in range(3)]
    details = iter([row[3] for row in rows])  # read as the lines go out
    table = "".join(wrapped_table(["When", "With", "Verdict", "Detail"], leading, details, width=width))
    indent = len("12-01 05:03  from someone@example.com  delivered  ")
    expected = []
    for row in rows:
        pieces = textwrap.wrap(row[3], max(30, width - indent)) or [""]
        expected.append(f"{'  '.join(row[:3])}  {pieces[0]}".rstrip())
        expected.extend(" " * indent + piece for piece in pieces[1:])
    assert sum(len(textwrap.wrap(row[3], max(30, width - indent))) > 1 for row in rows) > 1000  # most wrap
    assert table.splitlines()[2:] == expected


def _attempt_rows(verdict, by_hop):
    """The attempts behind one verdict, by column name: every delivery of each of its hops to its
    recipient (or original recipient); none: the verdict's own row."""
    common = {
        "verdict": verdict.kind,
        "arrived": verdict.arrived.isoformat(),
        "queue_ids": " ".join(hop.queue_id for hop in verdict.hops),
        "sender": verdict.sender or "",
        "message_id": verdict.message_id or "",
        "client": verdict.client or "",
        "attempts": str(verdict.attempts),
        "reason": verdict.reason or "",
        "cause": verdict.cause or "",
        "in_queue": "" if verdict.in_queue is None else str(verdict.in_queue).lower(),
        "gives_up_at": verdict.gives_up_at.isoformat() if verdict.gives_up_at else "",
        "notice_queue_id": verdict.notice_queue_id or "",
        "redirect_rule": verdict.redirect_rule or "",
    }
    names = {(verdict.recipient or "").lower(), (verdict.orig_recipient or "").lower()} - {""}
    rows = []
    for hop in verdict.hops:
        message = by_hop.get((hop.host, hop.queue_id))
        for d in message.deliveries if message else ():
            if names and d.recipient.lower() not in names and (d.orig_recipient or "").lower() not in names:
                continue
            rows.append(
                {
                    **common,
                    "at": d.at.isoformat(),
                    "host": hop.host,
                    "queue_id": hop.queue_id,
                    "recipient": d.recipient,
                    "orig_recipient": d.orig_recipient or "",
                    "status": d.status,
                    "dsn": d.dsn,
                    "relay": d.relay,
                    "delay": str(d.delay),
                    "response": d.response,
                    "folder": d.folder or "",
                    "imap_uid": "" if d.imap_uid is None else str(d.imap_uid),
                    "next_queue_id": d.next_queue_id or "",
                }
            )
    return rows or [
        {
            **common,
            "at": verdict.at.isoformat(),
            "host": verdict.host or "",
            "queue_id": verdict.queue_id or "",
            "recipient": verdict.recipient or "",
            "orig_recipient": verdict.orig_recipient or "",
            "status": verdict.kind,
            "dsn": verdict.dsn or "",
            "relay": verdict.relay or "",
            "delay": "",
            "response": verdict.reason or "",
            "folder": verdict.folder or "",
            "imap_uid": "" if verdict.imap_uid is None else str(verdict.imap_uid),
            "next_queue_id": verdict.next_queue_id or "",
        }
    ]


def test_the_csv_has_one_row_per_message_recipient_and_attempt_with_every_column():
    """`trace --csv` and the Slack file's CSV, on the lab's log and the corpus's (pixelpark) and the
    redirected mail: read back by column name, each row is the attempt it stands for."""
    import csv
    import gzip
    import io
    from datetime import timedelta

    from bot.core.verdict_text import CSV_COLUMNS, csv_text
    from bot.mailhost.verdicts import read_verdicts
    from tests.mailhost.test_verdicts import LAB_LOG, PIXELPARK, REDIRECTED, flow_of

    pixelpark = gzip.decompress(PIXELPARK.read_bytes()).decode("utf-8", "replace")
    for text in (LAB_LOG + REDIRECTED, pixelpark):
        flow = flow_of(text)
        verdicts = read_verdicts(flow.messages, flow.rejections, lifetimes={"lab": timedelta(days=3)})
        assert any(x.gives_up_at for x in verdicts) or text is pixelpark
        by_hop = {(m.host, m.queue_id): m for m in flow.messages}
        written = csv_text(verdicts, flow.messages)
        reader = csv.DictReader(io.StringIO(written))
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        expected = [row for verdict in verdicts for row in _attempt_rows(verdict, by_hop)]
        assert list(reader) == expected
        assert len(expected) > len(verdicts)  # a deferred then delivered mail: one row per attempt
