"""The log parser on real output: our lab's Postfix 3.7 and logs from other set-ups."""

from __future__ import annotations

import csv
import gzip
import re
from datetime import datetime, timedelta, timezone

import pytest

from bot.mailhost import postfix_log
from bot.mailhost.postfix_log import (
    ClientEvent,
    DeliveryEvent,
    ExpiredEvent,
    HoldEvent,
    LocalPickupEvent,
    MessageIdEvent,
    NoticeEvent,
    OtherEvent,
    QueueAdminEvent,
    QueuedEvent,
    RedirectEvent,
    RejectEvent,
    RemovedEvent,
    bluemind_folder,
    infer_year,
    parse_event,
    parse_line,
    reply_facts,
    summarize_reply,
)
from tests.conftest import FIXTURES

REFERENCE = datetime(2026, 11, 28, 23, 0)
LAB_LOG = (FIXTURES / "lab" / "maillog.txt").read_text().splitlines()
CORPUS = FIXTURES / "corpus"


def test_every_lab_line_parses_with_its_prefix():
    parsed = [parse_line(line, REFERENCE) for line in LAB_LOG]
    assert all(parsed), [line for line, p in zip(LAB_LOG, parsed, strict=True) if p is None][:3]
    assert {p.host for p in parsed if p} == {"mail"}
    assert all(p.program.startswith("postfix/") for p in parsed if p)
    assert all(p.at.year == 2026 and p.at.month == 11 and p.at.day == 28 for p in parsed if p)


def test_lab_lines_become_the_right_events():
    kinds: dict[str, int] = {}
    for line in LAB_LOG:
        parsed = parse_line(line, REFERENCE)
        assert parsed
        kind = type(parse_event(parsed)).__name__
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds["DeliveryEvent"] == sum(1 for line in LAB_LOG if ", status=" in line and ": to=<" in line)
    assert kinds["QueuedEvent"] == sum(1 for line in LAB_LOG if "(queue active)" in line)
    assert kinds["RejectEvent"] == sum(1 for line in LAB_LOG if ": reject: " in line)
    assert kinds["NoticeEvent"] == sum(1 for line in LAB_LOG if "non-delivery notification" in line)


def test_the_level_busybox_and_solaris_write_is_read_past():
    """BusyBox's syslogd (captured) writes `host mail.info daemon[pid]: `; Solaris's writes
    `daemon[pid]: [ID 197553 mail.info] ` (syslogd(8)): the same line, with the same queue id."""
    captured = (FIXTURES / "captures" / "busybox-syslogd-maillog.txt").read_text().splitlines()
    busybox = parse_line(captured[2], REFERENCE)
    assert captured[2].startswith("Nov 28 02:28:39 vm mail.info postfix/smtpd[19077]: NOQUEUE: reject: RCPT ")
    assert busybox is not None
    assert (busybox.host, busybox.program, busybox.daemon, busybox.pid) == ("vm", "postfix/smtpd", "smtpd", 19077)
    assert isinstance(parse_event(busybox), RejectEvent)
    solaris = parse_line(
        "Oct 20 21:22:57 example postfix/smtp[2076]: [ID 197553 mail.info] 2E35E2F68: to=<linda@example.com>, "
        "relay=mail.example.com[192.0.2.4]:25, delay=0, status=deferred (host mail.example.com[192.0.2.4] said: "
        "450 4.7.1 Client host rejected: cannot find your reverse hostname (in reply to RCPT TO command))",
        REFERENCE,
    )
    assert solaris is not None and (solaris.daemon, solaris.pid, solaris.queue_id) == ("smtp", 2076, "2E35E2F68")
    event = parse_event(solaris)  # a Postfix before 2.3: no `delays=`, no `dsn=`
    assert isinstance(event, DeliveryEvent) and event.recipient == "linda@example.com" and event.status == "deferred"
    assert (event.relay, event.dsn, event.delays) == ("mail.example.com[192.0.2.4]:25", "4.7.1", "")
    assert parse_line("Oct 20 21:22:57 example postfix/smtp[2076]: [ID x mail.info] 2E35E2F68: to=<a@b.c>", REFERENCE)
    untagged = parse_line("Oct 20 21:22:57 example postfix/smtp[2076]: [ID x mail.info] 2E35E2F68: x", REFERENCE)
    assert untagged is not None and untagged.queue_id is None  # not Solaris's tag: the text as it is


