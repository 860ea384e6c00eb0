"""The language the bot speaks: gettext catalogues read with Babel, and the reader's conventions.

Every user-facing string goes through `_()` (or `ngettext` for a count), placeholders filled after
translation: `_("{count} held").format(count=n)`. A module-level constant is marked with `N_()` for
extraction and translated with `_()` where it is shown. The language is a ContextVar, so each
Slack job (run in the bot's own threads) speaks its reader's language: `with use_language("fr"):`.

The French catalogue is `bot/locale/fr/LC_MESSAGES/messages.po` (no .mo file is committed), compiled
once and kept by its content's hash: beside it when the install compiled it (`compile_catalogues`,
the Docker image does), else in the user's cache (`$MAILBOT_CACHE_DIR`, else `$XDG_CACHE_HOME/mailbot`,
else `~/.cache/mailbot`), else in memory at each start when nothing is writable. Compiling it with
Babel took 52-83 ms of every French start (issue 24); reading the compiled file takes about 1 ms.
`make messages` re-extracts and updates it.
What never changes with the language: `--json`, exit codes, the audit, commands run on hosts,
what the hosts print, and what the parsers read.
"""

from __future__ import annotations

import gettext
import hashlib
import io
import os
import struct
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import datetime
from functools import cache
from pathlib import Path

from bot.startup import cache_dir, write_whole

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
    """The catalogue of `language`, compiled once (fuzzy entries are left out), then read compiled."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    try:
        source = path.read_bytes()
    except OSError:
        return gettext.NullTranslations()
    name = _compiled_name(language, source)
    places = [path.parent] + ([cache] if (cache := cache_dir()) is not None else [])
    for folder in places:
        try:
            with (folder / name).open("rb") as compiled:
                return gettext.GNUTranslations(compiled)
        except (OSError, ValueError, LookupError, struct.error):  # absent, or not a catalogue: compile it
            continue
    mo = _compile(source, language)
    if mo is None:  # an install without Babel: English, rather than an error inside every error
        return gettext.NullTranslations()
    if cache is not None:
        _keep(cache, name, mo)
    return gettext.GNUTranslations(io.BytesIO(mo))


_FORMAT = b"mo-1"  # bump if what _compile writes changes for the same .po


def _compiled_name(language: str, source: bytes) -> str:
    return f"{DOMAIN}-{language}-{hashlib.sha256(_FORMAT + source).hexdigest()[:24]}.mo"


def _compile(source: bytes, language: str) -> bytes | None:
    try:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
    except ImportError:
        return None
    catalog = read_po(io.BytesIO(source), locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    return compiled.getvalue()


def _keep(folder: Path, name: str, mo: bytes) -> None:
    """Write the compiled catalogue whole and drop the ones of older versions of the .po; a folder
    that cannot be written is skipped. 0644: an image's catalogue is written by root, read by the bot."""
    if not write_whole(folder, name, mo, mode=0o644):
        return
    prefix = name.rsplit("-", 1)[0] + "-"
    with suppress(OSError):
        for old in folder.glob(f"{prefix}*.mo"):
            if old.name != name:
                old.unlink(missing_ok=True)


def compile_catalogues(folder: Path | None = None) -> list[Path]:
    """Compile every catalogue once, beside its .po by default: the install step of an image whose
    package folder is read-only at run time (the Dockerfile calls it)."""
    written = []
    for po in sorted(LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        language = po.parent.parent.name
        source = po.read_bytes()
        mo = _compile(source, language)
        if mo is not None:
            target = folder or po.parent
            _keep(target, _compiled_name(language, source), mo)
            written.append(target / _compiled_name(language, source))
    return written


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


def either(items: list[str]) -> str:
    """`lab or edge`, `lab, edge ou mx2`: alternatives joined the reader's way."""
    from babel.lists import format_list

    return str(format_list(items, style="or", locale=current_language()))
