"""The nasty corpus from Slack, against the lab through its guard: each command gets an answer,
and nothing but the bot's own command shapes reaches the host."""

from __future__ import annotations

import json
import time

from tests.conftest import GUARD_LOG, guard_log_since
from tests.fakeslack import FakeSlack
from tests.test_hostile_input import NASTY, PLACES


def test_nasty_slash_commands_reach_the_host_only_as_the_bots_commands(fake_slack: FakeSlack, start_bot):
    bot = start_bot(fake_slack, slack={"rate_limits": {"per_user": "2000/60s", "per_channel": "2000/60s"}})
    before = GUARD_LOG.stat().st_size
    working = refused = 0
    for place in PLACES:
        for nasty in NASTY:
            text = " ".join(word.replace("{}", nasty) for word in place)
            reply = fake_slack.send_slash_command(bot.url, text=text)
            assert reply.status == 200 and reply.elapsed < 3, (text[:60], reply)
            ack = json.loads(reply.body) if reply.body else {}
            assert ack.get("text"), (text[:60], reply.body[:200])  # always a word back, at once
            assert "Traceback" not in reply.body and "internal error" not in reply.body
            if ack["text"].startswith("Working on"):
                working += 1
            else:
                refused += 1
    deadline = time.monotonic() + 120
    while len(finals(fake_slack)) < working and time.monotonic() < deadline:
        time.sleep(0.2)
    answers = finals(fake_slack)
    assert len(answers) == working
    for call in answers:
        assert "internal error" not in json.dumps(call.args) and "Traceback" not in json.dumps(call.args)
    logged = guard_log_since(before)
    assert [line for line in logged if " refused" in line] == []
    assert logged  # some of the corpus is valid enough to reach the host
    print(
        f"\n{working + refused} nasty slash commands: {refused} answered at once as bad input, {working} run; "
        f"{len(logged)} commands reached the host, all allowed shapes; 0 outside them"
    )


def finals(fake: FakeSlack) -> list:
    return [c for c in fake.calls("response_url") if not str(c.args.get("text", "")).startswith("Still working")]