@pytest.mark.parametrize(
    ("status", "reply", "dsn"),
    [
        ("sent", "250 2.0.0 Ok: queued as 4F2A1", "2.0.0"),
        ("sent", "250 Ok", "2.0.0"),
        ("deferred", "connect to mx.example.com[192.0.2.9]:25: Connection timed out", "4.0.0"),
        (
            "bounced",
            "host mx[2.5.5.1] said: 550 5.1.1 <a@b.c>: Recipient address rejected (in reply to RCPT TO)",
            "5.1.1",
        ),
        ("bounced", "host mx[2.5.5.1] said: 550 No such user (in reply to RCPT TO command)", "5.0.0"),
        ("deferred", "host mx[192.0.2.9] said: 452-4.2.2 The email account is over quota", "4.2.2"),
        ("deferred", "host mx[192.0.2.9] said: 451 5.7.1 odd (in reply to end of DATA command)", "4.0.0"),
    ],
)
def test_a_delivery_of_postfix_before_2_3_takes_its_dsn_from_the_reply(status, reply, dsn):
    """No `dsn=` before Postfix 2.3: the reply's enhanced code, if its class is the reply's, else the
    status's class (an address's `2.5.5.1` is not a code)."""
    line = parse_line(
        f"Nov 28 10:00:00 mx postfix/smtp[1]: 2E35E2F68: to=<a@b.c>, relay=mx[192.0.2.9], delay=3, "
        f"status={status} ({reply})",
        REFERENCE,
    )
    assert line is not None
    event = parse_event(line)
    assert isinstance(event, DeliveryEvent) and (event.status, event.dsn, event.delay) == (status, dsn, 3.0)


@pytest.mark.parametrize(
    ("fields", "dsn"),
    [
        ('delay=0.2, delays=0.1/0/0/0.1, dsn=4.1.1, status=SOFTBOUNCE (unknown user: "bob")', "4.1.1"),
        ("delay=2, status=SOFTBOUNCE (host mx[192.0.2.9] said: 550 5.1.1 <bob@example.org>: no such user)", "4.1.1"),
        ("delay=2, status=SOFTBOUNCE (host mx[192.0.2.9] said: 450 <bob@example.org>: User unknown)", "4.0.0"),
    ],
)
def test_a_soft_bounce_is_the_deferral_postfix_keeps_it_as(fields, dsn):
    """`soft_bounce = yes`: `status=SOFTBOUNCE` where Postfix would have bounced, the mail kept deferred
    with a 4.X.Y code (bounce(8)); without `dsn=` (before 2.3) the reply's code, its class made 4."""
    line = parse_line(
        f"Dec  1 10:02:01 mx postfix/local[15]: 4B2C3D5E6F: to=<bob@example.org>, relay=local, {fields}", REFERENCE
    )
    assert line is not None
    event = parse_event(line)
    assert isinstance(event, DeliveryEvent) and (event.status, event.dsn) == ("deferred", dsn)


def test_odd_but_real_shapes_of_usual_lines():
    queued = parse_line(
        "Dec  1 10:02:00 mx postfix/qmgr[14]: 4B2C3D5E6F: from=<ann@example.org>, size=420, nrcpt=1 (queue active) ",
        REFERENCE,
    )
    assert queued is not None and parse_event(queued) == QueuedEvent("ann@example.org", 420, 1)  # a trailing space
    cut = parse_line(
        "Dec  1 10:05:01 mx postfix/local[16]: 8F6A7B9C0D: to=<fay@example.org>, relay=local, delay=0.1, "
        'delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to command: procmail -a "$EXTENSION" DEFAULT=$HOME/Maild',
        REFERENCE,
    )  # a newline in the command split the line: its reply has no `)`
    assert cut is not None
    event = parse_event(cut)
    assert isinstance(event, DeliveryEvent) and event.status == "sent"
    assert event.response == 'delivered to command: procmail -a "$EXTENSION" DEFAULT=$HOME/Maild'
    assert reply_facts("forwarded as 7E5F6A8B9C").next_queue_id == "7E5F6A8B9C"  # local(8) and a .forward
    hold = parse_line(
        "Dec  1 10:03:00 mx postfix/cleanup[13]: 5C3D4E6F7A: milter-hold: END-OF-MESSAGE from peer[198.51.100.4]: "
        "milter triggers HOLD action; from=<carl@example.com> to=<dan@example.org> proto=ESMTP helo=<peer>",
        REFERENCE,
    )
    assert hold is not None
    assert parse_event(hold) == HoldEvent("carl@example.com", "dan@example.org", "milter triggers HOLD action")


