"""The one place that knows every verb: its arguments, its policy, how it runs and shows.

The CLI and the Slack adapter both build their parsers from this table, so a verb added
here exists in both, with the same grammar and the same output.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.config import Config
from bot.mailhost.ssh import HostPool


class Outcome(Protocol):
    """What a verb returns: one headline, a text rendering, and the JSON contract."""

    exit_code: int

    def headline(self) -> str: ...

    def render_text(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


def _ignore_progress(message: str) -> None:
    return None


@dataclass
class Context:
    """What a verb may use while it runs: config, connections, who asked, a progress line."""

    config: Config
    pool: HostPool
    requester: str
    progress: Callable[[str], None] = field(default=_ignore_progress)


@dataclass(frozen=True)
class Verb:
    """A verb: `configure` declares its arguments, `validate` turns them into a typed request
    (raising `BadInput` before anything else happens), `run` does the work."""

    name: str
    summary: str
    policy: str
    configure: Callable[[argparse.ArgumentParser], None]
    validate: Callable[[argparse.Namespace], Any]
    run: Callable[[Any, Context], Outcome]
    cli_only: bool = False


VERBS: dict[str, Verb] = {}


def register(verb: Verb) -> Verb:
    if verb.name in VERBS:
        raise ValueError(f"verb {verb.name} registered twice")
    VERBS[verb.name] = verb
    return verb
