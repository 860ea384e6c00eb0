"""What every command template on a mail host is made of, whatever the tool.

A template is a fixed tuple of words; placeholders are filled only with validated values
(`Address`, `QueueId`, numbers) or with paths from the operator's config, and every word
is quoted with `shlex.quote` when the line is built. No f-string ever builds a shell line
from user text. The templates themselves live with their tool (bot/mailhost/tools), beside
the guard shapes made from them, so the two never drift; this module holds what they share:
`RemoteCommand`, the loader of the programs in `scripts/`, the log paths' check, and the
clock wrapper that tells the host's time and zone before a listing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path, PurePosixPath

# Read beside this module (the package is always installed as files): importlib.resources would
# bring in tempfile and zipfile, 5-7 ms of every command that goes to a host (issue 24).
_SCRIPTS = Path(__file__).parent / "scripts"


def script(name: str, fill: Mapping[str, str] | None = None) -> str:
    """A program the bot sends to the hosts, from its file in `scripts/`, where shellcheck and ruff
    read it, with each `@NAME@` replaced by `fill[NAME]`. The file's opening comments and its
    `# shellcheck` directives are for its readers and linters: they are not sent (the guard allows
    the text as sent, word for word)."""
    text = (_SCRIPTS / name).read_text(encoding="utf-8")
    lines = text.strip().splitlines()
    while lines and lines[0].startswith("#") and not lines[0].startswith("#!"):
        lines.pop(0)
    program = "\n".join(line for line in lines if not line.lstrip().startswith("# shellcheck ")).strip()
    for key, value in (fill or {}).items():
        program = program.replace(f"@{key}@", value)
    if left := re.findall(r"@[A-Z_]+@", program):
        raise ValueError(f"scripts/{name} has placeholders no value fills: {', '.join(sorted(set(left)))}")
    return program


_SHOWN_AS: dict[str, str] = {}  # program -> how a command's text shows it


def elided(program: str, label: str) -> str:
    """`program` as sent; a command's text (what an approver or a log reads) shows `label` instead."""
    _SHOWN_AS[program] = label
    return program


@dataclass(frozen=True)
class RemoteCommand:
    """A command ready to run: the template it came from and its exact words."""

    template: str
    argv: tuple[str, ...]

    def shell_line(self) -> str:
        return " ".join(shlex.quote(word) for word in self.argv)

    def __str__(self) -> str:
        """What an approver or a log reads: a long script body elided, the arguments shown."""
        return " ".join(_SHOWN_AS.get(word) or shlex.quote(word) for word in self.argv)


def log_paths(maillogs: tuple[str, ...]) -> tuple[str, ...]:
    """The host entry's mail logs, as words of a command: absolute paths, one line each."""
    for path in maillogs:
        if not PurePosixPath(path).is_absolute() or "\n" in path or "\0" in path:
            raise ValueError(f"maillog path {path!r} is not an absolute path")
    return maillogs


# The host's clock and zone before a listing: Cyrus and bm-cli print local times without a zone.
CLOCK_SCRIPT = r"""printf '#mailbot host now=%s tz=%s\n' "$(date +%s)" "$(date +%z)"; exec "$@" """.strip()
# The marker it prints first (the trace script prints the same one).
HOST_MARKER = re.compile(r"#mailbot host now=(?P<now>\d+) tz=(?P<tz>[+-]\d{4})")


def with_clock(*argv: str) -> tuple[str, ...]:
    """`argv` run after the clock marker line."""
    return ("/bin/sh", "-c", CLOCK_SCRIPT, "mailbot-clock", *argv)


@dataclass(frozen=True)
class HostClock:
    """The host's time when it answered, and its zone: Cyrus prints local times without one."""

    now: datetime
    tz: tzinfo


def host_zone(offset_text: str) -> timezone:
    """The zone of `date +%z` (`+0130`, `-0500`)."""
    offset = int(offset_text)
    sign = -1 if offset < 0 else 1
    return timezone(sign * timedelta(hours=abs(offset) // 100, minutes=abs(offset) % 100))


def split_clock(text: str) -> tuple[HostClock, str]:
    """The marker line `with_clock` prints first, and the rest (no marker: the bot's own clock, UTC)."""
    first, _, rest = text.partition("\n")
    marker = HOST_MARKER.fullmatch(first.strip())
    if marker is None:
        return HostClock(datetime.now(UTC), UTC), text
    tz = host_zone(marker["tz"])
    return HostClock(datetime.fromtimestamp(int(marker["now"]), tz), tz), rest
