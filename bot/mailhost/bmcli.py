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
WRAP_AT = 78  # AsciiTable's widest cell line: min(80, longest + 2) columns, less one space each side


@dataclass(frozen=True)
class AsciiTable:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def utf16_length(text: str) -> int:
    """Java's String.length(): what AsciiTable measures; a character beyond U+FFFF counts 2."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


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
            cells = tuple(_rejoin(parts) for parts in zip(*pending, strict=True))
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
        if columns is not None and _ROW.fullmatch(line) and (cells := _cells(line, columns)) is not None:
            pending = [*(pending or []), cells]
            continue
        finish_table()
        if line.strip():
            notes.append(line.strip())
    finish_table()
    return tables, notes


def _cells(line: str, columns: list[int]) -> list[str] | None:
    """The cells of one physical row line: cut at the `|` that stand where the border has its
    `+`, counted in UTF-16 units as AsciiTable pads (so a `|` inside a cell, or an emoji that
    shifts the line on screen, splits nothing). A line edited by hand (a sample in a document) is
    cut at its bars when their count fits; None when neither way reads it."""
    wanted = set(columns)
    bars = []
    position = 0
    for index, char in enumerate(line):
        if char == "|" and position in wanted:
            bars.append(index)
        position += 2 if ord(char) > 0xFFFF else 1
    if len(bars) == len(columns) and bars[-1] == len(line) - 1:
        return [line[start + 1 : end].strip() for start, end in itertools.pairwise(bars)]
    parts = [part.strip() for part in line.strip("|").split("|")]
    return parts if len(parts) == len(columns) - 1 else None


def _rejoin(parts: tuple[str, ...]) -> str:
    """One cell from its physical lines. AsciiTable wraps at the last space (which it drops), or
    cuts a word with no space at exactly 78 units: that cut is rejoined without a space."""
    text = last = ""
    for part in parts:
        if not part:
            continue
        if text and not (utf16_length(last) == WRAP_AT and " " not in last):
            text += " "
        text += part
        last = part
    return text


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


# --- history-imap / history-query / history-guid ------------------------------------------

HISTORY_HEADERS = ("Date", "Type", "Owner", "Folder-UID", "Folder", "Item/IMAP-UID", "Flags")
_OWNER = re.compile(r"(?P<name>.*)\s+\((?P<kind>[A-Z_]+)\)")
_ITEM_UID = re.compile(r"(?P<uid>\d+)\.?")
TRASH_NAMES = frozenset({"trash", "corbeille", "deleted items", "deleted messages", "papierkorb"})
# Copies created this close to the first one arrived with it (one delivery to several mailboxes);
# a copy created this close to a copy's deletion is where that copy went (a move).
TOGETHER = timedelta(seconds=5)


@dataclass(frozen=True)
class HistoryEvent:
    at: datetime | None
    at_text: str
    kind: str  # Created, Updated, Deleted
    owner: str  # the display name (which may hold parentheses), or the bare owner uid
    owner_kind: str | None  # USER, MAILSHARE, GROUP...
    folder_uid: str
    folder: str  # the folder's leaf name: `2024` for Archives/2024
    uid: int | None
    flags: tuple[str, ...] | None  # None: blanked by bm-cli (the same `N.` appears further down)


@dataclass(frozen=True)
class MailHistory:
    """One mail's changes, across every mailbox holding a copy with its body, oldest first."""

    events: tuple[HistoryEvent, ...]


def parse_history(text: str) -> list[MailHistory]:
    """`bm-cli mail history-imap`, `history-query` or `history-guid` stdout: one history per table.

    bm-cli shows an item's current flags on every row, then empties them on each row whose
    Item/IMAP-UID text appears again below, keyed on `N.` alone: an empty cell there means
    "not shown", not "no flags"."""
    tables, _notes = parse_ascii_tables(text)
    histories = []
    for table in tables:
        if table.headers != HISTORY_HEADERS:
            raise BmCliFormatError(f"a table with columns {' | '.join(table.headers)[:100]} is not a mail history")
        later: set[str] = set()
        events: list[HistoryEvent] = []
        for row in reversed(table.rows):
            events.append(_event(row, blanked=not row[6] and row[5] in later))
            later.add(row[5])
        histories.append(MailHistory(tuple(reversed(events))))
    return histories


