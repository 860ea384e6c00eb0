"""The generated guard program's own decision, loaded in this process: what the tests check is the
matcher that runs on the host (`decide` of scripts/guard_program.py with the shapes embedded), not a twin."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bot.mailhost import guard
from bot.mailhost.commands import RemoteCommand
from bot.mailhost.shapes import Shape

Decide = Callable[[list[str], str], "str | None"]


def loaded(shapes: Iterable[Shape]) -> dict[str, object]:
    """The names of the program `mailbot guard` writes for these shapes, loaded here."""
    namespace: dict[str, object] = {"__name__": "mailbot_guard"}  # not __main__: main() does not run
    exec(compile(guard.program(shapes), "mailbot-guard", "exec"), namespace)
    return namespace


def decider(shapes: Iterable[Shape]) -> Decide:
    """`decide(words, mode)` of the program `mailbot guard` writes for these shapes."""
    decide = loaded(shapes)["decide"]
    assert callable(decide)
    return decide


def allowed_by(shapes: Iterable[Shape]) -> Callable[..., str | None]:
    """The name of the shape a command of the bot has on a host with these shapes, or None."""
    decide = decider(shapes)

    def allowed(command: RemoteCommand | list[str], mode: str = "all") -> str | None:
        words = list(command.argv) if isinstance(command, RemoteCommand) else command
        return decide(words, mode)

    return allowed
