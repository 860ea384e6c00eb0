"""What the Cyrus tools of a BlueMind 4 store print, from text to records. Pure: no I/O, no clock.

- `unexpunge -l MBOX`: per mail `UID: n`, then tab-indented `Size:`, `Sent:`, `Recv:`, `Expg:`
  (ctime, the host's local time), `From:`, `To  :`, `Cc  :`, `Bcc :`, `Subj:`, a blank line.
  Subjects are IMAP strings: `"quoted"`, `NIL`, or a literal `{len}` whose text follows on the
  next line (Cyrus writes one for `%`, `"` or `\\`); MIME encoded words are decoded here. A broken
  cache prints one `ERROR:` line instead of the addresses. A missing mailbox is not an error for
  the tool: `Failed to open mailbox ...: Mailbox does not exist`, no newline, exit 0.
- `unexpunge -u|-a -d -v`: `Unexpunged MBOX: OLD => NEW` per mail (restored mails get new
  UIDs), then `restored N expunged messages` (0 when the UIDs were not expunged, exit 0 too).
- `mbpath MBOX`: the folder's directory; a mail is the file `UID.` in it.
- `mbexamine MBOX...`: the present (not expunged) records of each folder, with size, GUID,
  flags and the cached From and Subject, which tell whether an expunged mail still exists
  elsewhere (moved rather than deleted).
- The header block of a mail file (From, To, Date, Subject, Message-ID).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.errors import HeaderParseError

from bot.mailhost.postfix_log import MONTHS


class CyrusFormatError(ValueError):
    """The text is not what the Cyrus tool prints: another program or a guard answered."""


# --- unexpunge -l -----------------------------------------------------------------------

_L_UID = re.compile(r"UID: (?P<uid>\d+)")
_L_FIELD = re.compile(r"\t(?P<name>Size|Sent|Recv|Expg|From|To  |Cc  |Bcc |Subj): ?(?P<value>.*?)\r?")
_L_CACHE_ERROR = re.compile(r"\tERROR: (?P<error>.*)")
_L_FAILED = re.compile(r"Failed to open mailbox (?P<mailbox>'[^']*'|\S+?)(?:: (?P<reason>.*))?")
_CTIME = re.compile(
    r"(?P<weekday>[A-Z][a-z]{2}) (?P<month>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) "
    r"(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d) (?P<year>\d{4})"
)
_LITERAL = re.compile(r"\{(?P<length>\d+)\}")


@dataclass(frozen=True)
class ExpungedMail:
    """One mail that `unexpunge` can still restore. Dates are the host's local time, naive."""

    uid: int
    size: int | None
    sent: datetime | None
    received: datetime | None
    expunged: datetime | None
    sender: str | None
    to: str | None
    cc: str | None
    bcc: str | None
    subject: str | None
    cache_error: str | None = None


@dataclass(frozen=True)
class ExpungedListing:
    """`unexpunge -l`: the mails, or why the tool could not list any (it still exits 0)."""

    mails: tuple[ExpungedMail, ...]
    failure: str | None = None

    @property
    def mailbox_missing(self) -> bool:
        return self.failure is not None and "does not exist" in self.failure


def parse_ctime(text: str) -> datetime | None:
    """`Sat Nov 28 00:02:54 2026` (ctime, no zone) -> naive datetime; None if unreadable."""
    match = _CTIME.fullmatch(text.strip())
    if not match or match["month"] not in MONTHS:
        return None
    try:
        return datetime(
            int(match["year"]),
            MONTHS[match["month"]],
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
        )
    except ValueError:
        return None