def _event(row: tuple[str, ...], blanked: bool) -> HistoryEvent:
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
        flags=None if blanked else tuple(flag.strip() for flag in flags.split(",") if flag.strip()),
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
    def flags(self) -> tuple[str, ...] | None:
        return self.events[-1].flags

    @property
    def start(self) -> HistoryEvent:
        return next((e for e in self.events if e.kind == "Created"), self.events[0])

    @property
    def removed(self) -> bool | None:
        """Gone from its folder (a `Deleted` entry, or the Deleted flag); None when bm-cli hid the flags."""
        if any(e.kind == "Deleted" for e in self.events):
            return True
        return None if self.flags is None else "Deleted" in self.flags

    @property
    def shared(self) -> bool:
        return self.owner_kind is not None and self.owner_kind != "USER"

    def seen(self) -> bool:
        return any("Seen" in (e.flags or ()) for e in self.events)

    def seen_before(self, event: HistoryEvent, order: list[HistoryEvent]) -> bool:
        """Read before `event`: a Seen flag on a row above it (the table is in time order)."""
        rank = {id(e): i for i, e in enumerate(order)}
        return any("Seen" in (e.flags or ()) for e in self.events if rank[id(e)] < rank[id(event)])

    def removed_at(self) -> list[datetime]:
        return [e.at for e in self.events if e.at and (e.kind == "Deleted" or "Deleted" in (e.flags or ()))]


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


def leaf(folder: str) -> str:
    """The name bm-cli's Folder column shows for a folder path: its last part."""
    return folder.rstrip("/").rsplit("/", 1)[-1]


def same_folder(shown: str, folder: str) -> bool:
    """A Folder cell (a leaf name) against a folder path; INBOX in any case."""
    wanted = leaf(folder)
    return shown == wanted or (shown.upper() == "INBOX" and wanted.upper() == "INBOX")


def whose(history: MailHistory, owner: str | None = None, asked: tuple[str, int] | None = None) -> str | None:
    """The Owner name of the asked mailbox's copies: `owner` (the directory's display name) when a
    copy has it, else the owner of the copy asked for (folder, UID), else the first user's."""
    copies = _copies(history)
    if owner is not None and any(c.owner == owner for c in copies):
        return owner
    if asked is not None:
        matching = {c.owner for c in copies if c.uid == asked[1] and same_folder(c.folder, asked[0])}
        if len(matching) == 1:
            return matching.pop()
    users = [c for c in copies if not c.shared] or copies
    return users[0].owner if users else None


def holds(history: MailHistory, owner: str | None, folder: str, uid: int) -> bool:
    """The table has the mail (folder, UID) of this owner: how a lookup in every folder is narrowed."""
    return any(
        e.uid == uid and same_folder(e.folder, folder) and (owner is None or e.owner == owner) for e in history.events
    )


def read_story(history: MailHistory, owner: str | None = None, asked: tuple[str, int] | None = None) -> str:
    """What happened to the mail in the asked mailbox, as an admin reads the table: one sentence,
    lower-case start. A history holds every mailbox's copy of the body: the asked mailbox's
    copies (and the shared mailboxes it moved them to) tell the moves; a copy another person
    received at the same time is named as theirs, not read as a move."""
    copies = _copies(history)
    if not copies:
        return _("no history recorded for this mail")
    me = whose(history, owner, asked)
    mine = [c for c in copies if c.owner == me]
    origin = mine[0]
    removals = [at for c in mine for at in c.removed_at()]
    together = [c for c in copies if c not in mine and _arrived_with(c, origin, removals)]
    chain = [
        c
        for c in copies
        if c is not origin and c not in together and (c in mine or c.shared or _moved_there(c, removals, together))
    ]
    clauses = _chain(origin, chain, list(history.events))
    clauses += [
        _("also delivered to {place} (UID {uid})").format(place=_owned_place(c, origin.owner), uid=c.uid)
        for c in together
    ]
    return "; ".join(clauses)