@pytest.mark.parametrize(
    ("text", "hold"),
    [
        (
            "hold: header Subject: [quarantaine] Facture from peer.example.com[198.51.100.4]; "
            "from=<factures@prestataire.example> to=<compta@lab.test> proto=ESMTP helo=<peer.example.com>: "
            "quarantaine: facture a verifier",
            HoldEvent("factures@prestataire.example", "compta@lab.test", "quarantaine: facture a verifier"),
        ),
        (
            "hold: RCPT from peer.example.com[198.51.100.4]: <rh@lab.test>: Recipient address triggers HOLD action; "
            "from=<carl@example.com> to=<rh@lab.test> proto=ESMTP helo=<peer.example.com>",
            HoldEvent("carl@example.com", "rh@lab.test", "<rh@lab.test>: Recipient address triggers HOLD action"),
        ),
        (  # mail submitted on the host, no reason given: the rule's text
            "hold: header Subject: Hold Test from local; from=<root@lab.test>",
            HoldEvent("root@lab.test", None, "header Subject: Hold Test"),
        ),
    ],
)
def test_a_rule_s_hold_names_sender_recipient_and_why(text, hold):
    """qmgr never logs a mail a rule holds: its hold line is the only one with its sender and recipient."""
    line = parse_line(f"Dec  1 11:00:00 mail postfix/cleanup[22]: 2B3C4D5E6F: {text}", REFERENCE)
    assert line is not None and parse_event(line) == hold


@pytest.mark.parametrize(
    ("text", "redirect"),
    [
        (  # the lab's header check, as its Postfix 3.7 wrote it (lab/traffic.sh)
            "redirect: header Subject: [pour la compta] note from localhost[127.0.0.1]; from=<alice@partner.example> "
            "to=<ceo@lab.test> proto=ESMTP helo=<mx.partner.example>: compta@lab.test",
            RedirectEvent(
                "alice@partner.example", "ceo@lab.test", "compta@lab.test", "header Subject: [pour la compta] note"
            ),
        ),
        (  # an access map's REDIRECT (smtpd_check.c: the same words as its HOLD and DISCARD)
            "redirect: RCPT from peer.example.com[198.51.100.4]: <rh@lab.test>: Recipient address triggers REDIRECT "
            "compta@lab.test; from=<carl@example.com> to=<rh@lab.test> proto=ESMTP helo=<peer.example.com>",
            RedirectEvent(
                "carl@example.com",
                "rh@lab.test",
                "compta@lab.test",
                "Recipient address triggers REDIRECT compta@lab.test",
            ),
        ),
        (
            "redirect: body wire transfer from peer.example.com[198.51.100.4]; from=<carl@example.com> "
            "to=<rh@lab.test> proto=ESMTP helo=<peer.example.com>: fraud@lab.test",
            RedirectEvent("carl@example.com", "rh@lab.test", "fraud@lab.test", "body wire transfer"),
        ),
    ],
)
def test_a_rule_s_redirect_names_the_address_given_the_new_one_and_the_rule(text, redirect):
    line = parse_line(f"Dec  6 07:23:15 mail postfix/cleanup[22]: 28E29160212: {text}", REFERENCE)
    assert line is not None and parse_event(line) == redirect


@pytest.mark.parametrize(
    ("text", "reason"),
    [  # the lab's Postfix 3.7, a header check's DISCARD without a text, then with one
        (
            "discard: header Subject: [a jeter] promo from localhost[127.0.0.1]; from=<promo@partner.example> "
            "to=<bob.martin@lab.test> proto=ESMTP helo=<mx.partner.example>",
            "header Subject: [a jeter] promo",
        ),
        (
            "discard: header Subject: [a jeter aussi] promo from localhost[127.0.0.1]; from=<promo@partner.example> "
            "to=<bob.martin@lab.test> proto=ESMTP helo=<mx.partner.example>: publicite",
            "publicite",
        ),
    ],
)
def test_a_rule_s_discard_says_why_its_rule_when_it_has_no_text(text, reason):
    line = parse_line(f"Dec 06 07:39:28 mail postfix/cleanup[3436]: 9B6611603D5: {text}", REFERENCE)
    assert line is not None
    event = parse_event(line)
    assert isinstance(event, RejectEvent)
    assert (event.action, event.sender, event.recipient, event.reason) == (
        "discard",
        "promo@partner.example",
        "bob.martin@lab.test",
        reason,
    )


