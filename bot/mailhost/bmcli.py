"""What BlueMind's `bm-cli` prints, from text to records, and the plain reading of a mail's story.

Pure: no I/O, no clock. The tables are AsciiTable's (`+---+` borders, one `|` row per line, a
border after every row); cells are cut at the border's `+` columns, so a `|` inside a subject
does not split it, and a row written on several lines is joined.
- `mail history-imap` / `mail history-query`: `| Date | Type | Owner | Folder-UID | Folder |
  Item/IMAP-UID | Flags |`, one table per mail (a query prints several, back to back). Flags are
  the item's current ones, shown on its last row only (bm-cli blanks the earlier ones).
- `mail unexpunge EMAIL --dry` (BlueMind 5): progress lines, then tables `| id | subject | preview |
  last-modification |` of 25 rows at most.
- `user get ADDR --display "login email"`: one JSON object per user.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bot.i18n import _
from bot.mailhost.postfix_log import MONTHS


class BmCliFormatError(ValueError):
    """The text is not what bm-cli prints."""


# --- AsciiTable -------------------------------------------------------------------------

_BORDER = re.compile(r"\+(?:-+\+)+")
_ROW = re.compile(r"\|.*\|")


@dataclass(frozen=True)
class AsciiTable:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def parse_ascii_tables(text: str) -> tuple[list[AsciiTable], list[str]]:
    """Every table in `text`, and the lines outside tables (bm-cli's progress and notes)."""
    tables: list[AsciiTable] = []
    notes: list[str] = []
    columns: list[int] | None = None  # the `+` positions of the current table's border
    headers: tuple[str, ...] | None = None
    rows: list[tuple[str, ...]] = []
    pending: list[list[str]] | None = None  # the physical lines of the row being read
    after_border = False

    def finish_row() -> None:
        nonlocal pending, headers
        if pending:
            cells = tuple(" ".join(part for part in parts if part) for parts in zip(*pending, strict=True))
            if headers is None:
                headers = cells
            else:
                rows.append(cells)
        pending = None

    def finish_table() -> None:
        nonlocal columns, headers, rows
        finish_row()
        if headers is not None:
            tables.append(AsciiTable(headers, tuple(rows)))
        columns, headers, rows = None, None, []

    for raw in text.split("\n"):
        line = raw.rstrip("\r").rstrip()
        if _BORDER.fullmatch(line):
            positions = [i for i, char in enumerate(line) if char == "+"]
            if columns is not None and (positions != columns or after_border):
                finish_table()  # back-to-back borders: one table ends, the next begins
            finish_row()
            if columns is None:
                columns = positions
            after_border = True
            continue
        after_border = False
        if columns is not None and _ROW.fullmatch(line):
            cells = _cells(line, columns)
            pending = [*(pending or []), cells]
            continue
        finish_table()
        if line.strip():
            notes.append(line.strip())
    finish_table()
    return tables, notes


def _cells(line: str, columns: list[int]) -> list[str]:
    if len(line) == columns[-1] + 1:
        return [line[start + 1 : end].strip() for start, end in itertools.pairwise(columns)]
    # Wide characters shifted the columns: fall back to the bars, when their count fits.
    parts = [part.strip() for part in line.strip("|").split("|")]
    if len(parts) == len(columns) - 1:
        return parts
    return [line[start + 1 : end].strip() for start, end in itertools.pairwise(columns)]


# --- dates as Java prints them ----------------------------------------------------------

_JAVA_DATE = re.compile(
    r"(?P<weekday>[A-Z][a-z]{2}) (?P<month>[A-Z][a-z]{2}) (?P<day>\d{1,2}) "
    r"(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d) (?P<zone>[A-Za-z][A-Za-z0-9:+-]*) (?P<year>\d{4})"
)
_ZONE_OFFSETS = {"GMT": 0, "UTC": 0, "UT": 0, "Z": 0, "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3}
_GMT_OFFSET = re.compile(r"GMT(?P<sign>[+-])(?P<hours>\d\d):?(?P<minutes>\d\d)")


def parse_java_date(text: str) -> datetime | None:
    """`Thu Jun 13 13:11:14 GMT 2019` (java.util.Date); aware when the zone is known, else naive."""
    match = _JAVA_DATE.fullmatch(text.strip())
    if not match or match["month"] not in MONTHS:
        return None
    try:
        stamp = datetime(
            int(match["year"]),
            MONTHS[match["month"]],
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
        )
    except ValueError:
        return None
    zone = match["zone"]
    if zone in _ZONE_OFFSETS:
        return stamp.replace(tzinfo=timezone(timedelta(hours=_ZONE_OFFSETS[zone])))
    if offset := _GMT_OFFSET.fullmatch(zone):
        sign = -1 if offset["sign"] == "-" else 1
        delta = timedelta(hours=int(offset["hours"]), minutes=int(offset["minutes"]))
        return stamp.replace(tzinfo=timezone(sign * delta))
    return stamp


# --- history-imap / history-query ---------------------------------------------------------

HISTORY_HEADERS = ("Date", "Type", "Owner", "Folder-UID", "Folder", "Item/IMAP-UID", "Flags")
_OWNER = re.compile(r"(?P<name>.*?)\s*\((?P<kind>[A-Z_]+)\)")
_ITEM_UID = re.compile(r"(?P<uid>\d+)\.?")
TRASH_NAMES = frozenset({"trash", "corbeille", "deleted items", "deleted messages", "papierkorb"})


@dataclass(frozen=True)
class HistoryEvent:
    at: datetime | None
    at_text: str
    kind: str  # Created, Updated, Deleted
    owner: str
    owner_kind: str | None  # USER, MAILSHARE, GROUP...
    folder_uid: str
    folder: str
    uid: int | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class MailHistory:
    """One mail's changes, across the folders it went through, oldest first."""

    events: tuple[HistoryEvent, ...]


def parse_history(text: str) -> list[MailHistory]:
    """`bm-cli mail history-imap` or `history-query` stdout: one history per table."""
    tables, _notes = parse_ascii_tables(text)
    histories = []
    for table in tables:
        if table.headers != HISTORY_HEADERS:
            raise BmCliFormatError(f"a table with columns {' | '.join(table.headers)[:100]} is not a mail history")
        histories.append(MailHistory(tuple(_event(row) for row in table.rows)))
    return histories


def _event(row: tuple[str, ...]) -> HistoryEvent:
    at_text, kind, owner_text, folder_uid, folder, item, flags = row
    owner = _OWNER.fullmatch(owner_text)
    uid = _ITEM_UID.fullmatch(item)
    return HistoryEvent(
        at=parse_java_date(at_text),
        at_text=at_text,
        kind=kind,
        owner=owner["name"] if owner else owner_text,
        owner_kind=owner["kind"] if owner else None,
        folder_uid=folder_uid,
        folder=folder,
        uid=int(uid["uid"]) if uid else None,
        flags=tuple(flag.strip() for flag in flags.split(",") if flag.strip()),
    )


@dataclass(frozen=True)
class _Copy:
    """The mail in one folder under one UID: its events and its current flags."""

    folder: str
    owner: str
    owner_kind: str | None
    uid: int | None
    events: tuple[HistoryEvent, ...]

    @property
    def flags(self) -> tuple[str, ...]:
        return self.events[-1].flags

    @property
    def start(self) -> HistoryEvent:
        return next((e for e in self.events if e.kind == "Created"), self.events[0])

    def seen_before(self, event: HistoryEvent, order: list[HistoryEvent]) -> bool:
        """Read before `event`: a Seen flag on a row above it (the table is in time order)."""
        rank = {id(e): i for i, e in enumerate(order)}
        return any("Seen" in e.flags for e in self.events if rank[id(e)] < rank[id(event)])


def _copies(history: MailHistory) -> list[_Copy]:
    order: list[tuple[str, int | None]] = []
    events: dict[tuple[str, int | None], list[HistoryEvent]] = {}
    for event in history.events:
        key = (event.folder_uid, event.uid)
        if key not in events:
            order.append(key)
            events[key] = []
        events[key].append(event)
    copies = []
    for key in order:
        first = events[key][0]
        copies.append(_Copy(first.folder, first.owner, first.owner_kind, first.uid, tuple(events[key])))
    return copies


def is_trash(folder: str) -> bool:
    return folder.rsplit("/", 1)[-1].strip().lower() in TRASH_NAMES


def read_story(history: MailHistory) -> str:
    """What happened to the mail, as an admin reads the table: one sentence, lower-case start."""
    copies = _copies(history)
    if not copies:
        return _("no history recorded for this mail")
    origin, others = copies[0], copies[1:]
    where = origin.folder
    if not others:
        if "Deleted" in origin.flags:
            read = _("read, then ") if "Seen" in origin.flags else ""
            return _(
                "{read}deleted from {where} without going through the Trash (UID {uid}); "
                "restorable with `restore` until the host purges it"
            ).format(read=read, where=where, uid=origin.uid)
        if "Seen" in origin.flags:
            return _("received and read, still in {where}").format(where=where)
        return _("received, still unread in {where}").format(where=where)
    clauses: list[str] = []
    source = origin
    for copy in others:
        clauses.append(_move(source, copy, list(history.events), first=not clauses))
        if "Deleted" in copy.flags and not is_trash(copy.folder):
            clauses.append(_("then deleted from {place}").format(place=_place(copy)))
        elif "Deleted" in copy.flags:
            clauses.append(_("then deleted from the Trash (emptied); restorable with `restore` on the Trash"))
        source = copy
    if "Deleted" not in origin.flags and all(c.folder != origin.folder for c in others):
        clauses.append(_("the original is still in {where} (UID {uid})").format(where=where, uid=origin.uid))
    return "; ".join(clauses)


def _place(copy: _Copy) -> str:
    if copy.owner_kind and copy.owner_kind != "USER":
        return _("the shared mailbox `{folder}`").format(folder=copy.folder)
    return _("the Trash") if is_trash(copy.folder) else f"`{copy.folder}`"


def _move(source: _Copy, copy: _Copy, order: list[HistoryEvent], first: bool) -> str:
    removed = "Deleted" in source.flags
    read = "Seen" in copy.flags or source.seen_before(copy.start, order)
    prefix = _("read, then ") if read and first else ""
    if copy.folder == source.folder and copy.owner == source.owner:
        return _("{prefix}restored in {folder} as UID {uid}").format(prefix=prefix, folder=copy.folder, uid=copy.uid)
    if copy.owner_kind and copy.owner_kind != "USER":
        if removed:
            return _(
                "{prefix}moved to the shared mailbox `{folder}` (UID {uid}); not a deletion, so not in the Trash"
            ).format(prefix=prefix, folder=copy.folder, uid=copy.uid)
        return _("{prefix}copied to the shared mailbox `{folder}` (UID {uid})").format(
            prefix=prefix, folder=copy.folder, uid=copy.uid
        )
    if is_trash(copy.folder):
        text = _("{prefix}moved to Trash (new UID {uid})") if removed else _("{prefix}copied to Trash (new UID {uid})")
    elif removed:
        text = _("{prefix}moved to the folder `{folder}` (new UID {uid})")
    else:
        text = _("{prefix}copied to the folder `{folder}` (new UID {uid})")
    text = text.format(prefix=prefix, folder=copy.folder, uid=copy.uid)
    return text + (_(" and removed from {folder}").format(folder=source.folder) if removed else "")


# --- BlueMind 5: mail unexpunge -----------------------------------------------------------

UNEXPUNGE_HEADERS = ("id", "subject", "preview", "last-modification")
_U_COUNT = re.compile(r"Folder has (?P<count>\d+) deleted message\(s\)")
_U_NO_FOLDER = re.compile(r"Could not locate folder '(?P<folder>.*)', available folders are:")
_U_FOLDER_ITEM = re.compile(r"\* (?P<folder>.+)")
_U_ACK = re.compile(r"ack(?: received)?: (?P<version>\S+)")
_U_RECOVER = re.compile(r"Recover message with id (?P<id>\d+)")


@dataclass(frozen=True)
class DeletedItem:
    id: int
    subject: str | None
    preview: str | None
    modified: datetime | None
    modified_text: str


@dataclass(frozen=True)
class UnexpungeOutput:
    items: tuple[DeletedItem, ...]
    deleted_count: int | None  # "Folder has N deleted message(s)"; None if the line was missing
    missing_folder: str | None = None
    available_folders: tuple[str, ...] = ()
    acks: int = 0  # restores acknowledged by the server
    recovered_ids: tuple[int, ...] = ()


def parse_bm5_unexpunge(text: str) -> UnexpungeOutput:
    tables, notes = parse_ascii_tables(text)
    items: list[DeletedItem] = []
    for table in tables:
        if table.headers != UNEXPUNGE_HEADERS:
            raise BmCliFormatError(f"a table with columns {' | '.join(table.headers)[:100]} is not an unexpunge list")
        for item_id, subject, preview, modified in table.rows:
            if not item_id.isdigit():
                raise BmCliFormatError(f"{item_id[:40]!r} is not an item id")
            stamp = parse_java_date(modified)
            items.append(DeletedItem(int(item_id), subject or None, preview or None, stamp, modified))
    count: int | None = None
    missing: str | None = None
    folders: list[str] = []
    acks = 0
    recovered: list[int] = []
    for note in notes:
        if found := _U_COUNT.fullmatch(note):
            count = int(found["count"])
        elif absent := _U_NO_FOLDER.fullmatch(note):
            missing = absent["folder"]
        elif missing is not None and (folder := _U_FOLDER_ITEM.fullmatch(note)):
            folders.append(folder["folder"])
        elif _U_ACK.fullmatch(note):
            acks += 1
        elif recover := _U_RECOVER.fullmatch(note):
            recovered.append(int(recover["id"]))
    return UnexpungeOutput(tuple(items), count, missing, tuple(folders), acks, tuple(recovered))


# --- user get -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BmUser:
    login: str
    email: str | None


def parse_user_get(text: str) -> list[BmUser]:
    """`bm-cli user get ADDR --display "login email"`: one JSON object per line and user."""
    users = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise BmCliFormatError(f"bm-cli user get printed {line[:80]!r}, not JSON") from None
        if isinstance(record, dict) and isinstance(record.get("login"), str):
            email = record.get("email")
            users.append(BmUser(record["login"], email if isinstance(email, str) else None))
    return users
