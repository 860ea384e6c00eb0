"""`deleted ADDRESS [--folder F]`: the deleted mails that can still be restored.

BlueMind 4: Cyrus's `unexpunge -l user/LOGIN@TECHNICAL_DOMAIN` as the cyrus user, exactly what
it lists; then, for each mail, whether a copy of it is still present in another folder or a
shared mailbox (`mbexamine`: same size, arrival time, sender and subject): a mail moved to the
Trash or to a mailshare is expunged from its folder too, and restoring it makes a duplicate.
BlueMind 5: `bm-cli mail unexpunge ADDRESS --dry`. Days left = the host's `retention_days`
(cyr_expire -X, 7 by default) minus the time since the deletion.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from bot import i18n
from bot.core import render
from bot.core.mailboxes import Resolved, require_user_mailbox, resolve
from bot.core.registry import Context, ReadVerb, Section
from bot.errors import ExitStatus
from bot.i18n import N_, _, ngettext
from bot.mailhost.cyrus import ExpungedMail, IndexRecord
from bot.mailhost.values import INBOX, Address, Folder, Mailbox, parse_address, parse_folder

HOUR = 3600


@dataclass(frozen=True)
class Place:
    """Where a copy of a deleted mail still is: a folder (or shared mailbox) and its UID there."""

    folder: str
    uid: int


@dataclass(frozen=True)
class DeletedMail:
    uid: int | None  # its IMAP UID (BlueMind 5: the one it had, when bm-cli says it)
    size: int | None
    sent: datetime | None
    received: datetime | None
    expunged: datetime | None
    sender: str | None
    to: str | None
    subject: str | None
    preview: str | None = None
    still_in: tuple[Place, ...] = ()
    cache_error: str | None = None
    item_id: int | None = None  # BlueMind 5: the item id that `unexpunge --id` takes, not a UID
    body_guid: str | None = None  # BlueMind 5: how `history-guid` finds it again once restored

    @property
    def number(self) -> int:
        """What `restore` takes for this mail: the item id on BlueMind 5, the UID on BlueMind 4."""
        number = self.item_id if self.item_id is not None else self.uid
        if number is None:
            raise ValueError("a deleted mail has an item id or a UID")
        return number

    def days_left(self, now: datetime, retention_days: int) -> float | None:
        if self.expunged is None:
            return None
        return (self.expunged + timedelta(days=retention_days) - now).total_seconds() / 86400


@dataclass(frozen=True)
class DeletedListing:
    mails: tuple[DeletedMail, ...]
    now: datetime


def folder_label(cyrus_name: str, mailbox: Mailbox) -> str:
    """`user/john/Trash@lab.test` -> `Trash`; `projet@lab.test` -> `shared mailbox projet`."""
    if cyrus_name == mailbox.cyrus_name:
        return "INBOX"
    own = f"user/{mailbox.login}/"
    name = cyrus_name.rsplit("@", 1)[0]
    if name.startswith(own):
        return name[len(own) :]
    return f"shared mailbox {name}"


def place_label(folder: str) -> str:
    """A folder label as a sentence shows it (`folder_label` is also what the JSON and restore read)."""
    if folder.startswith("shared mailbox "):
        return _("shared mailbox {name}").format(name=folder.removeprefix("shared mailbox "))
    return folder


def still_present(
    mails: Sequence[ExpungedMail], records: Sequence[IndexRecord], tz: tzinfo, mailbox: Mailbox
) -> dict[int, tuple[Place, ...]]:
    """Deleted mails that still exist elsewhere: same size, sender, subject and arrival time (a
    copy or a move keeps the arrival time; the host's zone turns it into the local time Cyrus
    prints, give or take a daylight-saving hour)."""
    by_key: dict[tuple[int, str, str], list[IndexRecord]] = {}
    for record in records:
        if "deleted" in record.flags:
            continue
        by_key.setdefault((record.size, record.sender or "", record.subject or ""), []).append(record)
    found: dict[int, tuple[Place, ...]] = {}
    for mail in mails:
        if mail.cache_error or mail.size is None or mail.received is None:
            continue
        places = []
        for record in by_key.get((mail.size, mail.sender or "", mail.subject or ""), []):
            local = datetime.fromtimestamp(record.internal_date, tz).replace(tzinfo=None)
            if abs((local - mail.received).total_seconds()) in (0, HOUR):
                places.append(Place(folder_label(record.mailbox, mailbox), record.uid))
        if places:
            found[mail.uid] = tuple(places)
    return found


def list_deleted(resolved: Resolved, folder: Folder, context: Context) -> DeletedListing:
    """The restorable mails of one folder, the same way for `deleted` and `restore`'s preview."""
    if resolved.version == 5:
        context.progress(
            _("Asking bm-cli on {name} for the deleted mails of {address}…").format(
                name=resolved.bmcli.name, address=resolved.address
            )
        )
        bm5 = resolved.bmcli.deleted(resolved.mailbox, resolved.address, folder, resolved.authn)
        mails = tuple(
            DeletedMail(
                uid=item.imap_uid,
                item_id=item.id,
                body_guid=item.body_guid,
                size=None,
                sent=None,
                received=None,
                expunged=_aware(item.modified, bm5.clock.tz),
                sender=None,
                to=None,
                subject=item.subject,
                preview=item.preview,
            )
            for item in bm5.items
        )
        return DeletedListing(mails, bm5.clock.now)
    require_user_mailbox(resolved)
    context.progress(
        _("Listing the deleted mails of {folder_name} on {host}…").format(
            folder_name=resolved.mailbox.folder_name(folder), host=resolved.host.name
        )
    )
    listing = resolved.host.cyrus.expunged(resolved.mailbox, folder)
    tz = listing.clock.tz
    elsewhere: dict[int, tuple[Place, ...]] = {}
    if listing.mails:
        present = resolved.host.cyrus.present_mails(resolved.mailbox)
        elsewhere = still_present(listing.mails, present, tz, resolved.mailbox)
    mails = tuple(
        DeletedMail(
            uid=m.uid,
            size=m.size,
            sent=_local(m.sent, tz),
            received=_local(m.received, tz),
            expunged=_local(m.expunged, tz),
            sender=m.sender,
            to=m.to,
            subject=m.subject,
            still_in=elsewhere.get(m.uid, ()),
            cache_error=m.cache_error,
        )
        for m in listing.mails
    )
    return DeletedListing(mails, listing.clock.now)


