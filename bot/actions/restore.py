"""`restore ADDRESS UID...` / `restore ADDRESS --all`: bring deleted mails back (a change: `approve`).

The plan lists the mails that will come back, from the same listing as `deleted`, and refuses
UIDs that are not in it (Cyrus would quietly restore 0). It warns when a mail was moved rather
than deleted: it still exists elsewhere, and restoring it makes a duplicate (`--all` restores
those too). The command that runs is Cyrus's `unexpunge -u|-a -d -v` as the cyrus user (BlueMind
4) or `bm-cli mail unexpunge --id|--days` (BlueMind 5). The report reads what the tool printed
(`Unexpunged MBOX: OLD => NEW`: restored mails get new UIDs), then checks the host: the old UIDs
are no longer deleted, the new ones are in the folder.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from bot.actions import render
from bot.actions.deleted import DeletedMail, folder_label, list_deleted, mails_table
from bot.actions.mailbox import mail_host, resolve
from bot.actions.registry import Context, Plan, Section, Verb, register
from bot.errors import BadInput, MailbotError
from bot.mailhost import commands
from bot.mailhost.bmcli import parse_bm5_unexpunge
from bot.mailhost.cyrus import parse_unexpunge_restore
from bot.mailhost.host import MailboxNotFound
from bot.mailhost.ssh import CommandResult
from bot.mailhost.values import INBOX, Address, Folder, Uid, mailbox_of, parse_address, parse_folder, parse_uids
from bot.state.requests import ChangeRequest

MAX_LISTED = 20
MAX_PREVIEW_ROWS = 25  # the card holds about 3,000 characters of preview


@dataclass(frozen=True)
class RestoreRequest:
    address: Address
    uids: tuple[Uid, ...]
    all: bool
    folder: Folder
    reason: str | None


def validate_restore(args: argparse.Namespace) -> RestoreRequest:
    address = parse_address(args.address)
    if args.all and args.uids:
        raise BadInput("Give UIDs or --all, not both.")
    uids = () if args.all else parse_uids(args.uids)
    folder = parse_folder(args.folder) if args.folder else INBOX
    return RestoreRequest(address, uids, bool(args.all), folder, args.reason)


def _uid_list(uids: list[int]) -> str:
    shown = ", ".join(str(u) for u in uids[:MAX_LISTED])
    return shown + (f" and {len(uids) - MAX_LISTED} more" if len(uids) > MAX_LISTED else "")


def plan_restore(request: RestoreRequest, context: Context) -> Plan:
    resolved = resolve(request.address, context)
    folder = request.folder
    where = f"{resolved.mailbox.folder_name(folder)} on {resolved.host.name}"
    listing = list_deleted(resolved, folder, context)
    by_uid = {m.uid: m for m in listing.mails}
    if not listing.mails:
        raise MailboxNotFound(f"There is no deleted mail to restore in {where}; nothing was asked.")
    if request.all:
        chosen = list(listing.mails)
    else:
        unknown = [u.value for u in request.uids if u.value not in by_uid]
        if unknown:
            raise MailboxNotFound(
                f"UID {_uid_list(unknown)} is not among the deleted mails of {where} (restorable: "
                f"{_uid_list(sorted(by_uid))}); nothing was asked."
            )
        chosen = [by_uid[u.value] for u in request.uids]
    uids = tuple(Uid(m.uid) for m in chosen)
    bm_cli = resolved.host.config.bm_cli
    if resolved.version == 5:
        address = resolved.address
        command = (
            commands.bmcli_restore_all(bm_cli, address, folder)
            if request.all
            else commands.bmcli_restore(bm_cli, address, folder, uids)
        )
    elif request.all:
        command = commands.restore_all_expunged(resolved.mailbox, folder)
    else:
        command = commands.restore_expunged(resolved.mailbox, folder, uids)
    preview = _preview(chosen, request.all, resolved.version, listing.now, resolved.host.config.retention_days)
    return Plan(
        host=resolved.host.name,
        command=command,
        preview=preview,
        summary=f"restore {len(chosen)} deleted mail(s) of {resolved.label} ({folder}) on {resolved.host.name}",
        arguments={
            "address": resolved.address.value,
            "mailbox": resolved.mailbox.cyrus_name,
            "login": resolved.mailbox.login,
            "domain": resolved.mailbox.domain,
            "folder": folder.value,
            "bluemind": resolved.version,
            "all": request.all,
            "uids": [m.uid for m in chosen],
            "subjects": {str(m.uid): m.subject for m in chosen},
        },
    )


def _preview(chosen: list[DeletedMail], everything: bool, version: int, now: Any, retention: int) -> str:
    lines = [mails_table(chosen[:MAX_PREVIEW_ROWS], now, retention, version)]
    if len(chosen) > MAX_PREVIEW_ROWS:
        lines.append(f"... and {len(chosen) - MAX_PREVIEW_ROWS} more (see `deleted` for the whole list).")
    moved = [m for m in chosen if m.still_in]
    if moved:
        which = "; ".join(
            f"UID {m.uid} is still in " + ", ".join(f"{p.folder} (UID {p.uid})" for p in m.still_in) for m in moved
        )
        what = "--all also restores" if everything else "This restores"
        lines.append(
            f"Warning: {what} {len(moved)} mail(s) that were moved, not deleted: they will exist twice ({which})."
        )
    elif everything and version == 5:
        lines.append(
            "Warning: bm-cli cannot tell a mail moved to another folder from a deleted one: --all may make "
            "duplicates of mails that were moved."
        )
    return "\n".join(lines)


def report_restore(change: ChangeRequest, result: CommandResult, context: Context) -> list[Section]:
    arguments = change.arguments
    host = mail_host(context, context.config.host(change.host))
    mailbox = mailbox_of(str(arguments["login"]), str(arguments["domain"]))
    folder = parse_folder(str(arguments["folder"]))
    wanted = [int(u) for u in arguments.get("uids", [])]
    subjects = arguments.get("subjects") or {}
    stdout = result.stdout.decode("utf-8", "replace")
    if arguments.get("bluemind") == 5:
        return _report_bm5(change, result, stdout, host, folder, wanted, subjects)
    output = parse_unexpunge_restore(stdout)
    if result.exit_status != 0 or output.failure or output.usage:
        why = output.failure or result.stderr_text or f"exit {result.exit_status}"
        return [Section("Not restored", f"Cyrus did not restore anything: {why}.", False, {"restored": []})]
    if not output.restored:
        return [
            Section(
                "Nothing restored",
                f"Cyrus restored {output.count or 0} mail(s): the UIDs were no longer deleted "
                "(restored meanwhile, or purged by the host).",
                False,
                {"restored": []},
            )
        ]
    try:
        still_deleted = {m.uid for m in host.expunged(mailbox, folder).mails}
        here = {r.uid for r in host.present_mails(mailbox) if folder_label(r.mailbox, mailbox) == folder.value}
        checked: str | None = None
    except MailbotError as failure:
        still_deleted, here, checked = set(), set(), failure.message
    restored = []
    rows = []
    for item in output.restored:
        verified = checked is None and item.old_uid not in still_deleted and item.new_uid in here
        restored.append(
            {
                "old_uid": item.old_uid,
                "new_uid": item.new_uid,
                "folder": folder.value,
                "subject": subjects.get(str(item.old_uid)),
                "verified": verified,
            }
        )
        rows.append(
            [
                str(item.old_uid),
                str(item.new_uid),
                folder.value,
                "yes" if verified else "no",
                render.clip(subjects.get(str(item.old_uid)) or "", 60),
            ]
        )
    missing = [u for u in wanted if u not in {i.old_uid for i in output.restored}]
    notes = [f"{len(restored)} mail(s) are back in {folder} of {mailbox} under new UIDs (Cyrus gives new ones)."]
    if missing:
        notes.append(f"Not restored: UID {_uid_list(missing)} (no longer deleted when the command ran).")
    if checked:
        notes.append(f"The result could not be checked on {host.name}: {checked}")
    elif not all(r["verified"] for r in restored):
        notes.append("Some mails could not be found in the folder after the restore: check with `deleted`.")
    table = render.table(["Old UID", "New UID", "Folder", "Checked", "Subject"], rows)
    return [
        Section("Restored", table, True, {"restored": restored}),
        Section("Notes", "\n".join(notes), monospace=False),
    ]


def _report_bm5(
    change: ChangeRequest,
    result: CommandResult,
    stdout: str,
    host: Any,
    folder: Folder,
    wanted: list[int],
    subjects: dict[str, Any],
) -> list[Section]:
    output = parse_bm5_unexpunge(stdout)
    if result.exit_status != 0:
        why = result.stderr_text or f"exit {result.exit_status}"
        return [Section("Not restored", f"bm-cli failed: {why}.", False, {"restored": []})]
    try:
        address = parse_address(str(change.arguments["address"]))
        still = {item.id for item in host.bm_deleted(address, folder).items}
        checked: str | None = None
    except MailbotError as failure:
        still, checked = set(), failure.message
    restored = [
        {"old_uid": uid, "new_uid": None, "folder": folder.value, "subject": subjects.get(str(uid))}
        for uid in wanted
        if checked is None and uid not in still
    ]
    rows = [[str(r["old_uid"]), folder.value, render.clip(str(r["subject"] or ""), 60)] for r in restored]
    notes = [
        f"bm-cli acknowledged {output.acks} restore(s); {len(restored)} of {len(wanted)} mail(s) are no longer "
        f"in the deleted list of {folder}. bm-cli does not print the new UIDs: see them with `history`."
    ]
    if checked:
        notes.append(f"The result could not be checked: {checked}")
    return [
        Section("Restored", render.table(["Id", "Folder", "Subject"], rows), True, {"restored": restored}),
        Section("Notes", "\n".join(notes), monospace=False),
    ]


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDRESS", help="the mailbox's address (an alias is resolved)")
    parser.add_argument("uids", nargs="*", metavar="UID", help="the UIDs shown by `deleted`")
    parser.add_argument("--all", action="store_true", help="every deleted mail of the folder")
    parser.add_argument("--folder", metavar="FOLDER", help="the folder (default INBOX)")
    parser.add_argument("--reason", metavar="TEXT", help="why (a ticket number, for the audit)")


RESTORE = register(
    Verb(
        name="restore",
        summary="bring deleted mails back into their folder (after approval)",
        policy="approve",
        configure=_configure,
        validate=validate_restore,
        plan=plan_restore,
        report=report_restore,
    )
)
