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
from bot.i18n import _
from bot.mailhost import grammar
from bot.mailhost.grammar import MAX_ADDRESS_LENGTH, MAX_FOLDER_LENGTH, MAX_SEARCH_LENGTH, MAX_SEARCH_WORDS

_LOCAL_PART = re.compile(grammar.LOCAL_PART)
_DOMAIN = re.compile(grammar.DOMAIN)
_QUEUE_ID = re.compile(grammar.QUEUE_ID)
_DURATION = re.compile(grammar.DURATION)
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NO_DURATION = re.compile(f"0+[{''.join(_DURATION_UNITS)}]")  # `0m`: grammar.DURATION starts at 1
MAX_DURATION = timedelta(days=400)


def quoted(text: str) -> str:
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
        raise BadInput(_("An email address is required, for example john@example.com."))
    if len(candidate) > MAX_ADDRESS_LENGTH:
        raise BadInput(
            _("That address is {count} characters long; an email address has at most 254.").format(count=len(candidate))
        )
    if not candidate.isascii() or not candidate.isprintable():
        raise BadInput(
            _(
                "{candidate} holds characters that are not plain ASCII; type the address as it appears "
                "in the mail log (an international domain in its xn-- form)."
            ).format(candidate=quoted(candidate))
        )
    if candidate.count("@") != 1:
        raise BadInput(
            _("{candidate} is not an email address: it needs exactly one @, as in john@example.com.").format(
                candidate=quoted(candidate)
            )
        )
    local, domain = candidate.split("@")
    if not _LOCAL_PART.fullmatch(local.lower()):
        raise BadInput(
            _(
                "{candidate} is not an address this bot accepts: the part before @ may hold letters, "
                "digits and . _ % + = ~ ' - only, and may not start or end with a dot or a dash."
            ).format(candidate=quoted(candidate))
        )
    if not _DOMAIN.fullmatch(domain.lower()):
        raise BadInput(
            _("{candidate} has no valid domain after the @ (expected something like example.com).").format(
                candidate=quoted(candidate)
            )
        )
    return Address(candidate.lower())


@dataclass(frozen=True)
class QueueId:
    """A Postfix queue id, short (hex) or long (enable_long_queue_ids)."""

    value: str

    def __str__(self) -> str:
        return self.value


def is_queue_id(text: str) -> bool:
    return _QUEUE_ID.fullmatch(text) is not None


def parse_queue_id(text: str) -> QueueId:
    candidate = text.strip()
    if not is_queue_id(candidate):
        raise BadInput(
            _("{candidate} is not a Postfix queue id (like C5BF3135FAF or 4PcV4K5FPLz3tBr).").format(
                candidate=quoted(candidate)
            )
        )
    return QueueId(candidate)


def parse_duration(text: str) -> timedelta:
    """`30m`, `12h`, `2d`, `1w`: how far back to look."""
    candidate = text.strip()
    match = _DURATION.fullmatch(candidate)
    if not match and _NO_DURATION.fullmatch(candidate):
        raise BadInput(
            _("{candidate} looks back no time at all: give at least 1, like 30m or 2d.").format(
                candidate=quoted(candidate)
            )
        )
    if not match:
        raise BadInput(
            _("{candidate} is not a duration: use a number and a unit, like 30m, 12h, 2d or 1w.").format(
                candidate=quoted(candidate)
            )
        )
    duration = timedelta(seconds=int(match["count"]) * _DURATION_UNITS[match["unit"]])
    if duration > MAX_DURATION:
        raise BadInput(
            _("{candidate} reaches back more than 400 days; logs are not kept that long.").format(candidate=candidate)
        )
    return duration


@dataclass(frozen=True)
class MessageId:
    """A Message-ID header value, without its angle brackets."""

    value: str

    def __str__(self) -> str:
        return f"<{self.value}>"


_MESSAGE_ID = re.compile(grammar.MESSAGE_ID)  # printable ASCII without space, < and >


def parse_message_id(text: str) -> MessageId:
    candidate = text.strip()
    if candidate.startswith("<") and candidate.endswith(">"):
        candidate = candidate[1:-1]
    if not _MESSAGE_ID.fullmatch(candidate):
        raise BadInput(
            _("{text} is neither a queue id nor a Message-ID (like <20261128.1234@example.org>).").format(
                text=quoted(text)
            )
        )
    return MessageId(candidate)


@dataclass(frozen=True)
class ClientIp:
    """The IP address of an SMTP client, as Postfix logs it between brackets: IPv4, or IPv6 compressed
    and lower-cased (an IPv4-mapped IPv6 address is its IPv4 address, as Postfix writes it)."""

    value: str

    def __str__(self) -> str:
        return self.value


_CLIENT_IP = re.compile(grammar.CLIENT_IP)


