"""The language the bot speaks: gettext catalogues read with Babel, and the reader's conventions.

Every user-facing string goes through `_()` (or `ngettext` for a count), placeholders filled after
translation: `_("{count} held").format(count=n)`. A module-level constant is marked with `N_()` for
extraction and translated with `_()` where it is shown. The language is a ContextVar, so each
Slack job (run in the bot's own threads) speaks its reader's language: `with use_language("fr"):`.

The French catalogue is `bot/locale/fr/LC_MESSAGES/messages.po`, read and compiled in memory on
first use (no .mo file is committed or installed). `make messages` re-extracts and updates it.
What never changes with the language: `--json`, exit codes, the audit, commands run on hosts,
what the hosts print, and what the parsers read.
"""

from __future__ import annotations

import gettext
import io
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import cache
from pathlib import Path

ENGLISH = "en"
LANGUAGES = ("en", "fr")
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"

_language: ContextVar[str] = ContextVar("mailbot_language", default=ENGLISH)


def N_(message: str) -> str:
    """Marks a constant for extraction; it is translated with `_()` where it is shown."""
    return message


def _(message: str) -> str:
    """`message` in the current language (itself in English, or when the catalogue lacks it)."""
    language = _language.get()
    if language == ENGLISH:
        return message
    return _translations(language).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form for `n` in the current language (French: `1 jour`, `0 jour`, `3 jours`)."""
    language = _language.get()
    if language == ENGLISH:
        return singular if n == 1 else plural
    return _translations(language).ngettext(singular, plural, n)


def current_language() -> str:
    return _language.get()


@contextmanager
def use_language(language: str | None) -> Iterator[str]:
    """Speak `language` (a code or a locale such as `fr-FR`; English if unknown) for a block of work."""
    chosen = normalise(language) or ENGLISH
    token = _language.set(chosen)
    try:
        yield chosen
    finally:
        _language.reset(token)


def normalise(locale: str | None) -> str | None:
    """`fr-FR`, `fr_FR.UTF-8`, `FR` -> `fr`; `C`, `POSIX`, empty or a language without a catalogue -> None."""
    if not locale:
        return None
    code = locale.strip().replace("-", "_").split(".")[0].split("@")[0].split("_")[0].lower()
    return code if code in LANGUAGES else None


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The terminal's language as gettext reads it: the first non-empty of LC_ALL, LC_MESSAGES, LANG."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return normalise(value) or ENGLISH
    return ENGLISH


@cache
def _translations(language: str) -> gettext.NullTranslations:
    """The catalogue of `language`, compiled in memory once (fuzzy entries are left out)."""
    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
    except ImportError:  # an install without Babel: English, rather than an error inside every error
        return gettext.NullTranslations()
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    try:
        with path.open("rb") as source:
            catalog = read_po(source, locale=language, domain=DOMAIN)
    except OSError:
        return gettext.NullTranslations()
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


# --- argparse's own words (usage:, options, its error messages), in the same catalogue ---------------

ARGPARSE_MESSAGES = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("unknown parser %(parser_name)r (choices: %(choices)s)"),
    N_("unrecognized arguments: %s"),
    N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
)


def _argparse_plural(singular: str, plural: str, n: int) -> str:
    if singular == "expected %s argument":  # argparse's only plural
        return ngettext("expected %s argument", "expected %s arguments", n)
    return singular if n == 1 else plural


def translate_argparse() -> None:
    """argparse looks its words up through the module's own `_` and `ngettext`: point them at ours,
    so `--help` and usage errors speak the reader's language."""
    import argparse

    argparse._ = _  # type: ignore[attr-defined]
    argparse.ngettext = _argparse_plural  # type: ignore[attr-defined]


# --- the reader's conventions: dates, sizes, durations -----------------------------------------


@cache
def _month_abbreviations(language: str) -> tuple[str, ...]:
    from babel.dates import get_month_names

    names = get_month_names("abbreviated", locale=language)
    return tuple(names[month] for month in range(1, 13))


def short_time(stamp: datetime) -> str:
    """A table cell: `11-28 03:09` in English (as always), `28 nov. 03:09` in French.

    Built by hand from Babel's month names: a busy trace has 66,000 rows, and Babel's own
    formatter takes about 30 µs a cell."""
    language = _language.get()
    if language == ENGLISH:
        return f"{stamp.month:02d}-{stamp.day:02d} {stamp.hour:02d}:{stamp.minute:02d}"
    month = _month_abbreviations(language)[stamp.month - 1]
    return f"{stamp.day} {month} {stamp.hour:02d}:{stamp.minute:02d}"


def short_date(stamp: datetime) -> str:
    """A narrow date cell: `12-02` in English (as always), `2 déc.` in French."""
    language = _language.get()
    if language == ENGLISH:
        return f"{stamp.month:02d}-{stamp.day:02d}"
    return f"{stamp.day} {_month_abbreviations(language)[stamp.month - 1]}"


_UNITS = (("digital-byte", 1), ("digital-kilobyte", 1024), ("digital-megabyte", 1024 * 1024))


def size(num_bytes: int) -> str:
    """`512 B`, `12 kB`, `1.2 MB` in English (as always); `512 o`, `12 ko`, `1,2 Mo` in French."""
    language = _language.get()
    if language == ENGLISH:
        if num_bytes < 1024:
            return f"{num_bytes} B"
        if num_bytes < 1024 * 1024:
            return f"{num_bytes / 1024:.0f} kB"
        return f"{num_bytes / (1024 * 1024):.1f} MB"
    from babel.units import format_unit

    unit, scale = _UNITS[0 if num_bytes < 1024 else 1 if num_bytes < 1024 * 1024 else 2]
    pattern = "#,##0.0" if scale == 1024 * 1024 else "#,##0"
    text = str(format_unit(num_bytes / scale, unit, length="short", format=pattern, locale=language))
    return text.replace("\u202f", "\xa0")  # CLDR's narrow no-break space: not every terminal has it


def decimal(value: float, digits: int = 1) -> str:
    """`1.5` / `1,5`: a number with `digits` decimals in the reader's convention."""
    if _language.get() == ENGLISH:
        return f"{value:.{digits}f}"
    from babel.numbers import format_decimal

    return str(format_decimal(value, "0." + "0" * digits, locale=_language.get()))
