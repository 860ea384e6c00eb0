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

from bot.core import render
from bot.core.mailboxes import mail_host, resolve
from bot.core.registry import ChangeVerb, Context, Plan, Section
from bot.errors import BadInput, MailbotError, MailboxNotFound
from bot.i18n import N_, _, ngettext
from bot.mailhost.bmcli import parse_bm5_unexpunge, restored_copy
from bot.mailhost.cyrus import parse_unexpunge_restore
from bot.mailhost.host import MailHost
from bot.mailhost.ssh import CommandResult
from bot.mailhost.tools import bmcli, cyrus
from bot.mailhost.values import (
    INBOX,
    Address,
    Folder,
    Mailbox,
    Uid,
    mailbox_of,
    parse_address,
    parse_body_guid,
    parse_folder,
    parse_mail_numbers,
)
from bot.state.requests import ChangeRequest
from bot.verbs.deleted import DeletedMail, folder_label, list_deleted, mails_table

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
        raise BadInput(_("Give UIDs or --all, not both."))
    uids = () if args.all else parse_mail_numbers(args.uids)
    folder = parse_folder(args.folder) if args.folder else INBOX
    return RestoreRequest(address, uids, bool(args.all), folder, args.reason)


def _uid_list(uids: list[int]) -> str:
    shown = ", ".join(str(u) for u in uids[:MAX_LISTED])
    return shown + (_(" and {number} more").format(number=len(uids) - MAX_LISTED) if len(uids) > MAX_LISTED else "")


def plan_restore(request: RestoreRequest, context: Context) -> Plan:
    resolved = resolve(request.address, context)
    folder = request.folder
    where = _("{folder_name} on {host}").format(
        folder_name=resolved.mailbox.folder_name(folder), host=resolved.host.name
    )
    listing = list_deleted(resolved, folder, context)
    by_uid = {m.number: m for m in listing.mails}
    if not listing.mails:
        raise MailboxNotFound(
            _("There is no deleted mail to restore in {where}; nothing was asked.").format(where=where)
        )
    if request.all:
        chosen = list(listing.mails)
    else:
        unknown = [u.value for u in request.uids if u.value not in by_uid]
        if unknown and resolved.version == 5:
            raise MailboxNotFound(
                _(
                    "Item id {uid_list} is not among the deleted mails of {where} (restorable: {uid_list2}; "
                    "BlueMind 5 restores by the item ids `deleted` lists, not by IMAP UID); nothing was asked."
                ).format(uid_list=_uid_list(unknown), where=where, uid_list2=_uid_list(sorted(by_uid)))
            )
        if unknown:
            raise MailboxNotFound(
                _(
                    "UID {uid_list} is not among the deleted mails of {where} (restorable: {uid_list2}); "
                    "nothing was asked."
                ).format(uid_list=_uid_list(unknown), where=where, uid_list2=_uid_list(sorted(by_uid)))
            )
        chosen = [by_uid[u.value] for u in request.uids]
    uids = tuple(Uid(m.number) for m in chosen)
    bm_cli = resolved.host.config.bm_cli
    if resolved.version == 5:
        address, authn, bm_folder = resolved.address, resolved.authn, resolved.mailbox.bm_folder(folder)
        command = (
            bmcli.bmcli_restore_all(bm_cli, address, bm_folder, authn)
            if request.all
            else bmcli.bmcli_restore(bm_cli, address, bm_folder, uids, authn)
        )
    elif request.all:
        command = cyrus.restore_all_expunged(resolved.mailbox, folder)
    else:
        command = cyrus.restore_expunged(resolved.mailbox, folder, uids)
    preview = _preview(chosen, request.all, resolved.version, listing.now, resolved.host.config.retention_days)
    return Plan(
        host=resolved.host.name,
        command=command,
        preview=preview,
        summary=ngettext(
            "restore {count} deleted mail of {label} ({folder}) on {host}",
            "restore {count} deleted mails of {label} ({folder}) on {host}",
            len(chosen),
        ).format(count=len(chosen), label=resolved.label, folder=folder, host=resolved.host.name),
        arguments={
            "address": resolved.address.value,
            "mailbox": resolved.mailbox.cyrus_name,
            "login": resolved.mailbox.login,
            "domain": resolved.mailbox.domain,
            "folder": folder.value,
            "bluemind": resolved.version,
            "all": request.all,
            "uids": [m.number for m in chosen],
            "subjects": {str(m.number): m.subject for m in chosen},
            "shared": resolved.mailbox.shared,
            # BlueMind 5: the old IMAP UID and body of each item id, to find the restored copy again
            "imap_uids": {str(m.number): m.uid for m in chosen if m.item_id is not None},
            "guids": {str(m.number): m.body_guid for m in chosen if m.body_guid},
        },
    )


