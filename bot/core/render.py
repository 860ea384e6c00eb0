"""Text helpers shared by every verb's rendering: tables that fit a laptop screen."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TextIO, TypeVar

from bot import i18n
from bot.i18n import ngettext

if TYPE_CHECKING:
    from bot.core.registry import Outcome

TEXT_WIDTH = 100
LARGE_TABLE = 1000  # rows; tabulate takes 4 s for the 66,000 rows of a busy address's trace
Record = TypeVar("Record")


class JsonRows(Generic[Record]):
    """A JSON array whose items are made one at a time, as `write_json` writes them: the
    58,000 messages of a busy address's trace never exist as dicts all at once.

    `encoded`, when given, is each record's JSON text, the one `encode(to_json(record))` gives,
    made by the caller without the dict (records.message_text: half the time of the encoder for
    a busy trace's 57,000 messages).
    """

    def __init__(
        self,
        records: Sequence[Record],
        to_json: Callable[[Record], Any],
        encoded: Callable[[Record], str] | None = None,
    ) -> None:
        self._records = records
        self._to_json = to_json
        self._encoded = encoded

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Any]:
        return (self._to_json(record) for record in self._records)

    def __getitem__(self, index: int) -> Any:
        return self._to_json(self._records[index])

    def texts(self) -> Iterator[str]:
        """Each record's JSON text, as `write_json` writes it."""
        if self._encoded is not None:
            return map(self._encoded, self._records)
        return (encode(self._to_json(record)) for record in self._records)


# The C encoder, made once: json.dumps(..., ensure_ascii=False) makes an encoder per call (a busy
# trace writes 100,000 items); the text is the same.
encode = json.JSONEncoder(ensure_ascii=False).encode
# One string as `encode` writes it, quotes included (json's own C function).
json_string: Callable[[str], str] = json.encoder.encode_basestring


def stamp_texts() -> Callable[[datetime], str]:
    """Each time's JSON text, `encode(iso(stamp))`, made once per time and zone while it is used.

    A busy trace's `--json` writes 360,000 times, 75,000 of them distinct (a message's arrival is
    its verdict's, a delivery's time the verdict's last event), and `isoformat` of an aware time
    costs 0.6 µs: 0.23 s of that answer, 0.09 s with every text kept. Kept, the texts held 9 MB at
    the answer's peak; the last 4,096 hold the times of the messages being written and of their
    verdicts, and the answer took 0.04 s more than with all of them (bench/run.py, issue 24).
    Equal times of two zones (one instant) are kept apart, and a time in the second pass of a
    clock turned back (`fold`) is not looked up: it compares equal to the first.
    """
    zones: dict[object, dict[datetime, str]] = {}

    def text(stamp: datetime) -> str:
        if stamp.fold:
            return f'"{stamp.isoformat()}"'
        texts = zones.get(stamp.tzinfo)
        if texts is None:
            texts = zones[stamp.tzinfo] = {}
        made = texts.get(stamp)
        if made is None:
            if len(texts) >= _STAMPS_KEPT:
                texts.clear()
            made = texts[stamp] = f'"{stamp.isoformat()}"'
        return made

    return text


_STAMPS_KEPT = 4096


_SLICE = 1 << 20  # the size of a write: the JSON's items go out about this much at a time, a long table piece in slices


def write_json(document: dict[str, Any], out: TextIO) -> None:
    """One JSON object, one key per line and one item of an array of objects per line.

    Each item goes through the C encoder as it is written (the pure-Python one, which
    `indent` needs, took seconds and hundreds of MB for a big trace), and the output is
    never one big string. The items go out a megabyte at a time: with PYTHONUNBUFFERED (the
    Docker image sets it) each `write` was a system call, 102,884 of them for a busy trace's
    116 MB (`strace -c`), 15,590 with Python's own 8 kB buffer.
    """
    out.write("{")
    for number, (key, value) in enumerate(document.items()):
        out.write(("," if number else "") + "\n  " + encode(key) + ": ")
        rows = isinstance(value, JsonRows) or (
            isinstance(value, (list, tuple)) and any(isinstance(item, (dict, list)) for item in value)
        )
        if not rows or not value:
            out.write("[]" if rows else encode(value))
            continue
        texts = value.texts() if isinstance(value, JsonRows) else map(encode, value)
        pending, size, separator = ["["], 1, "\n    "
        for text in texts:
            pending.append(separator)
            pending.append(text)
            separator = ",\n    "
            size += len(text) + 6
            if size >= _SLICE:
                out.write("".join(pending))
                pending.clear()
                size = 0
        pending.append("\n  ]")
        out.write("".join(pending))
    out.write("\n}\n")


def clip(text: str | None, width: int) -> str:
    """Shorten to `width` characters, marking the cut, so a column never wraps."""
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def when(stamp: datetime | None) -> str:
    """`11-28 03:09` (`28 nov. 03:09` in French; strftime takes ten times as long: a busy trace
    has 66,000 rows)."""
    return i18n.short_time(stamp) if stamp else ""


def when_seconds(stamp: datetime | None) -> str:
    return f"{when(stamp)}:{stamp.second:02d}" if stamp else ""


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int = TEXT_WIDTH) -> str:
    """A plain table whose last column is clipped so that no line passes `width`."""
    if not rows:
        return _simple_table(headers, [])
    # tabulate makes a column at least its header plus 2 wide (its MIN_PADDING): a "Host" column
    # of 3- and 4-letter names is 6 wide
    fixed = [max(len(headers[i]) + 2, *(len(row[i]) for row in rows)) for i in range(len(headers) - 1)]
    room = max(16, width - sum(fixed) - 2 * (len(headers) - 1))
    fitted = [[*row[:-1], clip(row[-1], room)] for row in rows]
    if len(fitted) > LARGE_TABLE or _one_line_strings(headers, fitted):
        return _simple_table(headers, fitted)
    from tabulate import tabulate  # a cell of several lines, or a tab: tabulate's own layout

    return tabulate(fitted, headers=headers, tablefmt="simple", disable_numparse=True)


