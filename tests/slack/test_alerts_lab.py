"""Alerts and watches end to end: `mailbot serve` with `alerts:`, the fake Slack, real over-quota mail.

The lab's own mailboxes alert1 and watch1 (10 KB quota, lab/up.sh) take a 30 KB mail: Cyrus
defers it (452 4.2.2 Over quota) and it waits in the real queue until the quota is raised and
the queue flushed. Other tests' mailboxes (full, quota2) are never touched.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import LAB_CONFIG, ROOT, lab_queue, run_mailbot
from tests.fakeslack import FakeSlack
from tests.fakeslack.server import Call
from tests.slack.conftest import BotProcess, free_port, write_config
from tests.slack.test_serve import answer_text

IMAP_ADMIN = [sys.executable, str(LAB_CONFIG.parent / "bin" / "imap_admin.py")]
ALERTS = {"alerts": {"channel": "C0ALERTS", "every": "1s"}, "watch": {"every": "1s"}}
AGENT = "U123"
BIG_BODY = "Rapport trimestriel, ligne de chiffres 0123456789.\n" * 620  # about 30 KB: over a 10 KB quota


def refresh_lab() -> None:
    """This tree's lab/up.sh, just before: the guard with this branch's command shapes and the maps
    with this test's mailboxes (the lab is shared; another tree's up.sh may have run meanwhile)."""
    subprocess.run(["bash", str(ROOT / "lab" / "up.sh")], check=True, capture_output=True)


def set_quota(login: str, kilobytes: str) -> None:
    subprocess.run([*IMAP_ADMIN, "setquota", f"user/{login}@lab.test", kilobytes], check=True, capture_output=True)


def queued_for(address: str) -> list[dict]:
    return [e for e in lab_queue() if any(r["address"] == address for r in e["recipients"])]


def clear_queue(address: str) -> None:
    """Leftovers of an earlier run for this test's own address only."""
    for entry in queued_for(address):
        subprocess.run(["/usr/sbin/postsuper", "-d", entry["queue_id"]], check=False, capture_output=True)


def send_deferred(address: str) -> str:
    """A 30 KB mail to `address`, once the queue holds it deferred as over quota; its queue id.
    Cyrus takes a mail while the mailbox is under its quota: the first one may fill it."""
    for _attempt in range(3):
        mark = f"alert-{uuid.uuid4().hex[:12]}@partner.example"
        sent = subprocess.run(
            ["swaks", "--silent", "2", "-s", "127.0.0.1", "-p", "2525", "-f", "alice@partner.example", "-t", address,
             "--header", f"Message-Id: <{mark}>", "--header", "Subject: Rapport", "--body", BIG_BODY],
            check=False,
            capture_output=True,
            text=True,
        )  # fmt: skip
        if sent.returncode != 0:  # another tree's lab/up.sh rewrote the maps without this address
            assert "User unknown in virtual mailbox table" in sent.stdout + sent.stderr, sent.stdout + sent.stderr
            refresh_lab()
            continue
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for entry in queued_for(address):
                reasons = [r.get("delay_reason", "") for r in entry["recipients"]]
                if entry["queue_name"] == "deferred" and any("Over quota" in r for r in reasons):
                    return str(entry["queue_id"])
            if _delivered(mark):
                break
            time.sleep(0.3)
    raise AssertionError(f"no over-quota deferral of the mail to {address} in the queue")


def _delivered(mark: str) -> bool:
    """The mail with this Message-ID went into the mailbox (it was under its quota)."""
    lines = [line for line in Path("/var/log/mail.log").read_text(errors="replace").splitlines() if "postfix/" in line]
    ids = {line.split(": ")[1] for line in lines if f"message-id=<{mark}>" in line and ": " in line}
    return any(f"{qid}: to=" in line and "status=sent" in line for line in lines for qid in ids)


def periods(bot: BotProcess) -> int:
    return bot.log().count("alert period:")


def wait_periods(bot: BotProcess, count: int, timeout: float = 30) -> None:
    start = periods(bot)
    deadline = time.monotonic() + timeout
    while periods(bot) < start + count:
        assert time.monotonic() < deadline, f"the bot ran no alert period:\n{bot.log()}"
        assert bot.process.poll() is None, bot.log()
        time.sleep(0.2)


def posts_about(fake: FakeSlack, words: str) -> list[Call]:
    """The bot's own messages in a channel (not its answers in threads) whose text holds `words`."""
    return [
        c
        for c in fake.calls("chat.postMessage")
        if c.ok and not c.args.get("thread_ts") and words in str(c.args.get("text", ""))
    ]


