"""The `mailbot` command as a user runs it: exit codes, one-sentence errors, no tracebacks."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_KEY, LAB_CONFIG, run_mailbot
from tests.labconfig import write_lab_config

NASTY_INPUTS = [
    "not-an-address",
    "john@lab.test; id",
    "$(touch /tmp/pwned)@lab.test",
    "`id`@lab.test",
    "--oops@lab.test",
    "john@lab.test\nid",
    "john@lab.test|cat /etc/shadow",
    "a" * 10_000,
    "jоhn@lab.test",  # Cyrillic o
    '"john"@lab.test',
]


mailbot = run_mailbot


class CountingListener:
    """A TCP port that records every connection made to it: proof that nothing was contacted."""

    def __init__(self, speak: bool = False) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self._open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            self._open.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self._open:
            connection.close()
        self.server.close()


@pytest.fixture
def listener() -> Iterator[CountingListener]:
    port = CountingListener()
    yield port
    port.close()


def config_with(tmp_path: Path, **host_changes: object) -> Path:
    """The lab's backend host alone (not its edge relay), with some fields changed."""
    return write_lab_config(tmp_path, host=host_changes)


def test_help_lists_the_verbs():
    run = mailbot("--help")
    assert run.returncode == 0
    assert "trace" in run.stdout and "check" in run.stdout
    trace_help = mailbot("trace", "--help")
    assert trace_help.returncode == 0 and "--since" in trace_help.stdout and "--json" in trace_help.stdout


def test_a_usage_mistake_names_the_program_once():
    unknown = mailbot("trace", "john@example.com", "--host", "nope")
    assert (unknown.returncode, unknown.stderr) == (
        2,
        "mailbot: unrecognized arguments: --host nope (see mailbot --help).\n",
    )
    missing = mailbot("trace", "--message-id")
    assert (missing.returncode, missing.stderr) == (
        2,
        "mailbot trace: argument --message-id: expected one argument (see mailbot trace --help).\n",
    )


@pytest.mark.parametrize("typed", NASTY_INPUTS)
def test_bad_input_exits_2_with_one_sentence_and_contacts_nothing(lab_config, tmp_path, listener, typed):
    config = config_with(tmp_path, port=listener.port)
    run = mailbot("--config", str(config), "trace", typed)
    assert run.returncode == 2
    assert run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1
    assert run.stderr.startswith("mailbot: ")
    assert "Traceback" not in run.stderr
    time.sleep(0.2)
    assert listener.connections == 0


