"""One mail host as the verbs see it: questions in, parsed records out.

This is the mail-host layer's public surface: it picks the command template, runs it over
the host's SSH connection, turns failures into one-sentence errors, and hands the text to
the pure parsers. Verbs never see SSH, templates or raw output.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from bot.config import HostConfig
from bot.errors import GuardRefused, MailbotError, RemoteCommandFailed
from bot.i18n import _
from bot.mailhost import commands
from bot.mailhost.bmcli import (
    BmCliFormatError,
    BmUser,
    DeletedItem,
    MailHistory,
    parse_bm5_unexpunge,
    parse_history,
    parse_user_get,
)
from bot.mailhost.commands import RemoteCommand
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
from bot.mailhost.mail_flow import MailFlow, assemble
from bot.mailhost.postconf import PostconfFormatError, parse_postfix_time
from bot.mailhost.postfix_log import LineParser, LogLine
from bot.mailhost.postqueue import QueueEntry, QueueFormatError, parse_postqueue_json, parse_postqueue_text
from bot.mailhost.ssh import CommandResult, HostConnection
from bot.mailhost.values import (
    INBOX,
    Address,
    Folder,
    Mailbox,
    MessageId,
    QueueId,
    SearchQuery,
    Uid,
    spool_file,
)

_HOST_MARKER = re.compile(r"#mailbot host now=(?P<now>\d+) tz=(?P<tz>[+-]\d{4})")
_FILE_MARKER = re.compile(r"#mailbot file mtime=(?P<mtime>\d+) path=(?P<path>.*)")
_PROBLEM_MARKER = re.compile(r"#mailbot (?P<problem>missing|unreadable) (?P<path>.*)")


@dataclass(frozen=True)
class HostLog:
    """What one host's logs say about an address, and what could not be read."""

    host: str
    now: datetime
    flow: MailFlow
    files_read: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class HostProbe:
    logs: tuple[tuple[str, str, int], ...]  # (state, path, size)
    tools: dict[str, bool]
    postfix_version: str | None


