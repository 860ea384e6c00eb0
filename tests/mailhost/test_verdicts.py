"""Verdicts per message and recipient, read from real log lines (the lab's, the corpus's)."""

from __future__ import annotations

import gzip
from datetime import datetime, timedelta

from bot import i18n
from bot.core import records, render, verdict_text
from bot.mailhost import mail_flow
from bot.mailhost import verdicts as v
from bot.mailhost.mail_flow import assemble
from bot.mailhost.postfix_log import LineParser
from bot.mailhost.postqueue import QueuedRecipient, QueueEntry
from tests.conftest import FIXTURES
from tests.mailhost.filters import MAILSCANNER, PROXMOX

REFERENCE = datetime(2026, 11, 28, 23, 0)
LAB_LOG = (FIXTURES / "lab" / "maillog.txt").read_text()
PIXELPARK = FIXTURES / "corpus" / "pixelpark-postfix-logsums_mail.log.gz"


def flow_of(text: str, host: str = "lab", reference: datetime = REFERENCE):
    parser = LineParser(reference)
    return assemble([line for raw in text.splitlines() if (line := parser.parse(raw))], host)


def verdicts_of(text: str, **kwargs):
    flow = flow_of(text)
    return v.read_verdicts(flow.messages, flow.rejections, **kwargs)


def by_queue_id(verdicts):
    return {verdict.queue_id: verdict for verdict in verdicts if verdict.queue_id}


def test_one_verdict_per_message_and_recipient_on_the_lab_log():
    flow = flow_of(LAB_LOG)
    verdicts = v.read_verdicts(flow.messages, flow.rejections)
    attempts = {(m.queue_id, d.recipient.lower()) for m in flow.messages for d in m.deliveries}
    stories = {(x.queue_id, (x.recipient or "").lower()) for x in verdicts if x.hops and x.kind != v.REFUSED}
    assert stories == attempts  # each attempt's story told once, whatever its number of lines


def test_deferred_over_quota_counts_its_attempts_and_says_when_postfix_gives_up():
    lines = [line for line in LAB_LOG.splitlines() if "A958B1624B7" in line]
    entry = QueueEntry(
        "A958B1624B7",
        "deferred",
        datetime(2026, 11, 28, 2, 28, 30),
        30000,
        "bob@fournisseur.fr",
        (QueuedRecipient("full@lab.test", "host 127.0.0.1[127.0.0.1] said: 452 4.2.2 Over quota"),),
    )
    (verdict,) = verdicts_of("\n".join(lines), queue={"lab": [entry]}, lifetimes={"lab": timedelta(days=3)})
    deferrals = [line for line in lines if "status=deferred" in line]
    assert verdict.kind == v.DEFERRED and verdict.problem
    assert verdict.attempts == len(deferrals) >= 2
    assert verdict.reason == "452 4.2.2 Over quota" and verdict.cause == "mailbox_full"
    assert verdict.in_queue is True
    assert verdict.gives_up_at == datetime(2026, 12, 1, 2, 28, 30)
    assert verdict.first_deferred is not None and verdict.last_deferred is not None
    assert verdict.first_deferred < verdict.last_deferred


def test_deferred_then_delivered_once_the_quota_is_raised():
    verdict = by_queue_id(verdicts_of(LAB_LOG))["7A10D1624B5"]
    assert (verdict.kind, verdict.attempts, verdict.recipient) == (v.DELIVERED, 1, "quota2@lab.test")
    assert verdict.reason is None and verdict.relay == "127.0.0.1[127.0.0.1]:2400"


def test_a_bounce_names_its_notice_and_to_whom_it_went():
    verdict = by_queue_id(verdicts_of(LAB_LOG))["45A00162538"]
    assert verdict.kind == v.BOUNCED
    assert verdict.notice_queue_id == "4847916253F" and verdict.notice_to == "john@lab.test"
    assert verdict.reason == "550 5.1.1 User unknown" and verdict.cause == "unknown_recipient"


def test_refusals_at_smtp_time_are_one_story_per_sender_recipient_and_client():
    verdicts = [x for x in verdicts_of(LAB_LOG) if x.kind == v.REFUSED and not x.hops]
    unknown = [x for x in verdicts if x.recipient == "nosuchuser@lab.test"]
    rejects = [line for line in LAB_LOG.splitlines() if "NOQUEUE" in line and "<nosuchuser@lab.test>" in line]
    assert len(unknown) == 1 and unknown[0].attempts == len(rejects)
    assert unknown[0].reason.startswith("550 5.1.1 Recipient address rejected")
    assert unknown[0].host == "lab" and unknown[0].in_queue is False
    relay = next(x for x in verdicts if x.recipient == "someone@elsewhere.example")
    assert relay.cause == "relay_denied"


def test_a_recipient_refused_inside_a_queued_transaction():
    verdict = next(x for x in verdicts_of(LAB_LOG) if x.kind == v.REFUSED and x.hops)
    assert verdict.recipient == "nobody@lab.test" and verdict.queue_id == "39604162538"


# The edge relay of the lab (lab/README.md): two Postfix, two queue ids, one mail.
EDGE_HOP = """\
Nov 28 03:42:35 edge postfix-edge/smtpd[1760]: 4jbx1l2SX8zBycp: client=localhost[127.0.0.1]
Nov 28 03:42:35 edge postfix-edge/cleanup[1763]: 4jbx1l2SX8zBycp: message-id=<hop-1@partner.example>
Nov 28 03:42:35 edge postfix-edge/qmgr[1700]: 4jbx1l2SX8zBycp: from=<alice@partner.example>, size=612, nrcpt=1 (queue active)
Nov 28 03:42:35 mail postfix/smtpd[1770]: 573AD16213B: client=localhost[127.0.0.1]
Nov 28 03:42:35 edge postfix-edge/smtp[1766]: 4jbx1l2SX8zBycp: to=<john@lab.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.01, delays=0/0.01/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 573AD16213B)
Nov 28 03:42:35 edge postfix-edge/qmgr[1700]: 4jbx1l2SX8zBycp: removed
Nov 28 03:42:35 mail postfix/cleanup[1771]: 573AD16213B: message-id=<hop-1@partner.example>
Nov 28 03:42:35 mail postfix/qmgr[800]: 573AD16213B: from=<alice@partner.example>, size=900, nrcpt=1 (queue active)
Nov 28 03:42:35 mail postfix/lmtp[827]: 573AD16213B: to=<john@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, delay=0.01, delays=0/0/0/0, dsn=2.1.5, status=sent (250 2.1.5 Ok SESSIONID=<cyrus-1-2-3> [lab.test!user.john.Archives () 2294])
Nov 28 03:42:35 mail postfix/qmgr[800]: 573AD16213B: removed
"""  # noqa: E501


