"""Grouping log lines into messages, on the lab's real log."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from bot.mailhost.mail_flow import Delivery, Message, _maker, assemble
from bot.mailhost.postfix_log import parse_line
from tests.conftest import FIXTURES

REFERENCE = datetime(2026, 11, 28, 23, 0)
LAB_LOG = (FIXTURES / "lab" / "maillog.txt").read_text().splitlines()


def lab_flow():
    return assemble([p for line in LAB_LOG if (p := parse_line(line, REFERENCE))], "lab")


def test_one_message_per_queue_id_with_sender_and_size():
    flow = lab_flow()
    queued = {line.split(": ")[1] for line in LAB_LOG if "(queue active)" in line}
    assert {m.queue_id for m in flow.messages if m.size is not None} == queued
    for message in flow.messages:
        if message.size is not None:
            assert message.sender is not None and message.nrcpt and message.nrcpt >= 1


def test_bounce_links_to_its_notice():
    flow = lab_flow()
    bounced = [m for m in flow.messages if any(d.status == "bounced" for d in m.deliveries)]
    assert bounced
    by_id = {m.queue_id: m for m in flow.messages}
    for message in bounced:
        (notice,) = message.notices
        assert notice.kind == "sender non-delivery"
        assert by_id[notice.queue_id].sender == ""
        assert by_id[notice.queue_id].deliveries[0].recipient == message.sender
        assert message.removed


def test_deferred_mail_is_not_removed_and_keeps_every_attempt():
    flow = lab_flow()
    deferred = [m for m in flow.messages if m.deliveries and m.deliveries[-1].status == "deferred"]
    assert deferred
    assert all(not m.removed for m in deferred)
    later_sent = [m for m in flow.messages if [d.status for d in m.deliveries] == ["deferred", "sent"]]
    assert later_sent and all(m.removed for m in later_sent)
    assert later_sent[0].final_attempts()[later_sent[0].deliveries[0].recipient.lower()].status == "sent"


def test_queued_reject_stays_with_its_message_and_noqueue_ones_apart():
    flow = lab_flow()
    with_reject = [m for m in flow.messages if m.rejections]
    assert with_reject and all(r.queue_id == m.queue_id for m in with_reject for r in m.rejections)
    assert flow.rejections and all(r.queue_id is None for r in flow.rejections)
    assert len(flow.rejections) == sum(1 for line in LAB_LOG if "NOQUEUE: reject" in line)


def test_a_reused_queue_id_starts_a_new_message():
    lines = [
        "Nov 28 10:00:00 mx postfix/smtpd[1]: ABCDEF123: client=a[192.0.2.1]",
        "Nov 28 10:00:01 mx postfix/qmgr[2]: ABCDEF123: from=<a@example.org>, size=1, nrcpt=1 (queue active)",
        "Nov 28 10:00:02 mx postfix/qmgr[2]: ABCDEF123: removed",
        "Nov 28 12:00:00 mx postfix/smtpd[1]: ABCDEF123: client=b[192.0.2.2]",
        "Nov 28 12:00:01 mx postfix/qmgr[2]: ABCDEF123: from=<b@example.org>, size=2, nrcpt=1 (queue active)",
    ]
    flow = assemble([p for line in lines if (p := parse_line(line, REFERENCE))], "mx")
    assert [(m.queue_id, m.sender, m.removed) for m in flow.messages] == [
        ("ABCDEF123", "a@example.org", True),
        ("ABCDEF123", "b@example.org", False),
    ]


def test_expiry_ends_each_deferred_recipient():
    lines = [
        "Nov 25 10:00:00 mx postfix/qmgr[2]: 5BC4E16E1D5: from=<bob@fournisseur.fr>, size=84898, nrcpt=2 "
        "(queue active)",
        "Nov 25 10:00:01 mx postfix/lmtp[3]: 5BC4E16E1D5: to=<full@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, "
        "delay=0.05, delays=0.05/0/0/0, dsn=4.2.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 452 4.2.2 Over "
        "quota SESSIONID=<cyrus-1> (in reply to RCPT TO command))",
        "Nov 25 10:00:01 mx postfix/lmtp[3]: 5BC4E16E1D5: to=<john@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, "
        "delay=0.05, delays=0.05/0/0/0, dsn=2.1.5, status=sent (250 2.1.5 Success SESSIONID=<cyrus-2>)",
        "Nov 28 10:00:05 mx postfix/qmgr[2]: 5BC4E16E1D5: from=<bob@fournisseur.fr>, status=expired, "
        "returned to sender",
        "Nov 28 10:00:05 mx postfix/bounce[4]: 5BC4E16E1D5: sender non-delivery notification: 6CD5F27F2E6",
        "Nov 28 10:00:05 mx postfix/qmgr[2]: 5BC4E16E1D5: removed",
    ]
    (message,) = assemble([p for line in lines if (p := parse_line(line, REFERENCE))], "mx").messages
    assert message.expired and message.removed
    final = message.final_attempts()
    assert final["full@lab.test"].status == "expired"
    assert final["full@lab.test"].dsn == "4.2.2"
    assert "452 4.2.2 Over quota" in final["full@lab.test"].response
    assert final["john@lab.test"].status == "sent"
    assert message.notices[0].queue_id == "6CD5F27F2E6"


def test_the_parsers_makers_make_the_records_themselves():
    """The trace makes its deliveries and messages without their frozen `__init__` (`_maker`): each
    is then a record of its class like any other, equal, hashed and printed the same, frozen."""
    message = next(m for m in lab_flow().messages if len(m.deliveries) == 1 and m.deliveries[0].status == "sent")
    (delivery,) = message.deliveries
    made = Message(*(getattr(message, f.name) for f in dataclasses.fields(Message)))
    assert type(message) is Message and type(delivery) is Delivery
    assert message == made and hash(message) == hash(made) and repr(message) == repr(made)
    assert delivery == Delivery(*(getattr(delivery, f.name) for f in dataclasses.fields(Delivery)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        delivery.status = "deferred"  # type: ignore[misc]
    assert dataclasses.replace(delivery, status="deferred").status == "deferred"
    assert delivery.status == "sent"

    @dataclasses.dataclass(frozen=True)
    class WithoutSlots:
        recipient: str

    with pytest.raises(TypeError):
        _maker(WithoutSlots)
