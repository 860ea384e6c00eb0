"""`flush` of one deferred message once its mailbox has room: it is delivered, the trace says so."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.actions.test_trace_lab import mailbot
from tests.conftest import LAB_CONFIG, lab_queue

IMAP_ADMIN = [sys.executable, str(LAB_CONFIG.parent / "bin" / "imap_admin.py")]


def set_quota(kilobytes: str) -> None:
    subprocess.run([*IMAP_ADMIN, "setquota", "user/full@lab.test", kilobytes], check=True, capture_output=True)


def test_flushing_one_message_after_the_quota_is_raised_delivers_it(lab_config, tmp_path):
    waiting = [e for e in lab_queue() if any(r["address"] == "full@lab.test" for r in e["recipients"])]
    smallest = min(waiting, key=lambda e: e["message_size"])["queue_id"]
    set_quota("none")
    try:
        run = mailbot("flush", smallest, "--yes", "--reason", "quota raised", "--json")
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["command"] == f"sudo -n /usr/sbin/postqueue -i {smallest}"
        deadline = time.monotonic() + 20
        while smallest in {e["queue_id"] for e in lab_queue()} and time.monotonic() < deadline:
            time.sleep(0.3)
    finally:
        set_quota("10")
    assert smallest not in {e["queue_id"] for e in lab_queue()}
    trace = json.loads(mailbot("trace", "full@lab.test", "--json").stdout)
    (message,) = [m for m in trace["messages"] if m["queue_id"] == smallest]
    assert message["deliveries"][-1]["status"] == "sent"
    assert {q["queue_id"] for q in trace["queued"]} == {e["queue_id"] for e in waiting} - {smallest}
