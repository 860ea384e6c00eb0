"""`regen-maps`: rebuild the Postfix maps from the directory (a change: `approve`).

What the seed's first fix does ("Mail maintenance > Execute"): needed when an existing
address gets "User unknown". The commands are the host's own (config `regen_maps`: on
BlueMind 5 `bm-cli maintenance repair --ops mailboxPostfixMaps ...`, on BlueMind 4 the
postmap/reload the admins use); `flock` on the host keeps it to one rebuild at a time.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from bot.config import HostConfig
from bot.core.registry import Context, Plan, Section, Verb
from bot.errors import BadInput, MailbotError
from bot.i18n import N_, _
from bot.mailhost.ssh import CommandResult
from bot.mailhost.tools import postfix
from bot.state.requests import ChangeRequest

BUSY_EXIT = 75  # flock -E: another rebuild holds the lock


@dataclass(frozen=True)
class RegenRequest:
    host: str | None
    reason: str | None


def validate_regen(args: argparse.Namespace) -> RegenRequest:
    host = args.host
    if host is not None and not host.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise BadInput(_("{host!r} is not a host name of the config.").format(host=host[:40]))
    return RegenRequest(host, args.reason)


def _target(request: RegenRequest, context: Context) -> HostConfig:
    if request.host:
        return context.config.host(request.host)
    with_maps = [h for h in (context.config.hosts_with_role("mta") or context.config.hosts) if h.regen_maps]
    if not with_maps:
        raise MailbotError(
            _(
                "No host has a map rebuild configured (regen_maps in its config; on BlueMind 5: "
                "[bm-cli, maintenance, repair, --ops, mailboxPostfixMaps, DOMAIN])."
            )
        )
    return with_maps[0]


def plan_regen(request: RegenRequest, context: Context) -> Plan:
    host = _target(request, context)
    if not host.regen_maps:
        raise MailbotError(_("{host} has no map rebuild configured (regen_maps in its config).").format(host=host.name))
    command = postfix.regen_maps(host.regen_maps)
    last = next(
        (r for r in reversed(context.state.audit.records(200)) if r.verb == "regen-maps" and r.event == "ran"),
        None,
    )
    preview = "\n".join(" ".join(step) for step in host.regen_maps)
    preview += (
        _("\nLast rebuild by the bot: {at} (exit {exit_status}).").format(at=last.at, exit_status=last.exit_status)
        if last
        else _("\nNo earlier rebuild.")
    )
    return Plan(
        host=host.name,
        command=command,
        preview=preview,
        summary=_("rebuild the Postfix maps of {host}").format(host=host.name),
        arguments={"host": host.name},
    )


def report_regen(change: ChangeRequest, result: CommandResult, context: Context) -> list[Section]:
    if result.exit_status == BUSY_EXIT:
        return [
            Section(
                _("Not run"),
                _("Another map rebuild was running on the host; nothing was done, ask again later."),
                False,
            )
        ]
    if result.exit_status != 0:
        return [
            Section(
                _("Failed"), _("The rebuild failed; the maps may be partly rebuilt: see what the host printed."), False
            )
        ]
    return [
        Section(_("Done"), _("The maps are rebuilt; no restart is needed. Send a test mail to the address."), False)
    ]


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", metavar="NAME", help=_("the host to rebuild (default: the first with regen_maps)"))
    parser.add_argument("--reason", metavar="TEXT", help=_("why (a ticket number, for the audit)"))


REGEN_MAPS = Verb(
    name="regen-maps",
    summary=N_("rebuild the Postfix maps from the directory (when an existing address is 'User unknown')"),
    policy="approve",
    configure=_configure,
    validate=validate_regen,
    plan=plan_regen,
    report=report_regen,
)
