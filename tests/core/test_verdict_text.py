"""The verdict table's wrapping: the detail column is textwrap's, whatever the text."""

from __future__ import annotations

import random
import textwrap

from bot.core.verdict_text import wrapped_table

# What details are made of (French and English words, queue ids, arrows, the spaces a translator
# or a server reply may put in), and the whitespace textwrap rewrites or drops.
PIECES = ["in INBOX,", "UID 1003", "(lab 12A664EC08 → lab 8A0BB864D5)", "différé ×4", "boîte pleine ;", "x" * 30]
PIECES += [" ", "  ", "\xa0", "\u2009", "\t", "\n", "-", "—", "well-known", ""]


def test_the_detail_column_wraps_as_textwrap_does():
    chance = random.Random(7)
    rows = []
    for _ in range(3000):
        detail = "".join(chance.choice(PIECES) + chance.choice(["", " "]) for _ in range(chance.randint(0, 8)))
        rows.append(["12-01 05:03", "from someone@example.com", "delivered", detail])
    table = wrapped_table(["When", "With", "Verdict", "Detail"], rows, width=100)
    indent = len("12-01 05:03  from someone@example.com  delivered  ")
    expected = []
    for row in rows:
        pieces = textwrap.wrap(row[3], 100 - indent) or [""]
        expected.append(f"{'  '.join(row[:3])}  {pieces[0]}".rstrip())
        expected.extend(" " * indent + piece for piece in pieces[1:])
    assert table.splitlines()[2:] == expected
