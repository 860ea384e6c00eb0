"""Last of the suite (by name): no secret appeared anywhere this run could write one.

With the whole suite (or any part of it that starts a fake Slack) it covers every log record,
test report, Slack call and file the run made. A scan that had no secret to look for, or read
nothing, proves nothing: it fails (run alone, it does). See tests/secretwatch.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakeslack.server import INSTANCES
from tests.secretwatch import WATCH

GUARD_LOGS = Path("/var/log/mailbot-guard")


def test_no_secret_anywhere_in_this_run(tmp_path_factory: pytest.TempPathFactory) -> None:
    for fake in INSTANCES:
        for call in fake.calls():
            WATCH.seen["Slack calls"] += 1
            WATCH.scan(call.body.decode("utf-8", "replace") + json.dumps(call.args, default=str), call.method)
    WATCH.scan_files(tmp_path_factory.getbasetemp())
    if GUARD_LOGS.is_dir():
        WATCH.scan_files(GUARD_LOGS)
    assert WATCH.watched, "no secret was registered, so none could be found: run this with the suite"
    scanned = WATCH.seen["log records"] + WATCH.seen["Slack calls"] + WATCH.seen["files"]
    assert scanned, f"nothing was scanned ({WATCH.seen}): the watch saw none of what the run wrote"
    assert WATCH.leaks == []
    print("\nsecrets scan: " + ", ".join(f"{count} {what}" for what, count in WATCH.seen.items()) + ": none found")