def _local(stamp: datetime | None, tz: tzinfo) -> datetime | None:
    return stamp.replace(tzinfo=tz) if stamp is not None else None


def _aware(stamp: datetime | None, tz: tzinfo) -> datetime | None:
    """bm-cli's dates carry a zone when Java printed a known one; else the host's."""
    return stamp if stamp is None or stamp.tzinfo is not None else stamp.replace(tzinfo=tz)


def left_text(days: float | None) -> str:
    if days is None:
        return "?"
    if days <= 0:
        return _("due")
    return _("<1 d") if days < 1 else _("{days} d").format(days=int(days))


def mails_table(mails: Sequence[DeletedMail], now: datetime, retention_days: int, version: int) -> str:
    if version == 5:
        rows = [
            [
                str(m.item_id),
                "" if m.uid is None else str(m.uid),
                render.when(m.expunged),
                left_text(m.days_left(now, retention_days)),
                render.clip(m.subject, 40),
                m.preview or "",
            ]
            for m in mails
        ]
        return render.table([_("Item id"), _("Old UID"), _("Deleted"), _("Left"), _("Subject"), _("Preview")], rows)
    rows = [
        [
            str(m.uid),
            render.size(m.size),
            i18n.short_date(m.sent) if m.sent else "",
            render.when(m.received),
            render.when(m.expunged),
            left_text(m.days_left(now, retention_days)),
            render.clip(_bare(m.sender) if not m.cache_error else _("(cache broken)"), 24),
            (_("[moved] ") if m.still_in else "") + (m.subject or ""),
        ]
        for m in mails
    ]
    return render.table(
        ["UID", _("Size"), _("Sent"), _("Received"), _("Deleted"), _("Left"), _("From"), _("Subject")], rows
    )


def _bare(address: str | None) -> str:
    """`<alice@partner.example>` -> `alice@partner.example` for a narrow column."""
    if not address:
        return ""
    text = address.strip()
    return text[1:-1] if text.startswith("<") and text.endswith(">") and text.count("<") == 1 else text


