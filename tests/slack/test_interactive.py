"""Acting on what you see (issue 23), on the lab with the fake Slack, driven as Slack drives the bot:
`deleted` rows and *Restore…* with its modal, the approval card with two approvers, *Reject…* with
its reason, a trace's *Flush this one*, *Watch* and *Journey*, and the Home tab."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from tests.fakeslack import FakeSlack
from tests.fakeslack.server import Call
from tests.slack.test_approvals import audit, card_of, click, ran_records, reject
from tests.slack.test_serve import answer_text
from tests.test_i18n import english_left, fill_over_quota
from tests.verbs.test_deleted_lab import imap, listed, scratch, unexpunge_l

REQUESTER, APPROVER, SECOND = "U123", "U456", "U789"
APPROVALS = {"approvals": {"approvers": [APPROVER, SECOND], "expiry_minutes": 15}}


@pytest.fixture
def over_quota(lab_config) -> str:
    return fill_over_quota()


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def texts(value: Any) -> str:
    """Every text a person reads in a payload (the `text` of its text objects), one per line."""
    if isinstance(value, dict):
        own = [value["text"]] if isinstance(value.get("text"), str) else []
        return "\n".join(own + [texts(v) for k, v in value.items() if k != "text" or not own])
    if isinstance(value, list):
        return "\n".join(texts(v) for v in value)
    return ""


def ask(fake: FakeSlack, url: str, text: str, user: str = REQUESTER) -> Call:
    before = len(fake.calls())
    reply = fake.send_slash_command(url, text=text, user_id=user, channel_id="C123")
    assert reply.status == 200 and reply.elapsed < 3
    return fake.wait_for("response_url", lambda c: "Still working" not in str(c.args), timeout=30, after=before)


def expunged(user: str, *subjects: str) -> list[int]:
    """Mails appended to `user`'s INBOX, then expunged: restorable, with these subjects."""
    uids = scratch(user, *subjects)
    imap("expunge", user, *(str(u) for u in uids))
    assert set(uids) <= set(unexpunge_l(f"user/{user}"))
    return uids


def elements(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for block in blocks:
        found += [e for e in block.get("elements") or [] if isinstance(e, dict) and "action_id" in e]
        if isinstance(block.get("accessory"), dict):
            found.append(block["accessory"])
        if isinstance(block.get("element"), dict):
            found.append(block["element"])
    return found


def click_answer(fake: FakeSlack, url: str, answer: Call, action_id: str, value: str, user: str = REQUESTER) -> int:
    """A click on the ephemeral answer `answer` (the overflow's option or the button with `value`);
    returns the index of the calls after which to look for what it did."""
    before = len(fake.calls())
    reply = fake.send_block_action(
        url,
        action_id=action_id,
        value=value,
        user_id=user,
        channel_id="C123",
        message_ts=fake.new_ts(),
        ephemeral=answer.args,
    )
    assert reply.status == 200 and reply.elapsed < 3
    return before


def mail_block(view: dict[str, Any], number: int) -> str:
    """The block (a page of the modal) whose select lists the mail `number`."""
    for block in view["blocks"]:
        pages = block.get("type") == "input" and block["block_id"].startswith("mails")
        if pages and any(o["value"] == str(number) for o in block["element"]["options"]):
            return str(block["block_id"])
    raise AssertionError(f"mail {number} is not in the modal")


def approve_and_check(
    fake: FakeSlack, url: str, card: Call, uids: list[int], subjects: tuple[str, ...], tmp_path
) -> None:
    click(fake, url, card, "mail_approve", APPROVER)
    done = fake.wait_for("chat.update", lambda c: "Ran in" in str(c.args), timeout=30)
    final = answer_text(fake, done)
    pairs = dict(re.findall(r"(\d+) → (\d+)", final.split("New UIDs: ", 1)[1]))
    assert sorted(int(old) for old in pairs) == sorted(uids), final
    thread = fake.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == card.response["ts"], timeout=30)
    thread_text = answer_text(fake, thread)
    back = listed("compta@lab.test")
    for old, new in pairs.items():
        assert re.search(rf"^{old}\s+{new}\s+INBOX\s+yes\s+", thread_text, re.M), thread_text
        assert back[int(new)] in subjects  # over IMAP, under the new UID the card gives
    assert {back[int(new)] for new in pairs.values()} == set(subjects)
    assert not set(uids) & set(unexpunge_l("user/compta@lab.test"))
    (ran,) = ran_records(tmp_path)  # exactly once
    assert ran["verb"] == "restore" and ran["user"] == APPROVER and ran["exit_status"] == 0