def test_an_edge_hop_and_its_backend_hop_are_one_verdict_with_both_ids():
    edge = flow_of("\n".join(line for line in EDGE_HOP.splitlines() if " edge " in line), "edge")
    lab = flow_of("\n".join(line for line in EDGE_HOP.splitlines() if " mail " in line), "lab")
    (verdict,) = v.read_verdicts([*edge.messages, *lab.messages])
    assert verdict.kind == v.DELIVERED
    assert verdict.hops == (v.Hop("edge", "4jbx1l2SX8zBycp"), v.Hop("lab", "573AD16213B"))
    assert (verdict.folder, verdict.imap_uid, verdict.client) == ("Archives", 2294, "localhost[127.0.0.1]")
    assert verdict.to_json()["queue_ids"] == [
        "4jbx1l2SX8zBycp",
        "573AD16213B",
    ]


def test_a_content_filter_hop_on_one_host_and_a_bounce_with_its_notice_on_pixelpark():
    text = gzip.decompress(PIXELPARK.read_bytes()).decode("utf-8", "replace")
    flow = flow_of(text, "helga", datetime(2023, 3, 17))
    verdicts = v.read_verdicts(flow.messages, flow.rejections)
    hops = [x for x in verdicts if len(x.hops) == 2]
    assert len(hops) >= 170  # amavis: 10024 -> queued as -> 10025, each one story
    first = next(x for x in hops if x.orig_recipient == "frank@brehm-berlin.de")
    assert first.recipient == "user01.test@uhu-banane.net" and first.kind == v.DELIVERED
    (bounced,) = [x for x in verdicts if x.kind == v.BOUNCED]
    assert bounced.hops[-1].queue_id == "4PcV4K5FPLz3tBr" and bounced.notice_queue_id == "4PcV4K5tFpz3tG5"
    assert bounced.cause == "domain_not_found" and bounced.notice_to == "bounce-no-reply@nebenan.de"
    refused = [x for x in verdicts if x.kind == v.REFUSED]
    assert sum(x.attempts for x in refused) == len(flow.rejections)
    assert {x.cause for x in refused} >= {"blocklisted", "helo_refused", "sender_domain_unknown"}
    # a client that gave up before DATA: nothing more in the log, and the verdict says so
    assert {x.kind for x in verdicts} <= {v.DELIVERED, v.BOUNCED, v.REFUSED, v.UNKNOWN}
    hung_up = by_queue_id(verdicts)["4PcgCs64zpz3tBr"]  # `client=` only, then `mail=1 rcpt=1 quit=1`
    assert hung_up.kind == v.UNKNOWN and hung_up.client == "mx.tactilelive.com[54.173.135.101]"
    assert verdict_text.detail(hung_up).startswith("the client hung up before sending the mail: nothing was received")
    with i18n.use_language("fr"):
        assert verdict_text.detail(hung_up).startswith("le client a raccroché avant d'envoyer le message")
    # the same start with a Message-ID (cleanup read the mail) and the log cut there: not a hang-up
    started = [line for line in text.splitlines() if "4PcV4K5FPLz3tBr: " in line][:2]
    assert "message-id=" in started[1]
    (cut,) = v.read_verdicts(flow_of("\n".join(started), "helga", datetime(2023, 3, 17)).messages)
    assert cut.kind == v.UNKNOWN and verdict_text.detail(cut).startswith("no outcome in the logs read")


# postsuper's and qmgr's own words (FORMATS.md), on a deferred mail of the lab.
DEFERRED = """\
Nov 28 02:28:30 mail postfix/smtpd[1]: 1A2B3C4D5E6: client=localhost[127.0.0.1]
Nov 28 02:28:30 mail postfix/qmgr[2]: 1A2B3C4D5E6: from=<bob@fournisseur.fr>, size=3000, nrcpt=1 (queue active)
Nov 28 02:28:30 mail postfix/lmtp[3]: 1A2B3C4D5E6: to=<full@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, delay=0.07, delays=0.05/0.01/0/0.01, dsn=4.2.2, status=deferred (host 127.0.0.1[127.0.0.1] said: 452 4.2.2 Over quota SESSIONID=<cyrus-1> (in reply to RCPT TO command))
"""  # noqa: E501


def test_deleted_by_an_admin():
    (verdict,) = verdicts_of(
        DEFERRED + "Nov 28 03:00:00 mail postfix/postsuper[9]: 1A2B3C4D5E6: removed\n", queue={"lab": []}
    )
    assert verdict.kind == v.DELETED and verdict.deleted_by_admin and verdict.in_queue is False


def test_held_then_released():
    held = DEFERRED + "Nov 28 03:00:00 mail postfix/postsuper[9]: 1A2B3C4D5E6: placed on hold\n"
    assert verdicts_of(held)[0].kind == v.HELD
    released = held + "Nov 28 03:05:00 mail postfix/postsuper[9]: 1A2B3C4D5E6: released from hold\n"
    assert verdicts_of(released)[0].kind == v.DEFERRED


def test_expired_keeps_the_last_reason():
    expired = DEFERRED + (
        "Nov 28 03:00:00 mail postfix/qmgr[2]: 1A2B3C4D5E6: from=<bob@fournisseur.fr>, status=force-expired, "
        "returned to sender\n"
        "Nov 28 03:00:00 mail postfix/bounce[4]: 1A2B3C4D5E6: sender non-delivery notification: 9F8E7D6C5B4\n"
        "Nov 28 03:00:00 mail postfix/qmgr[2]: 1A2B3C4D5E6: removed\n"
    )
    (verdict,) = verdicts_of(expired)
    assert verdict.kind == v.EXPIRED and verdict.reason == "452 4.2.2 Over quota" and verdict.attempts == 1
    assert verdict.notice_queue_id == "9F8E7D6C5B4" and verdict.notice_to == "bob@fournisseur.fr"


def test_a_queue_entry_no_log_line_names_is_still_told():
    entry = QueueEntry(
        "ABCDEF12345", "hold", datetime(2026, 11, 28, 1), 10, "a@b.example", (QueuedRecipient("c@d.example", None),)
    )
    (verdict,) = v.read_verdicts([], queue={"lab": [entry]}, queued=[("lab", entry)])
    assert (verdict.kind, verdict.recipient, verdict.queue_id, verdict.in_queue) == (
        v.HELD,
        "c@d.example",
        "ABCDEF12345",
        True,
    )


def test_details_are_punctuated_in_the_reader_s_language():
    at = datetime(2026, 12, 4, 15, 17)
    verdict = v.Verdict(
        kind="bounced",
        recipient="r@x.example",
        orig_recipient=None,
        sender="s@y.example",
        hops=(v.Hop("mx", "ABCDEF123"),),
        arrived=at,
        at=at,
        reason="550 5.1.1 User unknown",
        cause="unknown_recipient",
        notice_queue_id="FEDCBA321",
        notice_to="s@y.example",
    )
    english = verdict_text.detail(verdict)
    assert english == "unknown recipient (550 5.1.1 User unknown); notice FEDCBA321 to s@y.example"
    with i18n.use_language("fr"):
        french = verdict_text.detail(verdict)
    assert french.endswith(" ; avis FEDCBA321 à s@y.example") and "; " not in french.replace(" ; ", "")


