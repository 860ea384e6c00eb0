"""`postqueue -j` and `postqueue -p`, from text to queue entries. Pure: no I/O, no clock.

`-j` (Postfix >= 3.1) is one JSON object per line; unknown members are ignored. `-p` is
the fallback for older hosts: split on white space, not columns (the long-id layout
differs), a `(reason)` line applies to the recipients after it until the next one, and
arrival times carry no year (taken from a reference time, like classic syslog stamps).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from bot.mailhost.postfix_log import MONTHS, infer_year
from bot.mailhost.values import is_queue_id

_MARK_TO_QUEUE = {"*": "active", "!": "hold", "#": "deferred"}

_P_ENTRY = re.compile(
    r"(?P<queue_id>[0-9A-Za-z]{6,32})(?P<mark>[*!#]?)\s+(?P<size>\d+)\s+"
    r"(?P<weekday>[A-Z][a-z]{2})\s+(?P<month>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})\s+(?P<time>\d\d:\d\d:\d\d)"
    r"\s+(?P<sender>\S+)"
)
_P_REASON = re.compile(r"\s*\((?P<reason>.*)\)\s*")
_P_RECIPIENT = re.compile(r"\s+(?P<address>\S+)\s*")
_P_EMPTY = re.compile(r"Mail queue is empty\s*")


@dataclass(frozen=True)
class QueuedRecipient:
    address: str
    delay_reason: str | None


@dataclass(frozen=True)
class QueueEntry:
    queue_id: str
    queue_name: str
    arrival_time: datetime
    size: int
    sender: str
    recipients: tuple[QueuedRecipient, ...]
    forced_expire: bool = False

    @property
    def held(self) -> bool:
        return self.queue_name == "hold"

    @property
    def active(self) -> bool:
        return self.queue_name == "active"

    def involves(self, address: str) -> bool:
        address = address.lower()
        return self.sender.lower() == address or any(r.address.lower() == address for r in self.recipients)


class QueueFormatError(ValueError):
    """The text is not what postqueue prints: a tool or a guard answered instead."""


def parse_postqueue_json(lines: Iterable[str]) -> list[QueueEntry]:
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise QueueFormatError(f"line {number} of postqueue -j is not JSON: {line[:80]!r}") from None
        if not isinstance(record, dict) or "queue_id" not in record:
            raise QueueFormatError(f"line {number} of postqueue -j has no queue_id")
        recipients = tuple(
            QueuedRecipient(address=str(r.get("address", "")), delay_reason=r.get("delay_reason") or None)
            for r in record.get("recipients") or []
            if isinstance(r, dict)
        )
        entries.append(
            QueueEntry(
                queue_id=str(record["queue_id"]),
                queue_name=str(record.get("queue_name", "")),
                arrival_time=datetime.fromtimestamp(int(record.get("arrival_time", 0)), tz=UTC),
                size=int(record.get("message_size", 0)),
                sender=str(record.get("sender", "")),
                recipients=recipients,
                forced_expire=bool(record.get("forced_expire", False)),
            )
        )
    return entries


def parse_postqueue_text(text: str, reference: datetime, local_tz: tzinfo | None = None) -> list[QueueEntry]:
    """`postqueue -p` / `mailq` output; `reference` is the host's current time."""
    entries: list[QueueEntry] = []
    current: dict[str, object] | None = None
    recipients: list[QueuedRecipient] = []
    reason: str | None = None

    def close() -> None:
        if current is not None:
            entries.append(QueueEntry(recipients=tuple(recipients), **current))  # type: ignore[arg-type]

    for line in text.splitlines():
        if not line.strip() or line.startswith("-Queue ID-") or line.startswith("--") or _P_EMPTY.fullmatch(line):
            continue
        if entry := _P_ENTRY.fullmatch(line.rstrip()):
            if not is_queue_id(entry["queue_id"]):
                raise QueueFormatError(f"{entry['queue_id']!r} is not a queue id")
            close()
            month = MONTHS.get(entry["month"], 1)
            day = int(entry["day"])
            hour, minute, second = (int(p) for p in entry["time"].split(":"))
            arrival = datetime(infer_year(month, day, reference), month, day, hour, minute, second)
            sender = entry["sender"]
            current = {
                "queue_id": entry["queue_id"],
                "queue_name": _MARK_TO_QUEUE.get(entry["mark"], "deferred"),
                "arrival_time": arrival.replace(tzinfo=local_tz) if local_tz else arrival,
                "size": int(entry["size"]),
                "sender": "" if sender == "MAILER-DAEMON" else sender,
                "forced_expire": entry["mark"] == "#",
            }
            recipients = []
            reason = None
        elif current is not None and (because := _P_REASON.fullmatch(line)):
            reason = because["reason"]
        elif current is not None and (recipient := _P_RECIPIENT.fullmatch(line)):
            recipients.append(QueuedRecipient(recipient["address"], reason))
        else:
            raise QueueFormatError(f"unexpected line in postqueue -p output: {line[:80]!r}")
    close()
    return entries
