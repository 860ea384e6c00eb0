"""Several hosts: answers merged with the host named on each row; a host down is one error line.

A second real sshd (same host key, port 2223) stands for a second mail host; stopping it
mid-test is a host going down.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import LAB_CONFIG
from tests.test_cli import mailbot
from tests.verbs.test_trace_lab import mailbot as lab_mailbot

SECOND_PORT = 2223


@pytest.fixture
def second_sshd(lab_config, tmp_path) -> Iterator[subprocess.Popen[bytes]]:
    config = (LAB_CONFIG.parent / "run" / "sshd_config").read_text()
    config = re.sub(r"(?m)^Port .*$", f"Port {SECOND_PORT}", config)
    config = re.sub(r"(?m)^PidFile .*$", f"PidFile {tmp_path / 'sshd2.pid'}", config)
    (tmp_path / "sshd2_config").write_text(config)
    known = (LAB_CONFIG.parent / "run" / "ssh" / "known_hosts").read_text().replace("]:2222 ", f"]:{SECOND_PORT} ")
    (tmp_path / "known_hosts2").write_text(known)
    server = subprocess.Popen(["/usr/sbin/sshd", "-D", "-f", str(tmp_path / "sshd2_config")])
    deadline = time.monotonic() + 5
    while (
        subprocess.run(["ss", "-ltn", f"sport = :{SECOND_PORT}"], capture_output=True, text=True).stdout.count("LISTEN")
        == 0
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    yield server
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        server.wait()


def two_hosts(tmp_path: Path) -> Path:
    document = yaml.safe_load(LAB_CONFIG.read_text())
    first = document["hosts"][0]
    for key in ("key_file", "change_key_file", "known_hosts"):
        if key in first:
            first[key] = str((LAB_CONFIG.parent / first[key]).resolve())
    second = {**first, "name": "lab2", "port": SECOND_PORT, "known_hosts": str(tmp_path / "known_hosts2")}
    document["hosts"] = [first, second]
    document["state"] = {"path": str(tmp_path / "mailbot.db")}
    path = tmp_path / "mailbot.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_answers_are_merged_and_a_stopped_host_is_one_error_line(second_sshd, tmp_path):
    config = two_hosts(tmp_path)
    both = json.loads(mailbot("--config", str(config), "trace", "quota2@lab.test", "--json").stdout)
    assert both["hosts"] == ["lab", "lab2"] and both["errors"] == []
    single = json.loads(lab_mailbot("trace", "quota2@lab.test", "--json").stdout)
    assert sorted(m["host"] for m in both["messages"]) == sorted(["lab", "lab2"] * len(single["messages"]))
    table = mailbot("--config", str(config), "trace", "quota2@lab.test", "--attempts").stdout
    assert table.splitlines()[3].startswith("Host ") and re.search(r"(?m)^lab2 ", table)

    second_sshd.send_signal(signal.SIGTERM)
    second_sshd.wait()
    run = mailbot("--config", str(config), "trace", "quota2@lab.test", "--json")
    assert run.returncode == 1  # partly answered
    answer = json.loads(run.stdout)
    assert answer["errors"] == [
        {
            "host": "lab2",
            "error": f"Cannot connect to lab2 (127.0.0.1:{SECOND_PORT}): nothing listens on that port "
            "(connection refused).",
        }
    ]
    assert {m["host"] for m in answer["messages"]} == {"lab"}
    assert len(answer["messages"]) == len(single["messages"])
    text = mailbot("--config", str(config), "queue").stdout
    assert "lab2: Cannot connect to lab2" in text and "Queue of lab, lab2" in text


def test_check_names_the_host_that_is_down(second_sshd, tmp_path):
    config = two_hosts(tmp_path)
    second_sshd.send_signal(signal.SIGTERM)
    second_sshd.wait()
    run = mailbot("--config", str(config), "check")
    assert run.returncode == 1
    assert "1 of 2 hosts needs attention: lab2" in run.stdout
    assert "!!  Cannot connect to lab2" in run.stdout