def test_deleted_restore_two_mails_picked_in_the_modal(fake_slack, start_bot, tmp_path):
    stamp = time.strftime("%H%M%S")
    subjects = (f"Modal A {stamp}", f"Modal B {stamp}")
    uids = expunged("compta@lab.test", *subjects)
    bot = start_bot(
        fake_slack, extra={**APPROVALS, "approvals": {**APPROVALS["approvals"], "require_reason": ["restore"]}}
    )
    answer = ask(fake_slack, bot.url, "deleted compta@lab.test")
    text = answer_text(fake_slack, answer)
    for uid, subject in zip(uids, subjects, strict=True):
        assert re.search(rf"\*{re.escape(subject)}\*\nUID {uid} · .* · deleted .* · \d+ d left", text), text
    (button,) = [e for e in elements(answer.args["blocks"]) if e["action_id"] == "mail_deleted_restore"]
    assert button["text"]["text"] == "Restore…"

    clicked = time.monotonic()
    before = click_answer(fake_slack, bot.url, answer, "mail_deleted_restore", button["value"])
    opened = fake_slack.wait_for("views.open", lambda c: c.ok, after=before)
    print(f"\nviews.open {opened.at - clicked:.3f} s after the click")
    assert opened.at - clicked < 3  # the trigger_id is used within its 3 s (the fake refuses it later)
    view = opened.response["view"]
    shown = dumps(view)
    assert "Restore deleted mail" in shown and "a new copy, with a new UID" in shown
    assert all(subject in shown for subject in subjects)
    assert not any(b["element"].get("initial_options") for b in view["blocks"] if b["type"] == "input")

    # nothing picked, then no reason (required for restore): said in the modal, under the field
    empty = fake_slack.submit_view(bot.url, view["id"], {"reason": "INC-9"})
    assert empty.json() == {"response_action": "errors", "errors": {"mails0": "Pick at least one mail."}}
    picks: dict[str, Any] = {}
    for uid in uids:
        picks.setdefault(mail_block(view, uid), []).append(str(uid))
    no_reason = fake_slack.submit_view(bot.url, view["id"], {**picks, "reason": ""})
    assert no_reason.json()["errors"]["reason"].startswith("`restore` needs a reason")
    accepted = fake_slack.submit_view(bot.url, view["id"], {**picks, "reason": "INC-9 two mails"})
    assert accepted.status == 200 and accepted.body == "" and accepted.elapsed < 3

    card = fake_slack.wait_for("chat.postMessage", lambda c: "asks to restore" in str(c.args), timeout=30)
    card_text = answer_text(fake_slack, card)
    assert "restore 2 deleted mails of user/compta@lab.test (INBOX) on lab" in card_text
    assert "Reason: INC-9 two mails" in card_text
    assert all(subject in card_text for subject in subjects)  # the mails by subject (and sender) in the preview
    assert f"<@{APPROVER}>, <@{SECOND}>" in card_text  # who may decide
    assert " ".join(str(u) for u in uids) in card_text  # the exact command names exactly those two
    approve_and_check(fake_slack, bot.url, card, uids, subjects, tmp_path)


