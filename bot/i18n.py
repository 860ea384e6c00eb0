"""Translation API (issue 14 fills it in): a stub that returns the text unchanged.

`_(message)` translates a message, `ngettext(singular, plural, n)` picks the form for a count,
`N_(message)` marks a module-level constant for extraction (translate it with `_` where shown).
Placeholders are named and filled after translation: `_("{count} held").format(count=n)`.
"""

from __future__ import annotations


def _(message: str) -> str:
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def N_(message: str) -> str:
    return message
