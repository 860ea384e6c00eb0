"""What a verb is: its arguments, its policy, how it runs and how its answer shows.

The table of verbs is `bot.verbs.VERBS`; the CLI and the Slack adapter both build their parsers
from it, so a verb listed there exists in both, with the same grammar and the same output.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, NoReturn, Protocol, TypeVar, runtime_checkable

from bot.errors import BadInput, ConfigError
from bot.i18n import _, translate_argparse

# Types only: every verb module imports this one, and a verb's `--help` or a refused address should
# not pay for the config, paramiko and the state's drivers (about 0.3 s of imports, issue 24); the
# functions that need them import them when they run.
if TYPE_CHECKING:
    from bot.config import Config
    from bot.core.large_answers import AnswerSize
    from bot.core.scopes import Scope
    from bot.mailhost.commands import RemoteCommand
    from bot.mailhost.ssh import CommandResult, HostPool
    from bot.state import State
    from bot.state.requests import ChangeRequest


@dataclass(frozen=True)
class Section:
    """One part of an answer: a table (shown in monospace) or lines of prose (hints, warnings).

    `content` is the text, or what makes it piece by piece when it is written (a busy trace's
    table: 5 MB that the CLI never holds whole). `data` is what the section adds to the JSON
    answer (e.g. a restore's `restored` list).
    """

    title: str
    content: str | Callable[[], Iterable[str]]
    monospace: bool = True
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def body(self) -> str:
        """The whole text (made now, for a section made piece by piece)."""
        return self.content if isinstance(self.content, str) else "".join(self.content())

    def pieces(self) -> Iterable[str]:
        return (self.content,) if isinstance(self.content, str) else self.content()


class Outcome(Protocol):
    """What a verb returns: one headline, its sections, and the JSON contract.

    The CLI prints the sections as text, the Slack adapter as blocks; both read the same ones.
    """

    @property
    def exit_code(self) -> int: ...

    def headline(self) -> str: ...

    def sections(self) -> list[Section]: ...

    def to_json(self) -> dict[str, Any]: ...


@runtime_checkable
class StartsWatch(Protocol):
    """An answer that started a watch: Slack opens the watch's thread for its news, a terminal
    follows it until it ends (bot.periods.watches.follow)."""

    watch_id: str | None


class VerbArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one `BadInput` sentence instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(_("{prog}: {message} (see {prog} --help).").format(prog=self.prog, message=message))


def verb_parser(verb: Verb, prog: str) -> VerbArgumentParser:
    """The argument grammar of one verb, the same for the CLI and for Slack."""
    parser = VerbArgumentParser(prog=prog, description=_(verb.summary), add_help=True)
    configure_arguments(verb, parser)
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
    scope: Scope | None = None  # the caller's `scopes:` (bot.core.scopes); None: not limited
    answer_size: AnswerSize | None = None  # a Slack job's reading, for its turn among large answers

    @property
    def state(self) -> State:
        """The approvals and audit database, opened on first use."""
        if self._state is None:
            from bot.state import open_state

            self._state = open_state(self.config.state_path, self.config.state_url)
        return self._state

    def close_state(self) -> None:
        """Closes the state if a verb opened it: PostgreSQL's pool has worker threads, which a pool
        left to the garbage collector tried to join from one of its own (the in-process CLI tests)."""
        if self._state is not None:
            self._state.database.close()
            self._state = None


@dataclass(frozen=True)
class Plan:
    """What a change would do, worked out just before anyone decides: shown on the card, stored, run."""

    host: str
    command: RemoteCommand
    preview: str
    summary: str
    arguments: dict[str, Any]


Request = TypeVar("Request")
ChangePolicy = Literal["confirm", "approve"]


@dataclass(frozen=True, kw_only=True)
class ReadVerb(Generic[Request]):
    """A verb that only reads: `configure` declares its arguments, `validate` turns them into its
    typed request (raising `BadInput` before anything else happens), `run` answers it."""

    name: str
    summary: str
    configure: Callable[[argparse.ArgumentParser], None]
    validate: Callable[[argparse.Namespace], Request]
    run: Callable[[Request, Context], Outcome]
    # It lists messages: a scoped caller is not refused but shown only theirs (bot.core.scopes).
    lists_mail: bool = False
    cli_only: bool = False  # a terminal's: Slack does not offer it (`check`)
    policy: Literal["read"] = "read"
    plan: None = None
    report: None = None

    @property
    def changes_things(self) -> Literal[False]:
        return False


@dataclass(frozen=True, kw_only=True)
class ChangeVerb(Generic[Request]):
    """A verb that changes the mail system: `plan` says what would run, worked out just before anyone
    decides; `bot.core.changes` alone carries it out, after the policy (confirm or approve), and
    `report` reads the host afterwards. Every change verb takes `--reason` (the audit's, required
    where `approvals.require_reason` names it), and `--host NAME` when `host_help` says what it picks."""

    name: str
    summary: str
    policy: ChangePolicy
    configure: Callable[[argparse.ArgumentParser], None]
    validate: Callable[[argparse.Namespace], Request]
    plan: Callable[[Request, Context], Plan]
    report: Callable[[ChangeRequest, CommandResult, Context], list[Section]] | None = None
    host_help: str | None = None
    lists_mail: Literal[False] = False
    cli_only: Literal[False] = False
    run: None = None

    @property
    def changes_things(self) -> Literal[True]:
        return True


Verb = ReadVerb[Any] | ChangeVerb[Any]


def configure_arguments(verb: Verb, parser: argparse.ArgumentParser) -> None:
    """A verb's arguments, with those every change verb has declared here once."""
    verb.configure(parser)
    if isinstance(verb, ChangeVerb):
        parser.add_argument("--reason", metavar="TEXT", help=_("why (a ticket number, for the audit)"))
        if verb.host_help is not None:
            parser.add_argument("--host", metavar="NAME", help=_(verb.host_help))


translate_argparse()


def check_verb_names(config: Config, verbs: Mapping[str, Verb]) -> Config:
    """Refuse the config's verb settings that mean nothing, naming the key.

    Here, not in `bot.config`, because the config sits below the verbs: its callers (the CLI,
    the bot) check it against the verb table (`bot.verbs.VERBS`).
    """
    from bot.config import close_match

    named = [
        *((f"policies.{verb}", verb) for verb in config.policies),
        *((f"approvals.require_reason[{i}]", verb) for i, verb in enumerate(config.approvals.require_reason)),
        *((f"slack.verbs.{verb}", verb) for verb in config.slack.verbs),
    ]
    for key, name in named:
        if name not in verbs:
            suggestion = close_match(name, verbs)
            if suggestion is not None:
                message = _("{file}: {key}: unknown verb; did you mean {suggestion}?")
            else:
                message = _("{file}: {key}: unknown verb; the verbs are {known}.")
            raise ConfigError(
                message.format(file=config.path, key=key, suggestion=suggestion, known=", ".join(sorted(verbs)))
            )
    for name, policy in config.policies.items():
        verb = verbs[name]
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
