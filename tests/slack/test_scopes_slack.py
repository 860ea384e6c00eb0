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


PARTNER_SCOPES = {
    "scopes": [
        {"users": ["U0PARTNER", "U0PARTFR"], "domains": ["partner.example"]},
        {"unix": [getpass.getuser()], "domains": ["*"]},  # the CLI reads the audit
    ],
    "domains": {"lab-alias.test": "lab.test"},
}


def test_a_queue_id_of_another_customer_s_mail_is_one_sentence_and_trace_by_client_hides_the_rest(
    fake_slack, start_bot
):
    from tests.verbs.test_scopes_lab import queued_from

    fake_slack.add_user("U0PARTFR", "amelie", locale="fr-FR")
    bot = start_bot(fake_slack, extra=PARTNER_SCOPES)
    other = queued_from("bob@fournisseur.fr")  # bob@fournisseur.fr's mail to full@lab.test
    for user, sentence in (
        ("U0PARTNER", f"{other} is mail outside your access (partner.example); ask a mail admin if you need it."),
        ("U0PARTFR", f"{other} est un courrier hors de votre accès (partner.example) ; demandez à un administrateur"),
    ):
        url = fake_slack.new_response_url()
        fake_slack.send_slash_command(bot.url, text=f"message {other}", user_id=user, response_url=url)
        answer = fake_slack.wait_for("response_url", lambda c, url=url: c.url == url and "hourglass" not in str(c.args))
        assert sentence in answer_text(fake_slack, answer)
        assert "fournisseur" not in answer_text(fake_slack, answer)
    url = fake_slack.new_response_url()
    fake_slack.send_slash_command(
        bot.url, text="trace --client 127.0.0.1 --status deferred", user_id="U0PARTNER", response_url=url
    )
    answer = fake_slack.wait_for("response_url", lambda c: c.url == url and "hourglass" not in str(c.args), timeout=30)
    text = answer_text(fake_slack, answer)
    assert "messages outside your access were hidden." in text or "1 message outside your access was hidden." in text
    assert "alice@partner.example" in text and "bob@fournisseur.fr" not in text


def test_an_alert_s_buttons_act_only_for_alerts_in_the_clicker_s_scope(fake_slack, start_bot, tmp_path):
    import time

    from bot.state import open_state
    from bot.state.alerts import Problem
    from tests.slack.test_approvals import audit

    def problem(subject: str) -> Problem:
        return Problem(f"lab|over_quota|{subject}", "lab", "over_quota", subject, "452 4.2.2 Over quota", None, 1,
                       time.time() - 60, None)  # fmt: skip

    theirs, other = problem("alice@partner.example"), problem("full@lab.test")
    open_state(tmp_path / "mailbot.db").alerts.reconcile([theirs, other], ["lab"], time.time())
    fake_slack.add_user("U0PARTFR", "amelie", locale="fr-FR")
    bot = start_bot(fake_slack, extra=PARTNER_SCOPES)  # no `alerts:`: no period touches the two problems
    for action in ("mail_alert_trace", "mail_alert_flush"):
        for user, sentence in (
            (
                "U0PARTNER",
                "This alert is about full@lab.test, outside your access (partner.example); ask a mail admin.",
            ),
            ("U0PARTFR", "Cette alerte concerne full@lab.test, hors de votre accès (partner.example) ;"),
        ):
            url = fake_slack.new_response_url()
            fake_slack.send_block_action(
                bot.url, action_id=action, value=other.key, user_id=user, channel_id="C0ALERTS", message_ts="1.1",
                response_url=url,
            )  # fmt: skip
            assert sentence in answer_text(fake_slack, fake_slack.wait_for("response_url", lambda c, u=url: c.url == u))
    assert not [c for c in fake_slack.calls("chat.postMessage") if c.args.get("thread_ts") == "1.1"]  # no trace
    records = json.loads(audit(tmp_path, "20", "--json").stdout)["records"]
    refused = [(r["verb"], r["user"]) for r in records if r["event"] == "refused"]
    assert sorted(refused) == sorted([("trace", "U0PARTNER"), ("trace", "U0PARTFR"), ("flush", "U0PARTNER"),
                                      ("flush", "U0PARTFR")])  # fmt: skip
    assert all("This alert is about full@lab.test" in r["detail"] for r in records if r["event"] == "refused")
    # an alert about their own customer's address: traced in the alert's thread
    fake_slack.send_block_action(
        bot.url, action_id="mail_alert_trace", value=theirs.key, user_id="U0PARTNER", channel_id="C0ALERTS",
        message_ts="2.2",
    )  # fmt: skip
    traced = fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == "2.2", timeout=30)
    assert "Trace of alice@partner.example on lab" in answer_text(fake_slack, traced)
