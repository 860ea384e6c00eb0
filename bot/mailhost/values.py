"""Strict grammars for every value that may reach a remote command.

User text becomes one of these types or a `BadInput` with one sentence; command
templates accept only these types, so nothing unvalidated can be quoted into a shell.
The grammars are deliberately narrower than RFC 5321: an address a support agent
types is a plain `local@domain`, and anything more exotic is refused, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from bot.errors import BadInput

MAX_ADDRESS_LENGTH = 254

_LOCAL_PART = re.compile(r"[A-Za-z0-9_%+=~](?:[A-Za-z0-9._%+=~'-]{0,62}[A-Za-z0-9_%+=~-])?")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_SHORT_QUEUE_ID = re.compile(r"[0-9A-F]{6,24}")
# Long ids (enable_long_queue_ids): base-52 time over a vowel-free alphabet, 'z', base-51 inode.
_LONG_QUEUE_ID = re.compile(r"[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,14}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]{1,12}")
_DURATION = re.compile(r"(?P<count>[1-9][0-9]{0,4})(?P<unit>[smhdw])")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DURATION = timedelta(days=400)


def _describe(text: str) -> str:
    """Quote user text for an error message without echoing kilobytes or control bytes."""
    shown = text if len(text) <= 60 else text[:57] + "..."
    return repr(shown)


@dataclass(frozen=True)
class Address:
    """An email address, lower-cased (Postfix logs keep case; matching ignores it)."""

    value: str

    @property
    def local_part(self) -> str:
        return self.value.rsplit("@", 1)[0]

    @property
    def domain(self) -> str:
        return self.value.rsplit("@", 1)[1]

    def __str__(self) -> str:
        return self.value


def parse_address(text: str) -> Address:
    candidate = text.strip()
    if not candidate:
        raise BadInput("An email address is required, for example john@example.com.")
    if len(candidate) > MAX_ADDRESS_LENGTH:
        raise BadInput(f"That address is {len(candidate)} characters long; an email address has at most 254.")
    if not candidate.isascii() or not candidate.isprintable():
        raise BadInput(
            f"{_describe(candidate)} holds characters that are not plain ASCII; "
            "type the address as it appears in the mail log (an international domain in its xn-- form)."
        )
    if candidate.count("@") != 1:
        raise BadInput(
            f"{_describe(candidate)} is not an email address: it needs exactly one @, as in john@example.com."
        )
    local, domain = candidate.split("@")
    if not _LOCAL_PART.fullmatch(local) or ".." in local:
        raise BadInput(
            f"{_describe(candidate)} is not an address this bot accepts: the part before @ may hold "
            "letters, digits and . _ % + = ~ ' - only, and may not start or end with a dot or a dash."
        )
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise BadInput(f"{_describe(candidate)} has no valid domain after the @ (expected something like example.com).")
    return Address(candidate.lower())


@dataclass(frozen=True)
class QueueId:
    """A Postfix queue id, short (hex) or long (enable_long_queue_ids)."""

    value: str

    def __str__(self) -> str:
        return self.value


def is_queue_id(text: str) -> bool:
    return bool(_SHORT_QUEUE_ID.fullmatch(text) or _LONG_QUEUE_ID.fullmatch(text))


def parse_queue_id(text: str) -> QueueId:
    candidate = text.strip()
    if not is_queue_id(candidate):
        raise BadInput(f"{_describe(candidate)} is not a Postfix queue id (like C5BF3135FAF or 4PcV4K5FPLz3tBr).")
    return QueueId(candidate)


def parse_duration(text: str) -> timedelta:
    """`30m`, `12h`, `2d`, `1w`: how far back to look."""
    candidate = text.strip()
    match = _DURATION.fullmatch(candidate)
    if not match:
        raise BadInput(f"{_describe(candidate)} is not a duration: use a number and a unit, like 30m, 12h, 2d or 1w.")
    duration = timedelta(seconds=int(match["count"]) * _DURATION_UNITS[match["unit"]])
    if duration > MAX_DURATION:
        raise BadInput(f"{candidate} reaches back more than 400 days; logs are not kept that long.")
    return duration


@dataclass(frozen=True)
class MessageId:
    """A Message-ID header value, without its angle brackets."""

    value: str

    def __str__(self) -> str:
        return f"<{self.value}>"


_MESSAGE_ID = re.compile(r"[!-;=?-~]{1,250}")  # printable ASCII without space, < and >


def parse_message_id(text: str) -> MessageId:
    candidate = text.strip()
    if candidate.startswith("<") and candidate.endswith(">"):
        candidate = candidate[1:-1]
    if not _MESSAGE_ID.fullmatch(candidate) or candidate.startswith("-"):
        raise BadInput(f"{_describe(text)} is neither a queue id nor a Message-ID (like <20261128.1234@example.org>).")
    return MessageId(candidate)
