"""BlueMind's bm-cli on a host: users, mail history, and BlueMind 5's deleted mail.

Each command is here three times over, side by side: its template, its guard shape (`shapes`),
and the `BmCli` method that runs it and hands the answer to its pure parser (bot/mailhost/bmcli.py).
bm-cli is BlueMind's Java CLI; it needs root (it reads the admin token), so it runs through
`sudo -n`, at the path the host entry gives (`bm_cli`, default /usr/bin/bm-cli).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from bot.errors import MailboxNotFound, RemoteCommandFailed
from bot.i18n import _
from bot.mailhost.bmcli import (
    BmCliFormatError,
    BmUser,
    DeletedItem,
    MailHistory,
    parse_bm5_unexpunge,
    parse_history,
    parse_user_get,
)
from bot.mailhost.commands import HostClock, RemoteCommand, script, split_clock, with_clock
from bot.mailhost.shapes import ANY_ADDRESS, ANY_FOLDER, ANY_QUERY, ANY_UID, SOME_UIDS, Shape, shape
from bot.mailhost.ssh import CommandResult
from bot.mailhost.tools.base import OnHost, first_line
from bot.mailhost.values import INBOX, Address, Folder, SearchQuery, Uid

if TYPE_CHECKING:  # annotations only: pydantic is not imported to parse a command line
    from bot.config import HostConfig

BM5_ALL_DAYS = 36500  # `--days N` restores what was deleted in the last N days: all of it

# --- templates ------------------------------------------------------------------------------

# Several BlueMind 5 restores by id: bm-cli takes one --id per run.
BM5_RESTORE_SCRIPT = script("bm5_restore.sh")


def bm_cli_path(path: str) -> str:
    """The host entry's `bm_cli`, as a word of a command: an absolute path, no spaces."""
    if not PurePosixPath(path).is_absolute() or any(c.isspace() for c in path):
        raise ValueError(f"bm-cli path {path!r} is not an absolute path")
    return path


def _bm(bm_cli: str, *words: str) -> tuple[str, ...]:
    """bm-cli as root (it reads the admin token), at the host's path."""
    return ("sudo", "-n", bm_cli_path(bm_cli), *words)


def _bm_unexpunge(bm_cli: str, address: Address, folder: Folder) -> tuple[str, ...]:
    return _bm(bm_cli, "mail", "unexpunge", address.value, "--folder", folder.value)


def bmcli_version(bm_cli: str) -> RemoteCommand:
    return RemoteCommand("bmcli_version", _bm(bm_cli, "--version"))


def bmcli_user(bm_cli: str, address: Address) -> RemoteCommand:
    return RemoteCommand(
        "bmcli_user", _bm(bm_cli, "user", "get", address.value, "--display", "login email", "--no-progress")
    )


def bmcli_history_imap(bm_cli: str, address: Address, uid: Uid, folder: Folder) -> RemoteCommand:
    words = ("--email", address.value, "--imapUid", str(uid.value), "--folderPath", folder.value)
    return RemoteCommand("bmcli_history_imap", _bm(bm_cli, "mail", "history-imap", *words))


def bmcli_history_query(bm_cli: str, address: Address, query: SearchQuery) -> RemoteCommand:
    words = ("--email", address.value, "--query", query.value)
    return RemoteCommand("bmcli_history_query", _bm(bm_cli, "mail", "history-query", *words))


def bmcli_deleted(bm_cli: str, address: Address, folder: Folder) -> RemoteCommand:
    return RemoteCommand("bmcli_deleted", with_clock(*_bm_unexpunge(bm_cli, address, folder), "--dry"))


def bmcli_restore(bm_cli: str, address: Address, folder: Folder, uids: tuple[Uid, ...]) -> RemoteCommand:
    if not uids:
        raise ValueError("bmcli_restore needs at least one id")
    if len(uids) == 1:
        return RemoteCommand("bmcli_restore", (*_bm_unexpunge(bm_cli, address, folder), "--id", str(uids[0].value)))
    words = tuple(str(uid.value) for uid in uids)
    return RemoteCommand(
        "bmcli_restore",
        (
            "/bin/sh",
            "-c",
            BM5_RESTORE_SCRIPT,
            "mailbot-restore",
            bm_cli_path(bm_cli),
            address.value,
            folder.value,
            *words,
        ),
    )


def bmcli_restore_all(bm_cli: str, address: Address, folder: Folder) -> RemoteCommand:
    return RemoteCommand("bmcli_restore_all", (*_bm_unexpunge(bm_cli, address, folder), "--days", str(BM5_ALL_DAYS)))


# --- guard shapes ---------------------------------------------------------------------------


