"""`/mail deleted|history|search|restore` in Slack (the local fake), on the lab, as on the CLI.

The restore goes through the approval flow: the card shows the mails that will come back and the
exact command; an approver (not the requester) approves; the result in the card's thread gives
each mail's new UID, and IMAP shows the mail back under that UID.
"""

from __future__ import annotations

import re
import time

from tests.fakeslack import FakeSlack
from tests.fakeslack.server import Call
from tests.slack.test_approvals import card_of, click, ran_records
from tests.slack.test_serve import answer_text
from tests.verbs.test_deleted_lab import TRASHED, imap, listed, scratch, unexpunge_l

REQUESTER, APPROVER = "U123", "U456"
APPROVALS = {"approvals": {"approvers": [APPROVER], "expiry_minutes": 15}}


def ask(fake: FakeSlack, url: str, text: str, user: str = REQUESTER) -> Call:
    """A read verb: the ack comes at once, the answer replaces it through the response URL."""
    before = len(fake.calls())
    reply = fake.send_slash_command(url, text=text, user_id=user, channel_id="C123")
    assert reply.status == 200 and reply.elapsed < 3
    return fake.wait_for("response_url", lambda c: "Still working" not in str(c.args), timeout=30, after=before)


def test_deleted_in_slack_matches_unexpunge(fake_slack, start_bot):
    bot = start_bot(fake_slack)
    text = answer_text(fake_slack, ask(fake_slack, bot.url, "deleted <mailto:jdoe@lab.test|jdoe@lab.test>"))
    assert "deleted mails can be restored in user/john@lab.test (jdoe@lab.test via bm-cli), INBOX, on lab" in text
    truth = unexpunge_l("user/john@lab.test")
    rows = {int(u) for u in re.findall(r"^UID (\d+) · ", text, re.M)}
    left_out = re.search(
        r"… (\d+) more deleted mails?: \*Restore…\* lists every one; the whole table is in the file", text
    )
    if left_out is None:  # every mail a row
        assert rows == set(truth)
    else:  # other tests of the run deleted more of john's mail: 40 rows, the whole table in the file
        assert rows < set(truth) and len(rows) + int(left_out[1]) == len(truth)
        table = {int(u) for u in re.findall(r"^ *(\d+)  ", text, re.M)}
        assert set(truth) <= table
    assert "was moved, not deleted" in text


def test_history_and_search_in_slack(fake_slack, start_bot):
    bot = start_bot(fake_slack)
    # BlueMind's search reads live mail: john moved Apollon to the mailshare, which holds it now
    found = answer_text(fake_slack, ask(fake_slack, bot.url, "search projet@lab.test Apollon"))
    assert re.search(r"mails? of projet@lab\.test on lab match(es)? “Apollon”", found), found
    assert "received, still unread in projet" in found
    uid = re.findall(r"Mail \d+ \(UID (\d+) in INBOX\): read, then moved to Trash", answer_text(
        fake_slack, ask(fake_slack, bot.url, "search john@lab.test facture impayee")
    ))[-1]  # fmt: skip
    story = answer_text(fake_slack, ask(fake_slack, bot.url, f"history john@lab.test {uid}"))
    assert f"UID {uid} in INBOX of user/john@lab.test on lab: " in story
    assert TRASHED.search(story)


def test_a_clear_answer_for_what_does_not_exist(fake_slack, start_bot):
    bot = start_bot(fake_slack, extra=APPROVALS)
    missing = answer_text(fake_slack, ask(fake_slack, bot.url, "deleted nobody@lab.test"))
    assert ":warning: nobody@lab.test does not resolve to a mailbox" in missing
    refused = ask(fake_slack, bot.url, "restore john@lab.test 999999")
    assert "UID 999999 is not among the deleted mails of user/john@lab.test" in answer_text(fake_slack, refused)
    assert fake_slack.calls("chat.postMessage") == []  # no card for a restore that cannot run
    bad = fake_slack.send_slash_command(bot.url, text="restore john@lab.test 1;id", user_id=REQUESTER)
    assert "is not a number `deleted` shows" in str(bad.body)


def test_restore_through_the_approval_flow(fake_slack, start_bot, tmp_path):
    subject = f"Slack restore {time.strftime('%H%M%S')}"
    (uid,) = scratch("compta@lab.test", subject)
    imap("expunge", "compta@lab.test", str(uid))
    assert uid in unexpunge_l("user/compta@lab.test")
    bot = start_bot(fake_slack, extra=APPROVALS)
    reply = fake_slack.send_slash_command(
        bot.url, text=f"restore compta@lab.test {uid} --reason INC-7", user_id=REQUESTER, channel_id="C123"
    )
    assert reply.status == 200 and reply.elapsed < 3
    card = fake_slack.wait_for("chat.postMessage", lambda c: "asks to restore" in str(c.args), timeout=30)
    text = answer_text(fake_slack, card)
    assert "restore 1 deleted mail of user/compta@lab.test (INBOX) on lab" in text
    assert f"sudo -n -u cyrus /usr/lib/cyrus/bin/unexpunge -u -d -v user/compta@lab.test {uid}" in text
    assert subject in text and "Reason: INC-7" in text  # the preview: the mail that will come back
    assert uid in unexpunge_l("user/compta@lab.test")  # nothing ran yet

    click(fake_slack, bot.url, card, "mail_approve", REQUESTER)
    fake_slack.wait_for("response_url", lambda c: "cannot approve your own request" in str(c.args))
    click(fake_slack, bot.url, card, "mail_approve", APPROVER)
    fake_slack.wait_for("chat.update", lambda c: "Ran in" in str(c.args), timeout=30)
    final = "\n".join(b.get("text", {}).get("text", "") for b in card_of(fake_slack, card)["blocks"])
    assert f"Approved by <@{APPROVER}>" in final and "exit 0" in final
    result = fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == card.response["ts"])
    answer = answer_text(fake_slack, result)
    (new,) = re.findall(rf"^{uid}\s+(\d+)\s+INBOX\s+yes\s+", answer, re.M)
    assert listed("compta@lab.test")[int(new)] == subject  # back over IMAP, under the new UID
    assert uid not in unexpunge_l("user/compta@lab.test")
    (ran,) = ran_records(tmp_path)
    assert ran["user"] == APPROVER and ran["verb"] == "restore" and ran["exit_status"] == 0
