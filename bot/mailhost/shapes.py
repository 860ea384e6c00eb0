"""A guard shape: how one command template is allowed on the mail host, word by word.

Each tool module (bot/mailhost/tools) declares its shapes beside its templates, by calling the
templates with the sentinel values below: `shape()` turns each sentinel into the pattern of its
grammar, and every other word stays a literal. bot/mailhost/guard.py gathers them into the
program that runs on the host. Kept apart from guard.py so that the tools can build shapes
without importing the module that imports them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

from bot.mailhost import grammar
from bot.mailhost.commands import RemoteCommand
from bot.mailhost.values import (
    Address,
    BodyGuid,
    ClientIp,
    Folder,
    Mailbox,
    MessageId,
    PostfixMap,
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
_ITEM_IDS_SENTINEL = "\x00ITEMIDS\x00"  # one or more BlueMind 5 item ids, the last words
_REPEATED = {_UIDS_SENTINEL: grammar.UID, _ITEM_IDS_SENTINEL: grammar.ITEM_ID}
EPOCH = "\x00EPOCH\x00"  # a number of seconds, put in place of a template's own number
_SENTINELS = {
    "\x00ADDRESS\x00": grammar.ADDRESS,
    "\x00LOGIN\x00": grammar.LOCAL_PART,
    "\x00DOMAIN\x00": grammar.DOMAIN,
    "\x00QUEUEID\x00": grammar.QUEUE_ID,
    "\x00MESSAGEID\x00": grammar.MESSAGE_ID,
    "\x00CLIENTIP\x00": grammar.CLIENT_IP,
    EPOCH: grammar.EPOCH,
    "\x00UID\x00": grammar.UID,
    _UIDS_SENTINEL: grammar.UID,
    _ITEM_IDS_SENTINEL: grammar.ITEM_ID,
    "\x00ITEMID\x00": grammar.ITEM_ID,
    _FOLDER_SENTINEL: grammar.FOLDER,
    _CYRUS_FOLDER_SENTINEL: grammar.CYRUS_FOLDER,
    "\x00SEARCH\x00": grammar.SEARCH,
    "\x00SPOOL\x00": grammar.SPOOL_FILE,
    "\x00GUID\x00": grammar.BODY_GUID,
    "\x00MAP\x00": grammar.POSTFIX_MAP,
}

# The values a tool module gives its templates to declare a shape.
ANY_ADDRESS = Address("\x00ADDRESS\x00")
ANY_QUEUE_ID = QueueId("\x00QUEUEID\x00")
ANY_MESSAGE_ID = MessageId("\x00MESSAGEID\x00")
ANY_CLIENT_IP = ClientIp("\x00CLIENTIP\x00")
ANY_MAILBOX = Mailbox("\x00LOGIN\x00", "\x00DOMAIN\x00")
ANY_FOLDER = Folder(_FOLDER_SENTINEL)
ANY_CYRUS_FOLDER = Folder(_CYRUS_FOLDER_SENTINEL)
ANY_UID = Uid(cast(int, "\x00UID\x00"))  # a sentinel standing in for the number
SOME_UIDS = (Uid(cast(int, _UIDS_SENTINEL)),)  # 1 to MAX_UIDS of them, the command's last words
ANY_ITEM_ID = Uid(cast(int, "\x00ITEMID\x00"))
SOME_ITEM_IDS = (Uid(cast(int, _ITEM_IDS_SENTINEL)),)
ANY_QUERY = SearchQuery(("\x00SEARCH\x00",))
ANY_SPOOL_FILE = SpoolPath("\x00SPOOL\x00")
ANY_BODY_GUID = BodyGuid("\x00GUID\x00")
ANY_POSTFIX_MAP = PostfixMap("\x00MAP\x00")


@dataclass(frozen=True)
class Shape:
    """One allowed command: its words, each a literal or a pattern; `writes` marks a change."""

    name: str
    words: tuple[tuple[str, str], ...]  # ("lit", text), ("re", pattern), or last ("re+", pattern): 1 to 200
    writes: bool


def shape(name: str, command: RemoteCommand, writes: bool = False) -> Shape:
    """The shape of a template called with sentinels: each sentinel becomes its grammar's pattern."""
    words: list[tuple[str, str]] = []
    argv = list(command.argv)
    repeated = _REPEATED.get(argv[-1])
    while argv and argv[-1] in _REPEATED:
        argv.pop()
    for word in argv:
        pieces = re.split("(" + "|".join(re.escape(s) for s in _SENTINELS) + ")", word)
        if len(pieces) == 1:
            words.append(("lit", word))
        else:
            pattern = "".join(_SENTINELS.get(piece, re.escape(piece)) for piece in pieces)
            words.append(("re", pattern))
    if repeated:
        words.append(("re+", repeated))
    return Shape(name, tuple(words), writes)