def test_a_redirect_line_without_its_new_address_is_left_as_it_is():
    text = "redirect: header Subject: x from localhost[127.0.0.1]; from=<a@b.example> to=<c@d.example> proto=ESMTP"
    line = parse_line(f"Dec  6 07:23:15 mail postfix/cleanup[22]: 28E29160212: {text}", REFERENCE)
    assert line is not None and parse_event(line) == OtherEvent(text)


def test_a_before_queue_filter_s_refusal_without_the_envelope():
    line = parse_line(
        "Dec  1 10:00:00 mx postfix/smtpd[6406]: 4F2A1B3C5D: proxy-reject: END-OF-MESSAGE: "
        "451 4.3.0 Error: queue file write error",
        REFERENCE,
    )
    assert line is not None
    assert parse_event(line) == RejectEvent(
        "reject", "END-OF-MESSAGE", None, "451 4.3.0 Error: queue file write error", None, None, None
    )


def test_a_refusal_of_a_broken_sender_address_keeps_its_recipient():
    line = parse_line(
        "Oct 12 10:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from hm22.example.net[192.0.2.22]: 550 5.1.1 "
        "<greg@lab.test>: Recipient address rejected: User unknown in local recipient table; "
        "from=<<>@example.net> to=<greg@lab.test> proto=ESMTP helo=<hm22.example.net>",
        REFERENCE,
    )
    assert line is not None
    event = parse_event(line)
    assert isinstance(event, RejectEvent)
    assert (event.sender, event.recipient, event.helo) == ("<>@example.net", "greg@lab.test", "hm22.example.net")
    assert event.reason.endswith("User unknown in local recipient table")


def test_refusals_before_the_recipient_and_of_mail_submitted_on_the_host():
    connect, mail, body = (
        parse_event(line)
        for line in (
            parse_line(
                "Dec  1 10:00:00 mx postfix/smtpd[11]: NOQUEUE: milter-reject: CONNECT from bad.example.net[192.0.2.7]:"
                " 451 4.7.1 Service unavailable - try again later; proto=SMTP",
                REFERENCE,
            ),
            parse_line(
                "Dec  1 10:00:01 mx postfix/smtpd[11]: NOQUEUE: milter-reject: MAIL from bad.example.net[192.0.2.7]: "
                "553 5.1.7 address incomplete; proto=ESMTP helo=<bad.example.net>",
                REFERENCE,
            ),
            parse_line(
                "Dec  1 10:01:00 mx postfix/cleanup[13]: 3A1B2C4D5E: reject: body Buy cheap pills now from local; "
                "from=<root@mx.example.org>: 5.7.1 Spam: pills",
                REFERENCE,
            ),
        )
        if line is not None
    )
    assert connect == RejectEvent(
        "reject",
        "CONNECT",
        "bad.example.net[192.0.2.7]",
        "451 4.7.1 Service unavailable - try again later",
        None,
        None,
        None,
    )
    assert mail == RejectEvent(
        "reject", "MAIL", "bad.example.net[192.0.2.7]", "553 5.1.7 address incomplete", None, None, "bad.example.net"
    )
    assert body == RejectEvent("reject", "body", "local", "5.7.1 Spam: pills", "root@mx.example.org", None, None)


def test_maillog_file_prefix_and_delivery_fields():
    line = next(line for line in LAB_LOG if "orig_to=<jdoe@lab.test>" in line)
    parsed = parse_line(line, REFERENCE)
    assert parsed is not None
    assert parsed.daemon == "lmtp" and parsed.queue_id and len(parsed.queue_id) == 11
    event = parse_event(parsed)
    assert isinstance(event, DeliveryEvent)
    assert (event.recipient, event.orig_recipient, event.status, event.dsn) == (
        "john@lab.test",
        "jdoe@lab.test",
        "sent",
        "2.1.5",
    )
    assert event.relay == "127.0.0.1[127.0.0.1]:2400"


