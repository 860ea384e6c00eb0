"""BlueMind's bm-cli on a host: the directory, mail history, and BlueMind 5's deleted mail.

Each command is here three times over, side by side: its template, its guard shape (`shapes`),
and the `BmCli` method that runs it and hands the answer to its pure parser (bot/mailhost/bmcli.py).
bm-cli is BlueMind's Java CLI; it needs root (it reads the admin token), so it runs through
`sudo -n`, at the path the host entry gives (`bm_cli`, default /usr/bin/bm-cli).

Builds differ in what they accept (reference/BMCLI.md): `user get --no-progress` existed only
from 2020-03 to 2022-12 (BlueMind 5 refuses it), `history-imap --folderPath` only since 2022-02.
So the bot sends `user get` without a progress option (progress goes to stderr anyway), and
`--folderPath` only for a folder other than INBOX; a build that refuses it (`Unknown option`,
exit 2, a read) is remembered for the host, and asked again without it: it then looks the UID up
in every folder, and the tables are narrowed to the asked folder.
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
    DirectoryEntry,
    MailHistory,
    holds,
    parse_bm5_unexpunge,
    parse_directory_entries,
    parse_history,
    parse_user_get,
    parse_version,
    refused_option,
)
from bot.mailhost.commands import HostClock, RemoteCommand, script, split_clock, with_clock
from bot.mailhost.shapes import (
    ANY_ADDRESS,
    ANY_BODY_GUID,
    ANY_FOLDER,
    ANY_ITEM_ID,
    ANY_QUERY,
    ANY_UID,
    SOME_ITEM_IDS,
    Shape,
    shape,
)
from bot.mailhost.ssh import CommandResult
from bot.mailhost.tools.base import OnHost, first_line
from bot.mailhost.values import INBOX, Address, BodyGuid, Folder, Mailbox, SearchQuery, Uid

if TYPE_CHECKING:  # annotations only: the config (and YAML) is not read to parse a command line
    from bot.config import HostConfig

BM5_ALL_DAYS = 36500  # `--days N` restores what was deleted in the last N days: all of it
USAGE_ERROR = 2  # picocli's exit status for an option a subcommand does not know

# --- templates ------------------------------------------------------------------------------

# Several BlueMind 5 restores by id: bm-cli takes one --id per run.
BM5_RESTORE_SCRIPT = script("bm5_restore.sh")
# `check`'s question to bm-cli: does this build take --folderPath? A domain that cannot exist, so
# a build that takes it answers "Invalid or unknown domain" (exit 1) and one that does not,
# "Unknown option" (exit 2); nothing is looked up.
PROBE_ADDRESS = Address("mailbot-probe@mailbot-probe.invalid")


def bm_cli_path(path: str) -> str:
    """The host entry's `bm_cli`, as a word of a command: an absolute path, no spaces."""
    if not PurePosixPath(path).is_absolute() or any(c.isspace() for c in path):
        raise ValueError(f"bm-cli path {path!r} is not an absolute path")
    return path


def _bm(bm_cli: str, *words: str) -> tuple[str, ...]:
    """bm-cli as root (it reads the admin token), at the host's path."""
    return ("sudo", "-n", bm_cli_path(bm_cli), *words)


def _bm_unexpunge(bm_cli: str, address: Address, folder: Folder, authn: Address | None) -> tuple[str, ...]:
    words = ("--authn", authn.value) if authn else ()
    return _bm(bm_cli, "mail", "unexpunge", address.value, "--folder", folder.value, *words)


def bmcli_version(bm_cli: str) -> RemoteCommand:
    return RemoteCommand("bmcli_version", _bm(bm_cli, "--version"))


def bmcli_user(bm_cli: str, address: Address) -> RemoteCommand:
    return RemoteCommand("bmcli_user", _bm(bm_cli, "user", "get", address.value, "--display", "login email"))


def bmcli_entry(bm_cli: str, address: Address) -> RemoteCommand:
    """`maintenance list`: the directory entry of any kind, mailshares included (`user get` skips them)."""
    return RemoteCommand("bmcli_entry", _bm(bm_cli, "maintenance", "list", address.value))


