"""`check`: is the bot ready? Config, every host reachable, keys pinned, logs and tools found,
and the state: which backend, its schema version, how many replicas beat in the last minute.

Only harmless probes run. The report lists each host with what works and what does not;
the exit code is 1 as soon as one thing is off, so it can gate a deployment.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bot.config import HostConfig
from bot.core import render
from bot.core.registry import Context, ReadVerb, Section
from bot.errors import ExitStatus, MailbotError
from bot.i18n import N_, _, ngettext
from bot.mailhost.host import HostProbe, MailHost

REQUIRED_TOOLS = ("/usr/sbin/postqueue", "grep", "awk", "gzip")
REPLICAS_WITHIN_SECONDS = 60


@dataclass
class HostCheck:
    host: str
    target: str
    problems: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)


@dataclass
class StateCheck:
    backend: str
    where: str  # never with a password
    schema_version: int | None = None
    replicas: list[str] = field(default_factory=list)  # those seen in the last minute
    problem: str | None = None

    def lines(self) -> list[str]:
        if self.problem:
            return [f"!!  {self.problem}"]
        seen = ngettext(
            "{count} replica of `mailbot serve` seen in the last minute",
            "{count} replicas of `mailbot serve` seen in the last minute",
            len(self.replicas),
        ).format(count=len(self.replicas))
        return [
            "ok  " + _("schema version {version}").format(version=self.schema_version),
            f"ok  {seen}" + (f": {', '.join(self.replicas)}" if self.replicas else ""),
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "where": self.where,
            "ok": self.problem is None,
            "schema_version": self.schema_version,
            "replicas": self.replicas,
            "problem": self.problem,
        }


def check_state(context: Context) -> StateCheck:
    database = context.state.database
    result = StateCheck(database.backend, database.describe())
    try:
        result.schema_version = database.schema_version()
        result.replicas = [r.replica for r in context.state.replicas.seen(REPLICAS_WITHIN_SECONDS)]
    except MailbotError as exc:
        result.problem = exc.message
    return result


@dataclass
class CheckReport:
    config_path: str
    hosts: list[HostCheck]
    exit_code: int = ExitStatus.OK
    state: StateCheck | None = None

    def headline(self) -> str:
        if self.state is not None and self.state.problem:
            return _("The state ({where}) needs attention: {problem}").format(
                where=self.state.where, problem=self.state.problem
            )
        bad = [h.host for h in self.hosts if h.problems]
        if not bad:
            return ngettext(
                "The {count} host is ready ({config_path}).",
                "All {count} hosts ready ({config_path}).",
                len(self.hosts),
            ).format(count=len(self.hosts), config_path=self.config_path)
        return ngettext(
            "{count} of {count2} hosts needs attention: {join} ({config_path}).",
            "{count} of {count2} hosts need attention: {join} ({config_path}).",
            len(bad),
        ).format(count=len(bad), count2=len(self.hosts), join=", ".join(bad), config_path=self.config_path)

    def sections(self) -> list[Section]:
        sections = []
        for host in self.hosts:
            lines = [f"ok  {fact}" for fact in host.facts] + [f"!!  {problem}" for problem in host.problems]
            state = _("problems") if host.problems else _("ok")
            sections.append(Section(f"{host.host} ({host.target}): {state}", "\n".join(lines)))
        if self.state is not None:
            state = _("problems") if self.state.problem else _("ok")
            title = _("state: {backend} ({where}): {state}").format(
                backend=self.state.backend, where=self.state.where, state=state
            )
            sections.append(Section(title, "\n".join(self.state.lines())))
        return sections

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config_path,
            "ok": not any(h.problems for h in self.hosts) and not (self.state and self.state.problem),
            "hosts": [
                {"host": h.host, "target": h.target, "ok": not h.problems, "facts": h.facts, "problems": h.problems}
                for h in self.hosts
            ],
            "state": self.state.to_json() if self.state else None,
        }


def check_host(host: MailHost) -> HostCheck:
    config: HostConfig = host.config
    result = HostCheck(config.name, f"{config.user}@{config.address}:{config.port}")
    try:
        probe = host.probe()
    except MailbotError as exc:
        result.problems.append(exc.message)
        return result
    result.facts.append(_("SSH login with the pinned host key"))
    _judge_probe(probe, config, result)
    if config.roles & {"store", "bmcli"}:
        _judge_bluemind(host, result)
    return result


def _judge_bluemind(host: MailHost, result: HostCheck) -> None:
    """Which BlueMind, and what its bm-cli takes: builds differ (reference/BMCLI.md)."""
    try:
        version = host.bluemind_version()
    except MailbotError as exc:
        result.problems.append(exc.message)
        return
    if version == 4 and not host.bmcli_present():
        result.facts.append(_("BlueMind 4 (Cyrus's tools); no bm-cli at {path}").format(path=host.config.bm_cli))
        return
    try:
        build = host.bmcli.build()
    except MailbotError as exc:
        result.problems.append(exc.message)
        return
    accepts = (
        _("history-imap takes --folderPath")
        if build.folder_path
        else _("history-imap without --folderPath (a build before 2022-02: the bot narrows the folders itself)")
    )
    result.facts.append(
        _("BlueMind {version}, bm-cli {build}: {accepts}").format(version=version, build=build.version, accepts=accepts)
    )
    if build.major is not None and build.major != version:
        result.problems.append(
            _("the host entry says BlueMind {version}, but bm-cli says {build}: fix `bluemind`").format(
                version=version, build=build.version
            )
        )


def _judge_probe(probe: HostProbe, config: HostConfig, result: HostCheck) -> None:
    if probe.postfix_version:
        result.facts.append(f"Postfix {probe.postfix_version}")
    for configured in config.maillog:
        found = [(state, path, size) for state, path, size in probe.logs if path.startswith(configured)]
        readable = [entry for entry in found if entry[0] == "readable"]
        if any(state == "missing" for state, _, _ in found) and not readable:
            result.problems.append(_("log {configured} does not exist on the host").format(configured=configured))
        for state, path, _size in found:
            if state == "unreadable":
                result.problems.append(
                    _("log {path} is not readable by {user} (add the account to group adm?)").format(
                        path=path, user=config.user
                    )
                )
        if readable:
            total = sum(size for _, _, size in readable)
            result.facts.append(
                ngettext(
                    "{configured}: {count} file, {size} readable",
                    "{configured}: {count} files, {size} readable",
                    len(readable),
                ).format(configured=configured, count=len(readable), size=render.size(total))
            )
    for tool in REQUIRED_TOOLS:
        if not probe.tools.get(tool, False):
            result.problems.append(_("{tool} is missing on the host").format(tool=tool))
    optional = [t for t, present in probe.tools.items() if present and t not in REQUIRED_TOOLS]
    if optional:
        result.facts.append(_("tools: ") + ", ".join(sorted(t.rsplit("/", 1)[-1] for t in optional)))


def run_check(request: None, context: Context) -> CheckReport:
    hosts = [MailHost(h, context.pool.connection(h)) for h in context.config.hosts]
    with ThreadPoolExecutor(max_workers=min(8, len(hosts))) as workers:
        # each job speaks the asker's language (a thread does not inherit context variables)
        futures = [workers.submit(contextvars.copy_context().run, check_host, host) for host in hosts]
        checks = [future.result() for future in futures]
    report = CheckReport(str(context.config.path), checks, state=check_state(context))
    report.exit_code = (
        ExitStatus.FAILED
        if any(c.problems for c in checks) or (report.state and report.state.problem)
        else ExitStatus.OK
    )
    return report


CHECK = ReadVerb(
    name="check",
    summary=N_("config valid, hosts reachable, host keys match, logs and tools found"),
    configure=lambda parser: None,
    validate=lambda args: None,
    run=run_check,
    cli_only=True,
)
