"""`scopes:` in Slack: a scoped agent traces in scope, and reads one refusal in the ack for the rest."""

from __future__ import annotations

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
        ("message C5BF3135FAF", "Your access is limited to partner.example: `message` needs an address"),
    ):
        reply = fake_slack.send_slash_command(bot.url, text=text, user_id="U0PARTNER")
        assert sentence in json.loads(reply.body)["text"]
    assert fake_slack.calls("response_url") == []  # nothing ran
    fake_slack.send_slash_command(bot.url, text="trace alice@partner.example", user_id="U0PARTNER")
    answer = fake_slack.wait_for("response_url", timeout=30)
    assert "alice@partner.example" in answer_text(fake_slack, answer)
    assert "outside your access" not in answer_text(fake_slack, answer)