def _arrived_with(copy: _Copy, origin: _Copy, removals: list[datetime]) -> bool:
    """Another mailbox's copy created with the asked one (one delivery to both), rather than when
    one of the asked mailbox's copies was deleted (a move): whichever time is nearer decides."""
    at, began = copy.start.at, origin.start.at
    if at is None or began is None or copy.uid is None:
        return False
    since_delivery = abs(at - began)
    if since_delivery > TOGETHER:
        return False
    return all(since_delivery <= abs(at - removed) for removed in removals)


def _moved_there(copy: _Copy, removals: list[datetime], together: list[_Copy]) -> bool:
    """Another person's copy is part of this mailbox's story only when it appeared as one of this
    mailbox's copies was deleted, and that person had received no copy of their own."""
    if any(c.owner == copy.owner for c in together):
        return False
    at = copy.start.at
    return at is not None and any(abs(at - removed) <= TOGETHER for removed in removals)


def _chain(origin: _Copy, chain: list[_Copy], order: list[HistoryEvent]) -> list[str]:
    where = origin.folder
    if not chain:
        if origin.removed:
            read = _("read, then ") if origin.seen() else ""
            return [
                _(
                    "{read}deleted from {where} without going through the Trash (UID {uid}); "
                    "restorable with `restore` until the host purges it"
                ).format(read=read, where=where, uid=origin.uid)
            ]
        if origin.seen():
            return [_("received and read, still in {where}").format(where=where)]
        return [_("received, still unread in {where}").format(where=where)]
    clauses: list[str] = []
    source = origin
    for copy in chain:
        clauses.append(_move(source, copy, order, first=not clauses))
        if copy.removed and not is_trash(copy.folder):
            clauses.append(_("then deleted from {place}").format(place=_place(copy)))
        elif copy.removed:
            clauses.append(_("then deleted from the Trash (emptied); restorable with `restore` on the Trash"))
        source = copy
    if all(c.folder != origin.folder or c.owner != origin.owner for c in chain):
        if origin.removed is None:
            clauses.append(
                _(
                    "bm-cli does not show the flags of UID {uid} in {where} (the number is used again in "
                    "this table): whether the original is still there is unknown"
                ).format(where=where, uid=origin.uid)
            )
        elif not origin.removed:
            clauses.append(_("the original is still in {where} (UID {uid})").format(where=where, uid=origin.uid))
    return clauses


def _place(copy: _Copy) -> str:
    if copy.shared:
        return _("the shared mailbox `{folder}`").format(folder=copy.folder)
    return _("the Trash") if is_trash(copy.folder) else f"`{copy.folder}`"


def _owned_place(copy: _Copy, owner: str) -> str:
    if copy.owner == owner or copy.shared:
        return _place(copy)
    return _("{owner}'s `{folder}`").format(owner=copy.owner, folder=copy.folder)