def test_noqueue_reject_from_the_lab():
    line = next(line for line in LAB_LOG if "NOQUEUE: reject" in line and "nosuchuser" in line)
    parsed = parse_line(line, REFERENCE)
    assert parsed is not None and parsed.queue_id is None
    event = parse_event(parsed)
    assert isinstance(event, RejectEvent)
    assert event.stage == "RCPT" and event.client == "localhost[127.0.0.1]"
    assert event.recipient == "nosuchuser@lab.test" and event.sender == "alice@partner.example"
    assert event.reason.startswith("550 5.1.1 <nosuchuser@lab.test>: Recipient address rejected")
    assert event.helo == "mx.partner.example"


def test_rfc3339_long_ids_and_nested_program_names():
    with gzip.open(CORPUS / "pixelpark-postfix-logsums_mail.log.gz", "rt", errors="replace") as log:
        lines = [line for line in log]
    parsed = [parse_line(line, REFERENCE) for line in lines]
    assert all(parsed)
    first = parsed[0]
    assert first is not None
    assert first.at == datetime(2023, 3, 14, 0, 0, 31, 185246, tzinfo=timezone(timedelta(hours=1)))
    submission = next(p for p in parsed if p and p.program == "postfix/submission/smtpd" and p.queue_id)
    assert submission.daemon == "smtpd"
    assert submission.queue_id is not None and "z" in submission.queue_id and len(submission.queue_id) == 15
    amavis = [p for p in parsed if p and p.program == "postfix/amavis/smtp" and p.queue_id]
    assert amavis and all(isinstance(parse_event(p), (DeliveryEvent, OtherEvent)) for p in amavis)
    with_ids = [p for p in parsed if p and p.queue_id]
    independent = {m.group(1) for line in lines if (m := re.search(r"\]: ([0-9A-Za-z]{10,}z[0-9A-Za-z]+): ", line))}
    assert {p.queue_id for p in with_ids} == independent
    assert len(independent) >= sum(1 for line in lines if "(queue active)" in line)


def test_postscreen_reject_with_commas():
    line = (
        "2023-03-14T01:13:53.583902+01:00 helga postfix/postscreen[3163107]: NOQUEUE: reject: RCPT from "
        "[80.94.91.184]:25584: 550 5.7.1 Service unavailable; client [80.94.91.184] blocked using zen.spamhaus.org; "
        "from=<catching@lighterhabitat.shop>, to=<user01.test@uhu-banane.net>, proto=ESMTP, helo=<lighterhabitat.shop>"
    )
    parsed = parse_line(line, REFERENCE)
    assert parsed is not None
    event = parse_event(parsed)
    assert isinstance(event, RejectEvent)
    assert event.client == "[80.94.91.184]:25584"
    assert event.recipient == "user01.test@uhu-banane.net" and event.sender == "catching@lighterhabitat.shop"
    assert "blocked using zen.spamhaus.org" in event.reason


def test_classic_syslog_flow_with_a_bounce():
    lines = (CORPUS / "silvenga-MailTrace_mail-snip.log").read_text().splitlines()
    events = [(p, parse_event(p)) for line in lines if (p := parse_line(line, REFERENCE))]
    assert len(events) == len(lines)
    bounce = [e for p, e in events if p.queue_id == "29EA217F4FB"]
    assert isinstance(bounce[0], ClientEvent)
    delivery = next(e for e in bounce if isinstance(e, DeliveryEvent))
    assert (delivery.status, delivery.dsn, delivery.relay) == ("bounced", "5.4.4", "none")
    assert NoticeEvent("sender non-delivery", "AA46D17F62D") in bounce
    assert isinstance(bounce[-1], RemovedEvent)
    assert events[0][0].at == datetime(2026, 7, 10, 20, 31, 31)


EXPECTED_KIND = {
    "bounce": NoticeEvent,
    "postsuper_0001": RemovedEvent,
    "postsuper_0002": QueueAdminEvent,
    "postsuper_0003": QueueAdminEvent,
    "postsuper_0004": QueueAdminEvent,
    "qmgr_0001": RemovedEvent,
    "qmgr_0002": QueuedEvent,
    "qmgr_0004": ExpiredEvent,
    "qmgr_0005": ExpiredEvent,
    "cleanup_0001": MessageIdEvent,
    "cleanup_0002": MessageIdEvent,
    "cleanup_0004": RejectEvent,
    "cleanup_0006": OtherEvent,  # a header *warning*: not a refusal
    "smtpd_0003": ClientEvent,
    "smtpd_0004": RejectEvent,
    "smtpd_0008": RejectEvent,
    "smtpd_0017": RejectEvent,
    "smtpd_0022": RejectEvent,  # proxy-reject by a before-queue filter
    "smtpd_0031": OtherEvent,  # reject_warning: nothing was refused
    "smtpd_0038": RejectEvent,
    "smtp_0001": DeliveryEvent,
    "smtp_0002": DeliveryEvent,
    "smtp_0017": DeliveryEvent,
    "lmtp_0001": DeliveryEvent,
    "local_0001": DeliveryEvent,
    "local_0002": DeliveryEvent,
    "tls_features_0001": DeliveryEvent,
    "smtp_0020": OtherEvent,
}


