"""`check`: is the bot ready? Config, every host reachable, keys pinned, logs and tools found.

Only harmless probes run. The report lists each host with what works and what does not;
the exit code is 1 as soon as one thing is off, so it can gate a deployment.
"""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from bot.actions import render
from bot.actions.registry import Context, Section, Verb, register
from bot.config import HostConfig
from bot.errors import MailbotError
from bot.i18n import N_, _, ngettext
from bot.mailhost.host import HostProbe, MailHost

REQUIRED_TOOLS = ("/usr/sbin/postqueue", "grep", "awk", "gzip")


@dataclass
class HostCheck:
    host: str
    target: str
    problems: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)


@dataclass
class CheckReport:
    config_path: str
    hosts: list[HostCheck]
    exit_code: int = 0

    def headline(self) -> str:
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
        return sections

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config_path,
            "ok": not any(h.problems for h in self.hosts),
            "hosts": [
                {"host": h.host, "target": h.target, "ok": not h.problems, "facts": h.facts, "problems": h.problems}
                for h in self.hosts
            ],
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
    return result


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
    report = CheckReport(str(context.config.path), checks)
    report.exit_code = 1 if any(c.problems for c in checks) else 0
    return report


CHECK = register(
    Verb(
        name="check",
        summary=N_("config valid, hosts reachable, host keys match, logs and tools found"),
        policy="read",
        configure=lambda parser: None,
        validate=lambda args: None,
        run=run_check,
        cli_only=True,
    )
)