def walked(messages, rejections=()):
    """The verdicts of `walk` alone, none of `read_verdicts`'s shortcuts for the usual mail."""
    children, linked = v._links(messages)
    reader = v._Reader({}, set(), {}, children)
    verdicts: list[v.AnyVerdict] = []
    for m in messages:
        if id(m) not in linked:
            story = v._Story(m.first_seen, m.sender, m.message_id, m.client, (v.Hop(m.host, m.queue_id),), ())
            reader.walk(m, story, None, 0, verdicts)
    verdicts.extend(v._refusals(rejections))
    return sorted(verdicts, key=lambda x: (x.arrived, x.at))


# Mail to two recipients (one in upper case) handed on together to a content filter's hop, which
# delivers both; mail to the same recipient twice (two verdicts' worth of tries: `walk` tells it);
# the hop's queue id used again an hour later, by mail of its own.
TOGETHER = """\
Nov 28 04:00:00 mail postfix/smtpd[1]: 1111111111: client=out.partner.example[192.0.2.9]
Nov 28 04:00:00 mail postfix/qmgr[2]: 1111111111: from=<alice@partner.example>, size=900, nrcpt=2 (queue active)
Nov 28 04:00:01 mail postfix/smtp[3]: 1111111111: to=<john@lab.test>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2222222222)
Nov 28 04:00:01 mail postfix/smtp[3]: 1111111111: to=<Mary@lab.test>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2222222222)
Nov 28 04:00:01 mail postfix/qmgr[2]: 1111111111: removed
Nov 28 04:00:01 mail postfix/smtpd[4]: 2222222222: client=localhost[127.0.0.1]
Nov 28 04:00:01 mail postfix/qmgr[2]: 2222222222: from=<alice@partner.example>, size=1200, nrcpt=2 (queue active)
Nov 28 04:00:02 mail postfix/lmtp[5]: 2222222222: to=<mary@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, delay=0.1, delays=0/0/0/0.1, dsn=2.1.5, status=sent (250 2.1.5 Ok SESSIONID=<cyrus-1-2-3> [lab.test!user.mary () 12])
Nov 28 04:00:02 mail postfix/lmtp[5]: 2222222222: to=<john@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, delay=0.1, delays=0/0/0/0.1, dsn=2.1.5, status=sent (250 2.1.5 Ok SESSIONID=<cyrus-1-2-4> [lab.test!user.john () 13])
Nov 28 04:00:02 mail postfix/qmgr[2]: 2222222222: removed
Nov 28 04:01:00 mail postfix/qmgr[2]: 3333333333: from=<bob@partner.example>, size=900, nrcpt=2 (queue active)
Nov 28 04:01:01 mail postfix/lmtp[5]: 3333333333: to=<john@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, delay=0.1, delays=0/0/0/0.1, dsn=2.1.5, status=sent (250 2.1.5 Ok)
Nov 28 04:01:01 mail postfix/lmtp[5]: 3333333333: to=<JOHN@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, delay=0.1, delays=0/0/0/0.1, dsn=2.1.5, status=sent (250 2.1.5 Ok)
Nov 28 04:01:01 mail postfix/lmtp[5]: 3333333333: to=<mary@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, delay=0.1, delays=0/0/0/0.1, dsn=2.1.5, status=sent (250 2.1.5 Ok)
Nov 28 05:00:00 mail postfix/qmgr[2]: 2222222222: from=<carol@partner.example>, size=900, nrcpt=1 (queue active)
Nov 28 05:00:01 mail postfix/lmtp[5]: 2222222222: to=<mary@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, delay=0.1, delays=0/0/0/0.1, dsn=2.1.5, status=sent (250 2.1.5 Ok)
Nov 28 05:00:01 mail postfix/qmgr[2]: 2222222222: removed
"""  # noqa: E501