# What tabulate lays out differently from `_simple_table`: line breaks (a cell of several lines), tabs
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _one_line_strings(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> bool:
    """Every cell a string without a control character: `_simple_table` writes exactly tabulate's
    text for those (the same on 50,000 random tables of Latin, CJK, emoji, combining marks and
    no-break spaces), without importing tabulate and wcwidth (35 ms of every answer's start)."""
    cells = [*headers, *(cell for row in rows for cell in row)]
    return all(type(cell) is str for cell in cells) and not _CONTROL.search("".join(cells))  # type: ignore[arg-type]


def _simple_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """tabulate's "simple" format, the same text, for tables of strings: each width is computed
    once per cell, by `len` for ASCII text (tabulate asks wcwidth for every cell)."""
    cells = [[cell.strip() for cell in row] for row in rows]
    sizes = [[_display_width(cell) for cell in row] for row in cells]
    widths = [max([_display_width(h) + 2, *(size[i] for size in sizes)]) for i, h in enumerate(headers)]
    last = len(headers) - 1

    def line(row: Sequence[str], size: Sequence[int]) -> str:
        padded = [row[i] + " " * (widths[i] - size[i]) for i in range(last)]
        return "  ".join([*padded, row[last]]).rstrip()

    lines = [line(headers, [_display_width(h) for h in headers]), "  ".join("-" * w for w in widths)]
    lines.extend(line(row, size) for row, size in zip(cells, sizes, strict=True))
    return "\n".join(lines)


# Letters of Latin-1 and the usual punctuation (… – ’ « »): one column each, like ASCII; what
# is left (CJK, combining marks, emoji) is measured by wcwidth, as tabulate does.
_NARROW = str.maketrans(
    "", "", "".join(chr(c) for c in [*range(0xA0, 0xAD), *range(0xAE, 0x100), *range(0x2010, 0x2028), 0x2192])
)


def _display_width(text: str) -> int:
    if text.isascii() or text.translate(_NARROW).isascii():
        return len(text)
    from wcwidth import wcswidth

    return max(wcswidth(text), 0)


def size(num_bytes: int | None) -> str:
    """`1.2 MB`, `1,2 Mo` in French."""
    return "" if num_bytes is None else i18n.size(num_bytes)


def iso(stamp: datetime | None) -> str | None:
    return stamp.isoformat() if stamp else None


def as_text(outcome: Outcome, width: int = TEXT_WIDTH) -> str:
    """The plain-text form of an answer, as the CLI prints it: prose items become wrapped bullets."""
    return "".join(_text_pieces(outcome, width))


def write_text(outcome: Outcome, out: TextIO, width: int = TEXT_WIDTH) -> None:
    """`as_text` written piece by piece, a long piece in slices of a megabyte: a busy trace's table
    (45,000 rows, 5 MB) is neither copied into the whole text nor encoded in one go (a peak 15-20 MB
    lower)."""
    for piece in _text_pieces(outcome, width):
        for start in range(0, len(piece), _SLICE):
            out.write(piece[start : start + _SLICE])


def _text_pieces(outcome: Outcome, width: int) -> Iterator[str]:
    yield textwrap.fill(outcome.headline(), width)
    for section in outcome.sections():
        yield "\n\n"
        if section.title:
            yield f"{section.title}\n"
        if section.monospace:
            yield from section.pieces()
        else:
            yield "\n".join(
                textwrap.fill(item, width, initial_indent="- ", subsequent_indent="  ")
                for item in section.body.splitlines()
            )
    yield "\n"


def duration_words(duration: timedelta) -> str:
    """`2 days 5 hours`, `3 hours 10 minutes`, `4 minutes`: two units at most, for people."""
    seconds = max(0, int(duration.total_seconds()))
    days, hours, minutes = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    parts = [
        ngettext("{n} day", "{n} days", days).format(n=days) if days else "",
        ngettext("{n} hour", "{n} hours", hours).format(n=hours) if hours else "",
        ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes) if minutes and not days else "",
    ]
    words = [p for p in parts if p][:2]
    return " ".join(words) if words else ngettext("{n} second", "{n} seconds", seconds).format(n=seconds)


def count(number: int, noun: str) -> str:
    """`1 message`, `3 refusals`, `2 times`, in the reader's language (the nouns the verbs count)."""
    forms = {
        "message": lambda: ngettext("{count} message", "{count} messages", number),
        "refusal": lambda: ngettext("{count} refusal", "{count} refusals", number),
        "time": lambda: ngettext("{count} time", "{count} times", number),
    }
    return forms[noun]().format(count=number)