def elsewhere_lines(mails: Sequence[DeletedMail]) -> list[str]:
    lines = []
    for mail in mails:
        if mail.still_in:
            where = ", ".join(f"{place_label(p.folder)} (UID {p.uid})" for p in mail.still_in)
            lines.append(
                _("UID {uid} was moved, not deleted: it is still in {where}; restoring it makes a second copy.").format(
                    uid=mail.uid, where=where
                )
            )
    return lines


def mail_json(mail: DeletedMail, now: datetime, retention_days: int) -> dict[str, Any]:
    days = mail.days_left(now, retention_days)
    return {
        "uid": mail.uid,
        "id": mail.item_id,
        "body_guid": mail.body_guid,
        "size": mail.size,
        "sent": render.iso(mail.sent),
        "received": render.iso(mail.received),
        "expunged_at": render.iso(mail.expunged),
        "days_left": round(days, 2) if days is not None else None,
        "sender": mail.sender,
        "to": mail.to,
        "subject": mail.subject,
        "preview": mail.preview,
        "still_in": [{"folder": p.folder, "uid": p.uid} for p in mail.still_in],
        "cache_error": mail.cache_error,
    }


@dataclass
class DeletedReport:
    resolved: Resolved
    folder: Folder
    mails: list[DeletedMail]
    now: datetime
    retention_days: int
    exit_code: int = ExitStatus.OK
    notes: list[str] = field(default_factory=list)

    def headline(self) -> str:
        where = _("{label}, {folder}, on {host}").format(
            label=self.resolved.label, folder=self.folder, host=self.resolved.host.name
        )
        if not self.mails:
            return _("No deleted mail to restore in {where}.").format(where=where)
        return ngettext(
            "{count} deleted mail can be restored in {where}; ",
            "{count} deleted mails can be restored in {where}; ",
            len(self.mails),
        ).format(count=len(self.mails), where=where) + ngettext(
            "the host keeps them {days} day after the deletion.",
            "the host keeps them {days} days after the deletion.",
            self.retention_days,
        ).format(days=self.retention_days)

    def sections(self) -> list[Section]:
        if not self.mails:
            return [Section("", "\n".join(self.notes), monospace=False)] if self.notes else []
        table = mails_table(self.mails, self.now, self.retention_days, self.resolved.version)
        sections = [Section(_("Deleted mails"), table)]
        moved = elsewhere_lines(self.mails)
        broken = [f"UID {m.uid}: {m.cache_error}" for m in self.mails if m.cache_error]
        hints = [*moved, *broken, *self.notes]
        if self.resolved.version == 5:
            hints.append(
                _(
                    "To bring mails back: restore {address} ITEM_ID... (the item ids above, not UIDs; "
                    "or --all), after approval."
                ).format(address=self.resolved.address)
            )
        else:
            hints.append(
                _("To bring mails back: restore {address} UID... (or --all), after approval.").format(
                    address=self.resolved.address
                )
            )
        sections.append(Section(_("Notes"), "\n".join(hints), monospace=False))
        return sections

    def to_json(self) -> dict[str, Any]:
        return {
            **self.resolved.json(),
            "folder": self.folder.value,
            "retention_days": self.retention_days,
            "now": render.iso(self.now),
            "mails": [mail_json(m, self.now, self.retention_days) for m in self.mails],
        }


@dataclass(frozen=True)
class DeletedRequest:
    address: Address
    folder: Folder


def validate_deleted(args: argparse.Namespace) -> DeletedRequest:
    address = parse_address(args.address)
    return DeletedRequest(address, parse_folder(args.folder) if args.folder else INBOX)


def run_deleted(request: DeletedRequest, context: Context) -> DeletedReport:
    resolved = resolve(request.address, context)
    listing = list_deleted(resolved, request.folder, context)
    return DeletedReport(
        resolved=resolved,
        folder=request.folder,
        mails=list(listing.mails),
        now=listing.now,
        retention_days=resolved.host.config.retention_days,
    )


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDRESS", help=_("the mailbox's address (an alias is resolved)"))
    parser.add_argument("--folder", metavar="FOLDER", help=_("the folder (default INBOX), e.g. Trash or Archives/2024"))


DELETED = ReadVerb(
    name="deleted",
    summary=N_("the deleted mails of a mailbox that can still be restored"),
    configure=_configure,
    validate=validate_deleted,
    run=run_deleted,
)
