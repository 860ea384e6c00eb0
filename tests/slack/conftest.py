"""The bot as a real process, serving Slack (the local fake) and tracing on the lab."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import poll_health
from tests.fakeslack import FakeSlack
from tests.fakeslack.limits import call_violations
from tests.labconfig import write_lab_config

BOT_FAKES: list[FakeSlack] = []  # every fake a bot process talked to: the limits check reads them all


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(
    tmp_path: Path,
    fake: FakeSlack,
    slack: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    hosts: Sequence[str] = ("lab",),
    **host: Any,
) -> Path:
    """The lab's backend alone (unless `hosts` adds its edge relay), talking to the fake Slack;
    `host` changes the first of them."""
    return write_lab_config(
        tmp_path, hosts, host=host, slack={"api_url": fake.api_url, **(slack or {})}, **(extra or {})
    )


@dataclass
class BotProcess:
    process: subprocess.Popen[str]
    url: str  # HTTP mode: the events URL
    health: str
    log_path: Path
    fake: FakeSlack

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, timeout: float = 15) -> float:
        """SIGTERM, then wait; returns how long the process took to exit."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=timeout)
        return time.monotonic() - started


def wait_healthy(url: str, process: subprocess.Popen[str], log: Path, timeout: float = 20) -> None:
    def gone() -> str | None:
        return None if process.poll() is None else f"the bot exited with {process.returncode}"

    poll_health(url, gone, log.read_text, timeout)


StartBot = Callable[..., BotProcess]


@pytest.fixture
def start_bot(tmp_path: Path, lab_config: object) -> Iterator[StartBot]:
    """Start `mailbot serve` against a fake Slack; every process is stopped after the test."""
    started: list[BotProcess] = []

    def start(
        fake: FakeSlack,
        http: bool = True,
        slack: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        hosts: Sequence[str] = ("lab",),
        **host: Any,
    ) -> BotProcess:
        config = write_config(tmp_path, fake, slack, extra, hosts, **host)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.update(SLACK_BOT_TOKEN=fake.bot_token, MAILBOT_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
        args = [sys.executable, "-m", "bot", "--config", str(config), "serve"]
        if http:
            env["SLACK_SIGNING_SECRET"] = fake.signing_secret
            args += ["--http", "--host", "127.0.0.1", "--port", str(port)]
        else:
            env["SLACK_APP_TOKEN"] = fake.app_token
            args += ["--host", "127.0.0.1", "--health-port", str(port)]
        log_path = tmp_path / f"bot-{len(started)}.log"
        log = log_path.open("w")
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
        bot = BotProcess(
            process, f"http://127.0.0.1:{port}/slack/events", f"http://127.0.0.1:{port}/health", log_path, fake
        )
        started.append(bot)
        wait_healthy(bot.health, process, log_path)
        return bot

    yield start
    for bot in started:
        if bot.fake not in BOT_FAKES:
            BOT_FAKES.append(bot.fake)
        for call in bot.fake.calls():
            assert not call_violations(call.method, call.args), (call.method, call_violations(call.method, call.args))
    for bot in started:
        if bot.process.poll() is None:
            bot.process.kill()
            bot.process.wait()
    for bot in started:
        assert_no_secret(bot.fake, bot.log(), f"the log of {bot.log_path.name}")
        for call in bot.fake.calls():
            assert_no_secret(
                bot.fake, call.body.decode("utf-8", "replace") + json.dumps(call.args, default=str), call.method
            )


def assert_no_secret(fake: FakeSlack, text: str, where: str) -> None:
    """Tokens and the signing secret never appear in logs, replies or anything sent to Slack
    (the Authorization header, which the fake redacts, is the only place a token may travel)."""
    for name, secret in (
        ("bot token", fake.bot_token),
        ("app token", fake.app_token),
        ("signing secret", fake.signing_secret),
    ):
        assert secret not in text, f"the {name} appears in {where}"


CARRIES_BLOCK_KIT = {"chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"}
VIEWS = {"views.open", "views.update", "views.publish"}


@pytest.fixture(scope="session", autouse=True)
def every_payload_within_slacks_limits() -> Iterator[None]:
    """At the end of the run, whichever Slack tests ran: every payload a bot under test sent to the fake
    Slack was within Slack's documented limits (blocks per message and per view, text lengths, options
    per element, private_metadata...; tests/fakeslack/limits.py). Each test's teardown checks its own too."""
    yield
    calls = [call for fake in BOT_FAKES for call in fake.calls() if call.method in CARRIES_BLOCK_KIT | VIEWS]
    broken = [(call.method, found) for call in calls if (found := call_violations(call.method, call.args))]
    assert broken == [], broken
    views = sum(1 for call in calls if call.method in VIEWS)
    print(f"\n{len(calls)} payloads checked against Slack's limits ({views} views)")