# Lines other set-ups write (their shapes from real logs: Postfix's soft_bounce, local(8) forwarding, a
# milter's refusal before RCPT and its HOLD, body_checks on mail submitted on the host, amavis dropping
# a virus and spam, a reply cut by syslog at 1 kB), the mail and addresses made up.
OTHER_SET_UPS = """\
Dec  1 10:00:00 mail postfix/smtpd[11]: NOQUEUE: milter-reject: CONNECT from bad.example.net[192.0.2.7]: 451 4.7.1 Service unavailable - try again later; proto=SMTP
Dec  1 10:00:01 mail postfix/smtpd[11]: NOQUEUE: milter-reject: MAIL from bad.example.net[192.0.2.7]: 553 5.1.7 address incomplete; proto=ESMTP helo=<bad.example.net>
Dec  1 10:01:00 mail postfix/pickup[12]: 3A1B2C4D5E: uid=0 from=<root@mx.example.org>
Dec  1 10:01:00 mail postfix/cleanup[13]: 3A1B2C4D5E: reject: body Buy cheap pills now from local; from=<root@mx.example.org>: 5.7.1 Spam: pills
Dec  1 10:02:00 mail postfix/pickup[12]: 4B2C3D5E6F: uid=1000 from=<ann@example.org>
Dec  1 10:02:00 mail postfix/cleanup[13]: 4B2C3D5E6F: message-id=<a1@example.org>
Dec  1 10:02:00 mail postfix/qmgr[14]: 4B2C3D5E6F: from=<ann@example.org>, size=420, nrcpt=1 (queue active)
Dec  1 10:02:01 mail postfix/local[15]: 4B2C3D5E6F: to=<bob@example.org>, relay=local, delay=0.2, delays=0.1/0/0/0.1, dsn=4.1.1, status=SOFTBOUNCE (unknown user: "bob")
Dec  1 10:03:00 mail postfix/smtpd[11]: 5C3D4E6F7A: client=peer.example.com[198.51.100.4]
Dec  1 10:03:00 mail postfix/cleanup[13]: 5C3D4E6F7A: message-id=<b2@example.com>
Dec  1 10:03:00 mail postfix/cleanup[13]: 5C3D4E6F7A: milter-hold: END-OF-MESSAGE from peer.example.com[198.51.100.4]: milter triggers HOLD action; from=<carl@example.com> to=<dan@example.org> proto=ESMTP helo=<peer.example.com>
Dec  1 10:04:00 mail postfix/smtpd[11]: 6D4E5F7A8B: client=peer.example.com[198.51.100.4]
Dec  1 10:04:00 mail postfix/qmgr[14]: 6D4E5F7A8B: from=<carl@example.com>, size=900, nrcpt=1 (queue active)
Dec  1 10:04:01 mail postfix/local[15]: 6D4E5F7A8B: to=<eve@example.org>, relay=local, delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (forwarded as 7E5F6A8B9C)
Dec  1 10:04:01 mail postfix/qmgr[14]: 6D4E5F7A8B: removed
Dec  1 10:04:01 mail postfix/cleanup[13]: 7E5F6A8B9C: message-id=<c3@example.com>
Dec  1 10:04:01 mail postfix/qmgr[14]: 7E5F6A8B9C: from=<carl@example.com>, size=1100, nrcpt=1 (queue active)
Dec  1 10:04:02 mail postfix/smtp[16]: 7E5F6A8B9C: to=<eve@elsewhere.example>, orig_to=<eve@example.org>, relay=mx.elsewhere.example[203.0.113.9]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host mx.elsewhere.example[203.0.113.9] said: 550 5.1.1 <eve@elsewhere.example>: no such user (in reply to RCPT TO command))
Dec  1 10:05:00 mail postfix/smtpd[11]: 8F6A7B9C0D: client=peer.example.com[198.51.100.4]
Dec  1 10:05:00 mail postfix/qmgr[14]: 8F6A7B9C0D: from=<carl@example.com>, size=900, nrcpt=1 (queue active)
Dec  1 10:05:01 mail postfix/smtp[16]: 8F6A7B9C0D: to=<fay@far.example>, relay=mx.far.example[203.0.113.10]:25, delay=0.3, delays=0.02/0/0.11/0.17, dsn=5.7.0, status=bounced (host mx.far.example[203.0.113.10] said: 550-5.7.0 Message considered as spam or virus, rejected. Sie erhalten diese Nachricht, da Ihre E-Mail als Spam eingestuft wurde. Wir bedauer
Dec  1 10:05:01 mail postfix/bounce[17]: 8F6A7B9C0D: sender non-delivery notification: 9A7B8C0D1E
Dec  1 10:05:01 mail postfix/qmgr[14]: 8F6A7B9C0D: removed
Dec  1 10:06:00 mail postfix/smtpd[11]: 0A7B8C9D0E: client=peer.example.com[198.51.100.4]
Dec  1 10:06:00 mail postfix/qmgr[14]: 0A7B8C9D0E: from=<carl@example.com>, size=900, nrcpt=2 (queue active)
Dec  1 10:06:02 mail postfix/smtp[16]: 0A7B8C9D0E: to=<gil@example.org>, relay=127.0.0.1[127.0.0.1]:10024, delay=2, delays=0.1/0/0.1/1.8, dsn=2.7.0, status=sent (250 2.7.0 Ok, discarded, id=04512-02 - INFECTED: Eicar-Signature)
Dec  1 10:06:02 mail postfix/smtp[16]: 0A7B8C9D0E: to=<hal@example.org>, relay=127.0.0.1[127.0.0.1]:10024, delay=2, delays=0.1/0/0.1/1.8, dsn=2.7.0, status=sent (250 2.7.0 Ok, discarded, id=04512-02 - INFECTED: Eicar-Signature)
Dec  1 10:06:02 mail postfix/qmgr[14]: 0A7B8C9D0E: removed
Dec  1 10:07:00 mail postfix/smtpd[11]: 1B8C9D0E1F: client=peer.example.com[198.51.100.4]
Dec  1 10:07:00 mail postfix/qmgr[14]: 1B8C9D0E1F: from=<carl@example.com>, size=900, nrcpt=1 (queue active)
Dec  1 10:07:02 mail postfix/smtp[16]: 1B8C9D0E1F: to=<ivy@example.org>, relay=127.0.0.1[127.0.0.1]:10024, delay=4, delays=1.9/0/0/2.1, dsn=2.7.0, status=sent (250 2.7.0 Ok, discarded, id=19653-19 - spam)
Dec  1 10:07:02 mail postfix/qmgr[14]: 1B8C9D0E1F: removed
Dec  1 10:08:00 mail postfix/smtpd[11]: 2C9D0E1F2A: client=peer.example.com[198.51.100.4]
Dec  1 10:08:00 mail postfix/qmgr[14]: 2C9D0E1F2A: from=<carl@example.com>, size=900, nrcpt=1 (queue active)
Dec  1 10:08:01 mail postfix/smtp[16]: 2C9D0E1F2A: to=<jan@example.org>, relay=127.0.0.1[127.0.0.1]:10023, delay=0.5, delays=0.1/0/0/0.4, dsn=2.7.0, status=sent (250 2.7.0 BLOCKED (3802E45DFA503808B06))
Dec  1 10:08:01 mail postfix/qmgr[14]: 2C9D0E1F2A: removed
Dec  1 10:09:01 mail postfix/smtp[16]: 3D0E1F2A3B: to=<kim@far.example>, relay=mx.far.example[203.0.113.10]:25, delay=0.3, delays=0/0/0.1/0.2, dsn=5.1.1, status=bounced (host mx.far.example[203.0.113.10] said: 550 5.1.1 no such user (in reply to RCPT TO command))
Dec  1 10:09:01 mail postfix/bounce[17]: 3D0E1F2A3B: sender non-delivery notification: 4E1F2A3B4C
Dec  1 10:10:00 mail postfix/qmgr[14]: 5F2A3B4C5D: from=<carl@example.com>, size=900, nrcpt=2 (queue active)
Dec  1 10:10:01 mail postfix/smtp[16]: 5F2A3B4C5D: to=<lou@example.org>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.3, delays=0.1/0/0/0.2, dsn=2.5.0, status=sent (250 2.5.0 Ok, id=18438-02, BOUNCE)
Dec  1 10:10:01 mail postfix/smtp[16]: 5F2A3B4C5D: to=<max@example.org>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.3, delays=0.1/0/0/0.2, dsn=2.5.0, status=sent (250 2.5.0 Ok, id=03164-18, DISCARD(bounce.suppressed))
Dec  1 10:10:01 mail postfix/qmgr[14]: 5F2A3B4C5D: removed
"""  # noqa: E501