def grok_cases():
    with (CORPUS / "whyscream-postfix-grok-patterns_cases.tsv").open() as cases:
        for row in csv.reader(cases, delimiter="\t"):
            if len(row) >= 3 and row[0]:
                yield row[0].removesuffix(".yaml"), row[2]


@pytest.mark.parametrize(
    ("case", "payload"),
    [
        c
        for c in grok_cases()
        if c[0].rsplit("_", 1)[0]
        in {"bounce", "postsuper", "qmgr", "cleanup", "smtpd", "smtp", "lmtp", "local", "tls_features"}
    ],
)
def test_grok_pattern_cases(case, payload):
    daemon = case.rsplit("_", 1)[0].replace("tls_features", "smtp")
    parsed = parse_line(f"Oct 26 18:13:50 mx postfix/{daemon}[123]: {payload}", REFERENCE)
    assert parsed is not None
    event = parse_event(parsed)
    expected = EXPECTED_KIND.get(case) or EXPECTED_KIND.get(case.rsplit("_", 1)[0])
    if expected is not None:
        assert isinstance(event, expected), (case, event)
    if isinstance(event, DeliveryEvent):
        assert event.dsn.count(".") == 2 and event.status in {"sent", "bounced", "deferred"}
        assert "@" in event.recipient


def test_local_delivery_without_brackets_keeps_orig_to():
    line = next(p for c, p in grok_cases() if c == "local_0001")
    parsed = parse_line(f"Oct 26 18:13:50 mx postfix/local[1]: {line}", REFERENCE)
    assert parsed is not None
    event = parse_event(parsed)
    assert isinstance(event, DeliveryEvent)
    assert (event.recipient, event.orig_recipient) == ("user@hostname.example.com", "root@localhost")


def test_pickup_is_a_local_submission():
    parsed = parse_line("Oct 26 18:13:50 mx postfix/pickup[9]: 4104E3D: uid=0 from=<root>", REFERENCE)
    assert parsed is not None
    assert parse_event(parsed) == LocalPickupEvent(0, "root")


def test_bluemind_lmtp_reply_gives_folder_and_uid():
    snippet = (CORPUS / "bluemind-doc_troubleshooting-snippets.txt").read_text()
    line = next(line for line in snippet.splitlines() if line.startswith("Mar  1") and "lmtp" in line)
    parsed = parse_line(line, REFERENCE)
    assert parsed is not None and parsed.queue_id == "C5BF3135FAF"
    event = parse_event(parsed)
    assert isinstance(event, DeliveryEvent)
    facts = reply_facts(event.response)
    assert (facts.mailbox, facts.folder, facts.imap_uid) == ("bluemind.net!user.user.INBOX", "INBOX", 2294)
    assert facts.next_queue_id is None


def test_stock_cyrus_reply_has_no_folder():
    facts = reply_facts("250 2.1.5 Success SESSIONID=<cyrus-1795824170-31647-2-9698436238298471178>")
    assert (facts.mailbox, facts.imap_uid, facts.next_queue_id) == (None, None, None)


def test_queued_as_is_the_next_hop():
    assert reply_facts("250 2.0.0 Ok: queued as 153053D").next_queue_id == "153053D"
    assert reply_facts("250 2.0.0 Ok: queued as 4PcV4K5FPLz3tBr").next_queue_id == "4PcV4K5FPLz3tBr"
    assert reply_facts("250 OK id=1abcDE-000Xyz-AB").next_queue_id is None


@pytest.mark.parametrize(
    ("mailbox", "folder"),
    [
        ("bluemind.net!user.user.INBOX", "INBOX"),
        ("bluemind.net!user.jean^dupont.Archives.2019", "Archives/2019"),
        ("bluemind.net!user.jdoe", "INBOX"),
    ],
)
def test_bluemind_folder_names(mailbox, folder):
    assert bluemind_folder(mailbox) == folder


