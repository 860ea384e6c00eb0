"""Two hops for real: the lab's edge relay (a second Postfix instance, long queue ids, its own log)
hands mail for lab.test to the backend, which delivers it to Cyrus or defers it (over quota).

The oracle is the raw logs read as root and `postqueue` run locally: the edge's
`status=sent (250 2.0.0 Ok: queued as BACKENDQID)` line names both queue ids of one mail.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import lab_queue, read_lab_logs
from tests.labconfig import write_lab_config
from tests.test_cli import mailbot as mailbot_with
from tests.verbs.test_trace_lab import mailbot, trace_json

EDGE_LOG = "/var/log/mail-edge.log"
EDGE_CONFIG = "/etc/postfix-edge"
LONG_QID = r"[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{6,}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+"
HANDOVER = re.compile(
    rf": (?P<edge>{LONG_QID}): to=<(?P<rcpt>[^>]+)>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:2525, .*"
    r"status=sent \(250 2\.0\.0 Ok: queued as (?P<backend>[0-9A-F]{6,})\)$"
)


@dataclass(frozen=True)
class Hop:
    """One mail through the edge: its queue id on the edge (long), on the backend (short), its Message-ID."""

    edge: str
    backend: str
    message_id: str


def hops_to(recipient: str) -> list[Hop]:
    """Every hand-over of a mail for `recipient` from the edge to the backend, oldest first."""
    edge_lines = read_lab_logs(EDGE_LOG)
    backend_lines = read_lab_logs()
    hops = []
    for line in edge_lines:
        match = HANDOVER.search(line)
        if not match or match["rcpt"] != recipient:
            continue
        message_id = next(
            text.split("message-id=<", 1)[1].rstrip(">")
            for text in edge_lines
            if f" {match['edge']}: message-id=<" in text
        )
        # The backend logged the same Message-ID under the queue id the edge was given, unless its
        # log rotated away since (the edge's log is not rotated): only whole hops can be checked.
        if any(f" {match['backend']}: message-id=<{message_id}>" in text for text in backend_lines):
            hops.append(Hop(match["edge"], match["backend"], message_id))
    assert hops, f"no mail for {recipient} went through the edge: run lab/traffic.sh"
    return hops


def edge_queue() -> list[dict[str, Any]]:
    output = subprocess.run(
        ["/usr/sbin/postqueue", "-c", EDGE_CONFIG, "-j"], capture_output=True, text=True, check=True
    ).stdout
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def message_json(query: str) -> dict[str, Any]:
    run = mailbot("message", query, "--json")
    assert run.returncode == 0, run.stderr
    answer: dict[str, Any] = json.loads(run.stdout)
    assert answer["hosts"] == ["lab", "edge"] and answer["errors"] == []
    return answer


def test_message_follows_a_mail_from_the_edge_to_its_delivery_in_cyrus(lab_config):
    hop = hops_to("john@lab.test")[-1]
    answer = message_json(hop.edge)
    assert [(h["host"], h["queue_id"]) for h in answer["hops"]] == [("edge", hop.edge), ("lab", hop.backend)]
    edge, backend = answer["hops"]
    assert edge["previous_queue_id"] is None and backend["previous_queue_id"] == hop.edge
    assert edge["message_id"] == backend["message_id"] == hop.message_id
    assert [(d["status"], d["dsn"], d["next_queue_id"]) for d in edge["deliveries"]] == [("sent", "2.0.0", hop.backend)]
    assert [(d["status"], d["relay"]) for d in backend["deliveries"]] == [("sent", "127.0.0.1[127.0.0.1]:2400")]
    assert answer["where"].startswith("john@lab.test: delivered by lab (250 2.1.5 ")
    # every line of both hops, each named with its host
    edge_lines = [line for line in read_lab_logs(EDGE_LOG) if f" {hop.edge}: " in line]
    backend_lines = [line for line in read_lab_logs() if f" {hop.backend}: " in line]
    assert [(t["host"], t["queue_id"]) for t in answer["timeline"]] == [("edge", hop.edge)] * len(edge_lines) + [
        ("lab", hop.backend)
    ] * len(backend_lines)
    # and in the terminal: the chain in the headline, the host on each row of the timeline
    text = mailbot("message", hop.edge).stdout
    headline = " ".join(text.split("\n\n")[0].split())
    assert headline.startswith(f"Message {hop.edge} (edge:{hop.edge} -> lab:{hop.backend}): john@lab.test: delivered")
    assert re.search(rf"(?m)^\S+ \S+ +edge +{hop.edge} +smtp +sent to john@lab.test via 127\.0\.0\.1:2525", text)
    assert re.search(rf"(?m)^\S+ \S+ +lab +{hop.backend} +lmtp +sent to john@lab.test via 127\.0\.0\.1:2400", text)


def test_the_same_hops_by_message_id_and_from_the_backend_queue_id(lab_config):
    hop = hops_to("john@lab.test")[-1]
    expected = [("edge", hop.edge), ("lab", hop.backend)]
    for query in (f"<{hop.message_id}>", hop.backend):
        answer = message_json(query)
        assert [(h["host"], h["queue_id"]) for h in answer["hops"]] == expected, query
        assert answer["hops"][1]["previous_queue_id"] == hop.edge
        assert answer["where"].startswith("john@lab.test: delivered by lab")


def test_a_mail_relayed_by_the_edge_and_deferred_over_quota_at_the_backend(lab_config):
    hop = hops_to("full@lab.test")[-1]
    answer = message_json(hop.edge)
    assert [(h["host"], h["queue_id"]) for h in answer["hops"]] == [("edge", hop.edge), ("lab", hop.backend)]
    assert answer["hops"][0]["removed"] is True  # the edge handed it on: nothing left there
    assert answer["where"].startswith("full@lab.test: deferred on lab: 452 4.2.2 Over quota")


def test_trace_lists_the_edge_hop_and_the_backend_hop_linked(lab_config):
    answer = trace_json("john@lab.test")
    assert answer["hosts"] == ["lab", "edge"] and answer["errors"] == []
    by_key = {(m["host"], m["queue_id"]): m for m in answer["messages"]}
    for hop in hops_to("john@lab.test"):
        edge, backend = by_key["edge", hop.edge], by_key["lab", hop.backend]
        assert [(d["recipient"], d["status"], d["next_queue_id"]) for d in edge["deliveries"]] == [
            ("john@lab.test", "sent", hop.backend)
        ]
        assert edge["deliveries"][0]["relay"] == "127.0.0.1[127.0.0.1]:2525"
        assert backend["previous_queue_id"] == hop.edge and edge["previous_queue_id"] is None
        assert edge["message_id"] == backend["message_id"] == hop.message_id
        assert backend["deliveries"][-1]["status"] == "sent"
    hop = hops_to("john@lab.test")[-1]
    verdicts = " ".join(mailbot("trace", "john@lab.test").stdout.split())  # one verdict, both ids
    assert re.search(rf"from alice@partner\.example delivered [^()]*\(edge {hop.edge} → lab {hop.backend}\)", verdicts)
    table = mailbot("trace", "john@lab.test", "--attempts").stdout
    assert re.search(rf"(?m)^edge +\S+ \S+ +{hop.edge} +from alice@partner\.example +sent +2\.0\.0 queued as", table)
    assert re.search(rf"(?m)^lab +\S+ \S+ +{hop.backend} +from alice@partner\.example +sent +2\.1\.5 lmtp", table)


def test_queue_names_both_hosts_the_edge_empty_the_backend_holding_the_over_quota_mails(lab_config):
    run = mailbot("queue", "--json")
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["hosts"] == ["lab", "edge"] and answer["errors"] == []
    assert edge_queue() == []
    waiting = lab_queue()
    assert answer["total"] == len(waiting)
    assert sorted((m["host"], m["queue_id"]) for m in answer["messages"]) == sorted(
        ("lab", e["queue_id"]) for e in waiting
    )
    full = [m for m in answer["messages"] if [r["address"] for r in m["recipients"]] == ["full@lab.test"]]
    assert full and {m["reason"] for m in full} == {"452 4.2.2 Over quota"}
    assert hops_to("full@lab.test")[-1].backend in {m["queue_id"] for m in full}  # relayed by the edge, stuck here
    text = mailbot("queue", "full@lab.test").stdout
    assert text.startswith(f"Queue of lab, edge: {len(waiting)} message")  # "1 message" or "3 messages"
    assert re.search(r"(?m)^Host +Queue id +Age +From +To +Reason$", text)
    assert len(re.findall(r"(?m)^lab +[0-9A-F]{6,} .*full@lab\.test +452 4\.2\.2 Over quota$", text)) == len(full)


def edge_only(tmp_path: Path) -> Path:
    """The lab's edge relay as the only host (its own Postfix instance, named by postfix_config)."""
    path = write_lab_config(tmp_path, ("edge",))
    assert yaml.safe_load(path.read_text())["hosts"][0]["postfix_config"] == EDGE_CONFIG
    return path


def test_flush_on_the_edge_runs_its_own_instance(lab_config, tmp_path):
    config = str(edge_only(tmp_path))
    run = mailbot_with("--config", config, "flush", "--yes", "--reason", "edge relay", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["command"] == f"sudo -n /usr/sbin/postqueue -c {EDGE_CONFIG} -f" and result["exit_status"] == 0
    missing = mailbot_with("--config", config, "flush", "4PcV4K5FPLz3tBr", "--yes")
    assert missing.returncode == 1
    assert "There is no message 4PcV4K5FPLz3tBr in the queue of edge" in missing.stderr
    check = mailbot_with("--config", config, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ok  Postfix 3." in check.stdout and "ok  /var/log/mail-edge.log: " in check.stdout
