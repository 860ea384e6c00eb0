"""Shared fixtures: the running lab (a real OpenSSH + Postfix + Cyrus on loopback) and its config."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import gzip
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.config import Config, HostConfig, load_config
from bot.mailhost.ssh import HostConnection
from bot.mailhost.tools.bmcli import forget_what_builds_refused
from tests.fakeslack import fake_slack  # noqa: F401  (the fixture: a started FakeSlack)
from tests.postgres import postgres, postgres_url  # noqa: F401  (fixtures: a real PostgreSQL, a fresh database)
from tests.secretwatch import WATCH, LogWatch

ROOT = Path(__file__).resolve().parent.parent
# MAILBOT_TEST_LAB_CONFIG points the suite at another config: a wrong one proves that the tests
# run by `pytest -m "not lab"` need no lab (README: "Tests").
LAB_CONFIG = Path(os.environ.get("MAILBOT_TEST_LAB_CONFIG") or ROOT / "lab" / "mailbot-lab.yaml")
# The lab's own key for the bot's account, not forced through the guard: for the few tests whose
# host entry differs from the lab's in what the guard holds literally (log paths, bm-cli's path).
ADMIN_KEY = ROOT / "lab" / "run" / "ssh" / "lab_admin_key"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def lab_config() -> Config:
    """The lab's own config. `lab/up.sh` is idempotent (about 1 s when up): running it here
    makes sure the lab is still up however the suite was started (it needs root)."""
    started = subprocess.run(["bash", str(ROOT / "lab" / "up.sh")], capture_output=True, text=True, check=False)
    if started.returncode != 0:
        pytest.fail(f"lab/up.sh failed (run the suite as root, e.g. `make test`):\n{started.stdout}\n{started.stderr}")
    return load_config(str(LAB_CONFIG))


@pytest.fixture(scope="session")
def lab_host(lab_config: Config) -> HostConfig:
    return lab_config.hosts[0]


@pytest.fixture
def lab_connection(lab_host: HostConfig) -> Iterator[HostConnection]:
    """The bot's own connection: its key runs only the bot's command shapes (the lab's guard)."""
    with HostConnection(lab_host) as connection:
        yield connection


@pytest.fixture(scope="session")
def lab_admin_host(lab_host: HostConfig) -> HostConfig:
    """The same account with the lab's own key, not the bot's: any command runs (no guard).
    For the SSH layer's own tests (time-outs, caps, sessions), which need commands the bot never sends."""
    return lab_host_with(lab_host, key_file=ADMIN_KEY)


@pytest.fixture
def lab_admin_connection(lab_admin_host: HostConfig) -> Iterator[HostConnection]:
    with HostConnection(lab_admin_host) as connection:
        yield connection


# What the lab's guard decided for the bot's keys on the account bmsupport, one line each.
GUARD_LOG = Path("/var/log/mailbot-guard/bmsupport.log")


def guard_log_since(size: int) -> list[str]:
    """The guard's decisions logged after the log had `size` bytes."""
    with GUARD_LOG.open(errors="replace") as log:
        log.seek(size)
        return log.read().splitlines()


def run_mailbot(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`mailbot ARGS` as a user runs it, in this process: the CLI's own `main` with stdout and stderr
    captured, its exit code, and what it prints watched for secrets. A process costs 0.55 s of imports
    per command; only the entry point, signals and broken pipes need one (tests/test_cli.py starts those)."""
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    outcome: dict[str, int] = {}

    def command() -> None:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                outcome["code"] = cli.main(list(args))
            except SystemExit as exit_:  # argparse's errors and --help
                outcome["code"] = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
                if isinstance(exit_.code, str):
                    print(exit_.code, file=sys.stderr)

    forget_what_builds_refused()  # what a process learns of the host's bm-cli dies with it
    stdin = sys.stdin
    sys.stdin = io.StringIO("")  # a command that asks gets an empty answer, as with a closed terminal
    try:
        worker = threading.Thread(target=command, name="mailbot-cli")
        worker.start()
        worker.join(timeout)
    finally:
        sys.stdin = stdin
        gc.enable()  # the CLI turns the cycle collector off for its one command
        root.handlers[:] = handlers  # the CLI's logging owns the process while it runs
        root.setLevel(level)
    if worker.is_alive():
        raise AssertionError(f"`mailbot {' '.join(args)[:80]}` still runs after {timeout} s:\n{err.getvalue()}")
    run = subprocess.CompletedProcess(["mailbot", *args], outcome.get("code", 1), out.getvalue(), err.getvalue())
    WATCH.scan(run.stdout + run.stderr, f"what `mailbot {' '.join(args)[:80]}` printed")
    return run


def poll_health(url: str, gone: Callable[[], str | None], logs: Callable[[], str], timeout: float) -> None:
    """Until GET `url` answers 200. `gone()` says why the bot cannot answer any more (it exited,
    its container stopped), or None while it runs; a failure shows the bot's `logs()`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (why := gone()) is not None:
            raise AssertionError(f"{why}:\n{logs()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"the bot did not become healthy at {url}:\n{logs()}")


def lab_host_with(host: HostConfig, **changes: object) -> HostConfig:
    return dataclasses.replace(host, **changes)  # type: ignore[arg-type]


def read_lab_logs(maillog: str = "/var/log/mail.log") -> list[str]:
    """Every line of the lab's log and its rotated files, read directly (the tests run as root)."""
    base = Path(maillog)
    lines: list[str] = []
    for path in sorted(base.parent.glob(base.name + "*"), key=lambda p: p.stat().st_mtime):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            lines.extend(line.rstrip("\n") for line in handle)
    return lines


def lab_queue() -> list[dict[str, Any]]:
    output = subprocess.run(["/usr/sbin/postqueue", "-j"], capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in output.splitlines() if line.strip()]


# --- the marks: lab, postgres, image (and prometheus, set by its test) ---------------------------

# The fixtures that need the running lab. A test that uses one, itself or through another fixture,
# is marked `lab`: `pytest -m "not lab"` runs the pure tests, without a lab.
LAB_FIXTURES = frozenset({"lab_config", "lab_host", "lab_connection", "lab_admin_host", "lab_admin_connection"})


POSTGRES_FIXTURES = frozenset({"postgres", "postgres_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks from what a test uses: `pytest -m "not lab and not postgres and not image"` runs anywhere."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if LAB_FIXTURES & used:
            item.add_marker(pytest.mark.lab)
        if POSTGRES_FIXTURES & used:
            item.add_marker(pytest.mark.postgres)
        if item.path.parent.name == "image":
            item.add_marker(pytest.mark.image)


# --- secrets: everything this run writes is watched (see tests/secretwatch.py) ------------------


GUARD_LOGS = Path("/var/log/mailbot-guard")


@pytest.fixture(scope="session", autouse=True)
def kept_in_this_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What the bot keeps between starts (bot/startup.py: catalogue, record methods, the YAML of
    configurations) is this run's, under its temporary folder, where the secrets scan reads it too,
    not the user's cache; a test of that cache sets its own folder. The catalogue is compiled
    there first, as an install does."""
    from bot import i18n

    with pytest.MonkeyPatch.context() as patch:
        if not os.environ.get("MAILBOT_CACHE_DIR"):
            kept = tmp_path_factory.getbasetemp() / "kept"
            patch.setenv("MAILBOT_CACHE_DIR", str(kept))
            i18n.compile_catalogues(kept)
        yield


@pytest.fixture(scope="session", autouse=True)
def no_secret_anywhere(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the run, whatever part of the suite ran: no secret appeared in what it wrote
    (log records, test reports, Slack calls, files under the run's temporary folder, the guard's
    logs). A leak fails the run at the teardown of its last test; a run that registered no secret
    has nothing to look for and says so."""
    from tests.fakeslack.server import INSTANCES

    yield
    if not WATCH.watched:
        print("\nsecrets scan: no secret was registered in this run; nothing to look for")
        return
    for fake in INSTANCES:
        for call in fake.calls():
            WATCH.seen["Slack calls"] += 1
            WATCH.scan(call.body.decode("utf-8", "replace") + json.dumps(call.args, default=str), call.method)
    WATCH.scan_files(tmp_path_factory.getbasetemp())
    if GUARD_LOGS.is_dir():
        WATCH.scan_files(GUARD_LOGS)
    assert WATCH.leaks == [], f"secrets leaked: {WATCH.leaks}"
    print("\nsecrets scan: " + ", ".join(f"{count} {what}" for what, count in WATCH.seen.items()) + ": none found")


def pytest_configure(config: pytest.Config) -> None:
    root = logging.getLogger()
    root.addHandler(LogWatch())
    root.setLevel(logging.DEBUG)  # every record reaches the watch, whatever the handlers show


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    WATCH.seen["test reports"] += 1
    for name, content in report.sections:
        WATCH.scan(content, f"{name} of {report.nodeid}")
    if report.longrepr is not None:
        WATCH.scan(str(report.longrepr), f"the failure report of {report.nodeid}")