def test_year_turn_and_leap_day():
    assert infer_year(12, 31, datetime(2027, 1, 1, 0, 5)) == 2026
    assert infer_year(1, 1, datetime(2027, 1, 1, 0, 5)) == 2027
    assert infer_year(11, 29, datetime(2026, 11, 28, 23, 0)) == 2026  # a time zone ahead
    assert infer_year(2, 29, datetime(2025, 3, 1)) == 2024
    parsed = parse_line("Dec 31 23:59:59 mx postfix/qmgr[1]: ABCDEF123: removed", datetime(2027, 1, 1, 0, 1))
    assert parsed is not None and parsed.at == datetime(2026, 12, 31, 23, 59, 59)


def test_local_time_zone_is_attached_when_given():
    tz = timezone(timedelta(hours=2))
    parsed = parse_line("Nov 28 02:28:39 mail postfix/qmgr[1]: ABCDEF123: removed", REFERENCE, tz)
    assert parsed is not None and parsed.at.utcoffset() == timedelta(hours=2)


def test_lines_that_are_not_syslog_are_skipped():
    assert parse_line("", REFERENCE) is None
    assert parse_line("garbage without prefix", REFERENCE) is None
    assert parse_line("Foo 28 02:28:39 mail postfix/qmgr[1]: ABCDEF123: removed", REFERENCE) is None


def test_summarize_reply_is_the_same_for_every_session():
    first = "host 127.0.0.1[127.0.0.1] said: 452 4.2.2 Over quota SESSIONID=<cyrus-1-2-3> (in reply to RCPT TO command)"
    second = (
        "host 127.0.0.1[127.0.0.1] said: 452 4.2.2 Over quota SESSIONID=<cyrus-4-5-6> (in reply to RCPT TO command)"
    )
    assert summarize_reply(first) == summarize_reply(second) == "452 4.2.2 Over quota"
    multi = next(line for line in LAB_LOG if "550-Mailbox unknown" in line)
    parsed = parse_line(multi, REFERENCE)
    assert parsed is not None
    event = parse_event(parsed)
    assert isinstance(event, DeliveryEvent)
    assert summarize_reply(event.response) == "550 5.1.1 User unknown"


def test_the_usual_delivery_shape_reads_as_the_general_one():
    """`parse_event` reads most delivery lines with one pattern for their usual field order; on
    every delivery line of the corpus and the lab it must give what the field-by-field reading gives."""
    with gzip.open(CORPUS / "pixelpark-postfix-logsums_mail.log.gz", "rt", errors="replace") as log:
        texts = log.read().splitlines()
    texts += (CORPUS / "silvenga-MailTrace_mail-snip.log").read_text(errors="replace").splitlines()
    texts += (FIXTURES / "lab" / "maillog.txt").read_text(errors="replace").splitlines()
    usual = 0
    for text in texts:
        line = parse_line(text, datetime(2030, 1, 1))
        if line is None or not line.text.startswith("to="):
            continue
        general = re.fullmatch(postfix_log._DELIVERY, line.text)
        expected = postfix_log._delivery(general) if general else None
        usual += postfix_log._USUAL_DELIVERY.fullmatch(line.text) is not None
        assert parse_event(line) == (expected or OtherEvent(line.text)), text
    assert usual > 100  # the usual shape is what most lines have


def _rfc3339(line: str, index: int, shape: str) -> str:
    """A classic line of the lab's log restamped as rsyslog's RSYSLOG_FileFormat writes it (Debian
    12's default), or as other RFC 3339 writers do."""
    stamp = datetime.strptime(f"2026 {line[:15]}", "%Y %b %d %H:%M:%S")
    micro = f"{index * 1009:06d}"  # growing, as a log's are (the lab's has 550 lines)
    text = {
        "micro": f"{stamp:%Y-%m-%dT%H:%M:%S}.{micro}+01:00",
        "seconds": f"{stamp:%Y-%m-%dT%H:%M:%S}+01:00",
        "utc": f"{stamp:%Y-%m-%dT%H:%M:%S}.{micro[:3]}Z",
        "naive": f"{stamp:%Y-%m-%dT%H:%M:%S}.{micro}",
        "odd": f"{stamp:%Y-%m-%dT%H:%M:%S}.{micro[:5]}x+01:00",  # not a stamp: no line
    }[shape]
    return f"{text} {line[16:]}"


