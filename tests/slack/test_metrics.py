"""Run like infrastructure: the real Prometheus scrapes the bot, /ready follows PostgreSQL, JSON logs.

Debian's `prometheus` (installed by `make prometheus`, like PostgreSQL) is started on a loopback
port with a scrape config pointing at the bot's /metrics, and read through its HTTP API.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.postgres import start_cluster
from tests.slack.conftest import free_port
from tests.slack.test_approvals import REQUESTER
from tests.slack.test_replicas import replicated

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as refused:
        return int(refused.code), refused.read().decode()


class Prometheus:
    def __init__(self, tmp_path: Path, target: str) -> None:
        if not Path(PROMETHEUS).exists():
            pytest.fail("Debian's prometheus is not installed (make prometheus).")
        self.port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: mailbot\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        self.log = (tmp_path / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def query(self, expression: str) -> list[dict]:
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        status, body = get(url)
        assert status == 200, body
        return json.loads(body)["data"]["result"]

    def value(self, expression: str) -> float:
        result = self.query(expression)
        return float(result[0]["value"][1]) if result else 0.0

    def wait_for(self, expression: str, check, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = self.value(expression)
                if check(value):
                    return value
            except (OSError, AssertionError):
                pass
            time.sleep(0.5)
        raise AssertionError(f"{expression} stayed at {value}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.mark.postgres
@pytest.mark.prometheus
def test_prometheus_scrapes_commands_latency_and_approvals_and_ready_follows_postgresql(
    fake_slack, start_bot, tmp_path, monkeypatch
):
    monkeypatch.setenv("MAILBOT_LOG_FORMAT", "json")
    cluster = start_cluster()  # its own: this test stops it
    prometheus = None
    try:
        cluster.psql("postgres", "CREATE DATABASE bot")
        bot = start_bot(fake_slack, extra=replicated(cluster.url("bot")))
        base = bot.health.removesuffix("/health")
        prometheus = Prometheus(tmp_path, base.removeprefix("http://"))
        prometheus.wait_for('up{job="mailbot"}', lambda v: v == 1)
        assert prometheus.value('mailbot_build_info{job="mailbot"}') == 1

        for _ in range(3):
            fake_slack.send_slash_command(bot.url, text="trace full@lab.test", user_id=REQUESTER)
        fake_slack.send_slash_command(bot.url, text="trace bad@@x", user_id=REQUESTER)
        fake_slack.send_slash_command(bot.url, text="flush --reason INC-9", user_id=REQUESTER)
        deadline = time.monotonic() + 60
        while len([c for c in fake_slack.calls("response_url") if "Trace of full" in str(c.args)]) < 3:
            assert time.monotonic() < deadline, bot.log()[-3000:]
            time.sleep(0.2)
        prometheus.wait_for('sum(mailbot_commands_total{verb="trace",channel="slack",outcome="ok"})', lambda v: v == 3)
        prometheus.wait_for('sum(mailbot_commands_total{outcome="bad_input"})', lambda v: v == 1)
        prometheus.wait_for('mailbot_approval_requests{state="pending"}', lambda v: v == 1)
        for stage in ("ack", "first_byte", "done"):
            count = prometheus.wait_for(
                f'sum(mailbot_answer_seconds_count{{stage="{stage}",verb="trace"}})', lambda v: v >= 3
            )
            assert count >= 3
        # rate() needs two scrapes holding the acks: NaN (no rate yet) is waited out, not passed
        p90 = prometheus.wait_for(
            'histogram_quantile(0.9, sum by (le) (rate(mailbot_answer_seconds_bucket{stage="ack"}[1m])))',
            lambda v: v == v and v < 3,
        )
        assert p90 < 3
        prometheus.wait_for('sum(mailbot_ssh_command_seconds_count{host="lab",outcome="ok"})', lambda v: v >= 3)
        assert prometheus.value('sum(mailbot_ssh_connections_total{host="lab"})') >= 1
        assert prometheus.value("mailbot_replicas_seen") == 1
        assert prometheus.value('mailbot_jobs{state="busy"}') == 0

        # nothing personal or secret in any label
        series = json.loads(
            get(f"http://127.0.0.1:{prometheus.port}/api/v1/series?match[]=" + urllib.parse.quote('{job="mailbot"}'))[1]
        )
        labels = json.dumps(series["data"])
        for forbidden in ("@", REQUESTER, "INC-9", fake_slack.bot_token, fake_slack.signing_secret, "127.0.0.1:22"):
            assert forbidden not in labels.replace(f"127.0.0.1:{base.rsplit(':', 1)[1]}", ""), forbidden

        # /ready: 200, then 503 saying which check failed when PostgreSQL stops, then 200 again
        assert get(base + "/ready") == (200, "ready\n")
        cluster.stop("immediate")
        status, body = get(base + "/ready")
        assert (status, body) == (503, "not ready: the state database does not answer\n")
        assert get(base + "/health")[0] == 503
        cluster.start()
        deadline = time.monotonic() + 30
        while get(base + "/ready")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert get(base + "/ready") == (200, "ready\n")

        # the JSON log, line by line: a trace's request id is on its command line and its SSH lines,
        # the flush's on its audit records
        lines = [json.loads(line) for line in bot.log().splitlines() if line.strip()]
        assert all({"time", "level", "event", "message"} <= set(line) for line in lines)
        traces = [line for line in lines if line["event"] == "command" and line.get("verb") == "trace"]
        assert sorted(line["outcome"] for line in traces) == ["bad_input", "ok", "ok", "ok"]
        traces = [line for line in traces if line["outcome"] == "ok"]
        assert all(line["duration"] > 0 and line["channel"] == "slack" for line in traces)
        rid = traces[0]["request_id"]
        ssh = [line for line in lines if line["event"] == "ssh_command" and line.get("request_id") == rid]
        assert ssh and all(line["host"] == "lab" and line["outcome"] == "ok" for line in ssh)
        flush = next(line for line in lines if line["event"] == "command" and line.get("verb") == "flush")
        audit = json.loads(
            subprocess.run(
                [*bot.process.args[:5], "audit", "--json"], capture_output=True, text=True, check=True
            ).stdout
        )["records"]
        assert [r["request_id"] for r in audit if r["event"] == "requested"] == [flush["request_id"]]
        for line in lines:
            for key in ("verb", "host", "outcome", "event", "request_id"):
                assert "@" not in str(line.get(key, "")), line
    finally:
        if prometheus is not None:
            prometheus.stop()
        cluster.stop("immediate")
