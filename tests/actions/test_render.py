from __future__ import annotations

import io
import json

from bot.actions.render import JsonRows, write_json


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
