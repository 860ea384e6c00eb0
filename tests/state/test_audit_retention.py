"""The audit chain walked for an export, and pruned behind a signed checkpoint, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bot.state import State
from bot.state.audit import ChainWalk, now_iso

KEY = b"test-audit-key"


@pytest.fixture(autouse=True)
def audit_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILBOT_AUDIT_KEY", KEY.decode())


def fill(state: State, count: int) -> None:
    for index in range(count):
        state.audit.record("requested", f"U{index}", verb="flush", detail=f"r{index}")


def test_the_walk_checks_every_record_and_gives_only_the_window(state: State):
    fill(state, 5)
    middle = state.audit.records()[2].at
    walk = ChainWalk(state.audit, since=middle)
    given = list(walk)
    assert [r.seq for r, _ok in given] == [3, 4, 5] and all(ok for _r, ok in given)
    check = walk.result()
    assert check.intact and check.checked == 5


def test_an_edit_unverifies_that_record_and_every_later_one(state: State):
    fill(state, 5)
    with state.database.connect() as db:
        db.execute("UPDATE audit SET detail = 'changed' WHERE seq = 3")
    walk = ChainWalk(state.audit)
    flags = [(r.seq, ok) for r, ok in walk]
    assert flags == [(1, True), (2, True), (3, False), (4, False), (5, False)]
    check = walk.result()
    assert check.problem == "edited" and check.broken is not None and check.broken.seq == 3


def test_pruning_keeps_the_chain_verifiable_from_a_signed_checkpoint(state: State):
    fill(state, 6)
    cutoff = state.audit.records()[4].at  # records 1-4 are older
    pruning = state.audit.prune(cutoff, KEY, "ops")
    assert pruning.pruned == 4 and pruning.checkpoint is not None and pruning.checkpoint.through_seq == 4
    left = state.audit.records()
    assert [r.seq for r in left] == [5, 6, 7] and left[-1].event == "pruned" and left[-1].user == "ops"
    assert state.audit.verify() is None and state.audit.check().checked == 3
    # more records, then a second pruning: the checkpoints chain too
    fill(state, 2)
    second = state.audit.prune(now_iso(), KEY)
    assert second.pruned == 5 and state.audit.verify() is None
    assert [c.through_seq for c in state.audit.checkpoints()] == [4, 9]
    assert [r.event for r in state.audit.records()] == ["pruned"]


def test_pruning_everything_lets_the_chain_go_on(state: State):
    fill(state, 3)
    state.audit.prune(now_iso(), KEY)
    with state.database.connect() as db:
        db.execute("DELETE FROM audit")
    state.audit.record("requested", "U9")
    assert state.audit.records()[0].seq == 4 and state.audit.verify() is None


def test_pruning_never_drops_a_record_that_does_not_verify(state: State):
    fill(state, 6)
    with state.database.connect() as db:
        db.execute("UPDATE audit SET \"user\" = 'someone else' WHERE seq = 3")
    pruning = state.audit.prune(now_iso(), KEY)
    assert pruning.pruned == 2 and pruning.stopped_at is not None and pruning.stopped_at.seq == 3
    assert [r.seq for r in state.audit.records()][:4] == [3, 4, 5, 6]
    shown = state.audit.verify()
    assert shown is not None and shown.seq == 3  # still shown


def test_a_forged_or_unkeyed_checkpoint_is_not_trusted(state: State, monkeypatch: pytest.MonkeyPatch):
    fill(state, 4)
    state.audit.prune(now_iso(), KEY)
    with state.database.connect() as db:
        db.execute("UPDATE audit_checkpoints SET pruned = 1")
    assert state.audit.check().problem == "checkpoint"
    assert state.audit.prune(now_iso(), KEY).problem == "checkpoint"  # and nothing more is pruned
    monkeypatch.delenv("MAILBOT_AUDIT_KEY")
    assert state.audit.check().problem == "no_key"


def test_deleting_the_checkpoint_and_the_head_is_seen(state: State):
    fill(state, 4)
    state.audit.prune(state.audit.records()[2].at, KEY)
    with state.database.connect() as db:
        db.execute("DELETE FROM audit_checkpoints")
    broken = state.audit.verify()
    assert broken is not None and broken.seq == 3
