"""`locate ADDRESS UID [--folder F]`: the mail's file on the host and its main headers (read-only).

What the support page does by hand: the folder's directory (`mbpath`), the file `UID.` in it,
and its From, To, Date, Subject and Message-ID, read as the cyrus user (64 kB at most, never the
body past the headers). A deleted mail keeps its file until the host purges it: that is said.
BlueMind 5 keeps no mail files on the host.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from bot.core import render
from bot.core.mailboxes import MailRequest, Resolved, require_user_mailbox, resolve, validate_mail_request
from bot.core.registry import Context, ReadVerb, Section
from bot.errors import ExitStatus, MailbotError, MailboxNotFound
from bot.i18n import N_, _
from bot.mailhost.cyrus import MailHeaders
from bot.mailhost.values import INBOX, Folder, Uid

HEADER_FIELDS = (("From", "sender"), ("To", "to"), ("Cc", "cc"), ("Date", "date"), ("Subject", "subject"))


@dataclass
class LocateReport:
    resolved: Resolved
    folder: Folder
    uid: Uid
    path: str
    headers: MailHeaders
    deleted: bool
    exit_code: int = ExitStatus.OK

    def headline(self) -> str:
        state = _(" (deleted, still on disk)") if self.deleted else ""
        where = f"{self.resolved.label}, {self.folder}"
        return _("UID {uid} of {where}{state} is the file {path} on {host}.").format(
            uid=self.uid, where=where, state=state, path=self.path, host=self.resolved.host.name
        )

    def sections(self) -> list[Section]:
        rows = [[name, getattr(self.headers, key) or ""] for name, key in HEADER_FIELDS]
        rows.append(["Message-ID", self.headers.message_id or ""])
        sections = [Section(_("Headers"), render.table([_("Header"), _("Value")], rows))]
        if self.deleted:
            sections.append(
                Section(
                    _("Note"),
                    _("This mail is deleted (expunged) but not purged yet: `{command}` brings it back.").format(
                        command=f"restore {self.resolved.address} {self.uid}"
                        + ("" if self.folder == INBOX else f" --folder {self.folder}")
                    ),
                    monospace=False,
                )
            )
        return sections

    def to_json(self) -> dict[str, Any]:
        return {
            **self.resolved.json(),
            "folder": self.folder.value,
            "uid": self.uid.value,
            "path": self.path,
            "deleted": self.deleted,
            "headers": {
                "from": self.headers.sender,
                "to": self.headers.to,
                "cc": self.headers.cc,
                "date": self.headers.date,
                "subject": self.headers.subject,
                "message_id": self.headers.message_id,
            },
        }


def run_locate(request: MailRequest, context: Context) -> LocateReport:
    resolved = resolve(request.address, context)
    if resolved.version == 5:
        raise MailbotError(
            _("{host} runs BlueMind 5, which keeps no mail files on the host; use history instead.").format(
                host=resolved.host.name
            )
        )
    require_user_mailbox(resolved)
    host, mailbox = resolved.host, resolved.mailbox
    context.progress(
        _("Looking for UID {uid} of {folder_name} on {host}…").format(
            uid=request.uid, folder_name=mailbox.folder_name(request.folder), host=host.name
        )
    )
    found = host.cyrus.mail_file(mailbox, request.folder, request.uid)
    if found.headers is None:
        raise MailboxNotFound(
            _(
                "There is no file {path} on {host}: no mail with UID {uid} in {folder} of {label} "
                "(never there, or purged after its deletion)."
            ).format(path=found.path, host=host.name, uid=request.uid, folder=request.folder, label=resolved.label)
        )
    deleted = any(m.uid == request.uid.value for m in host.cyrus.expunged(mailbox, request.folder).mails)
    return LocateReport(resolved, request.folder, request.uid, found.path, found.headers, deleted)


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDRESS", help=_("the mailbox's address (an alias is resolved)"))
    parser.add_argument("uid", metavar="UID", help=_("the mail's IMAP UID"))
    parser.add_argument("--folder", metavar="FOLDER", help=_("the folder the UID belongs to (default INBOX)"))


LOCATE = ReadVerb(
    name="locate",
    summary=N_("where a mail's file is on the host, and its main headers (BlueMind 4)"),
    configure=_configure,
    validate=validate_mail_request,
    run=run_locate,
)