def parse_client_ip(text: str) -> ClientIp:
    """`192.0.2.1`, `2001:db8::1`, `[192.0.2.1]` as the log shows it."""
    import ipaddress  # only here: the rest of this module needs no address arithmetic

    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    if candidate.lower().startswith("ipv6:"):
        candidate = candidate[5:]
    try:
        ip = ipaddress.ip_address(candidate) if len(candidate) <= 45 and "%" not in candidate else None
    except ValueError:
        ip = None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    value = ip.compressed if ip is not None else ""
    if not _CLIENT_IP.fullmatch(value):
        message = _("{candidate} is not an IP address (like 192.0.2.1 or 2001:db8::1).")
        raise BadInput(message.format(candidate=quoted(text.strip())))
    return ClientIp(value)


# The verdicts `trace --status` keeps (bot/mailhost/verdicts.py names them; `queued`: still in a queue).
TRACE_STATUSES = ("delivered", "deferred", "bounced", "expired", "refused", "held", "deleted", "queued")


def parse_trace_status(text: str) -> str:
    candidate = text.strip().lower()
    if candidate not in TRACE_STATUSES:
        raise BadInput(
            _("{candidate} is not a status: use one of {statuses}.").format(
                candidate=quoted(text.strip()), statuses=", ".join(TRACE_STATUSES)
            )
        )
    return candidate


# --- mailboxes, UIDs, folders, search words (deleted mail: issue 5) ----------------------

MAX_UIDS = 200
_UID = re.compile(grammar.UID)
_ITEM_ID = re.compile(grammar.ITEM_ID)
_FOLDER_LEVEL = re.compile(grammar.FOLDER_LEVEL)
_SEARCH_WORD = re.compile(grammar.SEARCH_WORD)
_SPOOL_FILE = re.compile(grammar.SPOOL_FILE)


@dataclass(frozen=True, order=True)
class Uid:
    """An IMAP UID (a positive 32-bit number), or a BlueMind 5 item id (a positive Java long)."""

    value: int

    def __str__(self) -> str:
        return str(self.value)


def parse_uid(text: str) -> Uid:
    candidate = text.strip()
    if not _UID.fullmatch(candidate):
        raise BadInput(
            _(
                "{candidate} is not a mail UID: use the number shown by `deleted` or by the delivery "
                "line of `trace` (a whole number from 1 to 4294967295)."
            ).format(candidate=quoted(candidate))
        )
    return Uid(int(candidate))


def parse_mail_numbers(texts: list[str]) -> tuple[Uid, ...]:
    """What `restore` takes: IMAP UIDs on BlueMind 4, item ids (larger numbers) on BlueMind 5. The
    plan then holds them to the deleted list of the mailbox's own version."""
    _count_numbers(texts)
    for text in texts:
        if not _ITEM_ID.fullmatch(text.strip()):
            raise BadInput(
                _(
                    "{candidate} is not a number `deleted` shows: give the UIDs (BlueMind 4) or the item "
                    "ids (BlueMind 5) of its list."
                ).format(candidate=quoted(text.strip()))
            )
    return tuple(sorted({Uid(int(text.strip())) for text in texts}))


def parse_uids(texts: list[str]) -> tuple[Uid, ...]:
    _count_numbers(texts)
    return tuple(sorted({parse_uid(text) for text in texts}))


def _count_numbers(texts: list[str]) -> None:
    if not texts:
        raise BadInput(_("Give at least one UID (see `deleted ADDRESS`), or --all."))
    if len(texts) > MAX_UIDS:
        raise BadInput(
            _("{count} UIDs in one request is too many; at most {MAX_UIDS}, or use --all.").format(
                count=len(texts), MAX_UIDS=MAX_UIDS
            )
        )


_BODY_GUID = re.compile(grammar.BODY_GUID)


@dataclass(frozen=True)
class BodyGuid:
    """A mail body's GUID, as `mail unexpunge --dry` prints it (`rec imap: N, body: GUID`) and
    `mail history-guid --body-guid` takes it: the one key that finds a restored mail again."""

    value: str

    def __str__(self) -> str:
        return self.value


def parse_body_guid(text: str) -> BodyGuid:
    candidate = text.strip().lower()
    if not _BODY_GUID.fullmatch(candidate):
        raise BadInput(_("{candidate} is not a body GUID (40 hexadecimal digits).").format(candidate=quoted(candidate)))
    return BodyGuid(candidate)


_POSTFIX_MAP = re.compile(grammar.POSTFIX_MAP)


@dataclass(frozen=True)
class PostfixMap:
    """A file-based lookup table as postconf lists it: `hash:/etc/postfix/virtual_mailbox`."""

    value: str

    def __str__(self) -> str:
        return self.value


def postfix_maps(postconf_value: str) -> tuple[PostfixMap, ...]:
    """The file-based tables of a `postconf -h` value (others, such as ldap: or proxy:, are skipped:
    `postmap -q` on them proves nothing about a rebuild)."""
    words = re.split(r"[\s,]+", postconf_value.strip())
    return tuple(PostfixMap(word) for word in words if _POSTFIX_MAP.fullmatch(word) and ".." not in word)


@dataclass(frozen=True)
class Folder:
    """An IMAP folder of a mailbox as BlueMind names it: `INBOX`, `Trash`, `Sub/Folder`."""

    value: str

    @property
    def is_inbox(self) -> bool:
        return self.value == "INBOX"

    @property
    def cyrus_suffix(self) -> str:
        """`/Sub/Folder` in Cyrus's external name (modified UTF-7), empty for INBOX."""
        return "" if self.is_inbox else "/" + encode_imap_utf7(self.value)

    def __str__(self) -> str:
        return self.value


