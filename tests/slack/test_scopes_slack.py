"""`scopes:` in Slack: a scoped agent traces in scope, and reads one refusal in the ack for the rest."""

from __future__ import annotations

import getpass
import json

from tests.slack.test_serve import answer_text


def test_a_scoped_agent_traces_in_scope_and_is_refused_elsewhere_in_the_ack(fake_slack, start_bot):
    scopes = {
        "scopes": [{"users": ["U0PARTNER"], "domains": ["partner.example"]}],
        "domains": {"lab-alias.test": "lab.test"},
    }
    bot = start_bot(fake_slack, extra=scopes)
    for text, sentence in (
        ("trace john@lab.test", "john@lab.test is outside your access (partner.example)"),
        ("trace jdoe@lab-alias.test", "jdoe@lab-alias.test is outside your access (partner.example)"),
        ("watch", "Your access is limited to partner.example: `watch` needs an address"),
    ):
        reply = fake_slack.send_slash_command(bot.url, text=text, user_id="U0PARTNER")
        assert sentence in json.loads(reply.body)["text"]
    assert fake_slack.calls("response_url") == []  # nothing ran
    fake_slack.send_slash_command(bot.url, text="trace alice@partner.example", user_id="U0PARTNER")
    answer = fake_slack.wait_for("response_url", timeout=30)
    assert "alice@partner.example" in answer_text(fake_slack, answer)
    assert "outside your access" not in answer_text(fake_slack, answer)


def test_a_scoped_agent_s_queue_shows_only_their_mail_and_says_how_much_was_hidden(fake_slack, start_bot):
    bot = start_bot(fake_slack, extra={"scopes": [{"users": ["U0PARTNER"], "domains": ["partner.example"]}]})
    fake_slack.send_slash_command(bot.url, text="queue lab.test", user_id="U0PARTNER")
    text = answer_text(fake_slack, fake_slack.wait_for("response_url", timeout=30))
    assert "messages outside your access were hidden." in text
    assert "alice@partner.example" in text and "fournisseur" not in text


def test_an_approver_outside_the_request_s_scope_cannot_approve(fake_slack, start_bot, tmp_path):
    from tests.slack.test_approvals import APPROVALS, APPROVER, REQUESTER, ask_flush, card_of, click, ran_records

    scopes = [
        {"users": [REQUESTER], "unix": [getpass.getuser()], "domains": ["*"]},  # the CLI reads the audit below
        {"users": [APPROVER], "domains": ["partner.example"]},
    ]
    bot = start_bot(fake_slack, extra={**APPROVALS, "scopes": scopes})
    card = ask_flush(fake_slack, bot.url)  # the whole queue: every customer's mail
    click(fake_slack, bot.url, card, "mail_approve", APPROVER)
    sentence = (
        "Your access is limited to partner.example: this request names no address of those domains, so you cannot "
        "approve it."
    )
    refused = fake_slack.wait_for("response_url", lambda c: "cannot approve it" in str(c.args))
    assert sentence in answer_text(fake_slack, refused)
    assert ran_records(tmp_path) == []
    assert any(b["type"] == "actions" for b in card_of(fake_slack, card)["blocks"])  # still waiting
    from tests.slack.test_approvals import audit

    records = json.loads(audit(tmp_path, "20", "--json").stdout)["records"]
    assert any(r["event"] == "refused" and r["user"] == APPROVER and r["detail"] == sentence for r in records)