class MailHost:
    def __init__(self, config: HostConfig, connection: HostConnection) -> None:
        self.config = config
        self.connection = connection

    @property
    def name(self) -> str:
        return self.config.name

    def trace_log(self, address: Address, since: timedelta | None = None, now: datetime | None = None) -> HostLog:
        """What every log line of every message that names `address` says, by queue id (the
        messages' `lines` stay empty: a busy address has hundreds of thousands)."""
        since_epoch = 0
        if since is not None:
            since_epoch = max(0, int(((now or datetime.now(UTC)) - since).timestamp()))
        return self._search(commands.trace_logs(address, since_epoch, self.config.maillog), since, keep_lines=False)

    def message_log(self, message: QueueId | MessageId) -> HostLog:
        """Every line of one message: by queue id (with the hop or notice that names it) or Message-ID."""
        return self._search(commands.message_logs(message, self.config.maillog), None, keep_lines=True)

    def _search(self, command: RemoteCommand, since: timedelta | None, keep_lines: bool) -> HostLog:
        """Runs the search and assembles its lines as they arrive: the output (tens of MB for a
        busy address) is never held whole, only the parsed lines the messages keep."""
        with self.connection.open(command) as stream:
            reader = _TraceReader(self.name)
            flow = assemble(reader.read(stream.lines()), self.name, keep_lines)
            status = stream.exit_status
            stderr = stream.stderr.decode("utf-8", "replace").strip()
        if status != 0:
            raise RemoteCommandFailed(
                self.name,
                _("Searching the logs on {name} failed (exit {status}): {first_line}").format(
                    name=self.name, status=status, first_line=_first_line(stderr)
                ),
            )
        if since is not None:
            cutoff = reader.now - since
            flow = MailFlow(
                messages=tuple(m for m in flow.messages if _aware(m.last_seen, reader.tz) >= cutoff),
                rejections=tuple(r for r in flow.rejections if _aware(r.at, reader.tz) >= cutoff),
            )
        return HostLog(self.name, reader.now, flow, tuple(reader.files), tuple(reader.warnings))

    def queue(self) -> list[QueueEntry]:
        """The whole queue, from `postqueue -j`, or `-p` on Postfix older than 3.1 (of the host's
        Postfix instance: `-c DIR` when the host entry names one)."""
        result = self.connection.run(commands.queue_json(self.config.postfix_config))
        if result.exit_status == 0:
            try:
                return parse_postqueue_json(result.stdout.decode("utf-8", "replace").splitlines())
            except QueueFormatError as exc:
                raise RemoteCommandFailed(
                    self.name,
                    _("postqueue -j on {name} printed something else: {exc}.").format(name=self.name, exc=exc),
                ) from None
        if "invalid option" in result.stderr_text or "illegal option" in result.stderr_text:
            text_result = self.connection.run(commands.queue_text(self.config.postfix_config))
            self._require_success(text_result, "postqueue -p")
            try:
                return parse_postqueue_text(text_result.stdout.decode("utf-8", "replace"), datetime.now())
            except QueueFormatError as exc:
                raise RemoteCommandFailed(
                    self.name,
                    _("postqueue -p on {name} printed something else: {exc}.").format(name=self.name, exc=exc),
                ) from None
        self._require_success(result, "postqueue -j")
        return []

    def queue_lifetime(self) -> timedelta:
        """`maximal_queue_lifetime` of the host's Postfix instance: how long a deferred mail waits
        before it goes back to its sender. Read once an hour per host (it seldom changes); a failure
        (an older guard on the host refuses the command) is remembered as long, not retried each time."""
        key = (self.name, self.config.postfix_config)
        known = _QUEUE_LIFETIMES.get(key)
        if known is not None and time.monotonic() - known[0] < LIFETIME_CACHE_SECONDS:
            if isinstance(known[1], MailbotError):
                raise known[1]
            return known[1]
        try:
            result = self.connection.run(commands.queue_lifetime(self.config.postfix_config))
            self._require_success(result, "postconf -h maximal_queue_lifetime")
            try:
                lifetime = parse_postfix_time(result.stdout.decode("utf-8", "replace"))
            except PostconfFormatError as exc:
                raise RemoteCommandFailed(
                    self.name, _("postconf on {name} printed something else: {exc}.").format(name=self.name, exc=exc)
                ) from None
        except (RemoteCommandFailed, GuardRefused) as failure:  # not a connection trouble: the answer
            _QUEUE_LIFETIMES[key] = (time.monotonic(), failure)
            raise
        _QUEUE_LIFETIMES[key] = (time.monotonic(), lifetime)
        return lifetime

    def probe(self) -> HostProbe:
        result = self.connection.run(commands.probe_host(self.config.maillog))
        self._require_success(result, "the probe")
        logs: list[tuple[str, str, int]] = []
        tools: dict[str, bool] = {}
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            kind, state, rest = [*line.split(" ", 2), "", ""][:3]
            if kind == "log":
                size, _, path = rest.partition(" ")
                logs.append((state, path, int(size) if size.isdigit() else 0))
            elif kind == "tool":
                tools[rest] = state == "present"
        version_result = self.connection.run(commands.postfix_version(self.config.postfix_config))
        if self.config.postfix_config and version_result.exit_status != 0:
            raise RemoteCommandFailed(
                self.name,
                _("The Postfix instance {postfix_config} cannot be read on {name}: {value}.").format(
                    postfix_config=self.config.postfix_config,
                    name=self.name,
                    value=_first_line(version_result.stderr_text) or f"exit {version_result.exit_status}",
                ),
            )
        version = version_result.stdout.decode().strip() if version_result.exit_status == 0 else None
        return HostProbe(tuple(logs), tools, version or None)

    def _require_success(self, result: CommandResult, what: str) -> None:
        if result.exit_status == 0:
            return
        stderr = result.stderr_text
        if result.exit_status == 127 or "not found" in stderr:
            raise RemoteCommandFailed(
                self.name,
                _("{what} is not installed on {name} ({first_line}).").format(
                    what=what, name=self.name, first_line=_first_line(stderr)
                ),
            )
        if "mail system is down" in stderr:
            raise RemoteCommandFailed(
                self.name,
                _("Postfix is not running on {name}: {first_line}. Start it, then retry.").format(
                    name=self.name, first_line=_first_line(stderr)
                ),
            )
        raise RemoteCommandFailed(
            self.name,
            _("{what} failed on {name} (exit {exit_status}): {value}.").format(
                what=what, name=self.name, exit_status=result.exit_status, value=_first_line(stderr) or "no message"
            ),
        )

    # --- deleted mail (issue 5): Cyrus tools on a BlueMind 4 store, bm-cli on any ------------

    def bluemind_version(self) -> int:
        """4 (Cyrus's tools on the host) or 5 (bm-cli only): the host entry's `bluemind`, else probed once."""
        if self.config.bluemind is not None:
            return self.config.bluemind
        known = _DETECTED_VERSIONS.get(self.name)
        if known is not None:
            return known
        result = self.connection.run(commands.bluemind_probe(self.config.bm_cli))
        self._require_success(result, "the BlueMind probe")
        present = {line.split(" ", 1)[1] for line in result.stdout.decode().splitlines() if line.startswith("present ")}
        if commands.UNEXPUNGE in present:
            version = 4
        elif self.config.bm_cli in present:
            version = 5
        else:
            raise RemoteCommandFailed(
                self.name,
                _(
                    "{name} has neither Cyrus's {UNEXPUNGE} (BlueMind 4) nor bm-cli at {bm_cli} (BlueMind "
                    "5); set `bluemind` and `bm_cli` in its host entry."
                ).format(name=self.name, UNEXPUNGE=commands.UNEXPUNGE, bm_cli=self.config.bm_cli),
            )
        _DETECTED_VERSIONS[self.name] = version
        return version

    def folder_path(self, mailbox: Mailbox, folder: Folder = INBOX) -> str | None:
        """The folder's directory in the spool (`mbpath`), or None when Cyrus has no such folder."""
        result = self.connection.run(commands.mailbox_path(mailbox, folder))
        text = result.stdout.decode("utf-8", "replace")
        if result.exit_status != 0 or not text.strip():
            if _NO_MAILBOX.search(result.stderr_text) or (result.exit_status == 65 and not text.strip()):
                return None
            self._require_tool(result, "mbpath", "cyrus")
        try:
            return parse_mbpath(text)
        except CyrusFormatError as exc:
            raise RemoteCommandFailed(
                self.name, _("mbpath on {name} printed something else: {exc}.").format(name=self.name, exc=exc)
            ) from None

    def expunged(self, mailbox: Mailbox, folder: Folder = INBOX) -> ExpungedOnHost:
        """`unexpunge -l`: the mails that can be restored, with the host's clock (the dates are local)."""
        name = mailbox.folder_name(folder)
        result = self.connection.run(commands.list_expunged(mailbox, folder))
        self._require_tool(result, "unexpunge -l", "cyrus")
        clock, text = _split_clock(result.stdout.decode("utf-8", "replace"))
        try:
            listing = parse_unexpunge_list(text)
        except CyrusFormatError as exc:
            raise RemoteCommandFailed(
                self.name, _("unexpunge -l on {name} printed something else: {exc}.").format(name=self.name, exc=exc)
            ) from None
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
        result = self.connection.run(commands.index_records(mailbox))
        self._require_tool(result, "mbexamine", "cyrus")
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
        result = self.connection.run(commands.mail_head(path))
        if result.exit_status != 0 and "No such file" in result.stderr_text:
            return MailFile(path.value, None)
        self._require_tool(result, "head (reading the mail file)", "cyrus")
        return MailFile(path.value, parse_mail_headers(result.stdout))

    def bm_cli_version(self) -> str | None:
        result = self.connection.run(commands.bmcli_version(self.config.bm_cli))
        if result.exit_status != 0:
            return None
        return result.stdout.decode("utf-8", "replace").strip() or None

    def bm_user(self, address: Address) -> tuple[BmUser | None, str]:
        """The user bm-cli finds behind an address (aliases included), or None and bm-cli's reason."""
        result = self.connection.run(commands.bmcli_user(self.config.bm_cli, address))
        said = _first_line(result.stderr_text or result.stdout.decode("utf-8", "replace"))
        if result.exit_status != 0 and _BM_NOT_FOUND.search(said):
            return None, said.removeprefix("ERROR: ")
        self._require_tool(result, "bm-cli user get", "root")
        try:
            users = parse_user_get(result.stdout.decode("utf-8", "replace"))
        except BmCliFormatError as exc:
            raise RemoteCommandFailed(
                self.name, _("bm-cli on {name} printed something else: {exc}.").format(name=self.name, exc=exc)
            ) from None
        if len(users) != 1:
            return None, _("{count} users match").format(count=len(users))
        return users[0], "found"

    def bm_history(self, address: Address, uid: Uid, folder: Folder) -> list[MailHistory]:
        command = commands.bmcli_history_imap(self.config.bm_cli, address, uid, folder)
        return self._bm_histories(command, "bm-cli mail history-imap")

    def bm_search(self, address: Address, query: SearchQuery) -> list[MailHistory]:
        command = commands.bmcli_history_query(self.config.bm_cli, address, query)
        return self._bm_histories(command, "bm-cli mail history-query")

    def bm_deleted(self, address: Address, folder: Folder) -> DeletedOnBm5:
        """BlueMind 5's `mail unexpunge --dry`: the deleted items of a folder, with the host's clock."""
        result = self.connection.run(commands.bmcli_deleted(self.config.bm_cli, address, folder))
        self._bm_require(result, "bm-cli mail unexpunge --dry")
        clock, text = _split_clock(result.stdout.decode("utf-8", "replace"))
        try:
            output = parse_bm5_unexpunge(text)
        except BmCliFormatError as exc:
            raise RemoteCommandFailed(
                self.name, _("bm-cli on {name} printed something else: {exc}.").format(name=self.name, exc=exc)
            ) from None
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

    def _bm_histories(self, command: RemoteCommand, what: str) -> list[MailHistory]:
        result = self.connection.run(command)
        self._bm_require(result, what)
        try:
            return parse_history(result.stdout.decode("utf-8", "replace"))
        except BmCliFormatError as exc:
            raise RemoteCommandFailed(
                self.name,
                _("{what} on {name} printed something else: {exc}.").format(what=what, name=self.name, exc=exc),
            ) from None

    def _bm_require(self, result: CommandResult, what: str) -> None:
        said = _first_line(result.stderr_text)
        if result.exit_status != 0 and _BM_NOT_FOUND.search(said):
            raise MailboxNotFound(
                _("{what} on {name}: {removeprefix}.").format(
                    what=what, name=self.name, removeprefix=said.removeprefix("ERROR: ")
                )
            )
        self._require_tool(result, what, "root")

    def _require_tool(self, result: CommandResult, what: str, run_as: str) -> None:
        """A tool run through `sudo -n`: a refused sudo rule reads differently from a failed tool."""
        stderr = result.stderr_text
        if result.exit_status != 0 and ("a password is required" in stderr or "not allowed" in stderr):
            raise RemoteCommandFailed(
                self.name,
                _(
                    "The bot's account on {name} may not run {what} as {run_as}: add the sudo rule for it "
                    "(exact tool, absolute path; see lab/README.md)."
                ).format(name=self.name, what=what, run_as=run_as),
            )
        if result.exit_status != 0 and "can't read mailboxes file" in stderr:
            raise RemoteCommandFailed(
                self.name,
                _("{what} on {name} did not run as the cyrus user: {stderr}.").format(
                    what=what, name=self.name, stderr=stderr
                ),
            )
        self._require_success(result, what)