def _move(source: _Copy, copy: _Copy, order: list[HistoryEvent], first: bool) -> str:
    removed = source.removed
    read = "Seen" in (copy.flags or ()) or source.seen_before(copy.start, order)
    prefix = _("read, then ") if read and first else ""
    if copy.folder == source.folder and copy.owner == source.owner:
        return _("{prefix}restored in {folder} as UID {uid}").format(prefix=prefix, folder=copy.folder, uid=copy.uid)
    if removed is None:
        return _(
            "{prefix}copied or moved to {place} (new UID {uid}); bm-cli does not show whether it left {folder}"
        ).format(prefix=prefix, place=_owned_place(copy, source.owner), uid=copy.uid, folder=source.folder)
    if copy.shared:
        if removed:
            return _(
                "{prefix}moved to the shared mailbox `{folder}` (UID {uid}); not a deletion, so not in the Trash"
            ).format(prefix=prefix, folder=copy.folder, uid=copy.uid)
        return _("{prefix}copied to the shared mailbox `{folder}` (UID {uid})").format(
            prefix=prefix, folder=copy.folder, uid=copy.uid
        )
    if copy.owner != source.owner:
        text = _("{prefix}moved to {place} (new UID {uid})")
        if not removed:
            text = _("{prefix}copied to {place} (new UID {uid})")
        text = text.format(prefix=prefix, place=_owned_place(copy, source.owner), uid=copy.uid)
    elif is_trash(copy.folder):
        text = _("{prefix}moved to Trash (new UID {uid})") if removed else _("{prefix}copied to Trash (new UID {uid})")
        text = text.format(prefix=prefix, uid=copy.uid)
    elif removed:
        text = _("{prefix}moved to the folder `{folder}` (new UID {uid})").format(
            prefix=prefix, folder=copy.folder, uid=copy.uid
        )
    else:
        text = _("{prefix}copied to the folder `{folder}` (new UID {uid})").format(
            prefix=prefix, folder=copy.folder, uid=copy.uid
        )
    return text + (_(" and removed from {folder}").format(folder=source.folder) if removed else "")


def restored_copy(history: MailHistory, owner: str | None, folder: str, old_uid: int | None) -> HistoryEvent | None:
    """After a restore, the copy that came back: the newest creation in the folder, for the owner,
    under another UID than the deleted one (BlueMind gives a restored mail a new IMAP UID)."""
    found = [
        e
        for e in history.events
        if e.kind == "Created"
        and same_folder(e.folder, folder)
        and (owner is None or e.owner == owner)
        and e.uid is not None
        and e.uid != old_uid
    ]
    return found[-1] if found else None


# --- mail unexpunge ----------------------------------------------------------------------

UNEXPUNGE_HEADERS = ("id", "subject", "preview", "last-modification")
_U_COUNT = re.compile(r"Folder has (?P<count>\d+) deleted message\(s\)")
_U_NO_FOLDER = re.compile(r"Could not locate folder '(?P<folder>.*)', available folders are:")
_U_FOLDER_ITEM = re.compile(r"\* (?P<folder>.+)")
_U_ACK = re.compile(r"ack(?: received)?: (?P<version>\S+)")
_U_RECOVER = re.compile(r"Recover message with id (?P<id>\d+)")
# Since 2024-05, `--dry` announces each item: `Skipping action on ItemValue{... id: ID, ...
# value: [rec imap: N, body: GUID, ...]} because dry mode is enabled.`: the old IMAP UID and body.
_U_SKIPPING = re.compile(r"Skipping action on ItemValue\{.*\} because dry mode is enabled\.")
_U_ITEM_ID = re.compile(r"\bid: (?P<id>\d+)")
_U_RECORD = re.compile(r"rec imap: (?P<imap>\d+), body: (?P<guid>[0-9A-Fa-f]+)")


@dataclass(frozen=True)
class DeletedItem:
    """A deleted mail as `mail unexpunge` lists it: `id` is BlueMind's item id, not an IMAP UID."""

    id: int
    subject: str | None
    preview: str | None
    modified: datetime | None
    modified_text: str
    imap_uid: int | None = None  # the UID it had, when bm-cli says (`rec imap: N`)
    body_guid: str | None = None


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
    records: dict[int, tuple[int, str]] = {}
    for note in notes:
        if _U_SKIPPING.fullmatch(note) and (item := _U_ITEM_ID.search(note)) and (record := _U_RECORD.search(note)):
            records[int(item["id"])] = (int(record["imap"]), record["guid"].lower())
    items: list[DeletedItem] = []
    for table in tables:
        if table.headers != UNEXPUNGE_HEADERS:
            raise BmCliFormatError(f"a table with columns {' | '.join(table.headers)[:100]} is not an unexpunge list")
        for item_id, subject, preview, modified in table.rows:
            if not item_id.isdigit():
                raise BmCliFormatError(f"{item_id[:40]!r} is not an item id")
            imap_uid, guid = records.get(int(item_id), (None, None))
            stamp = parse_java_date(modified)
            items.append(DeletedItem(int(item_id), subject or None, preview or None, stamp, modified, imap_uid, guid))
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