def decode_mime_words(text: str) -> str:
    """`=?UTF-8?B?...?=` -> text; anything undecodable is kept as it was written."""
    if "=?" not in text:
        return text
    from email.header import decode_header, make_header  # here: 8 ms of every start otherwise (issue 24)

    try:
        return str(make_header(decode_header(text)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return text


def _imap_string(value: str, rest: Iterator[str]) -> str | None:
    """An IMAP string as Cyrus caches it; a literal's text is taken from the following lines."""
    if value == "NIL":
        return None
    if literal := _LITERAL.fullmatch(value):
        wanted = int(literal["length"])
        parts: list[str] = []
        while len("\n".join(parts).encode("utf-8", "surrogateescape")) < wanted:
            try:
                parts.append(next(rest).rstrip("\r"))
            except StopIteration:
                break
        return "\n".join(parts)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_unexpunge_list(text: str) -> ExpungedListing:
    """The whole output of `unexpunge -l MBOX` (stdout, any line ending)."""
    mails: list[ExpungedMail] = []
    current: dict[str, object] | None = None
    lines = iter(text.split("\n"))

    def close() -> None:
        if current is not None:
            mails.append(ExpungedMail(**current))  # type: ignore[arg-type]

    for line in lines:
        if not line.strip():
            continue
        if uid := _L_UID.fullmatch(line.rstrip("\r")):
            close()
            current = dict.fromkeys(
                ("size", "sent", "received", "expunged", "sender", "to", "cc", "bcc", "subject", "cache_error")
            )
            current["uid"] = int(uid["uid"])
        elif current is not None and (field := _L_FIELD.fullmatch(line)):
            _set_field(current, field["name"], field["value"], lines)
        elif current is not None and (error := _L_CACHE_ERROR.fullmatch(line.rstrip("\r"))):
            current["cache_error"] = error["error"]
        elif _L_FAILED.fullmatch(line.strip()):
            close()
            return ExpungedListing(tuple(mails), line.strip())
        else:
            raise CyrusFormatError(f"unexpected line in unexpunge -l output: {line[:80]!r}")
    close()
    return ExpungedListing(tuple(mails))


def _set_field(current: dict[str, object], name: str, value: str, rest: Iterator[str]) -> None:
    if name == "Size":
        current["size"] = int(value) if value.isdigit() else None
    elif name in ("Sent", "Recv", "Expg"):
        current[{"Sent": "sent", "Recv": "received", "Expg": "expunged"}[name]] = parse_ctime(value)
    else:
        key = {"From": "sender", "To  ": "to", "Cc  ": "cc", "Bcc ": "bcc", "Subj": "subject"}[name]
        if name == "Subj":
            raw = _imap_string(value, rest)
            current[key] = None if raw is None else decode_mime_words(raw)
        else:  # an empty address list (no Cc) is printed as nothing after the colon
            current[key] = decode_mime_words(value) if value else None


# --- unexpunge -u / -a ------------------------------------------------------------------

_R_START = re.compile(r"restoring (?P<all>all )?expunged messages in mailbox '(?P<mailbox>[^']*)'")
_R_DONE = re.compile(r"Unexpunged (?P<mailbox>\S+): (?P<old>\d+) => (?P<new>\d+)")
_R_COUNT = re.compile(r"restored (?P<count>\d+) expunged messages?")
_R_USAGE = re.compile(r"unexpunge \[-C .*")


@dataclass(frozen=True)
class Unexpunged:
    mailbox: str
    old_uid: int
    new_uid: int


@dataclass(frozen=True)
class RestoreOutput:
    """What `unexpunge -u|-a -d -v` said: each restored mail, the count, or why it did nothing."""

    restored: tuple[Unexpunged, ...]
    count: int | None
    failure: str | None = None
    usage: bool = False
    other: tuple[str, ...] = ()


def parse_unexpunge_restore(text: str) -> RestoreOutput:
    """Tolerant on purpose: it reads the result of a change that already ran."""
    restored: list[Unexpunged] = []
    count: int | None = None
    failure: str | None = None
    usage = False
    other: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or _R_START.fullmatch(line):
            continue
        if done := _R_DONE.fullmatch(line):
            restored.append(Unexpunged(done["mailbox"], int(done["old"]), int(done["new"])))
        elif total := _R_COUNT.fullmatch(line):
            count = int(total["count"])
        elif _L_FAILED.fullmatch(line):
            failure = line
        elif _R_USAGE.fullmatch(line):
            usage = True
        else:
            other.append(line)
    return RestoreOutput(tuple(restored), count, failure, usage, tuple(other))


# --- mbpath -------------------------------------------------------------------------------

_MBPATH = re.compile(r"(?P<path>/\S*)")


def parse_mbpath(text: str) -> str:
    """`mbpath MBOX` prints one absolute directory."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1 or not (match := _MBPATH.fullmatch(lines[0])):
        raise CyrusFormatError(f"mbpath printed {text.strip()[:80]!r}, not one absolute path")
    return match["path"].rstrip("/")


# --- mbexamine ----------------------------------------------------------------------------

_X_MAILBOX = re.compile(r"Examining (?P<mailbox>\S+?)\.\.\..*")
_X_RECORD = re.compile(r"\d+> UID:(?P<uid>\d+)\s+INT_DATE:(?P<internal>\d+)\s.*?\bSIZE:(?P<size>\d+).*")
_X_GUID = re.compile(r"\s+> HDRSIZE:.*\bGUID:(?P<guid>[0-9a-f]+).*")
_X_FLAGS = re.compile(r"\s+> INTERNALFLAGS:(?P<internal>.*?)> SYSTEMFLAGS:(?P<system>.*)")
_X_CACHE = re.compile(r" (?P<item>From|Subjct)>\{\d+\}(?P<value>.*?)\r?")


@dataclass(frozen=True)
class IndexRecord:
    """One present mail of a folder, as `mbexamine` shows it."""

    mailbox: str
    uid: int
    size: int
    internal_date: int  # epoch seconds; a copy or a move keeps the original's
    guid: str | None
    flags: frozenset[str]
    sender: str | None
    subject: str | None


def parse_mbexamine(text: str) -> list[IndexRecord]:
    """Every record of every folder examined; lines of no interest (cache dumps) are skipped."""
    records: list[IndexRecord] = []
    mailbox: str | None = None
    current: dict[str, object] | None = None
    lines = iter(text.split("\n"))

    def close() -> None:
        if current is not None:
            records.append(IndexRecord(**current))  # type: ignore[arg-type]

    for line in lines:
        if examined := _X_MAILBOX.fullmatch(line.rstrip("\r")):
            close()
            mailbox, current = examined["mailbox"], None
        elif mailbox is not None and (record := _X_RECORD.fullmatch(line.strip())):
            close()
            current = {
                "mailbox": mailbox,
                "uid": int(record["uid"]),
                "size": int(record["size"]),
                "internal_date": int(record["internal"]),
                "guid": None,
                "flags": frozenset(),
                "sender": None,
                "subject": None,
            }
        elif current is None:
            continue
        elif guid := _X_GUID.fullmatch(line):
            current["guid"] = guid["guid"]
        elif flags := _X_FLAGS.fullmatch(line.rstrip("\r")):
            current["flags"] = frozenset(f.removeprefix("FLAG_").lower() for f in flags["system"].split())
        elif cache := _X_CACHE.fullmatch(line):
            value = _imap_string(cache["value"], lines) if cache["item"] == "Subjct" else cache["value"]
            current["sender" if cache["item"] == "From" else "subject"] = decode_mime_words(value or "")
    close()
    return records


# --- a mail file's headers ----------------------------------------------------------------


@dataclass(frozen=True)
class MailHeaders:
    sender: str | None
    to: str | None
    cc: str | None
    date: str | None
    subject: str | None
    message_id: str | None


def parse_mail_headers(data: bytes) -> MailHeaders:
    """The header block of an RFC 5322 file (possibly cut after the headers), folded and encoded
    headers decoded. A file without any of these headers gives a record of Nones."""
    from email.parser import BytesHeaderParser  # here: 8 ms of every start otherwise (issue 24)
    from email.policy import default as default_policy

    headers = BytesHeaderParser(policy=default_policy).parsebytes(data)

    def get(name: str) -> str | None:
        try:
            value = headers.get(name)
        except (HeaderParseError, IndexError, ValueError):  # a malformed header: keep its raw text
            raw = headers.get_all(name, failobj=[None])
            value = raw[0] if raw else None
        return " ".join(str(value).split()) if value is not None else None

    return MailHeaders(get("From"), get("To"), get("Cc"), get("Date"), get("Subject"), get("Message-ID"))