def _preview(chosen: list[DeletedMail], everything: bool, version: int, now: Any, retention: int) -> str:
    lines = [mails_table(chosen[:MAX_PREVIEW_ROWS], now, retention, version)]
    if len(chosen) > MAX_PREVIEW_ROWS:
        lines.append(
            _("... and {number} more (see `deleted` for the whole list).").format(number=len(chosen) - MAX_PREVIEW_ROWS)
        )
    moved = [m for m in chosen if m.still_in]
    if moved:
        which = "; ".join(
            _("UID {uid} is still in {places}").format(
                uid=m.number, places=", ".join(f"{p.folder} (UID {p.uid})" for p in m.still_in)
            )
            for m in moved
        )
        what = _("--all also restores") if everything else _("This restores")
        lines.append(
            ngettext(
                "Warning: {what} {count} mail that was moved, not deleted: it will exist twice ({which}).",
                "Warning: {what} {count} mails that were moved, not deleted: they will exist twice ({which}).",
                len(moved),
            ).format(what=what, count=len(moved), which=which)
        )
    elif everything and version == 5:
        lines.append(
            _(
                "Warning: bm-cli cannot tell a mail moved to another folder from a deleted one: --all "
                "may make duplicates of mails that were moved."
            )
        )
    return "\n".join(lines)


def report_restore(change: ChangeRequest, result: CommandResult, context: Context) -> list[Section]:
    arguments = change.arguments
    host = mail_host(context, context.config.host(change.host))
    mailbox = mailbox_of(str(arguments["login"]), str(arguments["domain"]), bool(arguments.get("shared")))
    folder = parse_folder(str(arguments["folder"]))
    wanted = [int(u) for u in arguments.get("uids", [])]
    subjects = arguments.get("subjects") or {}
    stdout = result.stdout.decode("utf-8", "replace")
    if arguments.get("bluemind") == 5:
        return _report_bm5(change, result, stdout, host, mailbox, folder, wanted, subjects)
    output = parse_unexpunge_restore(stdout)
    if result.exit_status != 0 or output.failure or output.usage:
        why = output.failure or result.stderr_text or f"exit {result.exit_status}"
        return [
            Section(
                _("Not restored"), _("Cyrus did not restore anything: {why}.").format(why=why), False, {"restored": []}
            )
        ]
    if not output.restored:
        return [
            Section(
                _("Nothing restored"),
                ngettext(
                    "Cyrus restored {value} mail: the UIDs were no longer deleted (restored meanwhile, "
                    "or purged by the host).",
                    "Cyrus restored {value} mails: the UIDs were no longer deleted (restored meanwhile, "
                    "or purged by the host).",
                    output.count or 0,
                ).format(value=output.count or 0),
                False,
                {"restored": []},
            )
        ]
    try:
        still_deleted = {m.uid for m in host.cyrus.expunged(mailbox, folder).mails}
        here = {r.uid for r in host.cyrus.present_mails(mailbox) if folder_label(r.mailbox, mailbox) == folder.value}
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
                _("yes") if verified else _("no"),
                render.clip(subjects.get(str(item.old_uid)) or "", 60),
            ]
        )
    missing = [u for u in wanted if u not in {i.old_uid for i in output.restored}]
    notes = [
        ngettext(
            "{count} mail is back in {folder} of {mailbox} under a new UID (Cyrus gives new ones).",
            "{count} mails are back in {folder} of {mailbox} under new UIDs (Cyrus gives new ones).",
            len(restored),
        ).format(count=len(restored), folder=folder, mailbox=mailbox)
    ]
    if missing:
        notes.append(
            _("Not restored: UID {uid_list} (no longer deleted when the command ran).").format(
                uid_list=_uid_list(missing)
            )
        )
    if checked:
        notes.append(_("The result could not be checked on {host}: {checked}").format(host=host.name, checked=checked))
    elif not all(r["verified"] for r in restored):
        notes.append(_("Some mails could not be found in the folder after the restore: check with `deleted`."))
    table = render.table([_("Old UID"), _("New UID"), _("Folder"), _("Checked"), _("Subject")], rows)
    return [
        Section(_("Restored"), table, True, {"restored": restored}),
        Section(_("Notes"), "\n".join(notes), monospace=False),
    ]


