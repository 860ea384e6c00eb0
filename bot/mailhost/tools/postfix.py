"""Postfix on a mail host: the log search, postqueue and postconf, and the map rebuild.

Each command is here three times over, side by side: its template (argument words from
validated values), its guard shape (`shapes`), and the `Postfix` method that runs it and
hands the answer to its pure parser (postfix_log, postqueue, postconf, mail_flow).
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from bot.errors import GuardRefused, MailbotError, RemoteCommandFailed
from bot.i18n import _
from bot.mailhost import grammar
from bot.mailhost.commands import HOST_MARKER, RemoteCommand, elided, host_zone, log_paths, script
from bot.mailhost.mail_flow import MailFlow, assemble, assemble_blocks
from bot.mailhost.postconf import PostconfFormatError, parse_postfix_time
from bot.mailhost.postfix_log import LineParser, LogLine
from bot.mailhost.postqueue import QueueEntry, QueueFormatError, parse_postqueue_json, parse_postqueue_text
from bot.mailhost.shapes import (
    ANY_ADDRESS,
    ANY_CLIENT_IP,
    ANY_MESSAGE_ID,
    ANY_POSTFIX_MAP,
    ANY_QUEUE_ID,
    EPOCH,
    Shape,
    shape,
)
from bot.mailhost.tools.base import OnHost, first_line
from bot.mailhost.values import Address, ClientIp, MessageId, PostfixMap, QueueId, postfix_maps

if TYPE_CHECKING:  # annotations only: the config (and YAML) is not read to parse a command line
    from bot.config import HostConfig

POSTQUEUE = "/usr/sbin/postqueue"
POSTCONF = "/usr/sbin/postconf"
POSTMAP = "/usr/sbin/postmap"
REGEN_LOCK = ".mailbot-regen-maps.lock"  # in the account's home, where sshd starts commands

# --- templates ------------------------------------------------------------------------------

# The log search, run on the host in one go: scripts/trace.sh says how it works and what it prints.
# Its awk tells a queue id by the pieces of the grammar's.
TRACE_SCRIPT = elided(script("trace.sh", grammar.TRACE_AWK_FILL), "<trace script>")


def _search_logs(mode: str, needle: str, since_epoch: int, maillogs: tuple[str, ...]) -> RemoteCommand:
    if since_epoch < 0:
        raise ValueError("since_epoch must be >= 0")
    return RemoteCommand(
        "search_logs",
        ("/bin/sh", "-c", TRACE_SCRIPT, "mailbot-trace", mode, needle, str(since_epoch), *log_paths(maillogs)),
    )


def trace_logs(address: Address, since_epoch: int, maillogs: tuple[str, ...]) -> RemoteCommand:
    """Every message naming `<address>` (as from=, to= or orig_to=), any case."""
    return _search_logs("anycase", f"<{address.value}>", since_epoch, maillogs)


def trace_client_logs(client: ClientIp, since_epoch: int, maillogs: tuple[str, ...]) -> RemoteCommand:
    """Every message and refusal of one SMTP client: `client=name[IP]` (smtpd), `from name[IP]` and
    postscreen's `[IP]:port` (NOQUEUE refusals). The bot keeps those whose client it is (a relay
    of that address also shows `[IP]`)."""
    return _search_logs("exact", f"[{client.value}]", since_epoch, maillogs)


def trace_message_id_logs(message_id: MessageId, since_epoch: int, maillogs: tuple[str, ...]) -> RemoteCommand:
    """Every hop of one mail by its Message-ID (cleanup's `message-id=<...>`, the same on each hop)."""
    return _search_logs("exact", f"message-id=<{message_id.value}>", since_epoch, maillogs)


TraceKey = Address | ClientIp | MessageId


def trace_key_logs(key: TraceKey, since_epoch: int, maillogs: tuple[str, ...]) -> RemoteCommand:
    """The search for any key a trace starts from: an address, a client's IP, a Message-ID."""
    if isinstance(key, ClientIp):
        return trace_client_logs(key, since_epoch, maillogs)
    if isinstance(key, MessageId):
        return trace_message_id_logs(key, since_epoch, maillogs)
    return trace_logs(key, since_epoch, maillogs)


def message_logs(message: QueueId | MessageId, maillogs: tuple[str, ...]) -> RemoteCommand:
    """One message by queue id (its lines, and the hop or notice that names it) or by Message-ID."""
    needle = f"message-id=<{message.value}>" if isinstance(message, MessageId) else message.value
    return _search_logs("exact", needle, 0, maillogs)


# The Postfix tools act on the default instance, or with `-c DIR` on the instance whose config
# directory the host entry names (`postfix_config`, e.g. an edge relay's /etc/postfix-edge, made
# by postmulti). postqueue accepts it from an unprivileged user only when the default instance
# lists it in multi_instance_directories or alternate_config_directories.
def _instance(config_dir: str | None) -> tuple[str, ...]:
    if config_dir is None:
        return ()
    if not PurePosixPath(config_dir).is_absolute() or any(c.isspace() or c == "\0" for c in config_dir):
        raise ValueError(f"Postfix config directory {config_dir!r} is not an absolute path")
    return ("-c", config_dir)


def queue_json(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("queue_json", (POSTQUEUE, *_instance(config_dir), "-j"))


def queue_text(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("queue_text", (POSTQUEUE, *_instance(config_dir), "-p"))


def flush_queue(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("flush_queue", ("sudo", "-n", POSTQUEUE, *_instance(config_dir), "-f"))


def flush_message(queue_id: QueueId, config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("flush_message", ("sudo", "-n", POSTQUEUE, *_instance(config_dir), "-i", queue_id.value))


def postfix_version(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("postfix_version", (POSTCONF, *_instance(config_dir), "-h", "mail_version"))


def queue_lifetime(config_dir: str | None = None) -> RemoteCommand:
    """How long Postfix keeps a deferred message before returning it (`maximal_queue_lifetime`)."""
    return RemoteCommand("queue_lifetime", (POSTCONF, *_instance(config_dir), "-h", "maximal_queue_lifetime"))


def address_maps(config_dir: str | None = None) -> RemoteCommand:
    """The tables that say which addresses Postfix delivers: what a map rebuild rewrites."""
    return RemoteCommand(
        "address_maps", (POSTCONF, *_instance(config_dir), "-h", "virtual_mailbox_maps", "virtual_alias_maps")
    )


def map_lookup(address: Address, table: PostfixMap) -> RemoteCommand:
    """`postmap -q`: read-only, the account reads the tables as Postfix's own daemons do."""
    return RemoteCommand("map_lookup", (POSTMAP, "-q", address.value, table.value))


def regen_maps(steps: tuple[tuple[str, ...], ...], bm_cli: str) -> RemoteCommand:
    """The host's map rebuild (operator-configured words, each quoted), one at a time per host:
    `flock -n` makes a second rebuild started meanwhile, by any bot or admin, fail at once. A step
    that starts with the word `bm-cli` runs the host's bm-cli as root, like the bot's other calls."""
    if not steps:
        raise ValueError("no map rebuild command configured")
    words = [("sudo", "-n", bm_cli, *step[1:]) if step[0] == "bm-cli" else step for step in steps]
    chain = " && ".join(" ".join(shlex.quote(word) for word in step) for step in words)
    return RemoteCommand("regen_maps", ("flock", "-n", "-E", "75", REGEN_LOCK, "/bin/sh", "-c", chain))


# --- guard shapes ---------------------------------------------------------------------------


def shapes(host: HostConfig) -> list[Shape]:
    """What the guard lets the bot run of Postfix on this host (every host: the logs and the queue),
    with the host entry's log paths, instance and map rebuild as literal parts."""
    logs, instance = host.maillog, host.postfix_config
    allowed = [
        shape("trace_logs", _with_epoch(trace_logs(ANY_ADDRESS, 0, logs))),
        shape("message_by_queue_id", message_logs(ANY_QUEUE_ID, logs)),
        shape("message_by_message_id", message_logs(ANY_MESSAGE_ID, logs)),
        shape("trace_by_client", _with_epoch(trace_client_logs(ANY_CLIENT_IP, 0, logs))),
        shape("trace_by_message_id", _with_epoch(trace_message_id_logs(ANY_MESSAGE_ID, 0, logs))),
        shape("queue_json", queue_json(instance)),
        shape("queue_text", queue_text(instance)),
        shape("postfix_version", postfix_version(instance)),
        shape("queue_lifetime", queue_lifetime(instance)),
        shape("flush_queue", flush_queue(instance), writes=True),
        shape("flush_message", flush_message(ANY_QUEUE_ID, instance), writes=True),
    ]
    if host.regen_maps:
        allowed.append(shape("regen_maps", regen_maps(host.regen_maps, host.bm_cli), writes=True))
        allowed.append(shape("address_maps", address_maps(instance)))
        allowed.append(shape("map_lookup", map_lookup(ANY_ADDRESS, ANY_POSTFIX_MAP)))
    return allowed


def _with_epoch(command: RemoteCommand) -> RemoteCommand:
    """The trace's `since` argument (epoch seconds) is a number: make it a pattern too."""
    argv = list(command.argv)
    index = argv.index("mailbot-trace") + 3
    argv[index] = EPOCH
    return RemoteCommand(command.template, tuple(argv))


# --- running them ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HostLog:
    """What one host's logs say about an address, and what could not be read."""

    host: str
    now: datetime
    flow: MailFlow
    files_read: tuple[str, ...]
    warnings: tuple[str, ...]
    oldest: datetime | None = None  # the first line of the oldest file read: the window searched
    newest: datetime | None = None  # the last write of the newest file read


_QUEUE_LIFETIMES: dict[tuple[str, str | None], tuple[float, timedelta | MailbotError]] = {}
LIFETIME_CACHE_SECONDS = 3600.0


class Postfix(OnHost):
    """The host's Postfix instance (the default one, or the host entry's `postfix_config`)."""

    def trace_log(
        self,
        key: TraceKey,
        since: timedelta | None = None,
        now: datetime | None = None,
        grew: Callable[[int], None] | None = None,
    ) -> HostLog:
        """What every log line of every message that names `key` (an address, a client's IP, a
        Message-ID) says, by queue id (the messages' `lines` stay empty: a busy address has
        hundreds of thousands). `grew` is told the size of each block of lines as it is read (it
        may make the reading wait: the Slack bot's turns among large answers)."""
        since_epoch = 0
        if since is not None:
            since_epoch = max(0, int(((now or datetime.now(UTC)) - since).timestamp()))
        return self._search(trace_key_logs(key, since_epoch, self.config.maillog), since, keep_lines=False, grew=grew)

    def message_log(self, message: QueueId | MessageId) -> HostLog:
        """Every line of one message: by queue id (with the hop or notice that names it) or Message-ID."""
        return self._search(message_logs(message, self.config.maillog), None, keep_lines=True)

    def _search(
        self,
        command: RemoteCommand,
        since: timedelta | None,
        keep_lines: bool,
        grew: Callable[[int], None] | None = None,
    ) -> HostLog:
        """Runs the search and assembles its lines as they arrive: the output (tens of MB for a
        busy address) is never held whole, only the parsed lines the messages keep."""
        with self.connection.open(command) as stream:
            reader = _TraceReader(self.name)
            if keep_lines:
                flow = assemble(reader.read(stream.lines()), self.name, keep_lines)
            else:
                blocks = stream.blocks() if grew is None else _told(stream.blocks(), grew)
                flow = assemble_blocks(reader.blocks(blocks), reader.parser, self.name)
            status = stream.exit_status
            stderr = stream.stderr.decode("utf-8", "replace").strip()
        if status != 0:
            raise RemoteCommandFailed(
                self.name,
                _("Searching the logs on {name} failed (exit {status}): {first_line}").format(
                    name=self.name, status=status, first_line=first_line(stderr)
                ),
            )
        if since is not None:
            cutoff = reader.now - since
            flow = MailFlow(
                messages=tuple(m for m in flow.messages if _aware(m.last_seen, reader.tz) >= cutoff),
                rejections=tuple(r for r in flow.rejections if _aware(r.at, reader.tz) >= cutoff),
            )
        return HostLog(
            self.name, reader.now, flow, tuple(reader.files), tuple(reader.warnings), reader.oldest, reader.newest
        )

    def queue(self) -> list[QueueEntry]:
        """The whole queue, from `postqueue -j`, or `-p` on Postfix older than 3.1 (of the host's
        Postfix instance: `-c DIR` when the host entry names one)."""
        result = self.connection.run(queue_json(self.config.postfix_config))
        if result.exit_status == 0:
            text = result.stdout.decode("utf-8", "replace")
            return self.parsed(lambda t: parse_postqueue_json(t.splitlines()), text, "postqueue -j", QueueFormatError)
        if "invalid option" in result.stderr_text or "illegal option" in result.stderr_text:
            text_result = self.connection.run(queue_text(self.config.postfix_config))
            self.require_success(text_result, "postqueue -p")
            text = text_result.stdout.decode("utf-8", "replace")
            return self.parsed(
                lambda t: parse_postqueue_text(t, datetime.now()), text, "postqueue -p", QueueFormatError
            )
        self.require_success(result, "postqueue -j")
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
            result = self.connection.run(queue_lifetime(self.config.postfix_config))
            self.require_success(result, "postconf -h maximal_queue_lifetime")
            text = result.stdout.decode("utf-8", "replace")
            lifetime = self.parsed(parse_postfix_time, text, "postconf", PostconfFormatError)
        except (RemoteCommandFailed, GuardRefused) as failure:  # not a connection trouble: the answer
            _QUEUE_LIFETIMES[key] = (time.monotonic(), failure)
            raise
        _QUEUE_LIFETIMES[key] = (time.monotonic(), lifetime)
        return lifetime

    def address_maps(self) -> tuple[PostfixMap, ...]:
        """The file-based tables of virtual_mailbox_maps and virtual_alias_maps."""
        result = self.connection.run(address_maps(self.config.postfix_config))
        self.require_success(result, "postconf -h virtual_mailbox_maps")
        return postfix_maps(result.stdout.decode("utf-8", "replace").replace("\n", " "))

    def lookup(self, address: Address, tables: tuple[PostfixMap, ...]) -> PostfixMap | None:
        """The first table that knows `address` (`postmap -q` exits 0 and prints its value), or None."""
        for table in tables:
            result = self.connection.run(map_lookup(address, table))
            if result.exit_status == 0 and result.stdout.strip():
                return table
            if result.exit_status not in (0, 1):
                self.require_success(result, f"postmap -q {table}")
        return None

    def version(self) -> str | None:
        """`mail_version`, for `check`: None when postconf does not say; an error when the instance
        the host entry names cannot be read."""
        result = self.connection.run(postfix_version(self.config.postfix_config))
        if self.config.postfix_config and result.exit_status != 0:
            raise RemoteCommandFailed(
                self.name,
                _("The Postfix instance {postfix_config} cannot be read on {name}: {value}.").format(
                    postfix_config=self.config.postfix_config,
                    name=self.name,
                    value=first_line(result.stderr_text) or _("exit status {status}").format(status=result.exit_status),
                ),
            )
        version = result.stdout.decode().strip() if result.exit_status == 0 else None
        return version or None


_FILE_MARKER = re.compile(r"#mailbot file mtime=(?P<mtime>\d+) path=(?P<path>.*)")
_PROBLEM_MARKER = re.compile(r"#mailbot (?P<problem>missing|unreadable) (?P<path>.*)")
# The script says what went wrong by a code; the sentence is the reader's, in the reader's language.
_WARNING_MARKER = re.compile(r"#mailbot warning (?:(?P<rotated>rotated)|partial (?P<path>.*)|(?P<text>.*))")
_FIRST_MARKER = re.compile(r"#mailbot first mtime=(?P<mtime>\d+) path=(?P<path>.*)")
_ANY_MARKER = re.compile(r"^#mailbot .*$", re.MULTILINE)


class _TraceReader:
    """Decodes the trace script's stream: its markers set the clock for the lines after them."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.tz: tzinfo = UTC
        self.now = datetime.now(UTC)
        self.files: list[str] = []
        self.warnings: list[str] = []
        self.parser = LineParser(self.now, self.tz)
        self.oldest: datetime | None = None
        self.newest: datetime | None = None
        self._first_of: datetime | None = None  # the mtime of the file whose first line comes next

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

    def blocks(self, raw_blocks: Iterable[str]) -> Iterator[str]:
        """`read` for `assemble_blocks`: the stream's text blocks without their markers, each
        marker read when the lines before it have been."""
        for block in raw_blocks:
            if "#mailbot " not in block:
                yield block
                continue
            start = 0
            for marker in _ANY_MARKER.finditer(block):
                if marker.start() > start:
                    yield block[start : marker.start()]
                self._marker(marker.group())
                start = marker.end() + 1
            if start < len(block):
                yield block[start:]

    def _marker(self, text: str) -> None:
        if text.startswith("#mailbot line "):
            self._first_line(text[len("#mailbot line ") :])
        elif first := _FIRST_MARKER.fullmatch(text):
            self._first_of = datetime.fromtimestamp(int(first["mtime"]), self.tz)
            self.newest = max(self.newest, self._first_of) if self.newest else self._first_of
        elif host := HOST_MARKER.fullmatch(text):
            self.tz = host_zone(host["tz"])
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
            if warning["rotated"]:
                said = _("the logs were rotated during the search: run it again if lines are missing or doubled.")
            elif warning["path"] is not None:
                said = _("{path} could not be read whole.").format(path=warning["path"])
            else:  # a script of another version
                said = warning["text"]
            self.warnings.append(_("On {host}: {text}").format(host=self.host, text=said))

    def _first_line(self, text: str) -> None:
        """The first line of a file read: its time is where the window searched begins."""
        if self._first_of is None:
            return
        line = LineParser(self._first_of, self.tz).parse(text)
        self._first_of = None
        if line is not None:
            at = _aware(line.at, self.tz)
            self.oldest = min(self.oldest, at) if self.oldest else at


def _told(blocks: Iterable[str], grew: Callable[[int], None]) -> Iterator[str]:
    for block in blocks:
        grew(len(block))
        yield block


def _aware(stamp: datetime, tz: tzinfo) -> datetime:
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=tz)
