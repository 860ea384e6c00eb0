from __future__ import annotations

import io
import json

from bot.core.render import JsonRows, write_json


def test_write_json_reads_back_as_the_document():
    made: list[int] = []

    def message(number: int) -> dict[str, object]:
        made.append(number)
        return {"queue_id": f"Q{number}", "subject": "Réunion «budget»", "deliveries": [{"status": "sent"}]}

    document = {
        "address": "élodie@lab.test",
        "since": None,
        "hosts": ["lab", "edge"],
        "messages": JsonRows([1, 2, 3], message),
        "rejected": [],
        "queued": JsonRows([], message),
        "hints": ["Over quota: raise it."],
    }
    out = io.StringIO()
    write_json(document, out)
    text = out.getvalue()
    assert json.loads(text) == {
        **document,
        "messages": [message(1), message(2), message(3)],
        "queued": [],
    }
    assert "élodie" in text  # as it is, not \u-escaped
    assert text.count('\n    {"queue_id"') == 3  # one message per line
    assert made[:3] == [1, 2, 3]  # each made as it was written (then once more for the comparison)


def test_a_big_table_is_the_text_tabulate_makes():
    """Past LARGE_TABLE rows the table is written here, faster; it must be tabulate's text."""
    import random

    from tabulate import tabulate

    from bot.core import render

    pieces = ["a", "bb", "queue", "é", "漢字", " lead", "trail ", "", "x y", "4.2.2", "0123", "Éléments envoyés", "-"]
    chooser = random.Random(7)
    for columns in (1, 2, 5):
        headers = [chooser.choice(["When", "Queue id", "With", "Status", "Detail", "H"]) for _ in range(columns)]
        rows = [
            ["".join(chooser.choice(pieces) for _ in range(chooser.randint(0, 4))) for _ in range(columns)]
            for _ in range(render.LARGE_TABLE + 5)
        ]
        fitted = [[*row[:-1], render.clip(row[-1], 10_000)] for row in rows]
        expected = tabulate(fitted, headers=headers, tablefmt="simple", disable_numparse=True)
        assert render._simple_table(headers, fitted) == expected
        assert render.table(headers, rows, width=10_000) == expected


def test_rows_already_encoded_are_written_as_they_are():
    """A trace encodes each verdict once and splices it into its messages: the text written is the
    caller's, and the same document still reads back from `to_json`."""
    records = [{"queue_id": "Q1", "verdict": [{"kind": "delivered"}]}, {"queue_id": "Q2", "verdict": []}]
    texts = [json.dumps(r, ensure_ascii=False) for r in records]
    out = io.StringIO()
    write_json({"messages": JsonRows([0, 1], records.__getitem__, texts.__getitem__)}, out)
    assert out.getvalue() == '{\n  "messages": [\n    ' + ",\n    ".join(texts) + "\n  ]\n}\n"
    assert list(JsonRows([0, 1], records.__getitem__, texts.__getitem__)) == records


def test_a_big_answer_goes_out_in_few_large_writes():
    """With PYTHONUNBUFFERED (the Docker image sets it) each write is a system call: a busy trace's
    116 MB of JSON took 102,884 of them. The items go out about a megabyte at a time, as the same text."""

    class Writes(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.sizes: list[int] = []

        def write(self, text: str) -> int:
            self.sizes.append(len(text))
            return super().write(text)

    records = [{"queue_id": f"Q{n:05d}", "relay": "lmtp[10.0.0.7]:24" * 10} for n in range(20_000)]
    out = Writes()
    write_json({"address": "a@b.c", "messages": JsonRows(list(range(20_000)), records.__getitem__)}, out)
    assert json.loads(out.getvalue()) == {"address": "a@b.c", "messages": records}
    assert out.getvalue().count('\n    {"queue_id"') == 20_000  # still one item per line
    assert sum(out.sizes) > 4_000_000 and len(out.sizes) < 12  # was one write per item
    assert max(out.sizes) < (1 << 20) + 1_000  # about a megabyte each, not the whole answer at once
