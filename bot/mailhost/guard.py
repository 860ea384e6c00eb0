"""The host-side guard: the bot's key may run the bot's own command shapes, and nothing else.

`mailbot guard` writes a small program for the mail host and the `authorized_keys` line
that forces every login with the bot's key through it (`command="...",restrict`). The
program knows the allowed shapes because each tool module (bot/mailhost/tools) makes them from
the same template functions the bot calls, beside them (each called with sentinel values that
become patterns, see shapes.py), with the host's own config for the literal parts (log paths,
the map rebuild): the two cannot drift.
It splits `SSH_ORIGINAL_COMMAND` like a shell would, matches it word by word against a
shape, logs the decision, and runs the words itself (no shell), or refuses.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable

from bot.config import HostConfig
from bot.mailhost import commands
from bot.mailhost import host as mail_host
from bot.mailhost.shapes import Shape
from bot.mailhost.tools import bmcli, cyrus, postfix
from bot.mailhost.values import MAX_UIDS


def shapes_for(host: HostConfig) -> list[Shape]:
    """Every command the bot may send to this host, as shapes: each tool's that the host's roles
    enable, the reads first, then the changes (each in the tools' order)."""
    every = [*postfix.shapes(host), *mail_host.shapes(host), *cyrus.shapes(host), *bmcli.shapes(host)]
    return sorted(every, key=lambda shape: shape.writes)


def authorized_keys_line(public_key: str, program: str, mode: str, log: str | None = None) -> str:
    """The line for the bot's key: forced through the guard, no pty, no forwarding."""
    words = [program] + (["--log", log] if log else []) + [mode]
    forced = " ".join(shlex.quote(w) for w in words).replace('"', '\\"')
    return f'command="{forced}",restrict {public_key.strip()}'


# A literal this long is written once in the program, named by its index (scripts/guard_program.py).
LONG_LITERAL = 1000


def program(shapes: Iterable[Shape]) -> str:
    """The guard program for the host (Python 3, standard library only), shapes embedded."""
    texts: dict[str, int] = {}

    def word(kind: str, text: str) -> list[str | int]:
        if kind == "lit" and len(text) >= LONG_LITERAL:
            return ["text", texts.setdefault(text, len(texts))]
        return [kind, text]

    table = [
        {"name": s.name, "words": [word(kind, text) for kind, text in s.words], "writes": s.writes} for s in shapes
    ]
    document = json.dumps({"texts": list(texts), "shapes": table}, indent=1)
    return commands.script("guard_program.py", {"MAX_REPEATED": str(MAX_UIDS), "SHAPES": document}) + "\n"