# --- maintenance list, maintenance repair, --version --------------------------------------


@dataclass(frozen=True)
class DirectoryEntry:
    """`bm-cli maintenance list ADDRESS`: any directory entry, users and mailshares alike."""

    kind: str  # USER, MAILSHARE, GROUP, RESOURCE...
    email: str | None
    emails: tuple[str, ...]
    entry_uid: str | None
    display_name: str | None


def _json_objects(text: str) -> list[object]:
    """Every JSON value that starts a line, whether printed compact or spread over lines."""
    decoder = json.JSONDecoder()
    found: list[object] = []
    position = 0
    while (start := text.find("{", position)) >= 0:
        if start > 0 and text[text.rfind("\n", 0, start) + 1 : start].strip():
            position = start + 1  # a brace inside a sentence, not a JSON document
            continue
        try:
            value, position = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            raise BmCliFormatError(f"bm-cli printed {text[start : start + 80]!r}, not JSON") from None
        found.append(value)
    return found


def parse_directory_entries(text: str) -> list[DirectoryEntry]:
    entries = []
    for value in _json_objects(text):
        if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
            continue
        emails = value.get("emails")
        entries.append(
            DirectoryEntry(
                kind=value["kind"].upper(),
                email=value["email"] if isinstance(value.get("email"), str) else None,
                emails=tuple(
                    e if isinstance(e, str) else str(e.get("address", ""))
                    for e in (emails if isinstance(emails, list) else [])
                    if isinstance(e, str) or (isinstance(e, dict) and e.get("address"))
                ),
                entry_uid=value["entryUid"] if isinstance(value.get("entryUid"), str) else None,
                display_name=value["displayName"] if isinstance(value.get("displayName"), str) else None,
            )
        )
    return entries


_R_SELECTED = re.compile(r"Selected ops: \[(?P<ops>[^\]]*)\]")
_R_FAILED = re.compile(r"Failed to repair entry.*")
_R_LOG = re.compile(r"\[(?P<entry>[^\]]+)\] (?P<message>.*)")


@dataclass(frozen=True)
class RepairOutput:
    """`bm-cli maintenance repair`: what it selected and what its task logged. It exits 0 even
    when the task failed, so the failure lines are the only word on it."""

    entries: int  # `Selected ops: [...]` lines: one per directory entry repaired
    failures: tuple[str, ...]
    log: tuple[str, ...]


def parse_repair(stdout: str, stderr: str) -> RepairOutput:
    lines = [line.strip() for line in (stdout + "\n" + stderr).splitlines() if line.strip()]
    return RepairOutput(
        entries=sum(1 for line in lines if _R_SELECTED.fullmatch(line)),
        failures=tuple(line for line in lines if _R_FAILED.search(line)),
        log=tuple(line for line in lines if _R_LOG.fullmatch(line)),
    )


_VERSION = re.compile(r"(?:bm-cli\s+)?v?(?P<major>\d+)\.(?P<minor>\d+)(?:\.\S*)?")


def parse_version(text: str) -> tuple[int, int] | None:
    """`bm-cli --version`: `5.0.0.<qualifier>` (the launcher bundle's version), as (major, minor)."""
    for line in text.splitlines():
        if match := _VERSION.match(line.strip()):
            return int(match["major"]), int(match["minor"])
    return None


_UNKNOWN_OPTION = re.compile(r"Unknown options?: '?(?P<option>--?[A-Za-z][\w-]*)")


def refused_option(stderr: str) -> str | None:
    """The option a bm-cli build does not know (`Unknown option: '--folderPath'`, exit 2)."""
    match = _UNKNOWN_OPTION.search(stderr)
    return match["option"] if match else None


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
