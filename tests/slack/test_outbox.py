"""The outbox: what the bot says reaches Slack once, through rate limits; nothing is cut unseen;
the desks depend on the outbox and job protocols, never on app.py."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from types import SimpleNamespace

from bot.verbs.message import _state_words
from tests.fakeslack import FakeSlack
from tests.slack.test_serve import answer_text, finals

SLACK_PACKAGE = Path(__file__).parents[2] / "bot" / "slack"


def _wait_for_answer(fake: FakeSlack, needle: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = [c for c in finals(fake) if c.status == 200] + fake.calls("chat.postEphemeral")
        if any(needle in answer_text(fake, c) for c in answered):
            return
        time.sleep(0.2)


def test_a_rate_limited_response_url_is_retried_and_answers_once(fake_slack, start_bot):
    bot = start_bot(fake_slack)
    fake_slack.fail_next("response_url", status=429, retry_after=1)
    fake_slack.send_slash_command(bot.url, text="trace full@lab.test", user_id="U123")
    _wait_for_answer(fake_slack, "Trace of full@lab.test")
    time.sleep(1)  # a second delivery, if there were one, would come now
    answers = [c for c in finals(fake_slack) if "Trace of full@lab.test" in str(c.args)]
    assert [c.status for c in answers] == [429, 200]  # waited for Retry-After, then the same answer
    assert answers[1].at - answers[0].at >= 1
    assert fake_slack.calls("chat.postEphemeral") == []  # delivered once: no fallback message beside it


def test_a_response_url_rate_limited_for_long_gives_up_and_posts_the_answer(fake_slack, start_bot):
    bot = start_bot(fake_slack)
    fake_slack.fail_next("response_url", status=429, retry_after=1, count=10)
    fake_slack.send_slash_command(bot.url, text="trace full@lab.test", user_id="U123")
    fallback = fake_slack.wait_for("chat.postEphemeral", lambda c: "Trace of full" in str(c.args), timeout=40)
    assert fallback.args["user"] == "U123" and "Trace of full@lab.test" in answer_text(fake_slack, fallback)
    refused = [c for c in fake_slack.calls("response_url") if c.status == 429]
    assert len(refused) == 4  # the first try and a bounded three retries, not the ten failures


def test_an_unknown_verb_too_long_to_show_is_cut_with_a_marker(fake_slack, start_bot):
    bot = start_bot(fake_slack)
    verb = "x" * 39 + "ENDOFVERB"
    reply = fake_slack.send_slash_command(bot.url, text=f"{verb} john@lab.test")
    text = reply.json()["text"]
    assert "x" * 39 + "…` is not a verb of /mail" in text
    assert "ENDOFVERB" not in text


def test_a_long_delivery_reply_is_cut_with_a_marker() -> None:
    attempt = SimpleNamespace(status="sent", imap_uid=None, folder=None, response="250 2.0.0 Ok: " + "queued " * 20)
    words = _state_words(attempt, SimpleNamespace(host="lab"))  # type: ignore[arg-type]
    reply = words.removeprefix("delivered by lab (").removesuffix(")")
    assert len(reply) == 60 and reply.endswith("…") and reply.startswith("250 2.0.0 Ok: queued")


def test_the_desks_do_not_import_the_app() -> None:
    for module in ("approvals.py", "alerts.py", "outbox.py", "jobs.py", "services.py"):
        tree = ast.parse((SLACK_PACKAGE / module).read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert "bot.slack.app" not in imported, module
