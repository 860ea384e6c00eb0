"""Smoke tests of the built image (`make image`): real containers against the lab and the fake Slack."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.fakeslack import FakeSlack
from tests.image.conftest import UID, MakeEtc, RunContainer, podman, run_options
from tests.slack.conftest import free_port
from tests.slack.test_serve import answer_text, full_queue_ids

SOCKET_MODE_HEALTH_PORT = 8080  # the image's default command and HEALTHCHECK


def http_secrets(fake: FakeSlack, port: int) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_SIGNING_SECRET": fake.signing_secret,
        "MAILBOT_HEALTH_URL": f"http://127.0.0.1:{port}/health",
    }


def test_help_runs_in_the_image(image: str) -> None:
    done = podman("run", "--rm", "--network=none", image, "mailbot", "--help")
    assert "trace" in done.stdout and "serve" in done.stdout


def test_the_images_languages_keep_their_conventions(image: str) -> None:
    """The image drops Babel's data for the languages the bot has no catalogue for, not for its own."""
    program = (
        "from datetime import datetime, UTC; from bot import i18n\n"
        "for language in i18n.LANGUAGES:\n"
        "    with i18n.use_language(language):\n"
        "        print(language, i18n.size(1258291), i18n.short_time(datetime(2026, 12, 2, 14, 3, tzinfo=UTC)))\n"
    )
    done = podman("run", "--rm", "--network=none", image, "python3", "-c", program)
    assert done.stdout.replace("\xa0", " ").splitlines() == ["en 1.2 MB 12-02 14:03", "fr 1,2 Mo 2 déc. 14:03"]


def test_image_metadata(image: str) -> None:
    fields = "{{.User}}|{{json .Config.ExposedPorts}}|{{.Config.StopSignal}}|{{json .HealthCheck.Test}}"
    user, ports, stop_signal, health = podman("image", "inspect", "--format", fields, image).stdout.strip().split("|")
    assert user.split(":")[0] == str(UID)
    assert "3000/tcp" in ports and "8080/tcp" in ports
    assert stop_signal == "SIGTERM"
    assert "mailbot health" in health  # kept: built with --format docker


def test_check_against_the_lab_with_config_and_key_mounted_read_only(
    image: str, make_etc: MakeEtc, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    etc = make_etc(fake_slack)
    options = run_options(etc, f"mailbot-test-check-{tmp_path.name}", [])
    try:
        done = podman("run", "--rm", "--network=host", *options, image, "mailbot", "check", check=False)
    finally:
        podman("volume", "rm", "--force", f"mailbot-test-check-{tmp_path.name}", check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok  SSH login with the pinned host key" in done.stdout
    assert "ok  Postfix" in done.stdout


def test_http_mode_answers_a_signed_trace_with_the_labs_queue_ids(
    run_container: RunContainer, make_etc: MakeEtc, fake_slack: FakeSlack
) -> None:
    port = free_port()
    bot = run_container(
        make_etc(fake_slack),
        *("mailbot", "serve", "--http", "--port", str(port)),
        secrets=http_secrets(fake_slack, port),
    )
    bot.wait_healthy(f"http://127.0.0.1:{port}/health")
    reply = fake_slack.send_slash_command(f"http://127.0.0.1:{port}/slack/events", text="trace full@lab.test")
    assert reply.status == 200 and reply.elapsed < 3
    text = answer_text(fake_slack, fake_slack.wait_for("response_url", timeout=30))
    assert "Trace of full@lab.test on lab" in text
    expected = full_queue_ids()
    assert expected and all(queue_id in text for queue_id in expected), (expected, text)
    # The HEALTHCHECK, pointed at HTTP mode's port by MAILBOT_HEALTH_URL.
    health = podman("healthcheck", "run", bot.name, check=False)
    assert health.returncode == 0, health.stdout + health.stderr + bot.logs()
    # A forged request is refused in the container too.
    forged = fake_slack.send_slash_command(f"http://127.0.0.1:{port}/slack/events", "not-the-secret", text="help")
    assert forged.status == 401


def test_the_bot_runs_as_a_non_root_user(run_container: RunContainer, make_etc: MakeEtc, fake_slack: FakeSlack) -> None:
    port = free_port()
    bot = run_container(
        make_etc(fake_slack), "mailbot", "serve", "--http", "--port", str(port), secrets=http_secrets(fake_slack, port)
    )
    bot.wait_healthy(f"http://127.0.0.1:{port}/health")
    assert bot.exec("id", "-u").stdout.strip() == str(UID)
    status = bot.exec("cat", "/proc/1/status").stdout  # the bot itself is PID 1
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert uids == [str(UID)] * 4
    assert "mailbot" in bot.exec("cat", "/proc/1/cmdline").stdout
    # Root filesystem and config are read-only; only the state volume and /tmp take writes.
    assert bot.exec("touch", "/etc/mailbot/x").returncode != 0
    assert bot.exec("touch", "/opt/mailbot/x").returncode != 0
    assert bot.exec("touch", "/var/lib/mailbot/x").returncode == 0


def test_sigterm_lets_the_trace_in_flight_finish_then_exits_0_within_10_s(
    run_container: RunContainer, make_etc: MakeEtc, fake_slack: FakeSlack
) -> None:
    port = free_port()
    bot = run_container(
        make_etc(fake_slack, user="bmslow"),  # the lab account whose trace takes 5 s
        *("mailbot", "serve", "--http", "--port", str(port)),
        secrets=http_secrets(fake_slack, port),
    )
    bot.wait_healthy(f"http://127.0.0.1:{port}/health")
    reply = fake_slack.send_slash_command(f"http://127.0.0.1:{port}/slack/events", text="trace quota2@lab.test")
    assert reply.status == 200
    time.sleep(0.5)
    started = time.monotonic()
    podman("stop", "--time", "10", bot.name, timeout=30)
    took = time.monotonic() - started
    assert bot.state("ExitCode") == "0", bot.logs()
    assert took < 10, f"podman stop took {took:.1f} s"
    posts = [answer_text(fake_slack, call) for call in fake_slack.calls("response_url")]
    assert posts and "Trace of quota2@lab.test on lab" in posts[-1], bot.logs()


def test_socket_mode_with_the_images_default_command_and_health_check(
    run_container: RunContainer, make_etc: MakeEtc, fake_slack: FakeSlack
) -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", SOCKET_MODE_HEALTH_PORT)) == 0:
            pytest.fail(f"127.0.0.1:{SOCKET_MODE_HEALTH_PORT} is taken: the image's default health port must be free")
    secrets = {"SLACK_BOT_TOKEN": fake_slack.bot_token, "SLACK_APP_TOKEN": fake_slack.app_token}
    bot = run_container(make_etc(fake_slack), secrets=secrets)  # no command: the image's CMD
    bot.wait_healthy(f"http://127.0.0.1:{SOCKET_MODE_HEALTH_PORT}/health")
    fake_slack.socket.wait_connected(timeout=10)
    envelope = fake_slack.push_slash_command(text="trace full@lab.test")
    ack = fake_slack.wait_for_ack(envelope, timeout=5)
    assert ack.elapsed is not None and ack.elapsed < 3
    text = answer_text(fake_slack, fake_slack.wait_for("response_url", timeout=30))
    assert all(queue_id in text for queue_id in full_queue_ids())
    health = podman("healthcheck", "run", bot.name, check=False)
    assert health.returncode == 0, health.stdout + health.stderr + bot.logs()