def test_a_rows_menu_restores_that_mail_and_shows_its_history(fake_slack, start_bot, tmp_path):
    subject = f"Row menu {time.strftime('%H%M%S')}"
    (uid,) = expunged("compta@lab.test", subject)
    bot = start_bot(fake_slack, extra=APPROVALS)
    answer = ask(fake_slack, bot.url, "deleted compta@lab.test")
    (menu,) = [
        e
        for e in elements(answer.args["blocks"])
        if e["action_id"] == "mail_deleted_row" and any(o["value"].endswith(f":{uid}") for o in e["options"])
    ]
    assert [o["text"]["text"] for o in menu["options"]] == ["Restore…", "History", "Locate"]
    restore, history, _locate = (o["value"] for o in menu["options"])

    before = click_answer(fake_slack, bot.url, answer, "mail_deleted_row", history)
    told = fake_slack.wait_for(
        "response_url", lambda c: "UID" in str(c.args) and "history" in str(c.args), 30, after=before
    )
    assert told.args["replace_original"] is False  # beside the list, which stays
    assert f"UID {uid} in INBOX of user/compta@lab.test" in answer_text(fake_slack, told)

    before = click_answer(fake_slack, bot.url, answer, "mail_deleted_row", restore)
    view = fake_slack.wait_for("views.open", lambda c: c.ok, after=before).response["view"]
    block = mail_block(view, uid)
    initial = next(b for b in view["blocks"] if b.get("block_id") == block)["element"]["initial_options"]
    assert [o["value"] for o in initial] == [str(uid)]  # this row's mail, picked
    assert fake_slack.submit_view(bot.url, view["id"], {}).body == ""  # as it opened: that one mail
    card = fake_slack.wait_for("chat.postMessage", lambda c: "asks to restore 1 deleted mail" in str(c.args), 30)
    approve_and_check(fake_slack, bot.url, card, [uid], (subject,), tmp_path)


def test_two_approvers_then_it_runs_once(fake_slack, start_bot, tmp_path):
    config = {**APPROVALS, "approvals": {**APPROVALS["approvals"], "required": 2}, "policies": {"flush": "approve"}}
    bot = start_bot(fake_slack, extra=config)
    fake_slack.send_slash_command(bot.url, text="flush --reason INC-2", user_id=REQUESTER, channel_id="C123")
    card = fake_slack.wait_for("chat.postMessage", lambda c: "asks to flush" in str(c.args), timeout=20)
    assert "Approvals: 0 of 2 (nobody yet)." in answer_text(fake_slack, card)

    # the Home tab of an approver lists it, with its buttons
    fake_slack.send_event(bot.url, fake_slack.app_home_opened(SECOND))
    fake_slack.wait_for("views.publish", lambda c: c.args.get("user_id") == SECOND, timeout=10)
    home = dumps(fake_slack.home_of(SECOND))
    assert "Requests you can decide" in home and "asks to flush the queue of lab" in home and "Reject…" in home

    click(fake_slack, bot.url, card, "mail_approve", APPROVER)
    fake_slack.wait_for("response_url", lambda c: "counted (1 of 2)" in str(c.args), timeout=10)
    one = card_of(fake_slack, card)
    assert f"Approvals: 1 of 2 (<@{APPROVER}>)." in dumps(one["blocks"])
    assert any(b["type"] == "actions" for b in one["blocks"])  # still waiting for the second
    click(fake_slack, bot.url, card, "mail_approve", APPROVER)  # the same person again counts once
    click(fake_slack, bot.url, card, "mail_approve", REQUESTER)  # the requester never counts
    fake_slack.wait_for("response_url", lambda c: "cannot approve your own request" in str(c.args), timeout=10)
    time.sleep(0.5)
    assert ran_records(tmp_path) == []

    click(fake_slack, bot.url, card, "mail_approve", SECOND)
    fake_slack.wait_for("chat.update", lambda c: "Ran in" in str(c.args), timeout=30)
    final = dumps(card_of(fake_slack, card)["blocks"])
    assert f"Approvals: 2 of 2 (<@{APPROVER}>, <@{SECOND}>)." in final
    (ran,) = ran_records(tmp_path)
    assert ran["user"] == SECOND
    records = json.loads(audit(tmp_path, "100", "--json").stdout)["records"]
    assert [(r["event"], r["user"]) for r in records if r["event"] in ("endorsed", "approved")] == [
        ("endorsed", APPROVER),
        ("approved", SECOND),
    ]
    # the Home tab was refreshed: nothing left to decide
    fake_slack.wait_for("views.publish", lambda c: "Nothing waits for you" in dumps(c.args), timeout=10)


