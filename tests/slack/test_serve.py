"""`mailbot serve` as a real process: Slack (the local fake) on one side, the lab on the other."""

from __future__ import annotations

import json
import statistics
import threading
import time

from tests.conftest import lab_queue
from tests.fakeslack import FakeSlack
from tests.fakeslack.server import Call


def answer_text(fake: FakeSlack, call: Call) -> str:
    """What the user reads: every text of the answer's blocks, and any file it points to."""
    parts = [str(call.args.get("text", ""))]
    for block in call.args.get("blocks") or []:
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            if isinstance(element, dict) and "text" in element:
                text = element["text"]
                parts.append(text["text"] if isinstance(text, dict) else text)
    parts.extend(f.content.decode() for f in fake.files.values() if f.content is not None)
    return "\n".join(parts)


def finals(fake: FakeSlack) -> list[Call]:
    """The answers posted to response URLs, without the "still working" updates."""
    return [c for c in fake.calls("response_url") if not str(c.args.get("text", "")).startswith("Still working")]


def ack_json(body: bytes | str) -> dict:
    return json.loads(body) if body else {}


def full_queue_ids() -> list[str]:
    return [str(e["queue_id"]) for e in lab_queue() if any(r["address"] == "full@lab.test" for r in e["recipients"])]


def test_http_mode_trace_end_to_end(fake_slack, start_bot):
    bot = start_bot(fake_slack)
    reply = fake_slack.send_slash_command(bot.url, text="trace <mailto:full@lab.test|full@lab.test>")
    assert reply.status == 200
    assert reply.elapsed < 3
    ack = ack_json(reply.body)
    assert ack["response_type"] == "ephemeral"
    assert "Working on" in ack["text"]
    call = fake_slack.wait_for("response_url", timeout=30)
    assert call.args["replace_original"] is True and call.args["response_type"] == "ephemeral"
    text = answer_text(fake_slack, call)
    assert "Trace of full@lab.test on lab" in text
    expected = full_queue_ids()
    assert expected and all(queue_id in text for queue_id in expected)
    assert "over quota" in text


def test_bad_signature_or_stale_timestamp_is_refused_and_runs_nothing(fake_slack, start_bot):
    bot = start_bot(fake_slack)
    forged = fake_slack.send_slash_command(bot.url, "not-the-secret", text="trace full@lab.test")
    stale = fake_slack.send_slash_command(bot.url, text="trace full@lab.test", timestamp=int(time.time()) - 3600)
    assert (forged.status, stale.status) == (401, 401)
    time.sleep(1)
    assert fake_slack.calls("response_url") == []
    assert "trace by" not in bot.log()


def test_typos_are_answered_in_the_acknowledgement(fake_slack, start_bot):
    bot = start_bot(fake_slack)
    usage = ack_json(fake_slack.send_slash_command(bot.url, text="").body)
    assert "Usage: /mail VERB" in usage["text"] and "trace" in usage["text"]
    unknown = ack_json(fake_slack.send_slash_command(bot.url, text="frobnicate x").body)
    assert "`frobnicate` is not a verb of /mail" in unknown["text"]
    bad = ack_json(fake_slack.send_slash_command(bot.url, text="trace john@lab.test;id").body)
    assert "has no valid domain after the @" in bad["text"]
    helped = ack_json(fake_slack.send_slash_command(bot.url, text="trace --help").body)
    assert "--since" in helped["text"]
    time.sleep(0.5)
    assert fake_slack.calls("response_url") == []


def test_people_not_allowed_get_a_polite_refusal(fake_slack, start_bot):
    bot = start_bot(fake_slack, slack={"allowed_users": ["U456"], "allowed_channels": ["C123"]})
    refused = ack_json(fake_slack.send_slash_command(bot.url, text="trace full@lab.test", user_id="U789").body)
    assert "not on the list of people who may use `/mail trace`" in refused["text"]
    elsewhere = ack_json(
        fake_slack.send_slash_command(bot.url, text="trace full@lab.test", user_id="U456", channel_id="C999").body
    )
    assert "not available in this channel" in elsewhere["text"]
    allowed = ack_json(fake_slack.send_slash_command(bot.url, text="trace full@lab.test", user_id="U456").body)
    assert "Working on" in allowed["text"]
    fake_slack.wait_for("response_url", timeout=30)
    assert len(fake_slack.calls("response_url")) == 1