@pytest.mark.parametrize("shape", ["micro", "seconds", "utc", "naive", "odd"])
def test_rfc3339_lines_read_on_the_fast_paths_as_the_general_pattern_reads_them(shape):
    """`parse` and `collect` read `2026-11-28T02:27:30.123456+01:00 host ...` without the general
    pattern (1.9 times the cost): every lab line gives the line, the time to the microsecond and
    the flow that pattern gives, whatever the stamp's shape."""
    from bot.mailhost.mail_flow import assemble, assemble_blocks
    from bot.mailhost.postfix_log import LineParser

    lines = [_rfc3339(line, index, shape) for index, line in enumerate(LAB_LOG)]
    zone = timezone(timedelta(hours=2))  # the host's: only a stamp without an offset takes it
    parser, general = LineParser(REFERENCE, zone), LineParser(REFERENCE, zone)
    for line in lines:
        assert parser.parse(line) == general._general(line), line
    read = [parsed for line in lines if (parsed := general._general(line)) is not None]
    assert len(read) == (0 if shape == "odd" else len(LAB_LOG))
    if read:  # the sixth line's microseconds: 5 * 1009
        assert read[5].at.microsecond == {"micro": 5045, "seconds": 0, "utc": 5000, "naive": 5045}[shape]
    expected = assemble(read, "lab", keep_lines=False)
    text = "\n".join(lines)
    blocks = [text[: text.index("\n", len(text) // 3) + 1], text[text.index("\n", len(text) // 3) + 1 :]]
    assert assemble_blocks(blocks, LineParser(REFERENCE, zone), "lab") == expected
    classic = assemble([p for p in map(LineParser(REFERENCE).parse, LAB_LOG) if p], "lab")
    assert len(expected.messages) == (0 if shape == "odd" else len(classic.messages))


def test_a_message_met_again_after_thousands_of_others_is_still_one_message():
    """The parser remembers the queue ids of the last few thousand messages only: a deferred mail's
    `removed`, after 10,000 other messages, still ends that mail, on both readers, and a word that
    is not a queue id (`NOQUEUE`, `warning`) is still not one."""
    from bot.mailhost.mail_flow import assemble, assemble_blocks
    from bot.mailhost.postfix_log import LineParser

    def mail(n: int) -> list[str]:
        queue_id = f"{0x100000 + n:X}A"
        return [
            f"Nov 28 02:{n // 600 % 60:02d}:{n // 10 % 60:02d} mx postfix/qmgr[2]: {queue_id}: from=<s{n}@x.example>, "
            "size=100, nrcpt=1 (queue active)",
            f"Nov 28 02:{n // 600 % 60:02d}:{n // 10 % 60:02d} mx postfix/smtp[3]: {queue_id}: to=<r{n}@y.example>, "
            "relay=mx.y.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
            f"Nov 28 02:{n // 600 % 60:02d}:{n // 10 % 60:02d} mx postfix/qmgr[2]: {queue_id}: removed",
        ]

    first = mail(0)
    lines = [first[0]]
    for n in range(1, 10_001):
        lines += mail(n)
    lines += [
        "Nov 28 02:59:58 mx postfix/smtpd[4]: NOQUEUE: reject: RCPT from unknown[192.0.2.9]: 554 5.7.1 "
        "<x@lab.test>: Relay access denied; from=<a@b.example> to=<x@lab.test> proto=ESMTP helo=<h>",
        "Nov 28 02:59:59 mx postfix/smtpd[4]: warning: hostname z does not resolve to address 192.0.2.9",
        *(line.replace("02:00:00", "02:59:59") for line in first[1:]),
    ]
    text = "\n".join(lines) + "\n"
    expected = assemble([p for p in map(LineParser(REFERENCE).parse, lines) if p], "mx", keep_lines=False)
    middle = text.index("\n", len(text) // 2) + 1
    read = assemble_blocks([text[:middle], text[middle:]], LineParser(REFERENCE), "mx")
    for flow in (expected, read):
        assert len(flow.messages) == 10_001 and len(flow.rejections) == 1
        mail_zero = [m for m in flow.messages if m.queue_id == "100000A"]
        assert len(mail_zero) == 1 and mail_zero[0].sender == "s0@x.example" and mail_zero[0].removed
        assert [d.recipient for d in mail_zero[0].deliveries] == ["r0@y.example"]
