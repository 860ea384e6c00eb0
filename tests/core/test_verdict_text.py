"""The verdict table's wrapping: the detail column is textwrap's, whatever the text."""

from __future__ import annotations

import random
import textwrap

import pytest

from bot.core.verdict_text import wrapped_table

# What details are made of (French and English words, queue ids, arrows, the spaces a translator
# or a server reply may put in), and the whitespace textwrap rewrites or drops.
PIECES = ["in INBOX,", "UID 1003", "(lab 12A664EC08 → lab 8A0BB864D5)", "différé ×4", "boîte pleine ;", "x" * 30]
PIECES += [" ", "  ", "\xa0", "\u2009", "\t", "\n", "-", "—", "well-known", ""]
# Hyphens textwrap breaks at (after two letters, between letters, `--`) and those it keeps (a date's).
PIECES += ["e-mail", "re-routed", "a-b-c", "12-01 05:16", "mx-in.example.com", "x--y", "--", "-x", "x-"]
PIECES += ["y" * 60, "relayed", "to", "mx.example.com[192.0.2.1]:25,", "at 12-01 05:16"]


@pytest.mark.parametrize("width", [100, 88, 79])
def test_the_detail_column_wraps_as_textwrap_does(width):
    chance = random.Random(width)
    rows = []
    for _ in range(5000):
        detail = "".join(chance.choice(PIECES) + chance.choice(["", " ", " "]) for _ in range(chance.randint(0, 12)))
        rows.append(["12-01 05:03", "from someone@example.com", "delivered", detail])
    leading = [[row[i] for row in rows] for i in range(3)]
    details = iter([row[3] for row in rows])  # read as the lines go out
    table = "".join(wrapped_table(["When", "With", "Verdict", "Detail"], leading, details, width=width))
    indent = len("12-01 05:03  from someone@example.com  delivered  ")
    expected = []
    for row in rows:
        pieces = textwrap.wrap(row[3], max(30, width - indent)) or [""]
        expected.append(f"{'  '.join(row[:3])}  {pieces[0]}".rstrip())
        expected.extend(" " * indent + piece for piece in pieces[1:])
    assert sum(len(textwrap.wrap(row[3], max(30, width - indent))) > 1 for row in rows) > 1000  # most wrap
    assert table.splitlines()[2:] == expected