def test_group_members_are_allowed(fake_slack, start_bot):
    bot = start_bot(fake_slack, slack={"verbs": {"trace": {"allowed_groups": ["S0ADMINS01"]}}})
    member = ack_json(fake_slack.send_slash_command(bot.url, text="trace quota2@lab.test", user_id="U456").body)
    outsider = ack_json(fake_slack.send_slash_command(bot.url, text="trace quota2@lab.test", user_id="U123").body)
    assert "Working on" in member["text"]
    assert "not on the list" in outsider["text"]


def test_a_host_that_is_down_gets_a_clear_answer(fake_slack, start_bot):
    bot = start_bot(fake_slack, port=1, connect_timeout=2)
    fake_slack.send_slash_command(bot.url, text="trace full@lab.test")
    text = answer_text(fake_slack, fake_slack.wait_for("response_url", timeout=15))
    assert "Cannot connect to lab (127.0.0.1:1): nothing listens on that port (connection refused)." in text
    assert "Traceback" not in text and "Traceback" not in bot.log()


def test_sharing_an_answer_posts_it_in_the_channel(fake_slack, start_bot):
    bot = start_bot(fake_slack)
    fake_slack.send_slash_command(bot.url, text="trace quota2@lab.test", user_id="U123", channel_id="C123")
    answer = fake_slack.wait_for("response_url", timeout=30)
    button = next(b for b in answer.args["blocks"] if b["type"] == "actions")["elements"][0]
    other = fake_slack.send_block_action(bot.url, action_id="mail_share", value=button["value"], user_id="U456")
    assert other.status == 200
    refusal = fake_slack.wait_for("response_url", lambda c: "Only the person who asked" in str(c.args))
    assert refusal.args["replace_original"] is False
    fake_slack.send_block_action(bot.url, action_id="mail_share", value=button["value"], user_id="U123")
    posted = fake_slack.wait_for("chat.postMessage", timeout=10)
    assert posted.args["channel"] == "C123"
    assert "Trace of quota2@lab.test on lab" in answer_text(fake_slack, posted)
    assert "Shared by <@U123>" in answer_text(fake_slack, posted)
    assert not any(b["type"] == "actions" for b in posted.args["blocks"])


def test_socket_mode_trace_end_to_end(fake_slack, start_bot):
    start_bot(fake_slack, http=False)
    fake_slack.socket.wait_connected(timeout=10)
    envelope = fake_slack.push_slash_command(text="trace full@lab.test")
    ack = fake_slack.wait_for_ack(envelope, timeout=5)
    assert ack.elapsed < 3
    assert "Working on" in ack.payload["text"]
    text = answer_text(fake_slack, fake_slack.wait_for("response_url", timeout=30))
    assert "Trace of full@lab.test on lab" in text
    assert all(queue_id in text for queue_id in full_queue_ids())


def test_sigterm_lets_work_in_flight_finish(fake_slack, start_bot):
    bot = start_bot(fake_slack, user="bmslow")
    reply = fake_slack.send_slash_command(bot.url, text="trace quota2@lab.test")
    assert reply.status == 200
    time.sleep(0.5)
    took = bot.stop()
    assert bot.process.returncode == 0
    assert 3 < took < 10  # it waited for the 5-second trace, then left
    posts = [answer_text(fake_slack, call) for call in fake_slack.calls("response_url")]
    assert "Trace of quota2@lab.test on lab" in posts[-1]
    # The trace took over 5 s: the placeholder said it was still working before the answer came.
    assert any("Still working on `/mail trace quota2@lab.test` (5 s)" in post for post in posts[:-1])


