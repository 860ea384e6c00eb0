"""bm-cli's output rendered from the facts of reference/BMCLI.md, for the parsers' tests.

AsciiTable (`com.github.freva.asciitable`, BASIC_ASCII border): a border after every row, header
cells left-aligned, data cells right-aligned, one space of padding, a column as wide as its longest
cell (at most 78 of text), wrapped at the last space or cut inside a word at 78, every width counted
in UTF-16 units (Java's String.length()). Dates as java.util.Date prints them, always in GMT.
"""

from __future__ import annotations

from datetime import UTC, datetime

WIDEST = 78
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def java_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_lines(text: str, width: int) -> list[str]:
    """AsciiTable's wrapping, in UTF-16 units: at the last space within reach, else cut at `width`."""
    units = text.encode("utf-16-le")
    lines: list[str] = []
    offset = 0
    total = len(units) // 2

    def piece(start: int, end: int) -> str:
        return units[start * 2 : end * 2].decode("utf-16-le", "surrogatepass")

    while offset < total and width < total - offset:
        window = piece(offset, offset + width + 1)
        space = window.rfind(" ")
        if space > 0:
            cut = offset + java_length(window[:space])
            lines.append(piece(offset, cut))
            offset = cut + 1
        else:
            lines.append(piece(offset, offset + width))
            offset += width
    lines.append(piece(offset, total))
    return lines


def ascii_table(headers: list[str], rows: list[list[str | None]]) -> str:
    cells = [[cell or "" for cell in row] for row in rows]
    widths = [min(WIDEST, max(java_length(c) for c in column)) for column in zip(headers, *cells, strict=True)]
    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def physical(row: list[str], right: bool) -> list[str]:
        split = [split_lines(cell, width) for cell, width in zip(row, widths, strict=True)]
        lines = []
        for n in range(max(len(parts) for parts in split)):
            out = []
            for parts, width in zip(split, widths, strict=True):
                text = parts[n] if n < len(parts) else ""
                pad = " " * (width - java_length(text))
                out.append(" " + (pad + text if right else text + pad) + " ")
            lines.append("|" + "|".join(out) + "|")
        return lines

    lines = [border, *physical(headers, right=False), border]
    for row in cells:
        lines += [*physical(row, right=True), border]
    if not cells:
        lines.append(border)
    return "\n".join(lines)


def java_date(stamp: datetime) -> str:
    moment = stamp.astimezone(UTC)
    return f"{DAYS[moment.weekday()]} {MONTHS[moment.month - 1]} {moment.day:02d} {moment:%H:%M:%S} GMT {moment.year}"


HISTORY = ["Date", "Type", "Owner", "Folder-UID", "Folder", "Item/IMAP-UID", "Flags"]


def history_table(rows: list[tuple[datetime, str, str, str, str, int, str]]) -> str:
    """Rows (date, type, owner, folder uid, folder leaf, imap uid, current flags), oldest first; the
    flags of a row are blanked when its `N.` appears again further down, as bm-cli does."""
    cells: list[list[str | None]] = [
        [java_date(at), kind, owner, f"mbox_records_{folder_uid}", folder, f"{uid}.", flags]
        for at, kind, owner, folder_uid, folder, uid, flags in rows
    ]
    seen: set[str | None] = set()
    for row in reversed(cells):
        if row[5] in seen:
            row[6] = ""
        seen.add(row[5])
    return ascii_table(HISTORY, cells)