def _report_bm5(
    change: ChangeRequest,
    result: CommandResult,
    stdout: str,
    host: MailHost,
    mailbox: Mailbox,
    folder: Folder,
    wanted: list[int],
    subjects: dict[str, Any],
) -> list[Section]:
    """bm-cli acknowledges with a version number, not the mail's new UID: the body GUID that
    `unexpunge --dry` printed finds the restored copy again (`history-guid`): its folder and UID."""
    output = parse_bm5_unexpunge(stdout)
    if result.exit_status != 0:
        why = result.stderr_text or f"exit {result.exit_status}"
        return [Section(_("Not restored"), _("bm-cli failed: {why}.").format(why=why), False, {"restored": []})]
    arguments = change.arguments
    address = parse_address(str(arguments["address"]))
    authn = parse_address(host.config.bm_authn) if mailbox.shared and host.config.bm_authn else None
    try:
        still = {item.id for item in host.bmcli.deleted(mailbox, address, folder, authn).items}
        checked: str | None = None
    except MailbotError as failure:
        still, checked = set(), failure.message
    guids = arguments.get("guids") or {}
    old_uids = arguments.get("imap_uids") or {}
    owner = _owner(host, address) if guids else None
    restored = []
    for number in wanted:
        if checked is not None or number in still:
            continue
        old_uid = old_uids.get(str(number))
        new_uid, where = _came_back(host, guids.get(str(number)), owner, mailbox.bm_folder(folder), old_uid)
        restored.append(
            {
                "id": number,
                "old_uid": old_uid,
                "new_uid": new_uid,
                "folder": where or folder.value,
                "subject": subjects.get(str(number)),
            }
        )
    rows = [
        [
            str(r["id"]),
            "" if r["old_uid"] is None else str(r["old_uid"]),
            "?" if r["new_uid"] is None else str(r["new_uid"]),
            str(r["folder"]),
            render.clip(str(r["subject"] or ""), 60),
        ]
        for r in restored
    ]
    found = sum(1 for r in restored if r["new_uid"] is not None)
    notes = [
        " ".join(
            (
                ngettext(
                    "bm-cli acknowledged {acks} restore.", "bm-cli acknowledged {acks} restores.", output.acks
                ).format(acks=output.acks),
                _("Out of the deleted list of {folder}: {count} of {count2}.").format(
                    count=len(restored), count2=len(wanted), folder=folder
                ),
                ngettext(
                    "{found} found again by its body (history-guid), with its new IMAP UID.",
                    "{found} found again by their body (history-guid), with their new IMAP UIDs.",
                    found,
                ).format(found=found),
            )
        )
    ]
    if found < len(restored):
        notes.append(_("A restored mail not found again may still be indexing: look for it with `search` in a minute."))
    if checked:
        notes.append(_("The result could not be checked: {checked}").format(checked=checked))
    table = render.table([_("Item id"), _("Old UID"), _("New UID"), _("Folder"), _("Subject")], rows)
    return [
        Section(_("Restored"), table, True, {"restored": restored}),
        Section(_("Notes"), "\n".join(notes), monospace=False),
    ]


def _owner(host: MailHost, address: Address) -> str | None:
    try:
        entry = host.bmcli.entry(address)
    except MailbotError:
        return None
    return entry.display_name if entry else None


def _came_back(
    host: MailHost, guid: str | None, owner: str | None, folder: Folder, old_uid: int | None
) -> tuple[int | None, str | None]:
    """The restored copy's new IMAP UID and folder, found by the body GUID; (None, None) when not seen."""
    if not guid:
        return None, None
    try:
        histories = host.bmcli.by_guid(parse_body_guid(guid))
    except MailbotError:
        return None, None
    for history in histories:
        copy = restored_copy(history, owner, folder.value, old_uid) or restored_copy(
            history, None, folder.value, old_uid
        )
        if copy is not None:
            return copy.uid, copy.folder
    return None, None


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDRESS", help=_("the mailbox's address (an alias is resolved)"))
    parser.add_argument(
        "uids",
        nargs="*",
        metavar="ID",
        help=_("the numbers `deleted` shows: UIDs on BlueMind 4, item ids on BlueMind 5"),
    )
    parser.add_argument("--all", action="store_true", help=_("every deleted mail of the folder"))
    parser.add_argument("--folder", metavar="FOLDER", help=_("the folder (default INBOX)"))


RESTORE = ChangeVerb(
    name="restore",
    summary=N_("bring deleted mails back into their folder (after approval)"),
    policy="approve",
    configure=_configure,
    validate=validate_restore,
    plan=plan_restore,
    report=report_restore,
)