def test_large_answers_take_turns_and_the_one_who_waits_is_told_at_once(fake_slack, start_bot):
    # The backend through its slow link (its search starts 5 s late), the edge relay at once: a trace
    # passes the threshold on the edge, then keeps its one turn until the backend has answered too.
    # (100 bytes: a fresh lab's edge has a single mail to full@lab.test, 600 bytes of lines.)
    bot = start_bot(
        fake_slack, slack={"large_answers": 1, "large_answer_mb": 0.0001}, hosts=("lab", "edge"), user="bmslow"
    )
    first, second = fake_slack.new_response_url(), fake_slack.new_response_url()
    fake_slack.send_slash_command(bot.url, text="trace full@lab.test", user_id="U0001", response_url=first)
    time.sleep(1.5)
    asked = time.monotonic()
    fake_slack.send_slash_command(bot.url, text="trace full@lab.test", user_id="U0002", response_url=second)
    told = fake_slack.wait_for("response_url", lambda c: c.url == second, timeout=10)
    assert told.at - asked < 3  # at once, not at the 5-second progress update
    assert (
        "This answer is large (over 0.0001 MB of log lines) and the bot builds 1 such answer at a time: "
        "yours goes on as soon as it is done." in answer_text(fake_slack, told)
    )
    answers = {}
    for url in (first, second):
        final = fake_slack.wait_for(
            "response_url", lambda c, url=url: c.url == url and "Still working" not in str(c.args), timeout=40
        )
        answers[url] = final
        assert "Trace of full@lab.test on lab, edge" in answer_text(fake_slack, final)
    assert answers[second].at > answers[first].at  # the second was built after the first one's turn


def test_thirty_commands_at_once_on_a_slow_host(fake_slack, start_bot):
    bot = start_bot(fake_slack, user="bmslow", slack={"workers": 10}, max_sessions=10)
    acks: list[float] = []
    failures: list[str] = []

    def ask(n: int) -> None:
        reply = fake_slack.send_slash_command(bot.url, text="trace quota2@lab.test", user_id=f"U{n:04d}")
        acks.append(reply.elapsed)
        if reply.status != 200 or "Working on" not in reply.body:
            failures.append(f"{reply.status} {reply.body!r}")

    started = time.monotonic()
    threads = [threading.Thread(target=ask, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(acks) == 30 and max(acks) < 3
    deadline = time.monotonic() + 60
    while len(finals(fake_slack)) < 30 and time.monotonic() < deadline:
        time.sleep(0.2)
    answers = [c for c in finals(fake_slack) if "Trace of quota2@lab.test" in str(c.args)]
    assert len(answers) == 30, sorted({str(c.args.get("text"))[:200] for c in fake_slack.calls("response_url")})
    print(
        f"\n30 slash commands, 5-second host: ack median {statistics.median(acks) * 1000:.0f} ms, "
        f"worst {max(acks) * 1000:.0f} ms; all answered in {time.monotonic() - started:.1f} s"
    )


def test_slack_rate_limits_and_errors_are_survived(fake_slack, start_bot):
    bot = start_bot(fake_slack, extra={"approvals": {"approvers": ["U456"]}, "policies": {"flush": "approve"}})
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    fake_slack.send_slash_command(bot.url, text="flush", user_id="U123")
    card = fake_slack.wait_for("chat.postMessage", lambda c: c.ok, timeout=20)
    refused = [c for c in fake_slack.calls("chat.postMessage") if c.status == 429]
    assert len(refused) == 1 and card.at - refused[0].at >= 1  # waited for Retry-After, then posted
    # The response_url answering 500: the answer still arrives, as an ephemeral message.
    fake_slack.fail_next("response_url", status=500, count=5)
    fake_slack.send_slash_command(bot.url, text="trace quota2@lab.test", user_id="U123")
    fallback = fake_slack.wait_for("chat.postEphemeral", lambda c: "Trace of quota2" in str(c.args), timeout=30)
    assert fallback.args["user"] == "U123" and "Trace of quota2@lab.test" in answer_text(fake_slack, fallback)
