"""Translation stub (issue 14 replaces it with gettext): the text comes back unchanged.

The signatures are the shared convention: placeholders are named and filled after translation.
"""

from __future__ import annotations


def _(message: str) -> str:
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


def N_(message: str) -> str:
    return message
