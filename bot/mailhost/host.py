"""One mail host as the verbs see it: its tools, and what concerns the host as a whole.

This is the mail-host layer's public surface. Each tool (bot/mailhost/tools) picks its command
template, runs it over the host's SSH connection, turns failures into one-sentence errors, and
hands the text to the pure parsers: `host.postfix`, `host.cyrus`, `host.bmcli`. What spans the
tools stays here: the `check` probe and the BlueMind version. Verbs never see SSH, templates or
raw output.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from bot.errors import RemoteCommandFailed
from bot.i18n import _
from bot.mailhost.commands import RemoteCommand, log_paths, script
from bot.mailhost.shapes import Shape, shape
from bot.mailhost.tools.base import OnHost

if TYPE_CHECKING:  # annotations only: the config (and YAML) is not read to parse a command line
    from bot.config import HostConfig
    from bot.mailhost.tools.bmcli import BmCli
    from bot.mailhost.tools.cyrus import Cyrus
    from bot.mailhost.tools.postfix import Postfix

# --- templates ------------------------------------------------------------------------------

# `check` probes: what each configured log and tool looks like, read-only.
PROBE_SCRIPT = script("probe.sh")


def probe_host(maillogs: tuple[str, ...]) -> RemoteCommand:
    return RemoteCommand("probe_host", ("/bin/sh", "-c", PROBE_SCRIPT, "mailbot-probe", *log_paths(maillogs)))


def bluemind_probe(bm_cli: str) -> RemoteCommand:
    """Which BlueMind this is: Cyrus's unexpunge (4) or only bm-cli (5)."""
    from bot.mailhost.tools import bmcli, cyrus

    script = 'for tool do if [ -x "$tool" ]; then echo "present $tool"; else echo "absent $tool"; fi; done'
    return RemoteCommand(
        "bluemind_probe", ("/bin/sh", "-c", script, "mailbot-probe", cyrus.UNEXPUNGE, bmcli.bm_cli_path(bm_cli))
    )


# --- guard shapes ---------------------------------------------------------------------------


def shapes(host: HostConfig) -> list[Shape]:
    """The probes: `check`'s on every host, the BlueMind one where Cyrus or bm-cli may be."""
    allowed = [shape("probe_host", probe_host(host.maillog))]
    if host.roles & {"store", "bmcli"}:
        allowed.append(shape("bluemind_probe", bluemind_probe(host.bm_cli)))
    return allowed


# --- running them ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HostProbe:
    logs: tuple[tuple[str, str, int], ...]  # (state, path, size)
    tools: dict[str, bool]
    postfix_version: str | None


_DETECTED_VERSIONS: dict[str, int] = {}


class MailHost(OnHost):
    """The host's tools over one connection, and the questions about the host as a whole.

    Each tool's module is imported when a verb first uses it: a trace never loads bm-cli's and
    Cyrus's readers (23 ms of a 120 ms start, `python -X importtime`, issue 24).
    """

    @cached_property
    def postfix(self) -> Postfix:
        from bot.mailhost.tools.postfix import Postfix

        return Postfix(self.config, self.connection)

    @cached_property
    def cyrus(self) -> Cyrus:
        from bot.mailhost.tools.cyrus import Cyrus

        return Cyrus(self.config, self.connection)

    @cached_property
    def bmcli(self) -> BmCli:
        from bot.mailhost.tools.bmcli import BmCli

        return BmCli(self.config, self.connection)

    def probe(self) -> HostProbe:
        result = self.connection.run(probe_host(self.config.maillog))
        self.require_success(result, _("the probe"))
        logs: list[tuple[str, str, int]] = []
        tools: dict[str, bool] = {}
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            kind, state, rest = [*line.split(" ", 2), "", ""][:3]
            if kind == "log":
                size, _blank, path = rest.partition(" ")
                logs.append((state, path, int(size) if size.isdigit() else 0))
            elif kind == "tool":
                tools[rest] = state == "present"
        return HostProbe(tuple(logs), tools, self.postfix.version())

    def bmcli_present(self) -> bool:
        """bm-cli is at the host entry's path (the BlueMind probe: nothing runs)."""
        result = self.connection.run(bluemind_probe(self.config.bm_cli))
        self.require_success(result, _("the BlueMind probe"))
        return f"present {self.config.bm_cli}" in result.stdout.decode("utf-8", "replace").splitlines()

    def bluemind_version(self) -> int:
        """4 (Cyrus's tools on the host) or 5 (bm-cli only): the host entry's `bluemind`, else probed once."""
        from bot.mailhost.tools import cyrus

        if self.config.bluemind is not None:
            return self.config.bluemind
        known = _DETECTED_VERSIONS.get(self.name)
        if known is not None:
            return known
        result = self.connection.run(bluemind_probe(self.config.bm_cli))
        self.require_success(result, _("the BlueMind probe"))
        present = {line.split(" ", 1)[1] for line in result.stdout.decode().splitlines() if line.startswith("present ")}
        if cyrus.UNEXPUNGE in present:
            version = 4
        elif self.config.bm_cli in present:
            version = 5
        else:
            raise RemoteCommandFailed(
                self.name,
                _(
                    "{name} has neither Cyrus's {UNEXPUNGE} (BlueMind 4) nor bm-cli at {bm_cli} (BlueMind "
                    "5); set `bluemind` and `bm_cli` in its host entry."
                ).format(name=self.name, UNEXPUNGE=cyrus.UNEXPUNGE, bm_cli=self.config.bm_cli),
            )
        _DETECTED_VERSIONS[self.name] = version
        return version