def bmcli_history_imap(bm_cli: str, address: Address, uid: Uid, folder: Folder | None) -> RemoteCommand:
    """`folder` None: no --folderPath (INBOX on the builds that take it; every folder on the older)."""
    words: tuple[str, ...] = ("--email", address.value, "--imapUid", str(uid.value))
    if folder is not None:
        words += ("--folderPath", folder.value)
    return RemoteCommand("bmcli_history_imap", _bm(bm_cli, "mail", "history-imap", *words))


def bmcli_history_query(bm_cli: str, address: Address, query: SearchQuery) -> RemoteCommand:
    words = ("--email", address.value, "--query", query.value)
    return RemoteCommand("bmcli_history_query", _bm(bm_cli, "mail", "history-query", *words))


def bmcli_history_guid(bm_cli: str, guid: BodyGuid) -> RemoteCommand:
    return RemoteCommand("bmcli_history_guid", _bm(bm_cli, "mail", "history-guid", "--body-guid", guid.value))


def bmcli_deleted(bm_cli: str, address: Address, folder: Folder, authn: Address | None = None) -> RemoteCommand:
    return RemoteCommand("bmcli_deleted", with_clock(*_bm_unexpunge(bm_cli, address, folder, authn), "--dry"))


def bmcli_restore(
    bm_cli: str, address: Address, folder: Folder, ids: tuple[Uid, ...], authn: Address | None = None
) -> RemoteCommand:
    """BlueMind 5 restores by item id (`deleted` lists them), not by IMAP UID."""
    if not ids:
        raise ValueError("bmcli_restore needs at least one id")
    if len(ids) == 1:
        return RemoteCommand(
            "bmcli_restore", (*_bm_unexpunge(bm_cli, address, folder, authn), "--id", str(ids[0].value))
        )
    words = (address.value, folder.value, authn.value if authn else "-", *(str(uid.value) for uid in ids))
    return RemoteCommand(
        "bmcli_restore", ("/bin/sh", "-c", BM5_RESTORE_SCRIPT, "mailbot-restore", bm_cli_path(bm_cli), *words)
    )


def bmcli_restore_all(bm_cli: str, address: Address, folder: Folder, authn: Address | None = None) -> RemoteCommand:
    return RemoteCommand(
        "bmcli_restore_all", (*_bm_unexpunge(bm_cli, address, folder, authn), "--days", str(BM5_ALL_DAYS))
    )


def bmcli_folder_path_probe(bm_cli: str) -> RemoteCommand:
    return bmcli_history_imap(bm_cli, PROBE_ADDRESS, Uid(1), INBOX)


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
        shape("bmcli_entry", bmcli_entry(bm, address)),
        shape("bmcli_history_imap", bmcli_history_imap(bm, address, ANY_UID, folder)),
        shape("bmcli_history_imap", bmcli_history_imap(bm, address, ANY_UID, None)),
        shape("bmcli_history_query", bmcli_history_query(bm, address, ANY_QUERY)),
        shape("bmcli_history_guid", bmcli_history_guid(bm, ANY_BODY_GUID)),
        shape("bmcli_deleted", bmcli_deleted(bm, address, folder)),
        shape("bmcli_deleted", bmcli_deleted(bm, address, folder, address)),
        shape("bmcli_restore", bmcli_restore(bm, address, folder, (ANY_ITEM_ID,)), writes=True),
        shape("bmcli_restore", bmcli_restore(bm, address, folder, (ANY_ITEM_ID,), address), writes=True),
        shape("bmcli_restore", bmcli_restore(bm, address, folder, SOME_ITEM_IDS * 2), writes=True),
        shape("bmcli_restore", bmcli_restore(bm, address, folder, SOME_ITEM_IDS * 2, address), writes=True),
        shape("bmcli_restore_all", bmcli_restore_all(bm, address, folder), writes=True),
        shape("bmcli_restore_all", bmcli_restore_all(bm, address, folder, address), writes=True),
    ]


# --- running them ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletedOnBm5:
    items: tuple[DeletedItem, ...]
    clock: HostClock