def test_what_other_set_ups_write_reads_as_its_verdicts():
    verdicts = verdicts_of(OTHER_SET_UPS)
    by_id = {verdict.queue_id: verdict for verdict in verdicts if verdict.queue_id}
    connect, mail = [x for x in verdicts if not x.hops]
    assert (connect.kind, connect.client, connect.reason) == (
        v.REFUSED,
        "bad.example.net[192.0.2.7]",
        "451 4.7.1 Service unavailable - try again later",
    )
    assert (mail.kind, mail.reason) == (v.REFUSED, "553 5.1.7 address incomplete")
    local = by_id["3A1B2C4D5E"]  # body_checks, on mail a local user sent: `from local; from=<s>`
    assert (local.kind, local.sender, local.reason, local.cause) == (
        v.REFUSED,
        "root@mx.example.org",
        "5.7.1 Spam: pills",
        "spam",
    )
    soft = by_id["4B2C3D5E6F"]  # soft_bounce = yes: `status=SOFTBOUNCE`, the mail stays deferred
    assert (soft.kind, soft.dsn, soft.cause, soft.attempts) == (v.DEFERRED, "4.1.1", "unknown_recipient", 1)
    held = by_id["5C3D4E6F7A"]  # milter-hold
    assert (held.kind, held.sender, held.recipient, held.reason) == (
        v.HELD,
        "carl@example.com",
        "dan@example.org",
        "milter triggers HOLD action",
    )
    forwarded = [x for x in verdicts if x.hops and x.hops[0].queue_id == "6D4E5F7A8B"]
    assert [(x.kind, [h.queue_id for h in x.hops], x.orig_recipient) for x in forwarded] == [
        (v.BOUNCED, ["6D4E5F7A8B", "7E5F6A8B9C"], "eve@example.org")  # local(8) sent it on: one story
    ]
    cut = by_id["8F6A7B9C0D"]
    assert (cut.kind, cut.dsn, cut.notice_queue_id) == (v.BOUNCED, "5.7.0", "9A7B8C0D1E")
    assert cut.reason is not None and cut.reason.endswith("Wir bedauer")
    dropped = [x for x in verdicts if x.queue_id in ("0A7B8C9D0E", "1B8C9D0E1F", "2C9D0E1F2A")]
    assert [(x.kind, x.recipient, x.cause) for x in dropped] == [
        (v.REFUSED, "gil@example.org", "spam"),
        (v.REFUSED, "hal@example.org", "spam"),
        (v.REFUSED, "ivy@example.org", "spam"),
        (v.REFUSED, "jan@example.org", None),  # Proxmox Mail Gateway's filter: `250 2.7.0 BLOCKED (...)`
    ]
    assert dropped[0].reason == "250 2.7.0 Ok, discarded, id=04512-02 - INFECTED: Eicar-Signature"
    older = by_id["3D0E1F2A3B"]  # its sender's lines are older than the logs read: to whom its notice went is not known
    assert (older.kind, older.sender, older.notice_queue_id, older.notice_to) == (v.BOUNCED, None, "4E1F2A3B4C", None)
    assert verdict_text.detail(older) == "unknown recipient (550 5.1.1 no such user); notice 4E1F2A3B4C"
    returned, suppressed = [x for x in verdicts if x.queue_id == "5F2A3B4C5D"]  # amavis, at its end of DATA
    assert (returned.kind, returned.recipient, returned.reason) == (
        v.BOUNCED,
        "lou@example.org",
        "250 2.5.0 Ok, id=18438-02, BOUNCE",  # amavis returned it to its sender itself
    )
    assert (suppressed.kind, suppressed.recipient) == (v.REFUSED, "max@example.org")  # dropped, no one told
    assert not [x for x in verdicts if x.kind in (v.UNKNOWN, v.DELIVERED)]
    assert verdict_text.detail(dropped[2]).startswith("taken for spam or a virus (250 2.7.0 Ok, discarded")


# A header check's HOLD, an access map's at RCPT, a HOLD of mail submitted on the host (Postfix's
# `hold:` lines; the lab's own header check is tests/verbs/test_trace_lab.py's).
HELD_BY_RULES = """\
Dec  1 11:00:00 mail postfix/smtpd[21]: 2B3C4D5E6F: client=peer.example.com[198.51.100.4]
Dec  1 11:00:00 mail postfix/cleanup[22]: 2B3C4D5E6F: message-id=<h1@example.com>
Dec  1 11:00:00 mail postfix/cleanup[22]: 2B3C4D5E6F: hold: header Subject: [quarantaine] Facture from peer.example.com[198.51.100.4]; from=<factures@prestataire.example> to=<compta@lab.test> proto=ESMTP helo=<peer.example.com>: quarantaine: facture a verifier
Dec  1 11:01:00 mail postfix/smtpd[21]: 3C4D5E6F7A: client=peer.example.com[198.51.100.4]
Dec  1 11:01:00 mail postfix/smtpd[21]: 3C4D5E6F7A: hold: RCPT from peer.example.com[198.51.100.4]: <rh@lab.test>: Recipient address triggers HOLD action; from=<carl@example.com> to=<rh@lab.test> proto=ESMTP helo=<peer.example.com>
Dec  1 11:01:00 mail postfix/cleanup[22]: 3C4D5E6F7A: message-id=<h2@example.com>
Dec  1 11:02:00 mail postfix/pickup[23]: 4D5E6F7A8B: uid=0 from=<root>
Dec  1 11:02:00 mail postfix/cleanup[22]: 4D5E6F7A8B: hold: header Subject: Hold Test from local; from=<root@lab.test>
"""  # noqa: E501


def test_a_mail_a_rule_holds_is_told_with_its_sender_recipient_and_rule():
    """qmgr never logs it: the hold line gives the sender, the recipient and why; the queue, when
    read, gives every recipient."""
    flow = flow_of(HELD_BY_RULES)
    header, access, local = flow.messages
    assert local.sender == "root" and not local.involves("root@lab.test")  # pickup named the sender first
    assert header.involves("compta@lab.test") and access.involves("RH@lab.test")  # a trace of either finds it
    verdicts = v.read_verdicts(flow.messages)
    assert [(x.kind, x.sender, x.recipient, x.reason) for x in verdicts] == [
        (v.HELD, "factures@prestataire.example", "compta@lab.test", "quarantaine: facture a verifier"),
        (v.HELD, "carl@example.com", "rh@lab.test", "<rh@lab.test>: Recipient address triggers HOLD action"),
        (v.HELD, "root", None, "header Subject: Hold Test"),
    ]
    assert verdict_text.detail(verdicts[0]) == (
        "on hold: not delivered until an admin releases it (postsuper -H), quarantaine: facture a verifier"
    )
    entry = QueueEntry(
        "2B3C4D5E6F",
        "hold",
        datetime(2026, 12, 1, 11, 0),
        3000,
        "factures@prestataire.example",
        (QueuedRecipient("compta@lab.test", None), QueuedRecipient("rh@lab.test", None)),
    )
    queued = v.read_verdicts(flow.messages[:1], queue={"lab": [entry]})
    assert [(x.kind, x.recipient, x.reason, x.in_queue) for x in queued] == [
        (v.HELD, "compta@lab.test", "quarantaine: facture a verifier", True),
        (v.HELD, "rh@lab.test", "quarantaine: facture a verifier", True),
    ]