def test_a_rejection_with_its_reason_on_the_card_and_in_the_audit(fake_slack, start_bot, tmp_path):
    bot = start_bot(fake_slack, extra={**APPROVALS, "policies": {"flush": "approve"}})
    fake_slack.send_slash_command(bot.url, text="flush", user_id=REQUESTER, channel_id="C123")
    card = fake_slack.wait_for("chat.postMessage", lambda c: "asks to flush" in str(c.args), timeout=20)
    before = len(fake_slack.calls())
    click(fake_slack, bot.url, card, "mail_reject", SECOND)
    view = fake_slack.wait_for("views.open", lambda c: c.ok, after=before).response["view"]
    assert view["notify_on_close"] is True
    assert fake_slack.close_view(bot.url, view["id"], user_id=SECOND).status == 200  # closed: nothing decided
    assert any(b["type"] == "actions" for b in card_of(fake_slack, card)["blocks"])
    reply = fake_slack.submit_view(bot.url, view["id"], {"reason": "   "}, user_id=SECOND)
    assert reply.json()["errors"]["reason"].startswith("Say why in plain text")
    reject(fake_slack, bot.url, card, SECOND, "the queue is being migrated")
    edited = fake_slack.wait_for("chat.update", lambda c: "Rejected by" in str(c.args), timeout=10)
    assert "Why: the queue is being migrated" in answer_text(fake_slack, edited)
    records = json.loads(audit(tmp_path, "100", "--json").stdout)["records"]
    (rejected,) = [r for r in records if r["event"] == "rejected"]
    assert rejected["user"] == SECOND and rejected["detail"] == "the queue is being migrated"
    assert ran_records(tmp_path) == []


def test_a_traces_queued_message_flush_watch_and_journey(fake_slack, start_bot, over_quota):
    bot = start_bot(fake_slack, extra={"watch": {"max_per_user": 5}})
    answer = ask(fake_slack, bot.url, f"trace {over_quota}")
    buttons = elements(answer.args["blocks"])
    flush = next(e for e in buttons if e["action_id"] == "mail_queued_flush")
    queue_id = flush["value"]
    assert [e["text"]["text"] for e in buttons if e.get("value") in (queue_id, over_quota)][:3] == [
        "Flush this one",
        "Watch",
        "Journey",
    ]
    assert f"Queued `{queue_id}` on lab, to {over_quota}" in answer_text(fake_slack, answer)

    before = click_answer(fake_slack, bot.url, answer, "mail_queued_journey", queue_id)
    journey = fake_slack.wait_for("response_url", lambda c: queue_id in str(c.args), timeout=30, after=before)
    assert journey.args["replace_original"] is False and "/mail message" in answer_text(fake_slack, journey)

    before = click_answer(fake_slack, bot.url, answer, "mail_queued_flush", queue_id)
    card = fake_slack.wait_for("response_url", lambda c: "asks to retry message" in str(c.args), 30, after=before)
    assert f"postqueue -i {queue_id}" in answer_text(fake_slack, card)  # its normal policy: confirm, by the asker

    before = click_answer(fake_slack, bot.url, answer, "mail_queued_watch", over_quota)
    thread = fake_slack.wait_for("chat.postMessage", lambda c: ":eyes:" in str(c.args), timeout=30, after=before)
    assert thread.args["channel"] == "C123" and over_quota in answer_text(fake_slack, thread)

    # the Home tab lists the watch; *Stop* ends it
    fake_slack.send_event(bot.url, fake_slack.app_home_opened(REQUESTER))
    published = fake_slack.wait_for("views.publish", lambda c: over_quota in dumps(c.args), timeout=10)
    home = published.response["view"]
    assert "Your watches" in dumps(home) and f"retry message {queue_id}" in dumps(home)  # their request
    before = len(fake_slack.calls())
    fake_slack.send_view_action(bot.url, home["id"], "mail_home_unwatch", over_quota, user_id=REQUESTER)
    fake_slack.wait_for("views.publish", lambda c: "You watch no address." in dumps(c.args), 10, after=before)


