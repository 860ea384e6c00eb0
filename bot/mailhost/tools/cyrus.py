"""Cyrus's own tools on a BlueMind 4 store: mbpath, unexpunge, mbexamine, and the mail files.

Each command is here three times over, side by side: its template, its guard shape (`shapes`),
and the `Cyrus` method that runs it and hands the answer to its pure parser (bot/mailhost/cyrus.py).
The tools run as the cyrus user (else "can't read mailboxes file", rc 75), by absolute path,
through `sudo -n`, with a mailbox name built from a validated `Mailbox` and `Folder`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.errors import MailboxNotFound, RemoteCommandFailed
from bot.i18n import _
from bot.mailhost.commands import HostClock, RemoteCommand, script, split_clock, with_clock
from bot.mailhost.cyrus import (
    CyrusFormatError,
    ExpungedMail,
    IndexRecord,
    MailHeaders,
    parse_mail_headers,
    parse_mbexamine,
    parse_mbpath,
    parse_unexpunge_list,
)
from bot.mailhost.shapes import ANY_CYRUS_FOLDER, ANY_MAILBOX, ANY_SPOOL_FILE, SOME_UIDS, Shape, shape
from bot.mailhost.tools.base import OnHost
from bot.mailhost.values import INBOX, Folder, Mailbox, SpoolPath, Uid, spool_file

if TYPE_CHECKING:  # annotations only: the config (and YAML) is not read to parse a command line
    from bot.config import HostConfig

CYRUS_BIN = "/usr/lib/cyrus/bin"
UNEXPUNGE = f"{CYRUS_BIN}/unexpunge"
MBPATH = f"{CYRUS_BIN}/mbpath"
HEAD = "/usr/bin/head"
MAIL_HEAD_BYTES = 65536  # the sudo rule allows exactly this count
AS_CYRUS = ("sudo", "-n", "-u", "cyrus")

# --- templates ------------------------------------------------------------------------------

# The present mails of some folders, reduced on the host to what tells a copy from another
# (UID, date, size, GUID, flags, cached From and Subject): mbexamine dumps much more per mail.
INDEX_SCRIPT = script("index.sh")


def mailbox_path(mailbox: Mailbox, folder: Folder = INBOX) -> RemoteCommand:
    return RemoteCommand("mailbox_path", (*AS_CYRUS, MBPATH, mailbox.folder_name(folder)))


def list_expunged(mailbox: Mailbox, folder: Folder = INBOX) -> RemoteCommand:
    return RemoteCommand("list_expunged", with_clock(*AS_CYRUS, UNEXPUNGE, "-l", mailbox.folder_name(folder)))


def restore_expunged(mailbox: Mailbox, folder: Folder, uids: tuple[Uid, ...]) -> RemoteCommand:
    if not uids:
        raise ValueError("restore_expunged needs at least one UID")
    words = tuple(str(uid.value) for uid in uids)
    return RemoteCommand(
        "restore_expunged", (*AS_CYRUS, UNEXPUNGE, "-u", "-d", "-v", mailbox.folder_name(folder), *words)
    )


def restore_all_expunged(mailbox: Mailbox, folder: Folder) -> RemoteCommand:
    return RemoteCommand("restore_all_expunged", (*AS_CYRUS, UNEXPUNGE, "-a", "-d", "-v", mailbox.folder_name(folder)))


def index_records(mailbox: Mailbox, others: bool = True) -> RemoteCommand:
    """The user's folders (and with `others`, the domain's top-level shared mailboxes)."""
    names = [mailbox.cyrus_name, f"user/{mailbox.login}/*@{mailbox.domain}"]
    if others:
        names.append(f"%@{mailbox.domain}")
    return RemoteCommand("index_records", ("/bin/sh", "-c", INDEX_SCRIPT, "mailbot-index", *names))


def mail_head(path: SpoolPath) -> RemoteCommand:
    return RemoteCommand("mail_head", (*AS_CYRUS, HEAD, "-c", str(MAIL_HEAD_BYTES), "--", path.value))


# --- guard shapes ---------------------------------------------------------------------------


def shapes(host: HostConfig) -> list[Shape]:
    """What the guard lets the bot run of Cyrus on this host: only on a `store`."""
    if "store" not in host.roles:
        return []
    allowed: list[Shape] = []
    for where in (INBOX, ANY_CYRUS_FOLDER):  # `user/LOGIN@DOMAIN`, `user/LOGIN/FOLDER@DOMAIN`
        allowed += [
            shape("mailbox_path", mailbox_path(ANY_MAILBOX, where)),
            shape("list_expunged", list_expunged(ANY_MAILBOX, where)),
            shape("restore_expunged", restore_expunged(ANY_MAILBOX, where, SOME_UIDS), writes=True),
            shape("restore_all_expunged", restore_all_expunged(ANY_MAILBOX, where), writes=True),
        ]
    return [
        *allowed,
        shape("index_records", index_records(ANY_MAILBOX)),
        shape("index_records", index_records(ANY_MAILBOX, others=False)),
        shape("mail_head", mail_head(ANY_SPOOL_FILE)),
    ]


# --- running them ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpungedOnHost:
    mailbox: str
    mails: tuple[ExpungedMail, ...]
    clock: HostClock


@dataclass(frozen=True)
class MailFile:
    path: str
    headers: MailHeaders | None  # None: no file (never there, or purged)


_NO_MAILBOX = re.compile(r"Invalid mailbox name|does not exist|Mailbox does not exist")


class Cyrus(OnHost):
    """The Cyrus store on a BlueMind 4 host: where mailboxes are, and their expunged mails."""

    def folder_path(self, mailbox: Mailbox, folder: Folder = INBOX) -> str | None:
        """The folder's directory in the spool (`mbpath`), or None when Cyrus has no such folder."""
        result = self.connection.run(mailbox_path(mailbox, folder))
        text = result.stdout.decode("utf-8", "replace")
        if result.exit_status != 0 or not text.strip():
            if _NO_MAILBOX.search(result.stderr_text) or (result.exit_status == 65 and not text.strip()):
                return None
            self.require_sudo(result, "mbpath", "cyrus")
        return self.parsed(parse_mbpath, text, "mbpath", CyrusFormatError)

    def expunged(self, mailbox: Mailbox, folder: Folder = INBOX) -> ExpungedOnHost:
        """`unexpunge -l`: the mails that can be restored, with the host's clock (the dates are local)."""
        name = mailbox.folder_name(folder)
        result = self.connection.run(list_expunged(mailbox, folder))
        self.require_sudo(result, "unexpunge -l", "cyrus")
        clock, text = split_clock(result.stdout.decode("utf-8", "replace"))
        listing = self.parsed(parse_unexpunge_list, text, "unexpunge -l", CyrusFormatError)
        if listing.failure is not None:  # exit 0 all the same
            if listing.mailbox_missing:
                raise MailboxNotFound(
                    _("There is no mailbox {name} on {name2} (unexpunge: {failure}).").format(
                        name=name, name2=self.name, failure=listing.failure
                    )
                )
            raise RemoteCommandFailed(
                self.name,
                _("unexpunge -l {name} on {name2} failed: {failure}.").format(
                    name=name, name2=self.name, failure=listing.failure
                ),
            )
        return ExpungedOnHost(name, listing.mails, clock)

    def present_mails(self, mailbox: Mailbox) -> list[IndexRecord]:
        """The mails still present in the user's folders and the domain's shared mailboxes."""
        result = self.connection.run(index_records(mailbox))
        self.require_sudo(result, "mbexamine", "cyrus")
        return parse_mbexamine(result.stdout.decode("utf-8", "replace"))

    def mail_file(self, mailbox: Mailbox, folder: Folder, uid: Uid) -> MailFile:
        """Where the mail's file is on the host, and its main headers (read as cyrus, 64 kB at most)."""
        directory = self.folder_path(mailbox, folder)
        if directory is None:
            raise MailboxNotFound(
                _("There is no folder {folder_name} on {name}.").format(
                    folder_name=mailbox.folder_name(folder), name=self.name
                )
            )
        try:
            path = spool_file(directory, uid)
        except ValueError:
            raise RemoteCommandFailed(
                self.name,
                _("mbpath on {name} gave {directory!r}, a path the bot does not read.").format(
                    name=self.name, directory=directory
                ),
            ) from None
        result = self.connection.run(mail_head(path))
        if result.exit_status != 0 and "No such file" in result.stderr_text:
            return MailFile(path.value, None)
        self.require_sudo(result, "head (reading the mail file)", "cyrus")
        return MailFile(path.value, parse_mail_headers(result.stdout))