# A transport map's `discard:` (Postfix's discard(8) agent: `status=sent`, `relay=none`, the map's
# text as the reply), for one of two recipients; the other delivered.
DISCARD_TRANSPORT = """\
Dec  1 10:00:00 mx postfix/pickup[1]: 1A2B3C4D5E: uid=0 from=<root>
Dec  1 10:00:00 mx postfix/cleanup[2]: 1A2B3C4D5E: message-id=<1@mx.lab.test>
Dec  1 10:00:00 mx postfix/qmgr[3]: 1A2B3C4D5E: from=<root@mx.lab.test>, size=300, nrcpt=2 (queue active)
Dec  1 10:00:00 mx postfix/discard[4]: 1A2B3C4D5E: to=<nobody@noreply.lab.test>, relay=none, delay=0.02, delays=0.01/0/0/0, dsn=2.0.0, status=sent (noreply.lab.test)
Dec  1 10:00:00 mx postfix/lmtp[5]: 1A2B3C4D5E: to=<john@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, delay=0.02, delays=0.01/0/0/0.01, dsn=2.1.5, status=sent (250 2.1.5 Success SESSIONID=<cyrus-1>)
Dec  1 10:00:00 mx postfix/qmgr[3]: 1A2B3C4D5E: removed
"""  # noqa: E501


def test_a_transport_map_s_discard_is_a_drop_not_a_delivery():
    verdicts = verdicts_of(DISCARD_TRANSPORT)
    assert [(x.kind, x.recipient, x.reason) for x in verdicts] == [
        (v.REFUSED, "nobody@noreply.lab.test", "discard: noreply.lab.test"),
        (v.DELIVERED, "john@lab.test", None),
    ]
    assert verdict_text.detail(verdicts[0]) == "discard: noreply.lab.test; client local (uid 0)"


def test_a_mail_mailscanner_scanned_is_one_story_not_a_held_one():
    """Held by the header check for MailScanner, then written back as another queue file: one
    delivered verdict with every hop, not a held mail; a copy outside the logs read is said so."""
    flow = flow_of(MAILSCANNER)
    held = {m.queue_id: m for m in flow.messages}["31A0F261C9D"]
    assert held.requeue is not None and held.requeue.next_queue_id == "CD2FE261CA1" and held.removed
    verdicts = v.read_verdicts(flow.messages)
    assert [(x.kind, x.recipient, [hop.queue_id for hop in x.hops]) for x in verdicts] == [
        (v.DELIVERED, "ana@lab.test", ["31A0F261C9D", "CD2FE261CA1", "537BB261C9D", "1F0A0261CA4"]),
        (v.UNKNOWN, "bo@lab.test", ["4B1C2261C9E"]),
    ]
    delivered, elsewhere = verdicts
    assert (delivered.sender, delivered.message_id, delivered.folder, delivered.imap_uid) == (
        "lea@partner.example",
        "8841.lea@partner.example",
        "INBOX",
        42,
    )
    assert (delivered.in_queue, delivered.client) == (False, "out.partner.example[192.0.2.7]")
    assert verdict_text.detail(delivered) == (
        "in INBOX, UID 42 (lab 31A0F261C9D → lab CD2FE261CA1 → lab 537BB261C9D → lab 1F0A0261CA4)"
    )
    assert verdict_text.detail(elsewhere) == (
        "scanned and queued again as 5D6E7261CA9, whose lines are not in the logs read"
    )
    with i18n.use_language("fr"):
        assert verdict_text.detail(elsewhere) == (
            "analysé et remis en file sous 5D6E7261CA9, dont les lignes ne sont pas dans les journaux lus"
        )
    assert records.origins(list(flow.messages))["CD2FE261CA1"] == "31A0F261C9D"


def test_a_filter_s_re_injection_and_its_quarantine_are_told():
    """Proxmox answers `250 2.5.0 OK (its session)` whatever it did. The re-injection's
    `orig_queue_id=`, or the session's `accept mail to <r> (QUEUEID)`, makes the two hops one story,
    for that recipient only; its `moved mail for <r> to spam quarantine` is a refusal, not a
    delivery; a recipient the session says nothing of stays delivered to the filter."""
    for text in (PROXMOX, PROXMOX.replace(", orig_queue_id=4B1C2261C9E", "")):
        flow = flow_of(text)
        first = {m.queue_id: m for m in flow.messages}["4B1C2261C9E"]
        assert [(d.recipient, d.next_queue_id) for d in first.deliveries] == [
            ("ana@lab.test", "7C2F1261CA0"),
            ("bo@lab.test", None),
            ("cy@lab.test", None),
        ]
        quarantine = first.deliveries[1]  # the server's reply as it was; the filter's words beside it
        assert quarantine.response == "250 2.5.0 OK (5E8A05F4D1A3E1D0A3)"
        assert (quarantine.filtered or "").startswith("moved mail for <bo@lab.test> to spam quarantine - ")
        verdicts = [x for x in v.read_verdicts(flow.messages) if x.recipient]
        assert [(x.kind, x.recipient, [hop.queue_id for hop in x.hops], x.next_queue_id) for x in verdicts] == [
            (v.REFUSED, "bo@lab.test", ["4B1C2261C9E"], None),
            (v.DELIVERED, "cy@lab.test", ["4B1C2261C9E"], None),
            (v.DELIVERED, "ana@lab.test", ["4B1C2261C9E", "7C2F1261CA0"], "9A8B7C6D5E"),
        ]
        quarantined, _cy, delivered = verdicts
        assert verdict_text.detail(delivered) == (
            "handed to bluemind.lab.test:25, queued there as 9A8B7C6D5E (lab 4B1C2261C9E → lab 7C2F1261CA0)"
        )
        assert delivered.client == "mail.partner.example[198.51.100.4]"
        assert verdict_text.detail(quarantined).startswith(
            "taken for spam or a virus (250 2.5.0 OK (5E8A05F4D1A3E1D0A3): moved mail for <bo@lab.test> to spam "
            "quarantine - 8D3E4F5A6B"
        )
        assert records.origins(list(flow.messages))["7C2F1261CA0"] == "4B1C2261C9E"


# An empty `orig_to=<>` (the parser keeps it as ""): no original recipient, on every path.
NO_ORIGINAL_RECIPIENT = """\
Dec  5 10:00:00 mx postfix/cleanup[101]: 1A2B3C4D5E: message-id=<abc@x.example>
Dec  5 10:00:00 mx postfix/qmgr[102]: 1A2B3C4D5E: from=<a@x.example>, size=1234, nrcpt=1 (queue active)
Dec  5 10:00:01 mx postfix/local[103]: 1A2B3C4D5E: to=<b@mx.example>, orig_to=<>, relay=local, delay=1.1, \
delays=0.1/0/0.5/0.5, dsn=2.0.0, status=sent (delivered to mailbox)
Dec  5 10:00:01 mx postfix/qmgr[102]: 1A2B3C4D5E: removed
"""


