"""`queue`: the summary on the lab's real queue, and on third-party listings."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

import pytest

from bot.core import reasons, render
from bot.errors import BadInput
from bot.mailhost.postqueue import parse_postqueue_json, parse_postqueue_text
from bot.mailhost.values import parse_address
from bot.verbs.queue import QueueRequest, age_band, hint_for, reason_of, summarize, validate_queue
from tests.conftest import FIXTURES, lab_queue
from tests.verbs.test_trace_lab import mailbot


def test_reasons_are_grouped_whatever_the_session_id():
    entries = parse_postqueue_json((FIXTURES / "lab" / "postqueue-j.txt").read_text().splitlines())
    report = summarize(QueueRequest(None, None), [("lab", entries)], datetime.now(UTC))
    text = render.as_text(report)
    assert f"{len(entries):<10}  452 4.2.2 Over quota" in text
    assert "SESSIONID" not in text
    assert json.loads(json.dumps(report.to_json()))["by_reason"] == {"452 4.2.2 Over quota": len(entries)}


def test_held_and_active_are_counted_and_marked():
    entries = parse_postqueue_text(
        (FIXTURES / "corpus" / "kumina-postfix_exporter_showq.txt").read_text(), datetime(2026, 11, 28)
    )
    now = datetime(2026, 11, 28, tzinfo=UTC)
    report = summarize(QueueRequest(None, "lerum.se"), [("mx", entries)], now)
    assert "active" in report.headline()
    active = sum(1 for e in entries if e.active)
    assert f"{active} active" in report.headline()
    listed = report._matching_table()
    assert any(line.split()[0].endswith("*") for line in listed.splitlines()[2:])


def test_age_bands():
    assert [age_band(s) for s in (60, 2 * 3600, 10 * 3600, 2 * 86400, 5 * 86400)] == [
        "< 1 h",
        "1-6 h",
        "6-24 h",
        "1-3 days",
        "> 3 days",
    ]


def test_filters_are_validated():
    assert validate_queue(argparse.Namespace(target="Full@Lab.Test")).address == parse_address("full@lab.test")
    assert validate_queue(argparse.Namespace(target="lab.test")).domain == "lab.test"
    for bad in ("lab", "-x.example", "la b.test", "$(id).test"):
        with pytest.raises(BadInput):
            validate_queue(argparse.Namespace(target=bad))


def test_queue_on_the_lab_matches_postqueue(lab_config):
    run = mailbot("queue", "full@lab.test", "--json")
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    truth = lab_queue()
    assert answer["total"] == len(truth)
    expected = {e["queue_id"] for e in truth if any(r["address"] == "full@lab.test" for r in e["recipients"])}
    assert {m["queue_id"] for m in answer["messages"]} == expected
    assert all(m["reason"] == "452 4.2.2 Over quota" for m in answer["messages"])
    text = mailbot("queue", "full@lab.test").stdout
    assert "Mailbox full: ask the user to free space" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_reason_of_an_entry_without_reason():
    (entry,) = parse_postqueue_json(
        [
            '{"queue_name": "active", "queue_id": "ABC123DEF", "arrival_time": 1, "message_size": 1, "sender": "", '
            '"recipients": [{"address": "a@b.example"}]}'
        ]
    )
    assert reason_of(entry) == "being delivered"


@pytest.mark.parametrize(
    ("reason", "full"),
    [
        ("452 4.2.2 Over quota", True),
        (
            "host lmtp[127.0.0.1] said: 452 4.2.2 <full@lab.test> Mailbox is over quota (in reply to RCPT TO command)",
            True,
        ),
        ("552 5.2.2 Mailbox full", True),
        ("Quota exceeded (mailbox for user is full)", True),
        ("connect to mx.example.org[192.0.2.1]:25: Connection refused", False),
        ("450 4.2.0 Greylisted, see http://postgrey", False),
    ],
)
def test_trace_and_queue_read_a_full_mailbox_the_same_way(reason, full):
    """One reading of "over quota" (postfix_log.is_over_quota) for the two verbs' hints, one advice."""
    from bot.mailhost.reasons import is_over_quota

    assert is_over_quota(reason) is full
    assert (hint_for(reason) == "Mailbox full: " + reasons.over_quota_advice()) is full


def test_trace_gives_the_queue_s_over_quota_advice_from_captured_lab_output():
    """The captured lab (log and `postqueue -j`): full@lab.test over quota, in trace's hints and
    queue's, with the same advice."""
    from bot.core.records import QueuedMail
    from bot.mailhost.mail_flow import assemble
    from bot.mailhost.postfix_log import parse_line
    from bot.verbs.trace import TraceReport, hints_for

    reference = datetime(2026, 11, 28, 23, 0)
    lines = (FIXTURES / "lab" / "maillog.txt").read_text().splitlines()
    flow = assemble([p for line in lines if (p := parse_line(line, reference))], "lab")
    entries = parse_postqueue_json((FIXTURES / "lab" / "postqueue-j.txt").read_text().splitlines())
    full = parse_address("full@lab.test")
    queued = [QueuedMail("lab", e) for e in entries if e.involves(full.value)]
    assert queued
    report = TraceReport(full, None, ("lab",), messages=list(flow.messages), queued=queued)
    (hint,) = [h for h in hints_for(report) if "over quota" in h]
    advice = reasons.over_quota_advice()
    assert hint.endswith(advice[0].upper() + advice[1:])
    assert f"{len(queued)} messages waiting in the queue" in hint
    assert hint_for("452 4.2.2 Over quota") == "Mailbox full: " + advice  # queue's, for the same reason


def test_trace_tells_an_unknown_user_at_smtp_time_and_not_a_blocked_client():
    """Postfix's own `User unknown` refusal gives the hint; an RBL refusal of a client whose address
    holds `5.1.1` (`[10.5.1.12]`) does not: it is no unknown user."""
    from bot.mailhost.mail_flow import assemble
    from bot.mailhost.postfix_log import parse_line
    from bot.verbs.trace import TraceReport, hints_for

    def hints(line: str) -> list[str]:
        flow = assemble([p for p in [parse_line(line, datetime(2026, 11, 28, 23, 0))] if p], "lab")
        report = TraceReport(parse_address("ghost@lab.test"), None, ("lab",), rejected=list(flow.rejections))
        assert len(report.rejected) == 1
        return [h for h in hints_for(report) if "unknown user at SMTP time" in h]

    unknown = (
        "Nov 28 10:00:01 mx postfix/smtpd[7]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 550 5.1.1 "
        "<ghost@lab.test>: Recipient address rejected: User unknown in virtual mailbox table; "
        "from=<a@partner.example> to=<ghost@lab.test> proto=ESMTP helo=<mx.partner.example>"
    )
    blocked = (
        "Nov 28 10:00:02 mx postfix/smtpd[7]: NOQUEUE: reject: RCPT from unknown[10.5.1.12]: 554 5.7.1 "
        "Service unavailable; Client host [10.5.1.12] blocked using zen.spamhaus.org; "
        "from=<a@partner.example> to=<ghost@lab.test> proto=ESMTP helo=<mx.partner.example>"
    )
    assert len(hints(unknown)) == 1
    assert hints(blocked) == []
