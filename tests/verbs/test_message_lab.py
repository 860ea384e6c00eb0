"""`message`: one message's journey on the lab, by queue id and by Message-ID."""

from __future__ import annotations

import json
import re

from tests.conftest import read_lab_logs
from tests.verbs.test_trace_lab import mailbot


def bounce_in_the_log() -> tuple[str, str, str]:
    """A bounce to ghost@lab.test: its queue id, its Message-ID and its notice's queue id."""
    lines = read_lab_logs()
    queue_id = next(
        m.group(1) for line in lines if (m := re.search(r": ([0-9A-F]+): to=<ghost@lab.test>.*status=bounced", line))
    )
    message_id = next(line.split("message-id=<")[1].rstrip(">") for line in lines if f"{queue_id}: message-id=" in line)
    notice = next(line.rsplit(" ", 1)[1] for line in lines if f"{queue_id}: sender non-delivery notification:" in line)
    return queue_id, message_id, notice


def test_a_bounce_and_its_notice(lab_config):
    queue_id, _, notice = bounce_in_the_log()
    run = mailbot("message", queue_id, "--json")
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert [hop["queue_id"] for hop in answer["hops"]] == [queue_id, notice]
    assert answer["hops"][1]["previous_queue_id"] == queue_id
    assert "ghost@lab.test: bounced on lab: 550 5.1.1 User unknown" in answer["where"]
    assert "notice to john@lab.test: delivered" in answer["where"]
    lines = [line for line in read_lab_logs() if f" {queue_id}: " in line or f" {notice}: " in line]
    assert len(answer["timeline"]) == len(lines)


def test_the_same_message_by_its_message_id(lab_config):
    queue_id, message_id, notice = bounce_in_the_log()
    by_id = json.loads(mailbot("message", f"<{message_id}>", "--json").stdout)
    assert [hop["queue_id"] for hop in by_id["hops"]] == [queue_id, notice]


def test_a_queue_id_typed_in_small_letters_is_found(lab_config):
    queue_id, _, notice = bounce_in_the_log()
    answer = json.loads(mailbot("message", queue_id.lower(), "--json").stdout)
    assert [hop["queue_id"] for hop in answer["hops"]] == [queue_id, notice]


def test_a_deferral_later_delivered(lab_config):
    lines = read_lab_logs()
    queue_id = next(
        m.group(1) for line in lines if (m := re.search(r": ([0-9A-F]+): to=<quota2@lab.test>.*status=deferred", line))
    )
    answer = json.loads(mailbot("message", queue_id, "--json").stdout)
    (hop,) = answer["hops"]
    assert [d["status"] for d in hop["deliveries"]] == ["deferred", "sent"]
    assert answer["where"].startswith("quota2@lab.test: delivered by lab")


def test_an_unknown_message(lab_config):
    run = mailbot("message", "ABCDEF98765")
    assert run.returncode == 0
    assert run.stdout.startswith("No trace of ABCDEF98765 in the logs of lab, edge.")  # both mta hosts searched
    assert mailbot("message", "not a message id").returncode == 2
    mistyped = mailbot("message", "NOTAQID")  # neither shape: said at once, nothing searched
    assert (mistyped.returncode, mistyped.stdout) == (2, "")
    assert mistyped.stderr == (
        "mailbot: 'NOTAQID' is not a Postfix queue id (like C5BF3135FAF or 4PcV4K5FPLz3tBr) nor a Message-ID, "
        "which has an @ (like <20261128.1234@example.org>); give one without an @ in angle brackets.\n"
    )
    assert mailbot("message", "<NOTAQID>").stdout.startswith("No trace of <NOTAQID> in the logs of lab, edge.")