def test_a_french_user_restores_in_french(fake_slack, start_bot, tmp_path):
    """The list, the modal and its refusals, the Home tab: the person's language; the card in a
    French channel (`slack.language: fr`), whose summary the Home tab shows as the card does."""
    fake_slack.add_user("U0FR00002", "amelie", locale="fr-FR")
    (uid,) = expunged("compta@lab.test", f"Courrier {time.strftime('%H%M%S')}")
    bot = start_bot(fake_slack, slack={"language": "fr"}, extra=APPROVALS)
    answer = ask(fake_slack, bot.url, "deleted compta@lab.test", user="U0FR00002")
    shown = texts(answer.args)
    assert "Restaurer…" in shown and "Historique" in shown and english_left(shown) == []
    (button,) = [e for e in elements(answer.args["blocks"]) if e["action_id"] == "mail_deleted_restore"]
    before = click_answer(fake_slack, bot.url, answer, "mail_deleted_restore", button["value"], user="U0FR00002")
    view = fake_slack.wait_for("views.open", lambda c: c.ok, after=before).response["view"]
    modal = texts(view)
    assert "Restaurer des courriels" in modal and english_left(modal) == []
    error = fake_slack.submit_view(bot.url, view["id"], {}, user_id="U0FR00002").json()
    assert english_left(dumps(error)) == [] and "Choisissez" in error["errors"]["mails0"]
    fake_slack.submit_view(bot.url, view["id"], {mail_block(view, uid): [str(uid)]}, user_id="U0FR00002")
    card = fake_slack.wait_for("chat.postMessage", lambda c: "demande de restaurer" in str(c.args), timeout=30)
    assert english_left(texts(card.args)) == []
    fake_slack.send_event(bot.url, fake_slack.app_home_opened("U0FR00002"))
    home = fake_slack.wait_for("views.publish", lambda c: c.args.get("user_id") == "U0FR00002", timeout=10)
    text = texts(home.args["view"])
    assert "Vos demandes" in text and english_left(text) == []


def test_the_modal_over_socket_mode(fake_slack, start_bot):
    (uid,) = expunged("compta@lab.test", f"Socket {time.strftime('%H%M%S')}")
    bot = start_bot(fake_slack, http=False, extra=APPROVALS)
    fake_slack.socket.wait_connected()
    ack = fake_slack.wait_for_ack(fake_slack.push_slash_command(text="deleted compta@lab.test", user_id=REQUESTER))
    assert ack.elapsed < 3
    answer = fake_slack.wait_for(
        "response_url", lambda c: "Still working" not in str(c.args) and "blocks" in c.args, 30
    )
    (button,) = [e for e in elements(answer.args["blocks"]) if e["action_id"] == "mail_deleted_restore"]
    before = len(fake_slack.calls())
    envelope = fake_slack.push_block_action(
        action_id="mail_deleted_restore", value=button["value"], user_id=REQUESTER, element=button
    )
    assert fake_slack.wait_for_ack(envelope).elapsed < 3
    view = fake_slack.wait_for("views.open", lambda c: c.ok, after=before).response["view"]
    refused = fake_slack.wait_for_ack(fake_slack.push_view_submission(view["id"], {}, user_id=REQUESTER))
    assert refused.payload == {"response_action": "errors", "errors": {"mails0": "Pick at least one mail."}}
    accepted = fake_slack.wait_for_ack(
        fake_slack.push_view_submission(view["id"], {mail_block(view, uid): [str(uid)]}, user_id=REQUESTER)
    )
    assert not accepted.payload
    fake_slack.wait_for("chat.postMessage", lambda c: "asks to restore 1 deleted mail" in str(c.args), timeout=30)
    bot.stop()
