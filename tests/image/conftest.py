"""The built image as real containers: rootful podman, host network, everything on loopback.

The image comes from `make image` (.ci/image), which also writes podman's private configuration in
its work folder ($MAILBOT_IMAGE_WORK, default /var/tmp/mailbot-image); these tests use the same.
Each container gets the README's `docker run` options: the config folder mounted read-only at
/etc/mailbot (config, SSH key readable by the image's uid, pinned known_hosts), a state volume,
a read-only root, and the Slack secrets passed by name from the environment.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Config
from tests.conftest import poll_health
from tests.fakeslack import FakeSlack
from tests.slack.conftest import write_config

WORK = Path(os.environ.get("MAILBOT_IMAGE_WORK", "/var/tmp/mailbot-image"))
IMAGE = os.environ.get("MAILBOT_IMAGE", "localhost/mailbot:latest")
UID = 10001  # the image's USER
MOUNT = "/etc/mailbot"
STATE = "/var/lib/mailbot"


def podman_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        CONTAINERS_CONF=str(WORK / "containers.conf"),
        CONTAINERS_STORAGE_CONF=str(WORK / "storage.conf"),
        CONTAINERS_REGISTRIES_CONF=str(WORK / "registries.conf"),
    )
    env.update(extra or {})
    return env


def podman(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", *args], env=podman_env(env), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def run_options(etc: Path, state_volume: str, secrets: list[str]) -> list[str]:
    """The options of the README's `docker run` line (with --network=host added by the tests)."""
    options = ["--read-only", "--tmpfs", "/tmp", "-v", f"{etc}:{MOUNT}:ro", "-v", f"{state_volume}:{STATE}"]
    for name in secrets:
        options += ["-e", name]  # by name: the value comes from the environment, never the command line
    return options


@pytest.fixture(scope="session")
def image() -> str:
    hint = "build it first with `make image` (as root; it runs .ci/image)"
    if shutil.which("podman") is None or not (WORK / "containers.conf").is_file():
        pytest.fail(f"podman or its set-up in {WORK} is missing: {hint}", pytrace=False)
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        pytest.fail(f"the image {IMAGE} is missing: {hint}", pytrace=False)
    return IMAGE


MakeEtc = Callable[..., Path]


@pytest.fixture
def make_etc(tmp_path: Path, lab_config: Config) -> MakeEtc:
    """A folder to mount at /etc/mailbot: the lab's config pointed at the fake Slack, with its state in the
    state volume, and copies of the key (owned by the image's uid, 0600) and the pinned known_hosts."""
    lab = lab_config.hosts[0]
    made: list[Path] = []

    def make(fake: FakeSlack, **host: Any) -> Path:
        etc = tmp_path / f"etc-mailbot-{len(made)}"
        etc.mkdir(mode=0o755)
        etc.chmod(0o755)  # whatever the umask: the container's user must enter it
        shutil.copyfile(lab.key_file, etc / "bot_key")
        os.chown(etc / "bot_key", UID, UID)
        (etc / "bot_key").chmod(0o600)
        shutil.copyfile(lab.known_hosts, etc / "known_hosts")
        (etc / "known_hosts").chmod(0o644)
        # Relative paths: resolved against the config's folder, /etc/mailbot in the container (as in the README).
        config = write_config(etc, fake, key_file="bot_key", known_hosts="known_hosts", **host)
        document = yaml.safe_load(config.read_text())
        document["state"] = {"path": f"{STATE}/mailbot.db"}
        config.write_text(yaml.safe_dump(document))
        config.chmod(0o644)
        made.append(etc)
        return etc

    return make


@dataclass
class Container:
    name: str

    def logs(self) -> str:
        done = podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def state(self, field: str) -> str:
        return podman("inspect", "--format", "{{.State." + field + "}}", self.name).stdout.strip()

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *command, check=False)

    def wait_healthy(self, url: str, timeout: float = 30) -> None:
        """Until the bot answers GET /health from the host (the container shares its network)."""

        def gone() -> str | None:
            running = self.state("Running") == "true"
            return None if running else f"the container stopped ({self.state('ExitCode')})"

        poll_health(url, gone, self.logs, timeout)


RunContainer = Callable[..., Container]


@pytest.fixture
def run_container(image: str) -> Iterator[RunContainer]:
    """Start the image detached with the README's options; every container and volume goes afterwards."""
    started: list[Container] = []

    def run(etc: Path, *command: str, secrets: dict[str, str] | None = None) -> Container:
        container = Container(f"mailbot-test-{uuid.uuid4().hex[:10]}")
        started.append(container)
        options = run_options(etc, f"{container.name}-state", sorted(secrets or {}))
        podman("run", "-d", "--name", container.name, "--network=host", *options, image, *command, env=secrets)
        return container

    yield run
    for container in started:
        podman("rm", "--force", "--time", "0", container.name, check=False)
        podman("volume", "rm", "--force", f"{container.name}-state", check=False)
