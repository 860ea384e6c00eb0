"""`history ADDRESS UID [--folder F]` and `search ADDRESS WORDS...`: where did this mail go?

Both ask bm-cli (`mail history-imap`, `mail history-query`) on the bm-cli host, show each mail's
table and, above it, the plain reading an admin would give: "received, still unread in INBOX",
"read, then moved to Trash (new UID 3) and removed from INBOX", "moved to the shared mailbox
`projet` (UID 56); not a deletion, so not in the Trash". bm-cli prints nothing at all for a UID
that is not in the folder: that is said, not shown as an empty answer.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core import render
from bot.core.mailboxes import MailRequest, Resolved, owner_name, resolve, validate_mail_request
from bot.core.registry import Context, ReadVerb, Section
from bot.errors import ExitStatus, MailboxNotFound
from bot.i18n import N_, _, ngettext
from bot.mailhost.bmcli import HistoryEvent, MailHistory, read_story
from bot.mailhost.values import (
    Address,
    Folder,
    SearchQuery,
    Uid,
    parse_address,
    parse_search_words,
)

MAX_TABLES = 20


def _stamp(event: HistoryEvent) -> str:
    return event.at.strftime("%Y-%m-%d %H:%M:%S") if isinstance(event.at, datetime) else event.at_text


def history_table(history: MailHistory) -> str:
    rows = [
        [
            _stamp(e),
            e.kind,
            render.clip(f"{e.owner} ({e.owner_kind})" if e.owner_kind else e.owner, 26),
            render.clip(e.folder, 20),
            "" if e.uid is None else str(e.uid),
            "?" if e.flags is None else ",".join(e.flags),
        ]
        for e in history.events
    ]
    return render.table([_("When"), _("Event"), _("Owner"), _("Folder"), "UID", _("Flags")], rows)


def _origin(history: MailHistory) -> str:
    first = history.events[0] if history.events else None
    return _("UID {uid} in {folder}").format(uid=first.uid, folder=first.folder) if first else _("no event")


def history_json(history: MailHistory, reading: str) -> dict[str, Any]:
    first = history.events[0] if history.events else None
    return {
        "reading": reading,
        "uid": first.uid if first else None,
        "folder": first.folder if first else None,
        "events": [
            {
                "at": render.iso(e.at) if e.at else e.at_text,
                "type": e.kind,
                "owner": e.owner,
                "owner_kind": e.owner_kind,
                "folder_uid": e.folder_uid,
                "folder": e.folder,
                "uid": e.uid,
                "flags": None if e.flags is None else list(e.flags),
            }
            for e in history.events
        ],
    }


@dataclass
class HistoryReport:
    resolved: Resolved
    histories: list[MailHistory]
    uid: Uid | None = None
    folder: Folder | None = None
    query: SearchQuery | None = None
    owner: str | None = None  # the Owner name of the mailbox's copies (its display name)
    exit_code: int = ExitStatus.OK

    def reading(self, history: MailHistory) -> str:
        asked = (self.folder.value, self.uid.value) if self.folder and self.uid else None
        return read_story(history, self.owner, asked)

    def headline(self) -> str:
        who = _("{label} on {name}").format(label=self.resolved.label, name=self.resolved.bmcli.name)
        if self.query is None:
            reading = self.reading(self.histories[0]) if self.histories else _("no history")
            return _("UID {uid} in {folder} of {who}: {reading}.").format(
                uid=self.uid, folder=self.folder, who=who, reading=reading
            )
        if not self.histories:
            return _("No mail of {who} matches “{query}” (bm-cli history-query found nothing).").format(
                who=who, query=self.query
            )
        return ngettext(
            "{count} mail of {who} matches “{query}”.", "{count} mails of {who} match “{query}”.", len(self.histories)
        ).format(count=len(self.histories), who=who, query=self.query)

    def sections(self) -> list[Section]:
        shown = self.histories[:MAX_TABLES]
        sections = []
        if self.query is not None and shown:
            readings = [
                _("Mail {i} ({origin}): {read_story}").format(i=i, origin=_origin(h), read_story=self.reading(h))
                for i, h in enumerate(shown, 1)
            ]
            if len(self.histories) > MAX_TABLES:
                readings.append(
                    ngettext(
                        "{number} more mail matches; narrow the words.",
                        "{number} more mails match; narrow the words.",
                        len(self.histories) - MAX_TABLES,
                    ).format(number=len(self.histories) - MAX_TABLES)
                )
            sections.append(Section(_("What happened"), "\n".join(readings), monospace=False))
        for number, history in enumerate(shown, 1):
            title = (
                _("Mail {number} ({origin})").format(number=number, origin=_origin(history))
                if self.query is not None
                else _("History")
            )
            sections.append(Section(title, history_table(history)))
        return sections

    def to_json(self) -> dict[str, Any]:
        return {
            **self.resolved.json(),
            "bmcli_host": self.resolved.bmcli.name,
            "uid": self.uid.value if self.uid else None,
            "folder": self.folder.value if self.folder else None,
            "query": self.query.value if self.query else None,
            "owner": self.owner,
            "mails": [history_json(h, self.reading(h)) for h in self.histories],
        }


def run_history(request: MailRequest, context: Context) -> HistoryReport:
    resolved = resolve(request.address, context)
    context.progress(
        _("Asking bm-cli on {name} for the history of UID {uid}…").format(name=resolved.bmcli.name, uid=request.uid)
    )
    owner = owner_name(resolved)
    histories = resolved.bmcli.history(
        resolved.mailbox, resolved.address, request.uid, request.folder, owner, resolved.authn
    )
    if not histories:
        raise MailboxNotFound(
            _(
                "No mail with UID {uid} in {folder} of {label} (bm-cli on {name} has no history for it): "
                "take the UID from `trace` or `deleted`, and give its folder with --folder."
            ).format(name=resolved.bmcli.name, uid=request.uid, folder=request.folder, label=resolved.label)
        )
    return HistoryReport(resolved, histories, uid=request.uid, folder=request.folder, owner=owner)


@dataclass(frozen=True)
class SearchRequest:
    address: Address
    query: SearchQuery


def validate_search(args: argparse.Namespace) -> SearchRequest:
    address = parse_address(args.address)
    return SearchRequest(address, parse_search_words(args.words))


def run_search(request: SearchRequest, context: Context) -> HistoryReport:
    resolved = resolve(request.address, context)
    context.progress(
        _("Asking bm-cli on {name} for the mails matching “{query}”…").format(
            name=resolved.bmcli.name, query=request.query
        )
    )
    histories = resolved.bmcli.search(resolved.address, request.query)
    owner = owner_name(resolved) if histories else None
    return HistoryReport(resolved, histories, query=request.query, owner=owner)


def _configure_history(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDRESS", help=_("the mailbox's address (an alias is resolved)"))
    parser.add_argument("uid", metavar="UID", help=_("the mail's IMAP UID (from trace's LMTP reply, or deleted)"))
    parser.add_argument("--folder", metavar="FOLDER", help=_("the folder the UID belongs to (default INBOX)"))


def _configure_search(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDRESS", help=_("the mailbox's address (an alias is resolved)"))
    parser.add_argument("words", nargs="+", metavar="WORD", help=_("words of the subject or sender"))


HISTORY = ReadVerb(
    name="history",
    summary=N_("the moves of one mail (created, read, moved to Trash or a mailshare, deleted), read plainly"),
    configure=_configure_history,
    validate=validate_mail_request,
    run=run_history,
)

SEARCH = ReadVerb(
    name="search",
    summary=N_("the history of every mail of a mailbox matching some words"),
    configure=_configure_search,
    validate=validate_search,
    run=run_search,
)