INBOX = Folder("INBOX")


def parse_folder(text: str) -> Folder:
    candidate = text.strip()
    if not candidate:
        raise BadInput(_("A folder name is required, for example INBOX, Trash or Archives/2024."))
    if len(candidate) > MAX_FOLDER_LENGTH:
        raise BadInput(
            _("That folder name is {count} characters long; at most {MAX_FOLDER_LENGTH}.").format(
                count=len(candidate), MAX_FOLDER_LENGTH=MAX_FOLDER_LENGTH
            )
        )
    if candidate.upper() == "INBOX":
        return INBOX
    if candidate.upper().startswith("INBOX/"):  # Cyrus shows a user's folders under INBOX/
        candidate = candidate[len("INBOX/") :]
    levels = candidate.split("/")
    for level in levels:
        if not _FOLDER_LEVEL.fullmatch(level):
            raise BadInput(
                _(
                    "{strip} is not a folder name this bot accepts: levels are separated by /, and hold "
                    "letters, digits, spaces and _ - . ' & + , ( ) # !, without a leading dot or dash."
                ).format(strip=quoted(text.strip()))
            )
    return Folder("/".join(levels))


def encode_imap_utf7(text: str) -> str:
    """RFC 3501 modified UTF-7, the form Cyrus tools take for non-ASCII folder names."""
    import base64  # only here: the rest of this module needs no codec

    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in text:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


@dataclass(frozen=True)
class SearchQuery:
    """Words for `bm-cli mail history-query`: plain words, joined by single spaces."""

    words: tuple[str, ...]

    @property
    def value(self) -> str:
        return " ".join(self.words)

    def __str__(self) -> str:
        return self.value


def parse_search_words(texts: list[str]) -> SearchQuery:
    words = [word for text in texts for word in text.split()]
    if not words:
        raise BadInput(_("Give at least one word to search for, for example: search john@example.com Rappel."))
    if len(words) > MAX_SEARCH_WORDS or len(" ".join(words)) > MAX_SEARCH_LENGTH:
        raise BadInput(
            _(
                "Search for at most {MAX_SEARCH_WORDS} words and {MAX_SEARCH_LENGTH} characters; a few "
                "words of the subject are enough."
            ).format(MAX_SEARCH_WORDS=MAX_SEARCH_WORDS, MAX_SEARCH_LENGTH=MAX_SEARCH_LENGTH)
        )
    for word in words:
        if not _SEARCH_WORD.fullmatch(word):
            raise BadInput(
                _(
                    "{word} is not a search word this bot accepts: start with a letter or a digit, then "
                    "letters, digits and . ' @ # : / + - only (no quotes, no operators)."
                ).format(word=quoted(word))
            )
    return SearchQuery(tuple(words))


@dataclass(frozen=True)
class Mailbox:
    """A mailbox as Cyrus and BlueMind name it: the login and the technical domain, never an alias.

    `cyrus_name` is what the Cyrus tools take: `user/LOGIN@DOMAIN` for the INBOX,
    `user/LOGIN/Folder@DOMAIN` for another folder.
    """

    login: str
    domain: str
    shared: bool = False  # a BlueMind mailshare: `projet@domain`, its folders under `projet/`

    @property
    def email(self) -> str:
        return f"{self.login}@{self.domain}"

    @property
    def cyrus_name(self) -> str:
        return self.email if self.shared else f"user/{self.login}@{self.domain}"

    def bm_folder(self, folder: Folder) -> Folder:
        """The folder as bm-cli names it in this mailbox: a mailshare's INBOX is its own name."""
        if not self.shared:
            return folder
        return Folder(self.login if folder.is_inbox else f"{self.login}/{folder.value}")

    def folder_name(self, folder: Folder) -> str:
        if self.shared:
            return f"{self.login}{folder.cyrus_suffix}@{self.domain}"
        return f"user/{self.login}{folder.cyrus_suffix}@{self.domain}"

    def __str__(self) -> str:
        return self.cyrus_name


def mailbox_of(login: str, domain: str, shared: bool = False) -> Mailbox:
    """A mailbox from a login and a domain, held to the same grammar as an address."""
    address = parse_address(f"{login}@{domain}")
    return Mailbox(address.local_part, address.domain, shared)


@dataclass(frozen=True)
class SpoolPath:
    """The path of one mail file in the Cyrus spool, built from `mbpath` and a UID."""

    value: str

    def __str__(self) -> str:
        return self.value


def spool_file(folder_path: str, uid: Uid) -> SpoolPath:
    """`mbpath`'s folder + `UID.`; refuses anything that is not a plain absolute spool path."""
    candidate = f"{folder_path.rstrip('/')}/{uid.value}."
    if not _SPOOL_FILE.fullmatch(candidate):
        raise ValueError(f"{folder_path!r} is not a spool path this bot reads")
    return SpoolPath(candidate)