_WARNING_MARKER = re.compile(r"#mailbot warning (?P<text>.*)")


class _TraceReader:
    """Decodes the trace script's stream: its markers set the clock for the lines after them."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.tz: tzinfo = UTC
        self.now = datetime.now(UTC)
        self.files: list[str] = []
        self.warnings: list[str] = []
        self.parser = LineParser(self.now, self.tz)

    @property
    def reference(self) -> datetime:
        return self.parser.reference

    def read(self, raw_lines: Iterable[bytes]) -> Iterator[LogLine]:
        parse = self.parser.parse
        for raw in raw_lines:
            text = raw.decode("utf-8", "replace")
            if text.startswith("#mailbot "):
                self._marker(text)
                continue
            line = parse(text)
            if line is not None:
                yield line

    def _marker(self, text: str) -> None:
        if host := _HOST_MARKER.fullmatch(text):
            offset = int(host["tz"])
            sign = -1 if offset < 0 else 1
            self.tz = timezone(sign * timedelta(hours=abs(offset) // 100, minutes=abs(offset) % 100))
            self.now = datetime.fromtimestamp(int(host["now"]), self.tz)
            self.parser.set_clock(self.parser.reference, self.tz)
        elif file := _FILE_MARKER.fullmatch(text):
            self.parser.set_clock(datetime.fromtimestamp(int(file["mtime"]), self.tz), self.tz)
            if file["path"] not in self.files:  # a file's messages may come in two parts
                self.files.append(file["path"])
        elif problem := _PROBLEM_MARKER.fullmatch(text):
            what = (
                _("{path} on {host} does not exist.")
                if problem["problem"] == "missing"
                else _("{path} on {host} is not readable by the bot's account.")
            )
            self.warnings.append(what.format(path=problem["path"], host=self.host))
        elif warning := _WARNING_MARKER.fullmatch(text):
            self.warnings.append(_("On {host}: {text}").format(host=self.host, text=warning["text"]))


def _aware(stamp: datetime, tz: tzinfo) -> datetime:
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=tz)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else ""


# --- deleted mail (issue 5) ---------------------------------------------------------------

_DETECTED_VERSIONS: dict[str, int] = {}
_QUEUE_LIFETIMES: dict[tuple[str, str | None], tuple[float, timedelta | MailbotError]] = {}
LIFETIME_CACHE_SECONDS = 3600.0
_NO_MAILBOX = re.compile(r"Invalid mailbox name|does not exist|Mailbox does not exist")
_BM_NOT_FOUND = re.compile(r"No mailbox matches|not found|did not match anything|Invalid or unknown domain")


class MailboxNotFound(MailbotError):
    """The mailbox, folder or mail asked about does not exist: the answer to a question, not a failure."""

    exit_code = 2


@dataclass(frozen=True)
class HostClock:
    """The host's time when it answered, and its zone: Cyrus prints local times without one."""

    now: datetime
    tz: tzinfo


@dataclass(frozen=True)
class ExpungedOnHost:
    mailbox: str
    mails: tuple[ExpungedMail, ...]
    clock: HostClock


@dataclass(frozen=True)
class DeletedOnBm5:
    items: tuple[DeletedItem, ...]
    clock: HostClock


@dataclass(frozen=True)
class MailFile:
    path: str
    headers: MailHeaders | None  # None: no file (never there, or purged)


def _split_clock(text: str) -> tuple[HostClock, str]:
    """The `#mailbot host` marker line the listing templates print first, and the rest."""
    first, _, rest = text.partition("\n")
    marker = _HOST_MARKER.fullmatch(first.strip())
    if marker is None:
        return HostClock(datetime.now(UTC), UTC), text
    offset = int(marker["tz"])
    sign = -1 if offset < 0 else 1
    tz = timezone(sign * timedelta(hours=abs(offset) // 100, minutes=abs(offset) % 100))
    return HostClock(datetime.fromtimestamp(int(marker["now"]), tz), tz), rest
