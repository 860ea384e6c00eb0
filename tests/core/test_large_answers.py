"""The turns of large answers: past the threshold a job takes a turn, waits for one when all are
taken (saying so once), and gives it back when it ends, even by an error."""

from __future__ import annotations

import threading
import time

import pytest

from bot.core.large_answers import LargeAnswers


def test_small_answers_never_wait_and_a_large_one_waits_for_a_turn():
    gate = LargeAnswers(at_once=1, threshold_bytes=1000)
    said: list[str] = []
    with gate.job(said.append) as first:
        first.grew(600)
        first.grew(600)  # past the threshold: it holds the only turn
        with gate.job(said.append) as small:
            small.grew(999)  # under it: no turn needed, no wait, nothing said
        assert said == []
        waited = threading.Event()
        done = threading.Event()

        def told(text: str) -> None:
            said.append(text)
            waited.set()

        def second_job() -> None:
            with gate.job(told) as second:
                second.grew(5000)
                second.grew(5000)  # it holds its turn now: no second wait, nothing more said
                done.set()

        runner = threading.Thread(target=second_job)
        runner.start()
        assert waited.wait(5)
        time.sleep(0.2)
        assert not done.is_set()  # it waits while the first job holds the turn
    assert done.wait(5)
    runner.join(5)
    assert said == [
        "This answer is large (over 0.001 MB of log lines) and the bot builds 1 such answer at a time: "
        "yours goes on as soon as it is done."
    ]


def test_a_turn_comes_back_when_its_job_fails():
    gate = LargeAnswers(at_once=2, threshold_bytes=10)
    for _ in range(3):
        with pytest.raises(RuntimeError), gate.job(lambda text: None) as size:
            size.grew(100)
            raise RuntimeError("the host broke")
    said: list[str] = []
    with gate.job(said.append) as one, gate.job(said.append) as two:
        one.grew(100)
        two.grew(100)  # both turns free again: no wait
    assert said == []
