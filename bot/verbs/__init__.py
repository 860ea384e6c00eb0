"""Every verb, listed once: the table the CLI and the Slack adapter build their grammar from.

The list is written out, not filled by registrations at import, so this file is where a verb
comes to exist; its order is the order of the help.

Each line names the verb, the module and attribute that define it, and its summary (the same
words as the verb's own `summary`, which tests/verbs/test_table.py checks): `mailbot --help` shows
the summaries alone, and a command imports the one verb module it runs, when it is first asked
for (`VERBS["trace"]`). Importing every verb cost about 0.1 s of each start (issue 24).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, NamedTuple

from bot.i18n import N_

if TYPE_CHECKING:
    from bot.core.registry import Verb


class Listed(NamedTuple):
    """One verb of the table, before its module is imported."""

    name: str
    module: str  # under bot.verbs
    attribute: str
    summary: str


LISTED = (
    Listed("audit", "audit", "AUDIT", N_("who asked what, who approved, what ran, what came back")),
    Listed("check", "check", "CHECK", N_("config valid, hosts reachable, host keys match, logs and tools found")),
    Listed("deleted", "deleted", "DELETED", N_("the deleted mails of a mailbox that can still be restored")),
    Listed("flush", "flush", "FLUSH", N_("ask Postfix to retry the whole queue now, or one message")),
    Listed(
        "history",
        "history",
        "HISTORY",
        N_("the moves of one mail (created, read, moved to Trash or a mailshare, deleted), read plainly"),
    ),
    Listed("search", "history", "SEARCH", N_("the history of every mail of a mailbox matching some words")),
    Listed("locate", "locate", "LOCATE", N_("where a mail's file is on the host, and its main headers (BlueMind 4)")),
    Listed(
        "message", "message", "MESSAGE", N_("one message's whole journey, by queue id or Message-ID, across every host")
    ),
    Listed(
        "queue", "queue", "QUEUE", N_("what waits in the queue and why: by reason, domain and age, or for one address")
    ),
    Listed(
        "regen-maps",
        "regen_maps",
        "REGEN_MAPS",
        N_("rebuild the Postfix maps from the directory (when an existing address is 'User unknown')"),
    ),
    Listed("restore", "restore", "RESTORE", N_("bring deleted mails back into their folder (after approval)")),
    Listed("trace", "trace", "TRACE", N_("every message to or from an address: deliveries, refusals, queue, hints")),
    Listed(
        "watch",
        "watch",
        "WATCH",
        N_("be told when the mail queued now for an address is delivered, bounced or expires"),
    ),
    Listed("unwatch", "watch", "UNWATCH", N_("end your watches (of one address, or all)")),
)


class VerbTable(Mapping[str, "Verb"]):
    """The verbs by name, in the order listed; a verb's module is imported the first time it is read.

    Names, order and summaries need no import (`name in VERBS`, `list(VERBS)`, `summary(name)`);
    `VERBS[name]` and `VERBS.values()` import what they return.
    """

    def __init__(self, listed: tuple[Listed, ...]) -> None:
        self._listed: dict[str, Listed] = {}
        for entry in listed:
            if entry.name in self._listed:
                raise ValueError(f"verb {entry.name} listed twice")
            self._listed[entry.name] = entry
        self._loaded: dict[str, Verb] = {}
        self._lock = threading.Lock()  # the Slack bot's threads may ask for the same verb at once

    def __getitem__(self, name: str) -> Verb:
        verb = self._loaded.get(name)
        if verb is None:
            entry = self._listed[name]  # KeyError for a name that is not a verb, as a dict
            with self._lock:
                verb = getattr(importlib.import_module(f"bot.verbs.{entry.module}"), entry.attribute)
                if verb.name != name:
                    raise ValueError(f"bot.verbs.{entry.module}.{entry.attribute} is verb {verb.name}, not {name}")
                self._loaded[name] = verb
        return verb

    def __contains__(self, name: object) -> bool:
        return name in self._listed

    def __iter__(self) -> Iterator[str]:
        return iter(self._listed)

    def __len__(self) -> int:
        return len(self._listed)

    def summary(self, name: str) -> str:
        """The verb's summary (English, to translate with `_()`), without importing it."""
        return self._listed[name].summary


VERBS = VerbTable(LISTED)
