"""Approvals end to end: the bot in HTTP mode, the fake Slack, `flush` on the lab as the change."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from tests.conftest import run_mailbot
from tests.fakeslack import FakeSlack
from tests.fakeslack.payloads import send_interactivity
from tests.fakeslack.server import Call
from tests.slack.test_serve import answer_text

REQUESTER, APPROVER, OUTSIDER = "U123", "U456", "U789"
APPROVALS = {"approvals": {"approvers": [APPROVER], "expiry_minutes": 15}, "policies": {"flush": "approve"}}


def ask_flush(fake: FakeSlack, url: str, text: str = "flush --reason INC-42") -> Call:
    reply = fake.send_slash_command(url, text=text, user_id=REQUESTER, channel_id="C123")
    assert reply.status == 200 and reply.elapsed < 3
    return fake.wait_for("chat.postMessage", lambda c: "asks to flush" in str(c.args), timeout=20)


def card_of(fake: FakeSlack, card: Call) -> dict:
    """The card as it stands now in the channel (after the bot's edits)."""
    message = fake.message(str(card.response["channel"]), str(card.response["ts"]))
    assert message is not None
    return {"ts": message.ts, "blocks": message.blocks, "edits": message.edits}


def click(fake: FakeSlack, url: str, card: Call, action: str, user: str):
    return fake.send_block_action(
        url, action_id=action, user_id=user, channel_id="C123", message_ts=str(card.response["ts"])
    )


def reject(fake: FakeSlack, url: str, card: Call, user: str, reason: str) -> None:
    """*Reject…*: the modal opens for whoever clicked, they say why and submit it."""
    before = len(fake.calls())
    click(fake, url, card, "mail_reject", user)
    opened = fake.wait_for("views.open", lambda c: c.ok, after=before)
    reply = fake.submit_view(url, str(opened.response["view"]["id"]), {"reason": reason}, user_id=user)
    assert reply.status == 200 and not reply.body.strip(), reply.body  # accepted: the modal closes


def audit(config_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_mailbot("--config", str(config_dir / "mailbot.yaml"), "audit", *args)


def ran_records(config_dir: Path) -> list[dict]:
    import json

    records = json.loads(audit(config_dir, "1000", "--json").stdout)["records"]
    return [r for r in records if r["event"] == "ran"]


def test_the_card_shows_who_what_where_and_the_exact_command(fake_slack, start_bot, tmp_path):
    bot = start_bot(fake_slack, extra=APPROVALS)
    card = ask_flush(fake_slack, bot.url)
    text = answer_text(fake_slack, card)
    assert card.args["channel"] == "C123"
    assert f"<@{REQUESTER}> asks to flush the queue of lab" in text
    assert "sudo -n /usr/sbin/postqueue -f" in text
    assert "Reason: INC-42" in text
    assert re.search(r"\d+ messages? in the queue", text)  # the preview, taken just before
    assert "before <!date^" in text  # the expiry
    buttons = next(b for b in card.args["blocks"] if b["type"] == "actions")["elements"]
    request_id = buttons[0]["value"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("mail_approve", request_id),
        ("mail_reject", request_id),
    ]
    waiting = fake_slack.wait_for("response_url", lambda c: "waiting for an approver" in str(c.args))
    assert request_id in answer_text(fake_slack, waiting)


def test_self_approval_and_outsiders_are_refused(fake_slack, start_bot, tmp_path):
    bot = start_bot(fake_slack, extra=APPROVALS)
    card = ask_flush(fake_slack, bot.url)
    click(fake_slack, bot.url, card, "mail_approve", REQUESTER)
    own = fake_slack.wait_for("response_url", lambda c: "cannot approve your own request" in str(c.args))
    assert own.args["replace_original"] is False
    click(fake_slack, bot.url, card, "mail_approve", OUTSIDER)
    fake_slack.wait_for("response_url", lambda c: "Only the configured approvers" in str(c.args))
    time.sleep(0.5)
    assert ran_records(tmp_path) == []
    assert any(b["type"] == "actions" for b in card_of(fake_slack, card)["blocks"])  # still waiting


def test_an_approver_runs_it_once_and_the_card_says_so(fake_slack, start_bot, tmp_path):
    bot = start_bot(fake_slack, extra=APPROVALS)
    card = ask_flush(fake_slack, bot.url)
    payload = fake_slack.block_action_payload(
        action_id="mail_approve", user_id=APPROVER, channel_id="C123", message_ts=str(card.response["ts"])
    )
    assert send_interactivity(bot.url, fake_slack.signing_secret, payload).status == 200
    fake_slack.wait_for("chat.update", lambda c: "Ran in" in str(c.args), timeout=20)
    final = card_of(fake_slack, card)
    text = "\n".join(b.get("text", {}).get("text", "") for b in final["blocks"])
    assert f"Approved by <@{APPROVER}>" in text and "exit 0" in text
    assert not any(b["type"] == "actions" for b in final["blocks"])
    result = fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == card.response["ts"])
    assert "flush the queue of lab" in answer_text(fake_slack, result)
    # Slack sends the same click again (a retry): nothing runs twice.
    assert send_interactivity(bot.url, fake_slack.signing_secret, payload).status == 200
    fake_slack.wait_for("response_url", lambda c: "already approved" in str(c.args))
    (ran,) = ran_records(tmp_path)
    assert ran["user"] == APPROVER and ran["exit_status"] == 0
    assert ran["command"] == "sudo -n /usr/sbin/postqueue -f"


def test_two_approvals_at_the_same_instant_run_once(fake_slack, start_bot, tmp_path):
    bot = start_bot(fake_slack, extra={**APPROVALS, "approvals": {"approvers": [APPROVER, "U999"]}})
    card = ask_flush(fake_slack, bot.url)
    message = card_of(fake_slack, card)
    payloads = [
        fake_slack.block_action_payload(
            action_id="mail_approve", user_id=user, channel_id="C123", message_ts=str(card.response["ts"])
        )
        for user in [APPROVER, "U999"] * 3
    ]
    barrier = threading.Barrier(len(payloads))

    def approve(payload: dict) -> None:
        barrier.wait()
        send_interactivity(bot.url, fake_slack.signing_secret, payload)

    threads = [threading.Thread(target=approve, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fake_slack.wait_for("chat.update", lambda c: "Ran in" in str(c.args), timeout=20)
    time.sleep(1)
    assert len(ran_records(tmp_path)) == 1
    assert len([c for c in fake_slack.calls("chat.update") if "Ran in" in str(c.args)]) == 1
    assert message["ts"] == card.response["ts"]


def test_a_rejected_request_never_runs(fake_slack, start_bot, tmp_path):
    bot = start_bot(fake_slack, extra=APPROVALS)
    card = ask_flush(fake_slack, bot.url)
    late = fake_slack.block_action_payload(
        action_id="mail_approve", user_id=APPROVER, channel_id="C123", message_ts=str(card.response["ts"])
    )
    reject(fake_slack, bot.url, card, APPROVER, "not during the migration")
    rejected = fake_slack.wait_for("chat.update", lambda c: "Rejected by" in str(c.args))
    assert "Why: not during the migration" in answer_text(fake_slack, rejected)
    send_interactivity(bot.url, fake_slack.signing_secret, late)
    fake_slack.wait_for("response_url", lambda c: "already rejected" in str(c.args))
    assert ran_records(tmp_path) == []


def test_an_expired_request_cannot_be_approved(fake_slack, start_bot, tmp_path):
    bot = start_bot(fake_slack, extra={**APPROVALS, "approvals": {"approvers": [APPROVER], "expiry_minutes": 0.05}})
    card = ask_flush(fake_slack, bot.url)
    time.sleep(3.5)
    click(fake_slack, bot.url, card, "mail_approve", APPROVER)
    fake_slack.wait_for("response_url", lambda c: "has expired" in str(c.args))
    fake_slack.wait_for("chat.update", lambda c: "Expired at" in str(c.args), timeout=10)
    assert not any(b["type"] == "actions" for b in card_of(fake_slack, card)["blocks"])
    assert ran_records(tmp_path) == []


def test_a_request_made_before_a_restart_can_be_approved_after_it(fake_slack, start_bot, tmp_path):
    first = start_bot(fake_slack, extra=APPROVALS)
    card = ask_flush(fake_slack, first.url)
    assert first.stop() < 10
    second = start_bot(fake_slack, extra=APPROVALS)
    click(fake_slack, second.url, card, "mail_approve", APPROVER)
    fake_slack.wait_for("chat.update", lambda c: "Ran in" in str(c.args), timeout=20)
    assert len(ran_records(tmp_path)) == 1


def test_expired_requests_are_marked_when_the_bot_starts(fake_slack, start_bot, tmp_path):
    short = {**APPROVALS, "approvals": {"approvers": [APPROVER], "expiry_minutes": 0.02}}
    first = start_bot(fake_slack, extra=short)
    first.process.kill()  # no chance to sweep
    first.process.wait()
    card = ask_flush(fake_slack, start_bot(fake_slack, extra=short).url)
    fake_slack.wait_for("chat.update", lambda c: "Expired at" in str(c.args), timeout=15)
    assert not any(b["type"] == "actions" for b in card_of(fake_slack, card)["blocks"])


def test_the_audit_chain_verifies_and_shows_an_edit(fake_slack, start_bot, tmp_path):
    bot = start_bot(fake_slack, extra=APPROVALS)
    card = ask_flush(fake_slack, bot.url)
    click(fake_slack, bot.url, card, "mail_approve", APPROVER)
    fake_slack.wait_for("chat.update", lambda c: "Ran in" in str(c.args), timeout=20)
    intact = audit(tmp_path, "--verify")
    assert intact.returncode == 0, intact.stderr
    assert "audit chain of 3 records is intact" in intact.stdout
    import json

    events = [r["event"] for r in json.loads(audit(tmp_path, "--json").stdout)["records"]]
    assert events == ["requested", "approved", "ran"]
    with sqlite3.connect(tmp_path / "mailbot.db") as db:
        db.execute("UPDATE audit SET user = 'U000' WHERE event = 'approved'")
    broken = audit(tmp_path, "--verify")
    assert broken.returncode == 1
    assert "broken at record 2" in broken.stderr


def test_the_audit_is_readable_in_slack(fake_slack, start_bot, tmp_path):
    bot = start_bot(fake_slack, extra=APPROVALS)
    ask_flush(fake_slack, bot.url)
    fake_slack.send_slash_command(bot.url, text="audit 5", user_id=APPROVER)
    answer = fake_slack.wait_for("response_url", lambda c: "audit record" in str(c.args), timeout=10)
    text = answer_text(fake_slack, answer)
    assert "requested" in text and "sudo -n /usr/sbin/postqueue -f" in text


def test_confirm_policy_lets_only_the_requester_confirm_privately(fake_slack, start_bot, tmp_path):
    bot = start_bot(fake_slack)  # flush's own policy: confirm
    fake_slack.send_slash_command(bot.url, text="flush", user_id=REQUESTER, channel_id="C123")
    card = fake_slack.wait_for("response_url", lambda c: "asks to flush" in str(c.args), timeout=20)
    assert card.args["response_type"] == "ephemeral"
    assert fake_slack.calls("chat.postMessage") == []  # nothing in the channel
    buttons = next(b for b in card.args["blocks"] if b["type"] == "actions")["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Confirm", "Cancel"]
    request_id = buttons[0]["value"]
    fake_slack.send_block_action(bot.url, action_id="mail_approve", value=request_id, user_id=APPROVER)
    fake_slack.wait_for("response_url", lambda c: "Only the person who asked" in str(c.args))
    fake_slack.send_block_action(bot.url, action_id="mail_approve", value=request_id, user_id=REQUESTER)
    done = fake_slack.wait_for("response_url", lambda c: "Ran in" in str(c.args), timeout=20)
    assert done.args["replace_original"] is True
    assert f"Confirmed by <@{REQUESTER}>" in answer_text(fake_slack, done)
    result = fake_slack.wait_for("response_url", lambda c: "Before:" in str(c.args), timeout=10)
    assert result.args["response_type"] == "ephemeral" and "After:" in answer_text(fake_slack, result)
    (ran,) = ran_records(tmp_path)
    assert ran["user"] == REQUESTER


def test_a_map_rebuild_runs_only_after_approval(fake_slack, start_bot, tmp_path):
    maps = Path("/etc/postfix/lab_virtual_mailboxes.db")
    bot = start_bot(fake_slack, extra={"approvals": {"approvers": [APPROVER]}})
    before = maps.stat().st_mtime_ns
    fake_slack.send_slash_command(bot.url, text="regen-maps --reason INC-9", user_id=REQUESTER, channel_id="C123")
    card = fake_slack.wait_for(
        "chat.postMessage", lambda c: "rebuild the Postfix maps of lab" in str(c.args), timeout=20
    )
    assert "postmap hash:/etc/postfix/lab_virtual_mailboxes" in answer_text(fake_slack, card)
    time.sleep(1.1)
    assert maps.stat().st_mtime_ns == before  # asking changed nothing
    click(fake_slack, bot.url, card, "mail_approve", APPROVER)
    fake_slack.wait_for("chat.update", lambda c: "Ran in" in str(c.args), timeout=20)
    assert maps.stat().st_mtime_ns > before
    (ran,) = ran_records(tmp_path)
    assert ran["verb"] == "regen-maps" and ran["exit_status"] == 0
