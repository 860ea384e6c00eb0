"""Slack in French and English (the local fake, the lab): each user's own locale, at the same
moment; a card in the channel in the channel's language (`slack.language`)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_mailbot
from tests.fakeslack import FakeSlack
from tests.fakeslack.server import Call
from tests.slack.test_approvals import reject
from tests.slack.test_serve import answer_text
from tests.test_i18n import english_left, fill_over_quota


@pytest.fixture
def over_quota(lab_config) -> str:
    return fill_over_quota()


FRENCH_USER, ENGLISH_USER, APPROVER = "U0FR00001", "U0EN00001", "U0AP00001"


def blocks_text(call: Call) -> str:
    """What the answer's blocks say (`answer_text` adds every uploaded file, whoever it is for)."""
    parts = [str(call.args.get("text", ""))]
    for block in call.args.get("blocks") or []:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(e["text"]["text"] for e in block.get("elements", []) if isinstance(e.get("text"), dict))
        parts.extend(e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str))
    return "\n".join(parts)


def final_answer(fake: FakeSlack, response_url: str) -> Call:
    return fake.wait_for(
        "response_url",
        lambda c: c.url == response_url and "hourglass" not in str(c.args),
        timeout=30,
    )


def test_slack_answers_each_user_in_their_locale_at_the_same_moment(fake_slack, start_bot, over_quota):
    fake_slack.add_user(FRENCH_USER, "amelie", locale="fr-FR")
    fake_slack.add_user(ENGLISH_USER, "john", locale="en-US")
    bot = start_bot(fake_slack)
    fake_slack.set_latency("response_url", 1.0)  # both answers are in flight together
    urls = {user: fake_slack.new_response_url() for user in (FRENCH_USER, ENGLISH_USER)}
    acks = {
        user: fake_slack.send_slash_command(
            bot.url, text=f"trace {over_quota}", user_id=user, channel_id="C123", response_url=url
        )
        for user, url in urls.items()
    }
    assert "En cours" in str(acks[FRENCH_USER].body) and "Working on" in str(acks[ENGLISH_USER].body)
    answers = {user: blocks_text(final_answer(fake_slack, url)) for user, url in urls.items()}
    assert f"Trace de {over_quota} sur lab" in answers[FRENCH_USER]
    assert "Que faire" in answers[FRENCH_USER] and "a dépassé son quota" in answers[FRENCH_USER]
    assert "Partager dans le canal" in answers[FRENCH_USER]
    assert english_left(answers[FRENCH_USER]) == []
    assert f"Trace of {over_quota} on lab" in answers[ENGLISH_USER] and "What to do" in answers[ENGLISH_USER]
    assert "Share in channel" in answers[ENGLISH_USER]
    for file in fake_slack.files.values():  # a long answer's whole text, in each asker's direct messages
        content = (file.content or b"").decode()
        assert content.startswith((f"Trace de {over_quota}", f"Trace of {over_quota}")), content[:80]
        assert (english_left(content) == []) == content.startswith("Trace de")
    looked_up = {c.args.get("user") for c in fake_slack.calls("users.info")}
    assert looked_up == {FRENCH_USER, ENGLISH_USER}
    assert all(str(c.args.get("include_locale")) in ("1", "true", "True") for c in fake_slack.calls("users.info"))
    for text in ("help", "trace nobody", "trace --json x@lab.test"):  # refusals and help, at once, in French
        reply = fake_slack.send_slash_command(bot.url, text=text, user_id=FRENCH_USER, channel_id="C123")
        assert english_left(json.dumps(reply.body, ensure_ascii=False)) == [], text
    assert len(fake_slack.calls("users.info")) == 2  # one look-up per user, then the cache


def test_a_restore_card_in_the_channel_speaks_the_channels_language(fake_slack, start_bot):
    """The card is read by several people: `slack.language`; the requester's own note is theirs."""
    fake_slack.add_user(ENGLISH_USER, "john", locale="en-US")
    fake_slack.add_user(APPROVER, "admin", locale="fr-FR")
    bot = start_bot(
        fake_slack, slack={"language": "fr"}, extra={"approvals": {"approvers": [APPROVER], "expiry_minutes": 15}}
    )
    listing = run_mailbot("deleted", "jdoe@lab.test", "--json")
    assert listing.returncode == 0, listing.stderr
    deleted = json.loads(listing.stdout)
    uid = deleted["mails"][0]["uid"]
    url = fake_slack.new_response_url()
    fake_slack.send_slash_command(
        bot.url, text=f"restore jdoe@lab.test {uid}", user_id=ENGLISH_USER, channel_id="C123", response_url=url
    )
    card = fake_slack.wait_for("chat.postMessage", lambda c: "demande de restaurer" in str(c.args), timeout=30)
    text = answer_text(fake_slack, card)
    assert "*Commande qui sera exécutée*" in text and "Approuver" in text and "Rejeter" in text
    assert "sudo -n -u cyrus /usr/lib/cyrus/bin/unexpunge" in text  # the command as it will run
    assert english_left(text) == []
    note = fake_slack.wait_for("response_url", lambda c: "waiting for an approver" in str(c.args), timeout=30)
    assert "Your request" in answer_text(fake_slack, note)
    reject(fake_slack, bot.url, card, APPROVER, "pas maintenant")
    modal = json.dumps(fake_slack.calls("views.open")[-1].args["view"], ensure_ascii=False)  # the approver's: French
    assert english_left(modal) == [] and "Rejeter" in modal
    edited = fake_slack.wait_for("chat.update", lambda c: "Rejetée par" in str(c.args), timeout=30)
    assert english_left(answer_text(fake_slack, edited)) == []
    fake_slack.add_user("U0DE00001", "jonas", locale="de-DE")  # no German catalogue: slack.language
    usage = fake_slack.send_slash_command(bot.url, text="help", user_id="U0DE00001", channel_id="C123")
    assert "Usage : /mail VERBE ARGUMENTS" in json.dumps(usage.body, ensure_ascii=False)
