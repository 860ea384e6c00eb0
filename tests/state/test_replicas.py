"""What replicas share through the state: one audit chain, leases, heartbeats, answers, rate limits."""

from __future__ import annotations

import threading
import time

from bot.state import State
from bot.state.requests import INTERRUPTED_DETAIL
from tests.state.conftest import OpenState
from tests.state.test_requests import new


def test_two_replicas_appending_at_once_keep_one_chain(open_replica: OpenState):
    replicas = [open_replica(), open_replica()]
    barrier = threading.Barrier(16)

    def append(state: State, n: int) -> None:
        barrier.wait()
        for i in range(5):
            state.audit.record("requested", f"U{n}", detail=f"{n}-{i}")

    threads = [threading.Thread(target=append, args=(replicas[n % 2], n)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = replicas[0].audit.records()
    assert [r.seq for r in records] == list(range(1, 81))
    assert replicas[1].audit.verify() is None
    assert len({r.detail for r in records}) == 80  # none lost, none written twice


def test_twenty_clicks_over_two_replicas_approve_once(open_replica: OpenState):
    a, b = open_replica(), open_replica()
    change = a.requests.create(new())
    barrier = threading.Barrier(20)
    wins: list[bool] = []

    def click(state: State, user: str) -> None:
        barrier.wait()
        wins.append(state.requests.decide(change.id, user, approve=True, runner=user))

    threads = [threading.Thread(target=click, args=((a, b)[n % 2], f"U{n}")) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 19 + [True]
    assert [r.event for r in b.audit.records()] == ["requested", "approved"]


def test_a_lease_has_one_holder_until_it_expires_or_is_released(open_replica: OpenState):
    a, b = open_replica(), open_replica()
    assert a.leases.hold("sweeper", "A", ttl_seconds=0.5) is True
    assert b.leases.hold("sweeper", "B", ttl_seconds=0.5) is False
    assert a.leases.hold("sweeper", "A", ttl_seconds=0.5) is True  # renewed by its holder
    assert b.leases.holder("sweeper") == "A"
    time.sleep(0.7)  # A stopped renewing (it died): B takes over
    assert b.leases.hold("sweeper", "B", ttl_seconds=10) is True
    assert a.leases.hold("sweeper", "A", ttl_seconds=10) is False
    assert a.leases.hold("alerts", "A", ttl_seconds=10) is True  # another name, another lease
    b.leases.release("sweeper", "B")
    assert a.leases.hold("sweeper", "A", ttl_seconds=10) is True


def test_at_most_one_of_many_contenders_gets_a_free_lease(open_replica: OpenState):
    replicas = [open_replica(), open_replica()]
    barrier = threading.Barrier(12)
    got: list[str] = []

    def contend(n: int) -> None:
        barrier.wait()
        if replicas[n % 2].leases.hold("sweeper", f"R{n}", ttl_seconds=30):
            got.append(f"R{n}")

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 1
    assert replicas[0].leases.holder("sweeper") == got[0]


def test_heartbeats_show_the_replicas_alive(open_replica: OpenState):
    a, b = open_replica(), open_replica()
    a.replicas.beat("A", started_at=time.time())
    b.replicas.beat("B", started_at=time.time())
    b.replicas.beat("B", started_at=0)  # a later beat moves seen_at, not the start
    assert [r.replica for r in a.replicas.seen(within_seconds=60)] == ["A", "B"]
    time.sleep(0.3)
    b.replicas.beat("B", started_at=time.time())
    assert [r.replica for r in a.replicas.seen(within_seconds=0.2)] == ["B"]
    b.replicas.leave("B")
    assert a.replicas.seen(within_seconds=60)[0].replica == "A"
    assert len(a.replicas.seen(within_seconds=60)) == 1


def test_a_run_whose_replica_died_fails_after_the_host_timeout_only(open_replica: OpenState):
    a, b = open_replica(), open_replica()
    dead = a.requests.create(new())
    alive = a.requests.create(new())
    assert a.requests.decide(dead.id, "U2", True, runner="A")
    assert b.requests.decide(alive.id, "U2", True, runner="B")
    a.requests.start(dead.id)
    b.requests.start(alive.id)
    # Within the host's timeout, nothing is failed, even for the replica that stopped.
    assert b.requests.interrupted(3600, {"lab": 0.5}, live_runners=frozenset({"B"})) == []
    time.sleep(0.6)
    (failed,) = b.requests.interrupted(3600, {"lab": 0.5}, live_runners=frozenset({"B"}))
    assert failed.id == dead.id and failed.state == "failed"
    assert b.requests.interrupted(3600, {"lab": 0.5}, live_runners=frozenset({"B"})) == []  # once
    still = b.requests.get(alive.id)
    assert still is not None and still.state == "approved"  # B is alive: its run may still end
    last = b.audit.records()[-1]
    assert (last.event, last.request_id, last.detail) == ("interrupted", dead.id, INTERRUPTED_DETAIL)
    assert b.audit.verify() is None


def test_an_answer_is_shared_from_another_replica_until_it_expires(open_replica: OpenState):
    from bot.state.shares import SharedAnswer

    a, b = open_replica(), open_replica()
    answer = {"text": "Trace of x", "blocks": [{"type": "section"}], "full_text": None}
    a.shares.put("k1", SharedAnswer("U1", "C1", "trace.txt", answer, time.time()), keep_seconds=60)
    a.shares.put("k2", SharedAnswer("U1", "C1", "trace.txt", answer, time.time()), keep_seconds=0.2)
    found = b.shares.get("k1")
    assert found is not None and (found.owner, found.channel, found.answer) == ("U1", "C1", answer)
    time.sleep(0.3)
    assert b.shares.get("k2") is None
    assert b.shares.get("nope") is None


def test_rate_limits_count_the_hits_of_every_replica(open_replica: OpenState):
    a, b = open_replica(), open_replica()
    assert [a.rates.wait_needed("user:U1", 3, 10, now=t) for t in (0, 1)] == [0, 0]
    assert b.rates.wait_needed("user:U1", 3, 10, now=2) == 0
    assert b.rates.wait_needed("user:U1", 3, 10, now=3) == 7  # the third hit came from A
    assert a.rates.wait_needed("user:U2", 3, 10, now=3) == 0  # someone else is not affected
    assert a.rates.wait_needed("user:U1", 3, 10, now=10.5) == 0  # the first one left the window


def test_a_cli_command_closes_the_state_it_opened(postgres_url: str, tmp_path, monkeypatch):
    """The CLI closes PostgreSQL's pool after its verb. Left open, the pool and its worker threads
    lived until a garbage collection, which ran in one of those threads and failed to join them
    (a warning of the in-process CLI tests, `tests/slack/test_replicas.py`)."""
    import json

    import yaml

    import bot.state
    from tests.conftest import run_mailbot

    opened: list[State] = []

    def open_state(*args: object) -> State:
        opened.append(state := real_open(*args))  # type: ignore[arg-type]
        return state

    real_open = bot.state.open_state
    monkeypatch.setattr(bot.state, "open_state", open_state)
    host = {"name": "mx", "address": "127.0.0.1", "port": 9, "user": "u", "key_file": "/k", "known_hosts": "/kh"}
    (tmp_path / "mailbot.yaml").write_text(yaml.safe_dump({"hosts": [host], "state": {"url": postgres_url}}))
    run = run_mailbot("--config", str(tmp_path / "mailbot.yaml"), "check", "--json")
    assert json.loads(run.stdout)["state"]["ok"] is True  # the host is down; the state was read
    assert len(opened) == 1 and opened[0].database._pool.closed  # type: ignore[attr-defined]
