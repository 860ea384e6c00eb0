"""Two `mailbot serve` processes sharing one real PostgreSQL, behind the fake Slack: a click, a share
or a retry lands on either, and behaves as on one bot; a replica killed with -9 loses nothing."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.state.migrations import MIGRATIONS
from bot.state.requests import INTERRUPTED_DETAIL
from tests.conftest import ADMIN_KEY, ROOT, run_mailbot
from tests.fakeslack import FakeSlack
from tests.fakeslack.payloads import send_interactivity
from tests.postgres import start_cluster
from tests.slack.test_approvals import APPROVER, REQUESTER, ask_flush, card_of, click
from tests.slack.test_serve import answer_text

SECOND_APPROVER = "U999"


def replicated(url: str, **approvals: object) -> dict:
    return {
        "state": {"url": url},
        "approvals": {"approvers": [APPROVER, SECOND_APPROVER], "expiry_minutes": 15, **approvals},
        "policies": {"flush": "approve"},
    }


def mailbot(config_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_mailbot("--config", str(config_dir / "mailbot.yaml"), *args)


def audit_events(config_dir: Path) -> list[dict]:
    run = mailbot(config_dir, "audit", "1000", "--json")
    assert run.returncode == 0, run.stderr
    return list(json.loads(run.stdout)["records"])


def assert_chain_intact(config_dir: Path) -> None:
    verified = mailbot(config_dir, "audit", "--verify")
    assert verified.returncode == 0, verified.stderr
    assert "is intact" in verified.stdout


def health_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def card_text(fake: FakeSlack, card) -> str:
    return "\n".join(b.get("text", {}).get("text", "") for b in card_of(fake, card)["blocks"])


def test_a_request_made_on_a_is_approved_on_b_and_runs_once(fake_slack, start_bot, postgres_url, tmp_path):
    a = start_bot(fake_slack, extra=replicated(postgres_url))
    b = start_bot(fake_slack, extra=replicated(postgres_url))
    card = ask_flush(fake_slack, a.url)
    payload = fake_slack.block_action_payload(
        action_id="mail_approve", user_id=APPROVER, channel_id="C123", message_ts=str(card.response["ts"])
    )
    assert send_interactivity(b.url, fake_slack.signing_secret, payload).status == 200
    fake_slack.wait_for("chat.update", lambda c: "Ran in" in str(c.args), timeout=20)
    assert f"Approved by <@{APPROVER}>" in card_text(fake_slack, card)
    # Slack retries the click on A: A knows it is done.
    assert send_interactivity(a.url, fake_slack.signing_secret, payload).status == 200
    fake_slack.wait_for("response_url", lambda c: "already approved" in str(c.args))
    ran = [r for r in audit_events(tmp_path) if r["event"] == "ran"]
    assert len(ran) == 1 and ran[0]["user"] == APPROVER
    check = mailbot(tmp_path, "check", "--json")
    state = json.loads(check.stdout)["state"]
    assert (state["backend"], state["ok"], state["schema_version"]) == ("postgresql", True, MIGRATIONS[-1].version)
    assert state["where"] == postgres_url and len(state["replicas"]) == 2
    assert "2 replicas of `mailbot serve` seen in the last minute" in mailbot(tmp_path, "check").stdout
    assert_chain_intact(tmp_path)


def test_twenty_clicks_spread_over_a_and_b_run_it_once(fake_slack, start_bot, postgres_url, tmp_path):
    bots = [start_bot(fake_slack, extra=replicated(postgres_url)) for _ in range(2)]
    card = ask_flush(fake_slack, bots[0].url)
    payloads = [
        fake_slack.block_action_payload(
            action_id="mail_approve", user_id=user, channel_id="C123", message_ts=str(card.response["ts"])
        )
        for user in [APPROVER, SECOND_APPROVER] * 10
    ]
    barrier = threading.Barrier(len(payloads))

    def approve(n: int) -> None:
        barrier.wait()
        send_interactivity(bots[n % 2].url, fake_slack.signing_secret, payloads[n])

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fake_slack.wait_for("chat.update", lambda c: "Ran in" in str(c.args), timeout=20)
    time.sleep(1.5)
    events = [r["event"] for r in audit_events(tmp_path)]
    assert events == ["requested", "approved", "ran"]
    assert len([c for c in fake_slack.calls("chat.update") if "Ran in" in str(c.args)]) == 1
    refused = [c for c in fake_slack.calls("response_url") if "already approved" in str(c.args)]
    assert len(refused) == 19
    assert_chain_intact(tmp_path)


def test_share_on_b_posts_an_answer_made_on_a(fake_slack, start_bot, postgres_url):
    a = start_bot(fake_slack, extra=replicated(postgres_url))
    b = start_bot(fake_slack, extra=replicated(postgres_url))
    fake_slack.send_slash_command(a.url, text="trace quota2@lab.test", user_id="U123", channel_id="C123")
    answer = fake_slack.wait_for("response_url", timeout=30)
    button = next(x for x in answer.args["blocks"] if x["type"] == "actions")["elements"][0]
    fake_slack.send_block_action(b.url, action_id="mail_share", value=button["value"], user_id="U456")
    fake_slack.wait_for("response_url", lambda c: "Only the person who asked" in str(c.args))
    fake_slack.send_block_action(b.url, action_id="mail_share", value=button["value"], user_id="U123")
    posted = fake_slack.wait_for("chat.postMessage", timeout=10)
    assert posted.args["channel"] == "C123"
    assert "Trace of quota2@lab.test on lab" in answer_text(fake_slack, posted)
    assert "Shared by <@U123>" in answer_text(fake_slack, posted)


def test_rate_limits_count_over_both_replicas(fake_slack, start_bot, postgres_url):
    limits = {"rate_limits": {"per_user": "3/60s", "per_channel": "1000/60s"}}
    bots = [start_bot(fake_slack, slack=limits, extra={"state": {"url": postgres_url}}) for _ in range(2)]
    texts = [
        json.loads(fake_slack.send_slash_command(bots[n % 2].url, text="trace quota2@lab.test", user_id="U1").body)[
            "text"
        ]
        for n in range(5)
    ]
    assert [("faster than the bot allows" in t) for t in texts] == [False, False, False, True, True]


class FreezableProxy:
    """A TCP relay to the lab's SSH that can stop relaying: a command sent through it then runs
    "forever" (until the bot's command timeout), as on a host that hangs."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
                while self.frozen.is_set():
                    time.sleep(0.05)
                if not data:
                    return
                sink.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def hanging_host() -> Iterator[FreezableProxy]:
    proxy = FreezableProxy(("127.0.0.1", 2222))
    yield proxy
    proxy.close()


def test_kill_9_of_a_leaves_its_pending_request_approvable_on_b(fake_slack, start_bot, postgres_url, tmp_path):
    a = start_bot(fake_slack, extra=replicated(postgres_url))
    b = start_bot(fake_slack, extra=replicated(postgres_url))
    card = ask_flush(fake_slack, a.url)
    a.process.kill()
    a.process.wait()
    click(fake_slack, b.url, card, "mail_approve", APPROVER)
    fake_slack.wait_for("chat.update", lambda c: "Ran in" in str(c.args), timeout=20)
    assert [r["event"] for r in audit_events(tmp_path)] == ["requested", "approved", "ran"]
    assert_chain_intact(tmp_path)


def test_kill_9_of_a_while_it_runs_fails_the_run_once_on_b(fake_slack, start_bot, postgres_url, tmp_path, hanging_host):
    # Both replicas reach the host through a relay that can hang; the lab's own key runs anything.
    known = tmp_path / "known_hosts"
    pinned = (ROOT / "lab" / "run" / "ssh" / "known_hosts").read_text()
    known.write_text(pinned.replace("[127.0.0.1]:2222", f"[127.0.0.1]:{hanging_host.port}"))
    host = {"port": hanging_host.port, "known_hosts": str(known), "connect_timeout": 2, "command_timeout": 4}
    host |= {"key_file": str(ADMIN_KEY), "change_key_file": str(ADMIN_KEY)}
    a = start_bot(fake_slack, extra=replicated(postgres_url), **host)
    card = ask_flush(fake_slack, a.url)
    b = start_bot(fake_slack, extra=replicated(postgres_url), **host)
    hanging_host.frozen.set()
    click(fake_slack, a.url, card, "mail_approve", APPROVER)
    fake_slack.wait_for("chat.update", lambda c: "running" in str(c.args), timeout=10)
    time.sleep(1.0)  # A has sent the command: it hangs on the host
    a.process.kill()
    a.process.wait()
    hanging_host.frozen.clear()
    # After A's heartbeat stops and the host's timeouts (2 + 4 + 5 s) pass, B fails it, once.
    failed = fake_slack.wait_for("chat.update", lambda c: "The bot stopped while this ran" in str(c.args), timeout=45)
    assert failed.args["ts"] == card.response["ts"]
    assert "The bot stopped while this ran; check the host" in card_text(fake_slack, card)
    time.sleep(SWEEP_WAIT)
    assert len([c for c in fake_slack.calls("chat.update") if "The bot stopped" in str(c.args)]) == 1
    records = audit_events(tmp_path)
    assert [r["event"] for r in records] == ["requested", "approved", "interrupted"]  # never run a second time
    assert records[-1]["detail"] == INTERRUPTED_DETAIL
    assert_chain_intact(tmp_path)
    assert b.process.poll() is None


SWEEP_WAIT = 6.0  # more than one sweep of B


def test_socket_mode_two_replicas_each_event_to_one(fake_slack, start_bot, postgres_url):
    bots = [start_bot(fake_slack, http=False, extra={"state": {"url": postgres_url}}) for _ in range(2)]
    fake_slack.socket.wait_connected(timeout=10, opened=2)
    assert fake_slack.socket.connected == 2
    fake_slack.socket.spread = True
    urls = [fake_slack.new_response_url() for _ in range(6)]
    envelopes = [
        fake_slack.push_slash_command(text="trace quota2@lab.test", user_id=f"U{n}", response_url=url)
        for n, url in enumerate(urls)
    ]
    for envelope in envelopes:
        assert "Working on" in fake_slack.wait_for_ack(envelope, timeout=5).payload["text"]
    for url in urls:
        fake_slack.wait_for("response_url", lambda c, u=url: c.url == u and "Trace of quota2" in str(c.args), 30)
    time.sleep(1)
    acked = [a.envelope_id for a in fake_slack.socket.acks()]
    assert sorted(acked) == sorted(envelopes)  # each acknowledged once, by one replica
    finals = [c for c in fake_slack.calls("response_url") if "Trace of quota2" in str(c.args)]
    assert sorted(c.url for c in finals) == sorted(urls)  # each answered once
    assert len(set(fake_slack.socket.delivered_to.values())) == 2  # both replicas had their share
    assert all("event=command verb=trace channel=slack" in bot.log() for bot in bots)  # each served some


@pytest.mark.postgres
def test_postgresql_down_reads_answer_changes_say_so_and_the_bot_reconnects(fake_slack, start_bot, tmp_path):
    cluster = start_cluster()  # a cluster of its own: this test stops it
    try:
        cluster.psql("postgres", "CREATE DATABASE bot")
        bot = start_bot(fake_slack, extra=replicated(cluster.url("bot")))
        cluster.stop("immediate")
        fake_slack.send_slash_command(bot.url, text="trace quota2@lab.test", user_id="U123", channel_id="C123")
        read = fake_slack.wait_for("response_url", lambda c: "Trace of quota2@lab.test" in str(c.args), timeout=30)
        assert read.args["replace_original"] is True  # a read needs no state
        assert not any(b["type"] == "actions" for b in read.args["blocks"])  # no Share: nowhere to keep it
        reply = fake_slack.send_slash_command(bot.url, text="flush --reason INC-1", user_id=REQUESTER)
        assert reply.status == 200 and reply.elapsed < 3
        refused = fake_slack.wait_for("response_url", lambda c: "does not answer" in str(c.args), timeout=30)
        assert (
            f"The bot's state database (postgresql://mailbot@127.0.0.1:{cluster.port}/bot) does not answer;"
            " approvals are unavailable until it is back." in answer_text(fake_slack, refused)
        )
        assert fake_slack.calls("chat.postMessage") == []  # no card for a request that was not stored
        assert health_status(bot.health) == 503
        check = mailbot(tmp_path, "check", "--json")
        assert check.returncode == 1
        assert "approvals are unavailable until it is back" in json.loads(check.stdout)["state"]["problem"]
        cluster.start()
        ask_flush(fake_slack, bot.url)  # the pool reconnected by itself: the card is posted
        assert health_status(bot.health) == 200
        assert "Traceback" not in bot.log()
    finally:
        cluster.stop("immediate")
