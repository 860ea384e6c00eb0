"""The request store and the audit chain on a real SQLite file and a real PostgreSQL, with real threads."""

from __future__ import annotations

import threading
import time

import pytest

from bot.state import State
from bot.state.requests import NewRequest


def new(lifetime: float = 60) -> NewRequest:
    return NewRequest(
        verb="flush",
        arguments={},
        host="lab",
        template="flush_queue",
        argv=("sudo", "-n", "/usr/sbin/postqueue", "-f"),
        display="sudo -n /usr/sbin/postqueue -f",
        preview="3 message(s) in the queue",
        summary="flush the queue of lab",
        policy="approve",
        requester="U1",
        channel="C1",
        reason="INC-1",
        lifetime_seconds=lifetime,
    )


def test_twenty_simultaneous_approvals_let_exactly_one_through(state: State):
    change = state.requests.create(new())
    barrier = threading.Barrier(20)
    wins: list[bool] = []

    def click(user: str) -> None:
        barrier.wait()
        wins.append(state.requests.decide(change.id, user, approve=True))

    threads = [threading.Thread(target=click, args=(f"U{n}",)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 19 + [True]
    assert [r.event for r in state.audit.records()] == ["requested", "approved"]


def test_the_stored_command_is_what_comes_back(state: State):
    change = state.requests.create(new())
    again = state.requests.get(change.id)
    assert again is not None
    assert again.argv == ("sudo", "-n", "/usr/sbin/postqueue", "-f")
    assert (again.state, again.reason, again.requester) == ("pending", "INC-1", "U1")


def test_expired_requests_cannot_be_decided_and_are_swept(state: State):
    change = state.requests.create(new(lifetime=0.2))
    time.sleep(0.3)
    assert state.requests.decide(change.id, "U2", approve=True) is False
    (swept,) = state.requests.expire_due()
    assert swept.id == change.id and swept.state == "expired"
    assert state.requests.expire_due() == []


def test_a_run_is_recorded_once_and_only_after_approval(state: State):
    change = state.requests.create(new())
    with pytest.raises(RuntimeError):
        state.requests.finish(change.id, "U2", 0, "sha256:x", 0.1, None)
    assert state.requests.decide(change.id, "U2", approve=True)
    state.requests.finish(change.id, "U2", 0, "sha256:x", 0.1, None)
    with pytest.raises(RuntimeError):
        state.requests.finish(change.id, "U2", 0, "sha256:x", 0.1, None)
    done = state.requests.get(change.id)
    assert done is not None and done.state == "ran" and done.exit_status == 0


def test_a_run_left_unfinished_is_failed_not_repeated(state: State):
    change = state.requests.create(new())
    state.requests.decide(change.id, "U2", approve=True)
    assert state.requests.interrupted(older_than_seconds=3600) == []  # may still be running
    (stuck,) = state.requests.interrupted(older_than_seconds=0)
    assert stuck.id == change.id
    after = state.requests.get(change.id)
    assert after is not None and after.state == "failed"
    assert state.audit.records()[-1].event == "interrupted"


def test_the_audit_chain_shows_edits_and_deletions(state: State):
    for _ in range(3):
        change = state.requests.create(new())
        state.requests.decide(change.id, "U2", approve=False)
    assert state.audit.verify() is None
    with state.database.connect() as db:
        db.execute("DELETE FROM audit WHERE seq = 3")
    broken = state.audit.verify()
    assert broken is not None and broken.seq == 4
    with state.database.connect() as db:
        db.execute("DELETE FROM audit")
    state.audit.record("requested", "U1")
    assert state.audit.verify() is None


def test_a_writer_holding_the_state_makes_others_wait_not_fail(state: State):
    change = state.requests.create(new())
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with state.database.connect() as connection:
            connection.execute("UPDATE requests SET reason = reason WHERE id = ?", (change.id,))
            holding.set()
            release.wait(10)

    blocker = threading.Thread(target=hold)
    blocker.start()
    assert holding.wait(5)
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(state.requests.decide(change.id, "U2", True)))
    thread.start()
    time.sleep(1.0)
    assert result == []  # waiting for the lock
    release.set()
    blocker.join(timeout=5)
    thread.join(timeout=5)
    assert result == [True]


def test_two_approvers_needed_twenty_clicks_at_once_approve_once(state: State):
    """`approvals.required: 2`: the first approval is kept (audit `endorsed`), a second by the same
    person counts once, and of many second approvals at the same instant exactly one approves."""
    change = state.requests.create(new())
    assert state.requests.endorse(change.id, "U2", required=2) == (False, ("U2",))
    assert state.requests.endorse(change.id, "U2", required=2) == (False, ("U2",))
    barrier = threading.Barrier(20)
    wins: list[bool] = []

    def click(user: str) -> None:
        barrier.wait()
        wins.append(state.requests.endorse(change.id, user, required=2)[0])

    threads = [threading.Thread(target=click, args=(f"U{n}",)) for n in range(3, 23)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 19 + [True]
    decided = state.requests.get(change.id)
    assert decided is not None and decided.state == "approved"
    assert state.requests.endorsers(change.id) == ("U2",)
    events = [(r.event, r.user) for r in state.audit.records()]
    assert events[:2] == [("requested", "U1"), ("endorsed", "U2")]
    assert events[2][0] == "approved" and len(events) == 3
    assert [c.id for c in state.requests.recent()][:1] == [change.id]


def test_a_rejection_keeps_its_reason_in_the_audit(state: State):
    change = state.requests.create(new())
    assert state.requests.decide(change.id, "U2", approve=False, detail="not during the migration")
    assert [(r.event, r.detail) for r in state.audit.records()][-1] == ("rejected", "not during the migration")
