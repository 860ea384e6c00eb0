"""The one place that knows every verb: its arguments, its policy, how it runs and shows.

The CLI and the Slack adapter both build their parsers from this table, so a verb added
here exists in both, with the same grammar and the same output.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol, TextIO

from bot.config import Config, close_match
from bot.errors import BadInput, ConfigError
from bot.i18n import _, translate_argparse
from bot.mailhost.commands import RemoteCommand
from bot.mailhost.ssh import CommandResult, HostPool
from bot.state import State, open_state
from bot.state.requests import ChangeRequest


@dataclass(frozen=True)
class Section:
    """One part of an answer: a table (shown in monospace) or lines of prose (hints, warnings).

    `data` is what the section adds to the JSON answer (e.g. a restore's `restored` list).
    """

    title: str
    body: str
    monospace: bool = True
    data: dict[str, Any] = field(default_factory=dict)


class Outcome(Protocol):
    """What a verb returns: one headline, its sections, and the JSON contract.

    The CLI prints the sections as text, the Slack adapter as blocks; both read the same ones.
    """

    @property
    def exit_code(self) -> int: ...

    def headline(self) -> str: ...

    def sections(self) -> list[Section]: ...

    def to_json(self) -> dict[str, Any]: ...


class VerbArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one `BadInput` sentence instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(_("{prog}: {message} (see {prog} --help).").format(prog=self.prog, message=message))


def verb_parser(verb: Verb, prog: str) -> VerbArgumentParser:
    """The argument grammar of one verb, the same for the CLI and for Slack."""
    parser = VerbArgumentParser(prog=prog, description=_(verb.summary), add_help=True)
    verb.configure(parser)
    return parser


def _ignore_progress(message: str) -> None:
    return None


@dataclass
class Context:
    """What a verb may use while it runs: config, connections, who asked, a progress line."""

    config: Config
    pool: HostPool
    requester: str
    progress: Callable[[str], None] = field(default=_ignore_progress)
    _state: State | None = None

    @property
    def state(self) -> State:
        """The approvals and audit database, opened on first use."""
        if self._state is None:
            self._state = open_state(self.config.state_path, self.config.state_url)
        return self._state


@dataclass(frozen=True)
class Plan:
    """What a change would do, worked out just before anyone decides: shown on the card, stored, run."""

    host: str
    command: RemoteCommand
    preview: str
    summary: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Verb:
    """A verb: `configure` declares its arguments, `validate` turns them into a typed request
    (raising `BadInput` before anything else happens), then either `run` does the work (a
    read verb), or `plan` says what a change would run and `report` reads the host after the
    approved command ran (a change, which only `bot.actions.changes` carries out)."""

    name: str
    summary: str
    policy: str
    configure: Callable[[argparse.ArgumentParser], None]
    validate: Callable[[argparse.Namespace], Any]
    run: Callable[[Any, Context], Outcome] | None = None
    plan: Callable[[Any, Context], Plan] | None = None
    report: Callable[[ChangeRequest, CommandResult, Context], list[Section]] | None = None
    cli_only: bool = False
    # After the answer, on a terminal: keep going and print what happens (`watch`); its exit code.
    follow: Callable[[Any, Context, TextIO], int] | None = None

    @property
    def changes_things(self) -> bool:
        return self.plan is not None


VERBS: dict[str, Verb] = {}
translate_argparse()


def register(verb: Verb) -> Verb:
    if verb.name in VERBS:
        raise ValueError(f"verb {verb.name} registered twice")
    VERBS[verb.name] = verb
    return verb


def check_verb_names(config: Config) -> Config:
    """Refuse the config's verb settings that mean nothing, naming the key.

    Here, not in `bot.config`, because the config sits below the verbs: its callers (the CLI,
    the bot) check it against the registry once the verbs are registered.
    """
    named = [
        *((f"policies.{verb}", verb) for verb in config.policies),
        *((f"approvals.require_reason[{i}]", verb) for i, verb in enumerate(config.approvals.require_reason)),
        *((f"slack.verbs.{verb}", verb) for verb in config.slack.verbs),
    ]
    for key, name in named:
        if name not in VERBS:
            suggestion = close_match(name, VERBS)
            if suggestion is not None:
                message = _("{file}: {key}: unknown verb; did you mean {suggestion}?")
            else:
                message = _("{file}: {key}: unknown verb; the verbs are {known}.")
            raise ConfigError(
                message.format(file=config.path, key=key, suggestion=suggestion, known=", ".join(sorted(VERBS)))
            )
    for name, policy in config.policies.items():
        verb = VERBS[name]
        if not verb.changes_things and policy != "read":
            raise ConfigError(
                _(
                    "{file}: policies.{verb}: {verb} only reads, so there is nothing to {policy}; remove the line."
                ).format(file=config.path, verb=name, policy=policy)
            )
        if verb.changes_things and policy == "read":
            raise ConfigError(
                _("{file}: policies.{verb}: {verb} changes things, so it needs confirm or approve, not read.").format(
                    file=config.path, verb=name
                )
            )
    return config
