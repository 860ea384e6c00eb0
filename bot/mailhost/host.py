"""One mail host as the verbs see it: questions in, parsed records out.

This is the mail-host layer's public surface: it picks the command template, runs it over
the host's SSH connection, turns failures into one-sentence errors, and hands the text to
the pure parsers. Verbs never see SSH, templates or raw output.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from bot.config import HostConfig
from bot.errors import RemoteCommandFailed
from bot.mailhost import commands
from bot.mailhost.commands import RemoteCommand
from bot.mailhost.mail_flow import MailFlow, assemble
from bot.mailhost.postfix_log import LogLine, parse_line
from bot.mailhost.postqueue import QueueEntry, QueueFormatError, parse_postqueue_json, parse_postqueue_text
from bot.mailhost.ssh import CommandResult, HostConnection
from bot.mailhost.values import Address, MessageId, QueueId

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
        """Every log line of every message that names `address`, grouped by queue id."""
        since_epoch = 0
        if since is not None:
            since_epoch = max(0, int(((now or datetime.now(UTC)) - since).timestamp()))
        return self._search(commands.trace_logs(address, since_epoch, self.config.maillog), since)

    def message_log(self, message: QueueId | MessageId) -> HostLog:
        """Every line of one message: by queue id (with the hop or notice that names it) or Message-ID."""
        return self._search(commands.message_logs(message, self.config.maillog), None)

    def _search(self, command: RemoteCommand, since: timedelta | None) -> HostLog:
        with self.connection.open(command) as stream:
            reader = _TraceReader(self.name)
            lines = list(reader.read(stream.lines()))
            status = stream.exit_status
            stderr = stream.stderr.decode("utf-8", "replace").strip()
        if status != 0:
            raise RemoteCommandFailed(
                self.name, f"Searching the logs on {self.name} failed (exit {status}): {_first_line(stderr)}"
            )
        flow = assemble(lines, self.name)
        if since is not None:
            cutoff = reader.now - since
            flow = MailFlow(
                messages=tuple(m for m in flow.messages if _aware(m.last_seen, reader.tz) >= cutoff),
                rejections=tuple(r for r in flow.rejections if _aware(r.at, reader.tz) >= cutoff),
            )
        return HostLog(self.name, reader.now, flow, tuple(reader.files), tuple(reader.warnings))

    def queue(self) -> list[QueueEntry]:
        """The whole queue, from `postqueue -j`, or `-p` on Postfix older than 3.1."""
        result = self.connection.run(commands.queue_json())
        if result.exit_status == 0:
            try:
                return parse_postqueue_json(result.stdout.decode("utf-8", "replace").splitlines())
            except QueueFormatError as exc:
                raise RemoteCommandFailed(
                    self.name, f"postqueue -j on {self.name} printed something else: {exc}."
                ) from None
        if "invalid option" in result.stderr_text or "illegal option" in result.stderr_text:
            text_result = self.connection.run(commands.queue_text())
            self._require_success(text_result, "postqueue -p")
            try:
                return parse_postqueue_text(text_result.stdout.decode("utf-8", "replace"), datetime.now())
            except QueueFormatError as exc:
                raise RemoteCommandFailed(
                    self.name, f"postqueue -p on {self.name} printed something else: {exc}."
                ) from None
        self._require_success(result, "postqueue -j")
        return []

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
        version_result = self.connection.run(commands.postfix_version())
        version = version_result.stdout.decode().strip() if version_result.exit_status == 0 else None
        return HostProbe(tuple(logs), tools, version or None)

    def _require_success(self, result: CommandResult, what: str) -> None:
        if result.exit_status == 0:
            return
        stderr = result.stderr_text
        if result.exit_status == 127 or "not found" in stderr:
            raise RemoteCommandFailed(self.name, f"{what} is not installed on {self.name} ({_first_line(stderr)}).")
        if "mail system is down" in stderr:
            raise RemoteCommandFailed(
                self.name, f"Postfix is not running on {self.name}: {_first_line(stderr)}. Start it, then retry."
            )
        raise RemoteCommandFailed(
            self.name,
            f"{what} failed on {self.name} (exit {result.exit_status}): {_first_line(stderr) or 'no message'}.",
        )


class _TraceReader:
    """Decodes the trace script's stream: its markers set the clock for the lines after them."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.tz: tzinfo = UTC
        self.now = datetime.now(UTC)
        self.reference = self.now
        self.files: list[str] = []
        self.warnings: list[str] = []

    def read(self, raw_lines: Iterable[bytes]) -> Iterator[LogLine]:
        for raw in raw_lines:
            text = raw.decode("utf-8", "replace")
            if text.startswith("#mailbot "):
                self._marker(text)
                continue
            line = parse_line(text, self.reference, self.tz)
            if line is not None:
                yield line

    def _marker(self, text: str) -> None:
        if host := _HOST_MARKER.fullmatch(text):
            offset = int(host["tz"])
            sign = -1 if offset < 0 else 1
            self.tz = timezone(sign * timedelta(hours=abs(offset) // 100, minutes=abs(offset) % 100))
            self.now = datetime.fromtimestamp(int(host["now"]), self.tz)
        elif file := _FILE_MARKER.fullmatch(text):
            self.reference = datetime.fromtimestamp(int(file["mtime"]), self.tz)
            self.files.append(file["path"])
        elif problem := _PROBLEM_MARKER.fullmatch(text):
            what = "does not exist" if problem["problem"] == "missing" else "is not readable by the bot's account"
            self.warnings.append(f"{problem['path']} on {self.host} {what}.")


def _aware(stamp: datetime, tz: tzinfo) -> datetime:
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=tz)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else ""
