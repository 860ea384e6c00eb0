"""`regen-maps [ADDRESS]`: rebuild the Postfix maps from the directory (a change: `approve`).

What the seed's first fix does ("Mail maintenance > Execute"): needed when an existing
address gets "User unknown". The commands are the host's own (config `regen_maps`: on
BlueMind 5 `bm-cli maintenance repair --ops mailboxPostfixMaps ...`, on BlueMind 4 the
postmap/reload the admins use); `flock` on the host keeps it to one rebuild at a time.

The exit status proves nothing (reference/BMCLI.md): bm-cli exits 0 when the repair task
failed, and bm-core rewrites the maps up to 10 s after bm-cli returns, throttled. So the
report reads the task's failure lines, then asks the maps themselves (`postmap -q ADDRESS`,
read-only) until the address the agent was chasing is there, for up to 30 s.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from bot.config import HostConfig
from bot.core.mailboxes import mail_host
from bot.core.registry import ChangeVerb, Context, Plan, Section
from bot.errors import BadInput, MailbotError
from bot.i18n import N_, _
from bot.mailhost.bmcli import parse_repair
from bot.mailhost.host import MailHost
from bot.mailhost.ssh import CommandResult
from bot.mailhost.tools import postfix
from bot.mailhost.tools.base import first_line
from bot.mailhost.values import Address, PostfixMap, parse_address
from bot.state.requests import ChangeRequest

BUSY_EXIT = 75  # flock -E: another rebuild holds the lock


MAP_CHECK_SECONDS = 30.0  # bm-core rewrites the maps up to 10 s after the request, throttled
MAP_CHECK_EVERY = 2.0


@dataclass(frozen=True)
class RegenRequest:
    host: str | None
    reason: str | None
    address: Address | None = None


def validate_regen(args: argparse.Namespace) -> RegenRequest:
    host = args.host
    if host is not None and not host.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise BadInput(_("{host!r} is not a host name of the config.").format(host=host[:40]))
    address = parse_address(args.address) if args.address else None
    return RegenRequest(host, args.reason, address)


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
    command = postfix.regen_maps(host.regen_maps, host.bm_cli)
    last = next(
        (r for r in reversed(context.state.audit.records(200)) if r.verb == "regen-maps" and r.event == "ran"),
        None,
    )
    preview = "\n".join(" ".join(step) for step in host.regen_maps)
    if request.address:
        preview += _("\nThen checked: {address} must be in the maps (postmap -q), for up to 30 s.").format(
            address=request.address
        )
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
        arguments={"host": host.name, "address": request.address.value if request.address else None},
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
    stderr = result.stderr_text
    repair = parse_repair(result.stdout.decode("utf-8", "replace"), stderr)
    if result.exit_status != 0 or repair.failures:
        why = repair.failures[0] if repair.failures else (first_line(stderr) or _("no message"))
        return [
            Section(
                _("Failed"),
                _(
                    "The rebuild failed (exit {status}: {why}); the maps may be partly rebuilt or unchanged: "
                    "see what the host printed, and bm-core's log on BlueMind 5."
                ).format(status=result.exit_status, why=why),
                False,
            )
        ]
    wanted = change.arguments.get("address")
    if not wanted:
        return [
            Section(
                _("Requested"),
                _(
                    "The rebuild ran (exit 0) but was not checked: name the address you are chasing "
                    "(`regen-maps ADDRESS`) and the bot checks that the maps hold it."
                ),
                False,
            )
        ]
    address = parse_address(str(wanted))
    host = mail_host(context, context.config.host(change.host))
    try:
        tables = host.postfix.address_maps()
        found = _wait_for(host, address, tables)
    except MailbotError as failure:
        return [
            Section(
                _("Not checked"),
                _("The rebuild ran (exit 0), but the maps could not be read: {why}").format(why=failure.message),
                False,
            )
        ]
    if found is not None:
        return [
            Section(
                _("Rebuilt and checked"),
                _("{address} is in {table} now; no restart is needed. Send a test mail to the address.").format(
                    address=address, table=found
                ),
                False,
                {"checked": True, "table": found.value},
            )
        ]
    return [
        Section(
            _("Requested, not confirmed"),
            _(
                "Requested, not confirmed after {seconds} s: {address} is in none of {tables}. Look at "
                "bm-core's log (`Fail to update postfix maps`). bm-cli exited {status}; it printed on "
                "stderr: {stderr}."
            ).format(
                seconds=int(MAP_CHECK_SECONDS),
                address=address,
                tables=", ".join(t.value for t in tables) or _("no file-based map"),
                status=result.exit_status,
                stderr=first_line(stderr) or _("nothing"),
            ),
            False,
            {"checked": False},
        )
    ]


def _wait_for(host: MailHost, address: Address, tables: tuple[PostfixMap, ...]) -> PostfixMap | None:
    deadline = time.monotonic() + MAP_CHECK_SECONDS
    while True:
        found = host.postfix.lookup(address, tables)
        if found is not None or time.monotonic() >= deadline or not tables:
            return found
        time.sleep(MAP_CHECK_EVERY)


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address", nargs="?", metavar="ADDRESS", help=_("the address that must be in the maps afterwards (checked)")
    )


REGEN_MAPS = ChangeVerb(
    name="regen-maps",
    summary=N_("rebuild the Postfix maps from the directory (when an existing address is 'User unknown')"),
    policy="approve",
    host_help=N_("the host to rebuild (default: the first with regen_maps)"),
    configure=_configure,
    validate=validate_regen,
    plan=plan_regen,
    report=report_regen,
)
