"""`flush` of one deferred message once its mailbox has room: it is delivered, the trace says so."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from bot.config import load_config
from bot.core.registry import Context
from bot.errors import BadInput, MailbotError
from bot.mailhost.ssh import HostPool
from bot.mailhost.values import parse_queue_id
from bot.verbs.flush import FlushRequest, plan_flush
from tests.conftest import LAB_CONFIG, lab_queue
from tests.labconfig import write_lab_config
from tests.verbs.test_trace_lab import mailbot

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


def test_a_queue_id_is_flushed_on_the_host_that_holds_it(lab_config, tmp_path):
    """With the edge relay listed first, a message waiting in the backend's queue is still found
    there; a whole flush goes to the first host, or the one named with --host."""
    write_lab_config(tmp_path, ("edge", "lab"), name="edge-first.yaml")
    pool = HostPool()
    context = Context(config=load_config(str(tmp_path / "edge-first.yaml")), pool=pool, requester="tester")
    waiting = next(e["queue_id"] for e in lab_queue() if e["queue_name"] == "deferred")
    try:
        plan = plan_flush(FlushRequest(parse_queue_id(waiting), None), context)
        assert plan.host == "lab" and plan.command.argv == ("sudo", "-n", "/usr/sbin/postqueue", "-i", waiting)
        whole = plan_flush(FlushRequest(None, None), context)
        assert whole.host == "edge" and whole.command.argv[-3:] == ("-c", "/etc/postfix-edge", "-f")
        named = plan_flush(FlushRequest(None, None, "lab"), context)
        assert named.host == "lab" and named.command.argv == ("sudo", "-n", "/usr/sbin/postqueue", "-f")
        with pytest.raises(MailbotError, match="no message ABCDEF12345 in the queue of edge or lab"):
            plan_flush(FlushRequest(parse_queue_id("ABCDEF12345"), None), context)
        with pytest.raises(BadInput, match="'mx9' is not one of the mail hosts with a queue \\(edge, lab\\)"):
            plan_flush(FlushRequest(None, None, "mx9"), context)
    finally:
        pool.close()