def test_option_looking_values_and_usage_mistakes_exit_2(tmp_path):
    for args in (["trace", "-rf"], ["trace"], ["trace", "john@lab.test", "--since", "soon"], ["frobnicate"]):
        run = mailbot(*args)
        assert run.returncode == 2, args
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_a_changed_host_key_exits_1_and_says_so(lab_config, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    key_type, key_base64 = Path(f"{other}.pub").read_text().split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:2222 {key_type} {key_base64}\n")
    run = mailbot("--config", str(config_with(tmp_path, known_hosts=str(known_hosts))), "trace", "john@lab.test")
    assert run.returncode == 1
    assert "does not match the pinned one" in run.stderr and "Nothing was run" in run.stderr
    assert "Traceback" not in run.stderr


def test_an_unreachable_host_exits_1_within_its_timeout(lab_config, tmp_path, listener):
    config = config_with(tmp_path, port=listener.port, connect_timeout=2)
    started = time.monotonic()
    run = mailbot("--config", str(config), "trace", "john@lab.test")
    elapsed = time.monotonic() - started
    assert run.returncode == 1
    assert "did not complete SSH within 2 s" in run.stderr
    assert elapsed < 2 + 3  # the time-out plus Python's start-up


def test_check_reports_a_ready_lab(lab_config):
    run = mailbot("--config", str(LAB_CONFIG), "check")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "All 2 hosts ready" in run.stdout  # the backend and the edge relay
    assert "SSH login with the pinned host key" in run.stdout
    report = json.loads(mailbot("--config", str(LAB_CONFIG), "check", "--json").stdout)
    assert report["ok"] is True
    assert [(h["host"], h["problems"]) for h in report["hosts"]] == [("lab", []), ("edge", [])]
    (edge,) = [h for h in report["hosts"] if h["host"] == "edge"]
    assert any(fact.startswith("Postfix 3.") for fact in edge["facts"])  # postconf -c /etc/postfix-edge
    assert any(fact.startswith("/var/log/mail-edge.log: ") for fact in edge["facts"])


def test_check_names_what_is_off(lab_config, tmp_path):
    # A log the lab's guard does not list: through the guard, `check` says the guard is behind;
    # through the lab's own key, it names the missing log.
    logs = ["/var/log/mail.log", "/var/log/no-such.log"]
    guarded = json.loads(mailbot("--config", str(config_with(tmp_path, maillog=logs)), "check", "--json").stdout)
    assert guarded["ok"] is False
    assert guarded["hosts"][0]["problems"] == [
        "The guard on lab refused this command of the bot: it was made for other settings (log paths, bm-cli, "
        "Postfix instance) or by an older bot; regenerate it with `mailbot guard` and install it there."
    ]
    config = config_with(tmp_path, maillog=logs, key_file=str(ADMIN_KEY))
    run = mailbot("--config", str(config), "check", "--json")
    assert run.returncode == 1
    report = json.loads(run.stdout)
    assert report["ok"] is False
    assert "log /var/log/no-such.log does not exist on the host" in report["hosts"][0]["problems"]


def test_a_missing_config_is_one_sentence(tmp_path):
    run = mailbot("--config", str(tmp_path / "absent.yaml"), "trace", "john@lab.test")
    assert run.returncode == 1
    assert (
        run.stderr.strip()
        == f"mailbot: Cannot read the configuration file {tmp_path / 'absent.yaml'}: No such file or directory."
    )


def test_a_change_needs_yes_and_is_audited_under_the_operator(lab_config, tmp_path):
    config = config_with(tmp_path)
    refused = mailbot("--config", str(config), "flush")
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    done = mailbot("--config", str(config), "flush", "--yes", "--reason", "INC-7", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["command"] == "sudo -n /usr/sbin/postqueue -f" and result["exit_status"] == 0
    records = json.loads(mailbot("--config", str(config), "audit", "--json").stdout)["records"]
    import getpass

    assert [(r["event"], r["user"]) for r in records] == [
        (e, getpass.getuser()) for e in ("requested", "approved", "ran")
    ]
    assert records[0]["detail"] == "INC-7"
    assert mailbot("--config", str(config), "audit", "--verify").returncode == 0


def test_flushing_a_message_that_is_not_queued_says_so(lab_config, tmp_path):
    run = mailbot("--config", str(config_with(tmp_path)), "flush", "ABCDEF12345", "--yes")
    assert run.returncode == 1
    assert "There is no message ABCDEF12345 in the queue of lab" in run.stderr


def test_only_one_map_rebuild_at_a_time(lab_config, tmp_path):
    config = config_with(tmp_path)
    holder = subprocess.Popen(
        ["su", "-s", "/bin/sh", "bmsupport", "-c", "cd && exec flock .mailbot-regen-maps.lock sleep 3"]
    )
    try:
        time.sleep(0.5)
        busy = mailbot("--config", str(config), "regen-maps", "--yes")
        assert busy.returncode == 1
        assert "Another map rebuild was running on the host" in busy.stdout
    finally:
        holder.wait()
    done = mailbot("--config", str(config), "regen-maps", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["exit_status"] == 0


def test_trace_json_is_one_object_with_one_message_per_line(lab_config):
    """`--json` is one object that `json` reads; each message sits on its own line, so a
    big trace can be read with `grep` and is written without building one huge string."""
    run = mailbot("--config", str(LAB_CONFIG), "trace", "john@lab.test", "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["address"] == "john@lab.test" and report["messages"]
    message_lines = [line for line in run.stdout.splitlines() if line.startswith('    {"queue_id": ')]
    assert len(message_lines) == len(report["messages"])
    assert [json.loads(line.rstrip(","))["queue_id"] for line in message_lines] == [
        m["queue_id"] for m in report["messages"]
    ]


def test_a_reader_that_stops_early_gets_no_error_message(lab_config):
    """`mailbot trace ADDR --json | head -1`: the closed pipe is not an internal error."""
    command = [sys.executable, "-m", "bot", "--config", str(LAB_CONFIG), "trace", "john@lab.test", "--json"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as bot:
        assert bot.stdout is not None and bot.stderr is not None
        bot.stdout.close()  # before the trace is done: its first write finds the pipe closed
        stderr = bot.stderr.read().decode()
        bot.wait(timeout=60)
    assert "internal error" not in stderr and "Traceback" not in stderr
    # Not done (the output did not all reach its reader: exit 1, as Python's own EPIPE handling),
    # and not a failure to say anything about.
    assert (bot.returncode, stderr) == (1, "")


def test_debug_logging_shows_the_bots_work_but_no_traceback_for_a_users_mistake(monkeypatch, lab_config):
    """MAILBOT_LOG_LEVEL=debug (any case): debug lines on stderr, a user's mistake still one sentence."""
    monkeypatch.setenv("MAILBOT_LOG_LEVEL", "debug")
    monkeypatch.delenv("MAILBOT_DEBUG", raising=False)
    traced = mailbot("--config", str(LAB_CONFIG), "trace", "nobody@lab.test")
    assert traced.returncode == 0, traced.stderr
    assert "DEBUG:" in traced.stderr  # the SSH session's debug log
    assert "Traceback" not in traced.stderr
    for text in ("john@lab.test; id", "--oops@lab.test"):
        refused = mailbot("--config", str(LAB_CONFIG), "trace", text)
        assert refused.returncode == 2
        assert "Traceback" not in refused.stderr
        assert refused.stderr.startswith("mailbot: ") and refused.stderr.count("\n") == 1, refused.stderr


def test_a_log_level_that_is_not_one_is_a_config_error(monkeypatch):
    monkeypatch.setenv("MAILBOT_LOG_LEVEL", "loud")
    run = mailbot("--config", str(LAB_CONFIG), "trace", "john@lab.test")
    assert run.returncode == 1
    assert run.stderr == "mailbot: MAILBOT_LOG_LEVEL='loud' is not a log level: use debug, info, warning or error.\n"


def test_a_logged_exception_is_one_line_unless_mailbot_debug(monkeypatch, capsys):
    """What the bot logs about a bug (a job that failed) carries no traceback but with MAILBOT_DEBUG=1."""
    from bot.cli import _NoTraceback

    formatter = _NoTraceback("%(levelname)s %(message)s")
    try:
        raise ValueError("a bug")
    except ValueError:
        record = logging.LogRecord("bot", logging.ERROR, __file__, 1, "a job failed", None, sys.exc_info())
    monkeypatch.delenv("MAILBOT_DEBUG", raising=False)
    assert formatter.format(record) == (
        "ERROR a job failed\n  (ValueError: a bug; MAILBOT_DEBUG=1 shows the traceback)"
    )
    record.exc_text = None
    monkeypatch.setenv("MAILBOT_DEBUG", "1")
    assert "Traceback (most recent call last)" in formatter.format(record)


def test_version_is_the_packages():
    import tomllib

    declared = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"][
        "version"
    ]
    run = mailbot("--version")
    assert (run.returncode, run.stdout, run.stderr) == (0, f"mailbot {declared}\n", "")
