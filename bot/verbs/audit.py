"""`audit [N] [--verify] [--since D] [--csv] [--prune]`: who asked what, who decided, what ran, what came back.

`--since 90d --csv` (or `--json`) is the export handed to auditors: every field of every record
since then, each record checked against the chain as it is written out (a `verified` column), and
the export says whether the whole chain verified (exit 1 when it did not, the rows still written).
`--prune` applies the retention (`audit.retention`) from a terminal; the bot applies it itself.
"""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core import render
from bot.core.registry import Context, ReadVerb, Section
from bot.errors import BadInput, ConfigError, ExitStatus, MailbotError
from bot.i18n import N_, _, ngettext
from bot.mailhost.values import parse_duration
from bot.state.audit import FIELDS, AuditLog, AuditRecord, ChainCheck, ChainWalk, Pruning, audit_key

# The events as the table shows them (the audit stores, and --json prints, the English words).
EVENT_LABELS = {
    "requested": N_("requested"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "ran": N_("ran"),
    "expired": N_("expired"),
    "interrupted": N_("interrupted"),
    "pruned": N_("pruned"),
    "refused": N_("refused: out of scope"),
}
CSV_COLUMNS = (*FIELDS, "prev_hash", "hash", "verified")
# A text cell a spreadsheet would run as a formula (CSV injection) starts with one of these; the CSV
# writes such a cell, and one starting with the quote itself, after a `'` (README: "The audit export").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
# Why a chain did not verify, as the export says it.
CHAIN_PROBLEMS = {
    "edited": N_("record {seq} was edited or removed after it was written"),
    "no_key": N_("its checkpoint cannot be checked without MAILBOT_AUDIT_KEY"),
    "checkpoint": N_("its checkpoint's signature does not hold"),
}
DEFAULT_COUNT = 20
MAX_COUNT = 1000


@dataclass(frozen=True)
class AuditRequest:
    count: int | None  # None: every record (of the export)
    verify: bool
    since: timedelta | None = None
    csv: bool = False
    prune: bool = False

    @property
    def export(self) -> bool:
        """Every record in a window, each checked against the chain as it is written out."""
        return self.since is not None or self.csv


@dataclass
class AuditReport:
    records: list[AuditRecord]
    verified: int | None = None  # how many records the chain check covered
    exit_code: int = ExitStatus.OK
    chain: ChainCheck | None = None  # the export's chain check
    flags: list[bool] = field(default_factory=list)  # the export: whether each record verified
    since: datetime | None = None
    csv: bool = False
    pruning: Pruning | None = None

    def headline(self) -> str:
        if self.pruning is not None:
            return _pruning_sentence(self.pruning)
        if self.chain is not None:
            since = render.when(self.since) if self.since else None
            count = len(self.records)
            listed = (
                ngettext("{count} audit record since {since}", "{count} audit records since {since}", count)
                if since
                else ngettext("{count} audit record", "{count} audit records", count)
            ).format(count=count, since=since)
            if self.chain.intact:
                return _("{listed}; the chain verified ({checked} records checked).").format(
                    listed=listed, checked=self.chain.checked
                )
            return _("{listed}; the chain did NOT verify: {why}.").format(listed=listed, why=_chain_problem(self.chain))
        if self.verified is not None:
            return ngettext(
                "The audit chain of {verified} record is intact.",
                "The audit chain of {verified} records is intact.",
                self.verified,
            ).format(verified=self.verified)
        return ngettext("The last audit record.", "The last {count} audit records.", len(self.records)).format(
            count=len(self.records)
        )

    def to_csv(self) -> str:
        """Every field of every record, and whether it verified, as RFC 4180 CSV with a header row;
        a text cell a spreadsheet would run as a formula is written after a `'` (`csv_cell`)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        flags = self.flags or [False] * len(self.records)
        for record, verified in zip(self.records, flags, strict=True):
            row = record.to_json()
            writer.writerow([*(csv_cell(row[k]) for k in CSV_COLUMNS[:-1]), str(verified).lower()])
        return out.getvalue()

    def sections(self) -> list[Section]:
        if self.csv:
            return [Section("", self.to_csv().rstrip("\n"))]
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
        if self.pruning is not None:
            return {
                "pruned": self.pruning.pruned,
                "checkpoint": self.pruning.checkpoint.to_json() if self.pruning.checkpoint else None,
                "stopped_at": self.pruning.stopped_at.seq if self.pruning.stopped_at else None,
                "problem": self.pruning.problem,
            }
        if self.chain is not None:
            return {
                "records": [{**r.to_json(), "verified": ok} for r, ok in zip(self.records, self.flags, strict=True)],
                "since": render.iso(self.since),
                "verified": self.chain.intact,
                "chain": self.chain.to_json(),
            }
        return {"records": [r.to_json() for r in self.records], "verified": self.verified}


def validate_audit(args: argparse.Namespace) -> AuditRequest:
    since = parse_duration(args.since) if getattr(args, "since", None) else None
    as_csv = bool(getattr(args, "csv", False))
    if args.count is None:
        count = None if since is not None or as_csv else DEFAULT_COUNT
    else:
        count = args.count
        if not 1 <= count <= MAX_COUNT:
            raise BadInput(_("Show between 1 and {MAX_COUNT} records.").format(MAX_COUNT=MAX_COUNT))
    return AuditRequest(count, bool(getattr(args, "verify", False)), since, as_csv, bool(getattr(args, "prune", False)))


def run_audit(request: AuditRequest, context: Context) -> AuditReport:
    audit = context.state.audit
    if request.prune:
        return AuditReport(records=[], pruning=prune(audit, context), exit_code=ExitStatus.OK)
    if request.export:
        return export(audit, request)
    if request.verify:
        chain = audit.check()
        broken = chain.broken
        if broken is not None:
            raise MailbotError(
                _(
                    "The audit chain is broken at record {seq} ({at}, {event} by {user}): it was edited or "
                    "removed after it was written."
                ).format(seq=broken.seq, at=broken.at, event=broken.event, user=broken.user)
            )
        if not chain.intact:
            raise MailbotError(_("The audit chain cannot be verified: {why}.").format(why=_chain_problem(chain)))
        return AuditReport(records=[], verified=chain.checked)
    return AuditReport(records=audit.records(request.count))


def export(audit: AuditLog, request: AuditRequest) -> AuditReport:
    """The records since `request.since` (the newest `count` of them, if given), checked as they are read."""
    since = datetime.now(UTC) - request.since if request.since is not None else None
    walk = ChainWalk(audit, since.isoformat(timespec="microseconds") if since else None)
    pairs = list(walk)
    if request.count is not None:
        pairs = pairs[-request.count :]
    chain = walk.result()
    return AuditReport(
        records=[record for record, _ok in pairs],
        flags=[ok for _record, ok in pairs],
        chain=chain,
        since=since,
        csv=request.csv,
        exit_code=ExitStatus.OK if chain.intact else ExitStatus.FAILED,
    )


def prune(audit: AuditLog, context: Context) -> Pruning:
    """Apply `audit.retention`: the records older than it that verify go, behind a signed checkpoint."""
    retention = context.config.audit.retention
    if retention is None:
        raise ConfigError(
            _("{file}: `audit.retention` is not set, so every audit record is kept; nothing to prune.").format(
                file=context.config.path
            )
        )
    key = audit_key()
    if key is None:
        raise ConfigError(_("MAILBOT_AUDIT_KEY is not set; pruning needs it to sign the checkpoint of what it drops."))
    before = datetime.now(UTC) - timedelta(seconds=retention)
    return audit.prune(before.isoformat(timespec="microseconds"), key, context.requester)


def csv_cell(value: Any) -> Any:
    """A field as the CSV writes it: text starting with =, +, -, @, a tab, a carriage return or `'`
    gets one `'` in front (a spreadsheet shows it as text; dropping one leading `'` from a text cell
    gives the stored value back, which the chain's hashes cover); numbers as they are, None empty."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _chain_problem(chain: ChainCheck) -> str:
    problem = chain.problem or "edited"
    return _(CHAIN_PROBLEMS[problem]).format(seq=chain.broken.seq if chain.broken else "?")


def _pruning_sentence(pruning: Pruning) -> str:
    if pruning.problem is not None:
        return _("Nothing was pruned: the audit's checkpoint does not verify (set the right MAILBOT_AUDIT_KEY).")
    sentence = ngettext(
        "Pruned {count} audit record; the chain goes on from its signed checkpoint.",
        "Pruned {count} audit records; the chain goes on from their signed checkpoint.",
        pruning.pruned,
    ).format(count=pruning.pruned)
    if pruning.pruned == 0:
        sentence = _("No audit record is older than the retention; nothing was pruned.")
    if pruning.stopped_at is not None:
        sentence += " " + _(
            "Record {seq} and the ones after it were kept: it does not verify (run `mailbot audit --verify`)."
        ).format(seq=pruning.stopped_at.seq)
    return sentence


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
    parser.add_argument(
        "--since",
        metavar="DURATION",
        help=_("every record of the last 30m, 12h, 90d..., each checked against the chain"),
    )
    parser.add_argument(
        "--csv", action="store_true", help=_("print CSV: every field, and whether each record verified")
    )
    parser.add_argument(
        "--prune", action="store_true", help=_("drop the records older than audit.retention that verify")
    )


AUDIT = ReadVerb(
    name="audit",
    summary=N_("who asked what, who approved, what ran, what came back"),
    configure=_configure,
    validate=validate_audit,
    run=run_audit,
)