@pytest.fixture
def alert1():
    refresh_lab()
    clear_queue("alert1@lab.test")
    set_quota("alert1", "10")
    yield "alert1@lab.test"
    set_quota("alert1", "10")
    clear_queue("alert1@lab.test")


@pytest.fixture
def watch1():
    refresh_lab()
    clear_queue("watch1@lab.test")
    set_quota("watch1", "10")
    yield "watch1@lab.test"
    set_quota("watch1", "10")
    clear_queue("watch1@lab.test")


def test_over_quota_mail_is_posted_once_with_time_left_then_resolved(fake_slack, start_bot, alert1):
    send_deferred(alert1)
    bot = start_bot(fake_slack, extra=ALERTS)
    post = fake_slack.wait_for("chat.postMessage", lambda c: alert1 in str(c.args.get("text")), timeout=20)
    assert post.args["channel"] == "C0ALERTS"
    text = answer_text(fake_slack, post)
    assert f"{alert1}: mailbox over quota on lab" in text
    assert "1 message deferred, the oldest since <!date^" in text
    # the lab's maximal_queue_lifetime is 3d, read with postconf: just under 3 days are left
    assert re.search(r"2 days 23 hours left before Postfix returns them to their senders", text), text
    assert "Reason: `452 4.2.2 Over quota`" in text
    assert f"What to do: {alert1}'s mailbox is over quota" in text
    assert "after 3 days in the queue Postfix returns the mail to its senders" in text
    elements = next(b for b in post.args["blocks"] if b["type"] == "actions")["elements"]
    assert [e["text"]["text"] for e in elements] == ["Trace", "Flush once fixed"]

    # *Trace*: the trace of the address, in the alert's thread
    ts = str(post.response["ts"])
    fake_slack.send_block_action(
        bot.url, action_id="mail_alert_trace", user_id=AGENT, channel_id="C0ALERTS", message_ts=ts
    )
    traced = fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("thread_ts") == ts, timeout=30)
    assert f"Trace of {alert1} on lab" in answer_text(fake_slack, traced)

    # a restart between two periods posts nothing twice
    wait_periods(bot, 2)
    bot.stop()
    again = start_bot(fake_slack, extra=ALERTS)
    wait_periods(again, 3)
    assert len(posts_about(fake_slack, alert1)) == 1

    # the quota raised, *Flush once fixed* (the normal flush: confirmed by whoever clicked)
    set_quota("alert1", "none")
    fake_slack.send_block_action(
        again.url, action_id="mail_alert_flush", user_id=AGENT, channel_id="C0ALERTS", message_ts=ts
    )
    card = fake_slack.wait_for("response_url", lambda c: "asks to flush the queue of lab" in str(c.args), timeout=20)
    request_id = next(b for b in card.args["blocks"] if b["type"] == "actions")["elements"][0]["value"]
    fake_slack.send_block_action(again.url, action_id="mail_approve", value=request_id, user_id=AGENT)
    fake_slack.wait_for("response_url", lambda c: "Ran in" in str(c.args), timeout=20)
    resolved = fake_slack.wait_for(
        "chat.update", lambda c: c.args.get("ts") == ts and "Resolved at" in str(c.args), timeout=30
    )
    assert re.search(
        rf"{re.escape(alert1)}: mailbox over quota on lab: Resolved at \d\d:\d\d UTC, after ", resolved.args["text"]
    )
    shown = fake_slack.message("C0ALERTS", ts)
    assert not [b for b in shown.blocks if b["type"] == "actions"]  # no buttons on a resolved alert
    assert len(posts_about(fake_slack, alert1)) == 1


