"""Every state test runs twice: on a SQLite file and on a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.state import State, open_state

OpenState = Callable[[], State]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def open_replica(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenState]:
    """Opens the same state again, as another replica (or the CLI) would: a new pool, a new handle."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    opened: list[State] = []

    def open_one() -> State:
        state = open_state(tmp_path / "state.db", url)
        opened.append(state)
        return state

    yield open_one
    for state in opened:
        state.database.close()


@pytest.fixture
def state(open_replica: OpenState) -> State:
    return open_replica()