def shapes(host: HostConfig) -> list[Shape]:
    """What the guard lets the bot run of bm-cli on this host: on a `store` or a `bmcli` host,
    at the host entry's bm-cli path."""
    if not host.roles & {"store", "bmcli"}:
        return []
    bm, address, folder = host.bm_cli, ANY_ADDRESS, ANY_FOLDER
    return [
        shape("bmcli_version", bmcli_version(bm)),
        shape("bmcli_user", bmcli_user(bm, address)),
        shape("bmcli_history_imap", bmcli_history_imap(bm, address, ANY_UID, folder)),
        shape("bmcli_history_imap", bmcli_history_imap(bm, address, ANY_UID, INBOX)),
        shape("bmcli_history_query", bmcli_history_query(bm, address, ANY_QUERY)),
        shape("bmcli_deleted", bmcli_deleted(bm, address, folder)),
        shape("bmcli_restore", bmcli_restore(bm, address, folder, (ANY_UID,)), writes=True),
        shape("bmcli_restore", bmcli_restore(bm, address, folder, SOME_UIDS * 2), writes=True),
        shape("bmcli_restore_all", bmcli_restore_all(bm, address, folder), writes=True),
    ]


# --- running them ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletedOnBm5:
    items: tuple[DeletedItem, ...]
    clock: HostClock


_BM_NOT_FOUND = re.compile(r"No mailbox matches|not found|did not match anything|Invalid or unknown domain")


class BmCli(OnHost):
    """bm-cli on the host that runs it: who an address is, what happened to a mail, BlueMind 5's bin."""

    def user(self, address: Address) -> tuple[BmUser | None, str]:
        """The user bm-cli finds behind an address (aliases included), or None and bm-cli's reason."""
        result = self.connection.run(bmcli_user(self.config.bm_cli, address))
        said = first_line(result.stderr_text or result.stdout.decode("utf-8", "replace"))
        if result.exit_status != 0 and _BM_NOT_FOUND.search(said):
            return None, said.removeprefix("ERROR: ")
        self.require_sudo(result, "bm-cli user get", "root")
        users = self.parsed(parse_user_get, result.stdout.decode("utf-8", "replace"), "bm-cli", BmCliFormatError)
        if len(users) != 1:
            return None, _("{count} users match").format(count=len(users))
        return users[0], "found"

    def history(self, address: Address, uid: Uid, folder: Folder) -> list[MailHistory]:
        command = bmcli_history_imap(self.config.bm_cli, address, uid, folder)
        return self._histories(command, "bm-cli mail history-imap")

    def search(self, address: Address, query: SearchQuery) -> list[MailHistory]:
        command = bmcli_history_query(self.config.bm_cli, address, query)
        return self._histories(command, "bm-cli mail history-query")

    def deleted(self, address: Address, folder: Folder) -> DeletedOnBm5:
        """BlueMind 5's `mail unexpunge --dry`: the deleted items of a folder, with the host's clock."""
        result = self.connection.run(bmcli_deleted(self.config.bm_cli, address, folder))
        self._require(result, "bm-cli mail unexpunge --dry")
        clock, text = split_clock(result.stdout.decode("utf-8", "replace"))
        output = self.parsed(parse_bm5_unexpunge, text, "bm-cli", BmCliFormatError)
        if output.missing_folder is not None:  # bm-cli only says so, and exits 0
            folders = ", ".join(output.available_folders) or "none"
            raise MailboxNotFound(
                _("{address} has no folder `{folder}` on {name}; its folders are: {folders}.").format(
                    address=address, folder=folder, name=self.name, folders=folders
                )
            )
        if output.deleted_count is None and not output.items:
            raise RemoteCommandFailed(
                self.name,
                _("bm-cli mail unexpunge on {name} did not say how many mails are deleted: {text!r}").format(
                    name=self.name, text=text[:120]
                ),
            )
        return DeletedOnBm5(output.items, clock)

    def _histories(self, command: RemoteCommand, what: str) -> list[MailHistory]:
        result = self.connection.run(command)
        self._require(result, what)
        return self.parsed(parse_history, result.stdout.decode("utf-8", "replace"), what, BmCliFormatError)

    def _require(self, result: CommandResult, what: str) -> None:
        """bm-cli saying it knows no such mailbox is an answer (MailboxNotFound), not a failure."""
        said = first_line(result.stderr_text)
        if result.exit_status != 0 and _BM_NOT_FOUND.search(said):
            raise MailboxNotFound(
                _("{what} on {name}: {removeprefix}.").format(
                    what=what, name=self.name, removeprefix=said.removeprefix("ERROR: ")
                )
            )
        self.require_sudo(result, what, "root")