def test_the_shortcuts_for_the_usual_mail_tell_what_walk_tells(tmp_path):
    """`read_verdicts` makes most verdicts without `walk` (bench/run.py): the same ones, in the same order."""
    from bench import gen_logs

    manifest = gen_logs.ensure(gen_logs.parse_size("2M"), folder=tmp_path, quiet=True)
    generated = "".join(
        (gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()).decode("latin-1")
        for path in reversed(manifest.paths)
    )
    for flow in (
        flow_of(LAB_LOG),
        flow_of(TOGETHER),
        flow_of(OTHER_SET_UPS),
        flow_of(HELD_BY_RULES),
        flow_of(NO_ORIGINAL_RECIPIENT),
        flow_of(gzip.decompress(PIXELPARK.read_bytes()).decode("utf-8", "replace"), "helga", datetime(2023, 3, 17)),
        flow_of(generated, reference=datetime.fromtimestamp(manifest.end)),
    ):
        made = v.read_verdicts(flow.messages, flow.rejections)
        stamp = render.stamp_texts()
        assert [x.record() for x in made] == walked(flow.messages, flow.rejections)
        # what a reader sees of the light verdicts, field by field, is their record's
        for x in made:
            record = x.record()
            assert [getattr(x, name) for name in v.Verdict._fields] == list(record)
            assert x.json_text(stamp) == record.json_text(stamp) == render.encode(record.to_json())
            assert (x.host, x.queue_id, x.problem, x.names(x.recipient or "")) == (
                record.host,
                record.queue_id,
                record.problem,
                record.names(x.recipient or ""),
            )
    # the generated logs have both kinds of light verdict, and mail that needs `walk`
    assert {type(x) for x in made} == {v.Verdict, v.DeliveredVerdict, v.HandedOnVerdict}
    verdicts = v.read_verdicts(flow_of(TOGETHER).messages)
    assert [(x.recipient, len(x.hops), x.imap_uid) for x in verdicts] == [
        ("john@lab.test", 2, 13),
        ("mary@lab.test", 2, 12),
        ("JOHN@lab.test", 1, None),  # its two tries, as `walk` groups them: the last one named
        ("mary@lab.test", 1, None),
        ("mary@lab.test", 1, None),  # carol's
    ]
    assert verdicts[-1].sender == "carol@partner.example"


# A mail to ceo@lab.test that the lab's header check REDIRECTs to compta@lab.test (captured on the
# lab, lab/traffic.sh): the delivery line's `to=` is the new address, its `orig_to=` the one given.
REDIRECTED = """\
Dec 06 07:23:15 mail postfix/smtpd[16356]: 28E29160212: client=localhost[127.0.0.1]
Dec 06 07:23:15 mail postfix/cleanup[16359]: 28E29160212: redirect: header Subject: [pour la compta] note from localhost[127.0.0.1]; from=<alice@partner.example> to=<ceo@lab.test> proto=ESMTP helo=<mx.partner.example>: compta@lab.test
Dec 06 07:23:15 mail postfix/cleanup[16359]: 28E29160212: message-id=<redir-test-1@partner.example>
Dec 06 07:23:15 mail postfix/qmgr[16342]: 28E29160212: from=<alice@partner.example>, size=403, nrcpt=1 (queue active)
Dec 06 07:23:15 mail postfix/lmtp[16360]: 28E29160212: to=<compta@lab.test>, orig_to=<ceo@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, delay=0.03, delays=0.01/0.01/0.02/0, dsn=2.1.5, status=sent (250 2.1.5 Success SESSIONID=<cyrus-1796541795-16362-2-1350749595208091069>)
Dec 06 07:23:15 mail postfix/qmgr[16342]: 28E29160212: removed
"""  # noqa: E501
RULE = "header Subject: [pour la compta] note"


def test_a_rule_s_redirect_is_told_with_the_verdict_of_where_the_mail_went():
    (verdict,) = verdicts_of(REDIRECTED)
    assert (verdict.kind, verdict.recipient, verdict.orig_recipient, verdict.redirect_rule) == (
        v.DELIVERED,
        "compta@lab.test",
        "ceo@lab.test",
        RULE,
    )
    assert verdict.names("ceo@lab.test") and verdict.names("compta@lab.test")
    assert verdict_text.detail(verdict) == f"to 127.0.0.1:2400; redirected from ceo@lab.test by a rule: {RULE}"
    with i18n.use_language("fr"):
        assert verdict_text.detail(verdict) == (
            f"vers 127.0.0.1:2400 ; redirigé depuis ceo@lab.test par une règle : {RULE}"
        )
    assert verdict.to_json()["redirect_rule"] == RULE


def test_a_redirect_at_the_first_hop_is_told_at_the_last():
    """The edge redirects, hands the mail on (`queued as`), the backend delivers it at once."""
    handed = REDIRECTED.replace(
        "relay=127.0.0.1[127.0.0.1]:2400, delay=0.03, delays=0.01/0.01/0.02/0, dsn=2.1.5, status=sent "
        "(250 2.1.5 Success SESSIONID=<cyrus-1796541795-16362-2-1350749595208091069>)",
        "relay=127.0.0.1[127.0.0.1]:2525, delay=0.03, delays=0.01/0.01/0.02/0, dsn=2.0.0, status=sent "
        "(250 2.0.0 Ok: queued as 3D4E5F60718)",
    )
    backend = (
        "Dec 06 07:23:16 mail postfix/smtpd[16370]: 3D4E5F60718: client=localhost[127.0.0.1]\n"
        "Dec 06 07:23:16 mail postfix/qmgr[16342]: 3D4E5F60718: from=<alice@partner.example>, size=603, nrcpt=1 "
        "(queue active)\n"
        "Dec 06 07:23:16 mail postfix/lmtp[16371]: 3D4E5F60718: to=<compta@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, "
        "delay=0.02, delays=0.01/0/0.01/0, dsn=2.1.5, status=sent (250 2.1.5 Ok SESSIONID=<x> "
        "[lab.test!user.compta () 7])\n"
        "Dec 06 07:23:16 mail postfix/qmgr[16342]: 3D4E5F60718: removed\n"
    )
    (verdict,) = verdicts_of(handed + backend)
    assert [hop.queue_id for hop in verdict.hops] == ["28E29160212", "3D4E5F60718"]
    assert (verdict.recipient, verdict.orig_recipient, verdict.imap_uid, verdict.redirect_rule) == (
        "compta@lab.test",
        "ceo@lab.test",
        7,
        RULE,
    )


def test_a_redirected_mail_not_delivered_yet_is_a_message_of_the_address_given():
    """Before any delivery line (still in the queue), only the redirect line names ceo@lab.test."""
    waiting = "\n".join(line for line in REDIRECTED.splitlines() if "lmtp" not in line and "removed" not in line)
    (message,) = flow_of(waiting).messages
    assert message.involves("CEO@lab.test") and message.redirect == mail_flow.Redirect(
        "ceo@lab.test", "compta@lab.test", RULE
    )