@dataclass(frozen=True)
class BmCliBuild:
    """What `check` says of a host's bm-cli: its version and the options that differ per build."""

    version: str
    major: int | None
    folder_path: bool  # history-imap --folderPath (builds since 2022-02)


_BM_NOT_FOUND = re.compile(
    r"No mailbox matches|not found|did not match anything|Invalid or unknown domain|Target is not a valid email"
)
# Per host and bm-cli path: a build said `history-imap` does not take --folderPath. A hint, not a
# fact for ever: the Slack bot runs for weeks, and when the answer without the folder holds no copy
# in the asked folder, the folder is asked for again (an upgraded BlueMind takes it).
_FOLDER_PATH_REFUSED: set[tuple[str, str]] = set()


def forget_what_builds_refused() -> None:
    """A new process knows nothing yet (the in-process CLI runner of the tests starts each command so)."""
    _FOLDER_PATH_REFUSED.clear()


class BmCli(OnHost):
    """bm-cli on the host that runs it: who an address is, what happened to a mail, BlueMind 5's bin."""

    @property
    def _build_key(self) -> tuple[str, str]:
        return (self.name, self.config.bm_cli)

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

    def entry(self, address: Address) -> DirectoryEntry | None:
        """The directory entry behind an address, any kind (a mailshare too), or None."""
        result = self.connection.run(bmcli_entry(self.config.bm_cli, address))
        said = first_line(result.stderr_text)
        if result.exit_status != 0 and _BM_NOT_FOUND.search(said):
            return None
        self.require_sudo(result, "bm-cli maintenance list", "root")
        text = result.stdout.decode("utf-8", "replace")
        entries = self.parsed(parse_directory_entries, text, "bm-cli maintenance list", BmCliFormatError)
        return entries[0] if len(entries) == 1 else None

    def history(
        self, mailbox: Mailbox, address: Address, uid: Uid, folder: Folder, owner: str | None, authn: Address | None
    ) -> list[MailHistory]:
        """The tables of the mail (folder, UID) of `address`. A build that cannot be told the folder
        looks in every folder: its tables are narrowed to the asked one (`owner`: whose copies).
        An unknown folder is the user's answer, with the folders there are."""
        what = "bm-cli mail history-imap"
        bm_folder = mailbox.bm_folder(folder)
        remembered = not bm_folder.is_inbox and self._build_key in _FOLDER_PATH_REFUSED
        sent_folder = not bm_folder.is_inbox and not remembered
        result = self.connection.run(
            bmcli_history_imap(self.config.bm_cli, address, uid, bm_folder if sent_folder else None)
        )
        if sent_folder and result.exit_status == USAGE_ERROR and refused_option(result.stderr_text) == "--folderPath":
            _FOLDER_PATH_REFUSED.add(self._build_key)
            sent_folder = False
            result = self.connection.run(bmcli_history_imap(self.config.bm_cli, address, uid, None))
        if threw(result) and not bm_folder.is_inbox:
            self.check_folder(mailbox, address, folder, authn)  # bm-cli's NullPointerException
        self._require(result, what)
        histories = self.parsed(parse_history, result.stdout.decode("utf-8", "replace"), what, BmCliFormatError)
        histories = [h for h in histories if h.events]  # since 2022-02 an unknown UID is an empty table
        if sent_folder:
            return histories
        narrowed = [h for h in histories if holds(h, owner, bm_folder.value, uid.value)] or [
            h for h in histories if holds(h, None, bm_folder.value, uid.value)
        ]
        if not narrowed and remembered:  # the refusal was learned earlier: BlueMind may have been upgraded
            _FOLDER_PATH_REFUSED.discard(self._build_key)
            return self.history(mailbox, address, uid, folder, owner, authn)
        if not narrowed and not bm_folder.is_inbox:
            self.check_folder(mailbox, address, folder, authn)
        return narrowed

    def search(self, address: Address, query: SearchQuery) -> list[MailHistory]:
        what = "bm-cli mail history-query"
        result = self.connection.run(bmcli_history_query(self.config.bm_cli, address, query))
        self._require(result, what)
        histories = self.parsed(parse_history, result.stdout.decode("utf-8", "replace"), what, BmCliFormatError)
        return [h for h in histories if h.events]

    def by_guid(self, guid: BodyGuid) -> list[MailHistory]:
        """Every copy of one body, in every mailbox: where a restored mail came back, and its new UID."""
        what = "bm-cli mail history-guid"
        result = self.connection.run(bmcli_history_guid(self.config.bm_cli, guid))
        self._require(result, what)
        return self.parsed(parse_history, result.stdout.decode("utf-8", "replace"), what, BmCliFormatError)

    def deleted(self, mailbox: Mailbox, address: Address, folder: Folder, authn: Address | None) -> DeletedOnBm5:
        """`mail unexpunge --dry`: the deleted items of a folder, with the host's clock."""
        text = self._unexpunge_dry(mailbox, address, folder, authn)
        clock, text = split_clock(text)
        output = self.parsed(parse_bm5_unexpunge, text, "bm-cli", BmCliFormatError)
        if output.missing_folder is not None:  # bm-cli only says so, and exits 0
            raise self._no_folder(address, folder, output.available_folders)
        if output.deleted_count is None and not output.items:
            raise RemoteCommandFailed(
                self.name,
                _("bm-cli mail unexpunge on {name} did not say how many mails are deleted: {text!r}").format(
                    name=self.name, text=text[:120]
                ),
            )
        return DeletedOnBm5(output.items, clock)

    def check_folder(self, mailbox: Mailbox, address: Address, folder: Folder, authn: Address | None) -> None:
        """After a history-imap that failed: when the folder does not exist (bm-cli then throws a
        NullPointerException), say so with the folders there are; `unexpunge --dry` lists them."""
        text = split_clock(self._unexpunge_dry(mailbox, address, folder, authn))[1]
        output = self.parsed(parse_bm5_unexpunge, text, "bm-cli", BmCliFormatError)
        if output.missing_folder is not None:
            raise self._no_folder(address, folder, output.available_folders)

    def build(self) -> BmCliBuild:
        """`check`: the version line and whether this build takes --folderPath (one harmless probe)."""
        result = self.connection.run(bmcli_version(self.config.bm_cli))
        self.require_sudo(result, "bm-cli --version", "root")
        version = first_line(result.stdout.decode("utf-8", "replace"))
        parsed = parse_version(version)
        probe = self.connection.run(bmcli_folder_path_probe(self.config.bm_cli))
        if probe.exit_status not in (1, USAGE_ERROR):  # 1: the unknown domain, as it should
            self.require_sudo(probe, "bm-cli mail history-imap", "root")
        refused = probe.exit_status == USAGE_ERROR and refused_option(probe.stderr_text) == "--folderPath"
        if refused:
            _FOLDER_PATH_REFUSED.add(self._build_key)
        return BmCliBuild(version, parsed[0] if parsed else None, not refused)

    def _unexpunge_dry(self, mailbox: Mailbox, address: Address, folder: Folder, authn: Address | None) -> str:
        if mailbox.shared and authn is None:
            raise MailboxNotFound(
                _(
                    "{address} is a shared mailbox: bm-cli lists and restores its deleted mails only as a "
                    "user with rights on it; set `bm_authn` (that user's address) in the host entry of {name}."
                ).format(address=address, name=self.name)
            )
        command = bmcli_deleted(self.config.bm_cli, address, mailbox.bm_folder(folder), authn)
        result = self.connection.run(command)
        self._require(result, "bm-cli mail unexpunge --dry")
        return result.stdout.decode("utf-8", "replace")

    def _no_folder(self, address: Address, folder: Folder, available: tuple[str, ...]) -> MailboxNotFound:
        return MailboxNotFound(
            _("{address} has no folder `{folder}` on {name}; its folders are: {folders}.").format(
                address=address, folder=folder, name=self.name, folders=", ".join(available) or _("none")
            )
        )

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


def threw(result: CommandResult) -> bool:
    """bm-cli died of a Java exception (a stack trace on stderr), as an unknown folder makes it."""
    return result.exit_status != 0 and "Exception" in result.stderr_text
