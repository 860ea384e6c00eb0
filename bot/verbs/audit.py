"""`audit [N] [--verify]`: who asked what, who decided, what ran, what came back."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from bot.core import render
from bot.core.registry import Context, Section, Verb
from bot.errors import BadInput, MailbotError
from bot.i18n import N_, _, ngettext
from bot.state.audit import AuditRecord

# The events as the table shows them (the audit stores, and --json prints, the English words).
EVENT_LABELS = {
    "requested": N_("requested"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "ran": N_("ran"),
    "expired": N_("expired"),
    "interrupted": N_("interrupted"),
}
DEFAULT_COUNT = 20
MAX_COUNT = 1000


@dataclass(frozen=True)
class AuditRequest:
    count: int
    verify: bool


@dataclass
class AuditReport:
    records: list[AuditRecord]
    verified: int | None = None  # how many records the chain check covered
    exit_code: int = 0

    def headline(self) -> str:
        if self.verified is not None:
            return ngettext(
                "The audit chain of {verified} record is intact.",
                "The audit chain of {verified} records is intact.",
                self.verified,
            ).format(verified=self.verified)
        return ngettext("The last audit record.", "The last {count} audit records.", len(self.records)).format(
            count=len(self.records)
        )

    def sections(self) -> list[Section]:
        if not self.records:
            return []
        rows = [
            [
                str(r.seq),
                r.at[5:19].replace("T", " "),
                _(EVENT_LABELS[r.event]) if r.event in EVENT_LABELS else r.event,
                render.clip(r.user, 12),
                r.verb or "",
                r.request_id or "",
                "" if r.exit_status is None else str(r.exit_status),
                r.command or r.detail or "",
            ]
            for r in self.records
        ]
        return [
            Section(
                "",
                render.table(
                    ["#", _("When (UTC)"), _("Event"), _("Who"), _("Verb"), _("Request"), _("Exit"), _("Command")], rows
                ),
            )
        ]

    def to_json(self) -> dict[str, Any]:
        return {"records": [r.to_json() for r in self.records], "verified": self.verified}


def validate_audit(args: argparse.Namespace) -> AuditRequest:
    count = DEFAULT_COUNT if args.count is None else args.count
    if not 1 <= count <= MAX_COUNT:
        raise BadInput(_("Show between 1 and {MAX_COUNT} records.").format(MAX_COUNT=MAX_COUNT))
    return AuditRequest(count, bool(getattr(args, "verify", False)))


def run_audit(request: AuditRequest, context: Context) -> AuditReport:
    audit = context.state.audit
    if request.verify:
        broken = audit.verify()
        if broken is not None:
            raise MailbotError(
                _(
                    "The audit chain is broken at record {seq} ({at}, {event} by {user}): it was edited or "
                    "removed after it was written."
                ).format(seq=broken.seq, at=broken.at, event=broken.event, user=broken.user)
            )
        return AuditReport(records=[], verified=len(audit.records()))
    return AuditReport(records=audit.records(request.count))


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "count",
        nargs="?",
        type=int,
        metavar="N",
        help=_("how many records (default {DEFAULT_COUNT})").format(DEFAULT_COUNT=DEFAULT_COUNT),
    )
    parser.add_argument(
        "--verify", action="store_true", help=_("check the hash chain; exit 1 at the first broken record")
    )


AUDIT = Verb(
    name="audit",
    summary=N_("who asked what, who approved, what ran, what came back"),
    policy="read",
    configure=_configure,
    validate=validate_audit,
    run=run_audit,
)
