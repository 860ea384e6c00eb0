"""The host-side guard: the bot's key may run the bot's own command shapes, and nothing else.

`mailbot guard` writes a small program for the mail host and the `authorized_keys` line
that forces every login with the bot's key through it (`command="...",restrict`). The
program knows the allowed shapes because they are generated here from the same template
functions the bot calls (each called with sentinel values that become patterns), with the
host's own config for the literal parts (log paths, the map rebuild): the two cannot drift.
It splits `SSH_ORIGINAL_COMMAND` like a shell would, matches it word by word against a
shape, logs the decision, and runs the words itself (no shell), or refuses.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import cast

from bot.config import HostConfig
from bot.mailhost import commands, grammar
from bot.mailhost.values import (
    INBOX,
    MAX_UIDS,
    Address,
    Folder,
    Mailbox,
    MessageId,
    QueueId,
    SearchQuery,
    SpoolPath,
    Uid,
)

# Sentinels: values no validated input can produce, replaced by the pattern of their grammar.
# The folders' are printable: Cyrus names carry them through the modified UTF-7 encoding unchanged.
_FOLDER_SENTINEL = "{FOLDER}"  # as bm-cli takes it
_CYRUS_FOLDER_SENTINEL = "{CYRUS_FOLDER}"  # in a Cyrus mailbox name: modified UTF-7
_UIDS_SENTINEL = "\x00UIDS\x00"  # one or more UIDs, the last words of a command
_SENTINELS = {
    "\x00ADDRESS\x00": grammar.ADDRESS,
    "\x00LOGIN\x00": grammar.LOCAL_PART,
    "\x00DOMAIN\x00": grammar.DOMAIN,
    "\x00QUEUEID\x00": grammar.QUEUE_ID,
    "\x00MESSAGEID\x00": grammar.MESSAGE_ID,
    "\x00EPOCH\x00": grammar.EPOCH,
    "\x00UID\x00": grammar.UID,
    _UIDS_SENTINEL: grammar.UID,
    _FOLDER_SENTINEL: grammar.FOLDER,
    _CYRUS_FOLDER_SENTINEL: grammar.CYRUS_FOLDER,
    "\x00SEARCH\x00": grammar.SEARCH,
    "\x00SPOOL\x00": grammar.SPOOL_FILE,
}


@dataclass(frozen=True)
class Shape:
    """One allowed command: its words, each a literal or a pattern; `writes` marks a change."""

    name: str
    words: tuple[tuple[str, str], ...]  # ("lit", text), ("re", pattern), or last ("re+", pattern): 1 to 200
    writes: bool

    def matches(self, argv: list[str]) -> bool:
        words = list(self.words)
        if words and words[-1][0] == "re+":
            repeated = words.pop()[1]
            tail = argv[len(words) :]
            if not 1 <= len(tail) <= MAX_UIDS or not all(re.fullmatch(repeated, word) for word in tail):
                return False
            argv = argv[: len(words)]
        if len(argv) != len(words):
            return False
        for (kind, expected), word in zip(words, argv, strict=True):
            if kind == "lit" and word != expected:
                return False
            if kind == "re" and not re.fullmatch(expected, word):
                return False
        return True


def _shape(name: str, command: commands.RemoteCommand, writes: bool) -> Shape:
    words: list[tuple[str, str]] = []
    argv = list(command.argv)
    repeated = argv[-1] == _UIDS_SENTINEL
    while argv and argv[-1] == _UIDS_SENTINEL:
        argv.pop()
    for word in argv:
        pieces = re.split("(" + "|".join(re.escape(s) for s in _SENTINELS) + ")", word)
        if len(pieces) == 1:
            words.append(("lit", word))
        else:
            pattern = "".join(_SENTINELS.get(piece, re.escape(piece)) for piece in pieces)
            words.append(("re", pattern))
    if repeated:
        words.append(("re+", grammar.UID))
    return Shape(name, tuple(words), writes)


def shapes_for(host: HostConfig) -> list[Shape]:
    """Every command the bot may send to this host, as shapes."""
    address = Address("\x00ADDRESS\x00")
    queue_id = QueueId("\x00QUEUEID\x00")
    message_id = MessageId("\x00MESSAGEID\x00")
    logs = host.maillog
    instance = host.postfix_config  # a Postfix instance's config directory: a literal part, like the logs
    reads: list[tuple[str, Callable[[], commands.RemoteCommand]]] = [
        ("trace_logs", lambda: _with_epoch(commands.trace_logs(address, 0, logs))),
        ("message_by_queue_id", lambda: commands.message_logs(queue_id, logs)),
        ("message_by_message_id", lambda: commands.message_logs(message_id, logs)),
        ("queue_json", lambda: commands.queue_json(instance)),
        ("queue_text", lambda: commands.queue_text(instance)),
        ("postfix_version", lambda: commands.postfix_version(instance)),
        ("queue_lifetime", lambda: commands.queue_lifetime(instance)),
        ("probe_host", lambda: commands.probe_host(logs)),
    ]
    writes: list[tuple[str, Callable[[], commands.RemoteCommand]]] = [
        ("flush_queue", lambda: commands.flush_queue(instance)),
        ("flush_message", lambda: commands.flush_message(queue_id, instance)),
    ]
    if host.regen_maps:
        writes.append(("regen_maps", lambda: commands.regen_maps(host.regen_maps)))
    if host.roles & {"store", "bmcli"}:
        _deleted_mail_shapes(host, reads, writes)
    return [_shape(name, build(), False) for name, build in reads] + [
        _shape(name, build(), True) for name, build in writes
    ]


def _deleted_mail_shapes(
    host: HostConfig,
    reads: list[tuple[str, Callable[[], commands.RemoteCommand]]],
    writes: list[tuple[str, Callable[[], commands.RemoteCommand]]],
) -> None:
    """Deleted mail, history and restores: the Cyrus tools (BlueMind 4) and bm-cli (both)."""
    address = Address("\x00ADDRESS\x00")
    mailbox = Mailbox("\x00LOGIN\x00", "\x00DOMAIN\x00")
    folder = Folder(_FOLDER_SENTINEL)
    cyrus_folder = Folder(_CYRUS_FOLDER_SENTINEL)
    uid = Uid(cast(int, "\x00UID\x00"))  # a sentinel standing in for the number
    uids = (Uid(cast(int, _UIDS_SENTINEL)),)
    bm_cli = host.bm_cli
    reads.append(("bluemind_probe", lambda: commands.bluemind_probe(bm_cli)))
    if "store" in host.roles:
        for where in (INBOX, cyrus_folder):  # `user/LOGIN@DOMAIN`, `user/LOGIN/FOLDER@DOMAIN`
            reads.append(("mailbox_path", partial(commands.mailbox_path, mailbox, where)))
            reads.append(("list_expunged", partial(commands.list_expunged, mailbox, where)))
            writes.append(("restore_expunged", partial(commands.restore_expunged, mailbox, where, uids)))
            writes.append(("restore_all_expunged", partial(commands.restore_all_expunged, mailbox, where)))
        reads.append(("index_records", lambda: commands.index_records(mailbox)))
        reads.append(("index_records", lambda: commands.index_records(mailbox, others=False)))
        reads.append(("mail_head", lambda: commands.mail_head(SpoolPath("\x00SPOOL\x00"))))
    reads.extend(
        [
            ("bmcli_version", lambda: commands.bmcli_version(bm_cli)),
            ("bmcli_user", lambda: commands.bmcli_user(bm_cli, address)),
            ("bmcli_history_imap", lambda: commands.bmcli_history_imap(bm_cli, address, uid, folder)),
            ("bmcli_history_imap", lambda: commands.bmcli_history_imap(bm_cli, address, uid, INBOX)),
            (
                "bmcli_history_query",
                lambda: commands.bmcli_history_query(bm_cli, address, SearchQuery(("\x00SEARCH\x00",))),
            ),
            ("bmcli_deleted", lambda: commands.bmcli_deleted(bm_cli, address, folder)),
        ]
    )
    writes.extend(
        [
            ("bmcli_restore", lambda: commands.bmcli_restore(bm_cli, address, folder, (uid,))),
            ("bmcli_restore", lambda: commands.bmcli_restore(bm_cli, address, folder, uids * 2)),
            ("bmcli_restore_all", lambda: commands.bmcli_restore_all(bm_cli, address, folder)),
        ]
    )


def _with_epoch(command: commands.RemoteCommand) -> commands.RemoteCommand:
    """The trace's `since` argument (epoch seconds) is a number: make it a pattern too."""
    argv = list(command.argv)
    index = argv.index("mailbot-trace") + 3
    argv[index] = "\x00EPOCH\x00"
    return commands.RemoteCommand(command.template, tuple(argv))


def authorized_keys_line(public_key: str, program: str, mode: str, log: str | None = None) -> str:
    """The line for the bot's key: forced through the guard, no pty, no forwarding."""
    words = [program] + (["--log", log] if log else []) + [mode]
    forced = " ".join(shlex.quote(w) for w in words).replace('"', '\\"')
    return f'command="{forced}",restrict {public_key.strip()}'


def program(shapes: Iterable[Shape]) -> str:
    """The guard program for the host (Python 3, standard library only), shapes embedded."""
    table = json.dumps([{"name": s.name, "words": s.words, "writes": s.writes} for s in shapes], indent=1)
    return commands.script("guard_program.py", {"MAX_REPEATED": str(MAX_UIDS), "SHAPES": table}) + "\n"