def test_a_watch_tells_the_delivery_with_folder_and_uid_in_the_commands_thread(fake_slack, start_bot, watch1):
    queue_id = send_deferred(watch1)
    bot = start_bot(fake_slack, extra={"watch": {"every": "1s", "max_per_user": 1}})
    fake_slack.send_slash_command(bot.url, text=f"watch {watch1} for 30m", user_id=AGENT, channel_id="C123")
    opened = fake_slack.wait_for("chat.postMessage", lambda c: "Watching" in str(c.args.get("text")), timeout=20)
    assert opened.args["channel"] == "C123"
    assert f"Watching {watch1} for 30 minutes: 1 message in the queue ({queue_id})" in opened.args["text"]
    thread = str(opened.response["ts"])

    # the list, and the limit of one watch per user in this config
    fake_slack.send_slash_command(bot.url, text="watch", user_id=AGENT, channel_id="C123")
    listed = fake_slack.wait_for("response_url", lambda c: "You watch one address" in str(c.args), timeout=20)
    assert watch1 in answer_text(fake_slack, listed)
    fake_slack.send_slash_command(bot.url, text=f"watch {watch1}", user_id=AGENT, channel_id="C123")
    fake_slack.wait_for("response_url", lambda c: "You already have 1 active watch" in str(c.args), timeout=20)

    set_quota("watch1", "none")
    subprocess.run(["/usr/sbin/postqueue", "-i", queue_id], check=True, capture_output=True)
    told = fake_slack.wait_for(
        "chat.postMessage", lambda c: c.args.get("thread_ts") == thread and "delivered" in str(c.args), timeout=30
    )
    said = answer_text(fake_slack, told)
    assert re.search(rf"<@{AGENT}> {queue_id} delivered to (INBOX|user/watch1@lab\.test), IMAP UID \d+\.", said), said
    assert "sent" in said and "UID" in said  # the trace line that shows it
    ended = fake_slack.wait_for(
        "chat.postMessage", lambda c: c.args.get("thread_ts") == thread and "has ended" in str(c.args), timeout=20
    )
    assert f"The watch of {watch1} has ended: every watched message left the queue." in ended.args["text"]


def test_an_unreachable_host_is_one_message_edited_when_it_is_back(fake_slack, start_bot, tmp_path, alert1):
    closed = free_port()  # nothing listens there: the host entry points at a closed port
    down = start_bot(fake_slack, extra=ALERTS, port=closed)
    post = fake_slack.wait_for("chat.postMessage", lambda c: "lab cannot be reached" in str(c.args), timeout=30)
    assert post.args["channel"] == "C0ALERTS"
    wait_periods(down, 2)
    down.stop()
    back = start_bot(fake_slack, extra=ALERTS)  # pointed back at the lab's sshd
    ts = str(post.response["ts"])
    edited = fake_slack.wait_for(
        "chat.update", lambda c: c.args.get("ts") == ts and "Back at" in str(c.args), timeout=30
    )
    assert re.search(r"lab cannot be reached: Back at \d\d:\d\d UTC, after ", edited.args["text"])
    wait_periods(back, 2)
    assert len(posts_about(fake_slack, "lab cannot be reached")) == 1


def test_an_unreachable_host_is_told_in_the_channels_language(fake_slack, start_bot):
    """The hosts are asked in worker threads: the error sentence too must be in French."""
    down = start_bot(fake_slack, slack={"language": "fr"}, extra=ALERTS, port=free_port())
    post = fake_slack.wait_for("chat.postMessage", lambda c: "lab" in str(c.args.get("text")), timeout=30)
    text = answer_text(fake_slack, post)
    down.stop()
    assert re.match(
        r"lab est injoignable : Connexion impossible à lab \(127\.0\.0\.1:\d+\) : rien n'écoute sur ce port "
        r"\(connexion refusée\)\.",
        text,
    ), text


def test_a_clean_stop_hands_the_alert_period_over_at_once(fake_slack, start_bot):
    """The replica that stops gives the alerts lease up: the next one runs its first period at once, not
    after the lease's expiry (two periods and 10 s: 30 s here, silent)."""
    slow = {"alerts": {"channel": "C0ALERTS", "every": "10s"}, "watch": {"every": "10s"}}
    first = start_bot(fake_slack, extra=slow)
    wait_periods(first, 1)
    first.stop()
    assert "the alerts lease could not be released" not in first.log()
    started = time.monotonic()
    second = start_bot(fake_slack, extra=slow)
    wait_periods(second, 1, timeout=25)
    assert time.monotonic() - started < 8, second.log()


def test_the_cli_watch_waits_and_prints_the_delivery(lab_config, tmp_path, fake_slack, watch1):
    queue_id = send_deferred(watch1)
    config = write_config(tmp_path, fake_slack, extra={"watch": {"every": "1s"}})
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "watch", watch1, "for", "10m"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline() if process.stdout else ""
        assert first.startswith(f"Watching {watch1} for 10 minutes"), first  # the watch is on
        set_quota("watch1", "none")
        subprocess.run(["/usr/sbin/postqueue", "-i", queue_id], check=True, capture_output=True)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    out = first + out
    assert f"1 message in the queue ({queue_id})" in " ".join(out.split())
    assert re.search(rf"{queue_id} delivered to \S+, IMAP UID \d+\.", out), out
    assert f"The watch of {watch1} has ended: every watched message left the queue." in out
    nothing = run_mailbot("--config", str(config), "watch", "nobody.here@lab.test")
    assert nothing.returncode == 0
    assert "Nothing for nobody.here@lab.test is in the queue now, so there is nothing to watch." in nothing.stdout