# local(8) on the lab (mydestination = localhost), as it logged mail to root, to an alias that
# pipes to a command, to one that appends to a file and to one that forwards to john@lab.test
LOCAL_DELIVERIES = """\
Dec 06 16:00:42 mail postfix/pickup[10132]: 22D771606B8: uid=0 from=<alice@lab.test>
Dec 06 16:00:42 mail postfix/cleanup[10278]: 22D771606B8: message-id=<20261206160042.22D771606B8@mail.lab.test>
Dec 06 16:00:42 mail postfix/qmgr[10133]: 22D771606B8: from=<alice@lab.test>, size=269, nrcpt=1 (queue active)
Dec 06 16:00:42 mail postfix/pickup[10132]: 251D21606C1: uid=0 from=<alice@lab.test>
Dec 06 16:00:42 mail postfix/cleanup[10278]: 251D21606C1: message-id=<20261206160042.251D21606C1@mail.lab.test>
Dec 06 16:00:42 mail postfix/qmgr[10133]: 251D21606C1: from=<alice@lab.test>, size=272, nrcpt=1 (queue active)
Dec 06 16:00:42 mail postfix/local[12189]: 22D771606B8: to=<root@localhost>, relay=local, delay=0.02, delays=0/0.02/0/0, dsn=2.0.0, status=sent (delivered to mailbox)
Dec 06 16:00:42 mail postfix/qmgr[10133]: 22D771606B8: removed
Dec 06 16:00:42 mail postfix/pickup[10132]: 279101606C2: uid=0 from=<alice@lab.test>
Dec 06 16:00:42 mail postfix/cleanup[10278]: 279101606C2: message-id=<20261206160042.279101606C2@mail.lab.test>
Dec 06 16:00:42 mail postfix/qmgr[10133]: 279101606C2: from=<alice@lab.test>, size=273, nrcpt=1 (queue active)
Dec 06 16:00:42 mail postfix/local[12189]: 251D21606C1: to=<lab-cmd@localhost>, relay=local, delay=0.02, delays=0/0.01/0/0, dsn=2.0.0, status=sent (delivered to command: /bin/cat >/dev/null)
Dec 06 16:00:42 mail postfix/local[12193]: 279101606C2: to=<lab-file@localhost>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to file: /tmp/mb/lab-archive)
Dec 06 16:00:42 mail postfix/qmgr[10133]: 251D21606C1: removed
Dec 06 16:00:42 mail postfix/qmgr[10133]: 279101606C2: removed
Dec 06 16:00:42 mail postfix/pickup[10132]: 29E961606BE: uid=0 from=<alice@lab.test>
Dec 06 16:00:42 mail postfix/cleanup[10278]: 29E961606BE: message-id=<20261206160042.29E961606BE@mail.lab.test>
Dec 06 16:00:42 mail postfix/qmgr[10133]: 29E961606BE: from=<alice@lab.test>, size=272, nrcpt=1 (queue active)
Dec 06 16:00:42 mail postfix/cleanup[10278]: 2A2AA1606B8: message-id=<20261206160042.29E961606BE@mail.lab.test>
Dec 06 16:00:42 mail postfix/qmgr[10133]: 2A2AA1606B8: from=<alice@lab.test>, size=399, nrcpt=1 (queue active)
Dec 06 16:00:42 mail postfix/local[12193]: 29E961606BE: to=<lab-fwd@localhost>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (forwarded as 2A2AA1606B8)
Dec 06 16:00:42 mail postfix/qmgr[10133]: 29E961606BE: removed
Dec 06 16:00:42 mail postfix/lmtp[10279]: 2A2AA1606B8: to=<john@lab.test>, orig_to=<lab-fwd@localhost>, relay=127.0.0.1[127.0.0.1]:2400, delay=0, delays=0/0/0/0, dsn=2.1.5, status=sent (250 2.1.5 Success SESSIONID=<cyrus-1796572842-9429-1-11457720767522687142>)
Dec 06 16:00:42 mail postfix/qmgr[10133]: 2A2AA1606B8: removed
"""  # noqa: E501


def test_a_local_delivery_says_where_local_put_the_mail():
    found = {verdict.recipient: verdict for verdict in verdicts_of(LOCAL_DELIVERIES)}
    assert {recipient: verdict_text.detail(verdict) for recipient, verdict in found.items()} == {
        "root@localhost": "to local (delivered to mailbox)",
        "lab-cmd@localhost": "to local (delivered to command: /bin/cat >/dev/null)",
        "lab-file@localhost": "to local (delivered to file: /tmp/mb/lab-archive)",
        # the alias's forward is one story with the copy it queued
        "john@lab.test": "to 127.0.0.1:2400 (lab 29E961606BE → lab 2A2AA1606B8)",
    }
    assert {verdict.kind for verdict in found.values()} == {v.DELIVERED}
    assert found["lab-cmd@localhost"].to_json()["reason"] == "delivered to command: /bin/cat >/dev/null"
    assert found["john@lab.test"].orig_recipient == "lab-fwd@localhost"
    assert found["john@lab.test"].reason is None  # an LMTP server's answer: its relay and folder say it


def test_a_forward_whose_copy_is_not_in_the_logs_read_names_its_new_queue_id():
    alone = "\n".join(line for line in LOCAL_DELIVERIES.splitlines() if "2A2AA1606B8: " not in line)
    (verdict,) = [verdict for verdict in verdicts_of(alone) if verdict.recipient == "lab-fwd@localhost"]
    assert verdict_text.detail(verdict) == "forwarded by local as 2A2AA1606B8"
    with i18n.use_language("fr"):
        assert verdict_text.detail(verdict) == "réexpédié par local sous 2A2AA1606B8"


# A provider's throttle: Postfix's smtp(8) line around Yahoo's documented answer (made-up mail)
THROTTLED = """\
Dec 05 12:01:00 mail postfix/qmgr[10133]: 4C2B3C4D5E: from=<news@lab.test>, size=2300, nrcpt=1 (queue active)
Dec 05 12:01:02 mail postfix/smtp[10280]: 4C2B3C4D5E: to=<lou@yahoo.example>, relay=mta7.am0.yahoodns.example[203.0.113.77]:25, delay=2, delays=0.1/0/1/0.9, dsn=4.7.0, status=deferred (host mta7.am0.yahoodns.example[203.0.113.77] said: 421 4.7.0 [TSS04] Messages from 198.51.100.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command))
"""  # noqa: E501


def test_a_provider_s_throttle_is_a_wait_said_in_plain_words():
    (verdict,) = verdicts_of(THROTTLED)
    assert (verdict.kind, verdict.cause) == (v.DEFERRED, "rate_limited")
    assert verdict_text.detail(verdict) == (
        "×1 since 12-05 12:01, the receiving server is slowing down mail from this server (volume or reputation)"
    )
    with i18n.use_language("fr"):
        assert verdict_text.detail(verdict).endswith(
            "le serveur destinataire ralentit le courrier venant de ce serveur (volume ou réputation)"
        )
