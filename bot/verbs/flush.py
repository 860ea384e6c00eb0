"""`flush [QUEUE_ID]`: ask Postfix to retry the queue now, or one message (a change: `confirm`).

The preview counts what the retry concerns; the report reads the queue again just after, so
the answer says what changed (a message delivered once its mailbox has room, or still waiting).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from bot import i18n
from bot.core import fanout, render
from bot.core.registry import ChangeVerb, Context, Plan, Section
from bot.errors import BadInput, MailbotError
from bot.i18n import N_, _, ngettext
from bot.mailhost.host import MailHost
from bot.mailhost.postfix_log import summarize_reply
from bot.mailhost.postqueue import QueueEntry
from bot.mailhost.ssh import CommandResult
from bot.mailhost.tools import postfix
from bot.mailhost.values import QueueId, parse_queue_id, quoted
from bot.state.requests import ChangeRequest

SETTLE_SECONDS = 1.0  # the queue manager needs a moment to try the retried messages


@dataclass(frozen=True)
class FlushRequest:
    queue_id: QueueId | None
    reason: str | None
    host: str | None = None  # which mta host's queue; None: the one holding QUEUE_ID, else the first
    about: str | None = None  # an alert's address (its *Flush once fixed*): the scope approvers are judged by


def validate_flush(args: argparse.Namespace) -> FlushRequest:
    return FlushRequest(parse_queue_id(args.queue_id) if args.queue_id else None, args.reason, args.host)


def _mta_hosts(request: FlushRequest, context: Context) -> list[MailHost]:
    """The mta hosts to look at: the one named with --host, else all of them (first = default)."""
    hosts = fanout.mta_hosts(context)
    if request.host is None:
        return hosts
    named = [host for host in hosts if host.name == request.host]
    if not named:
        names = ", ".join(host.name for host in hosts)
        raise BadInput(
            _("{host} is not one of the mail hosts with a queue ({names}).").format(
                host=quoted(request.host), names=names
            )
        )
    return named


def describe_queue(entries: list[QueueEntry]) -> str:
    if not entries:
        return _("The queue is empty.")
    by_queue: dict[str, int] = {}
    for entry in entries:
        by_queue[entry.queue_name] = by_queue.get(entry.queue_name, 0) + 1
    parts = ", ".join(f"{count} {name}" for name, count in sorted(by_queue.items()))
    total = sum(e.size for e in entries)
    return ngettext(
        "{count} message in the queue ({parts}), {size}.",
        "{count} messages in the queue ({parts}), {size}.",
        len(entries),
    ).format(count=len(entries), parts=parts, size=render.size(total))


def describe_entry(entry: QueueEntry) -> str:
    reasons = sorted({summarize_reply(r.delay_reason) for r in entry.recipients if r.delay_reason})
    recipients = ", ".join(r.address for r in entry.recipients)
    return _("{queue_id} ({queue_name}) from {value} to {recipients}, {size}, queued since {when}").format(
        queue_id=entry.queue_id,
        queue_name=entry.queue_name,
        value=entry.sender or "<>",
        recipients=recipients,
        size=render.size(entry.size),
        when=render.when(entry.arrival_time),
    ) + (f": {'; '.join(reasons)}" if reasons else "")


def plan_flush(request: FlushRequest, context: Context) -> Plan:
    hosts = _mta_hosts(request, context)
    if request.queue_id is not None:
        return _plan_message(request.queue_id, hosts, context)
    host = hosts[0]
    entries = host.postfix.queue()
    deferred = sum(1 for e in entries if e.queue_name == "deferred")
    return Plan(
        host=host.name,
        command=postfix.flush_queue(host.config.postfix_config),
        preview=describe_queue(entries),
        summary=ngettext(
            "flush the queue of {host} ({deferred} deferred message retried)",
            "flush the queue of {host} ({deferred} deferred messages retried)",
            deferred,
        ).format(host=host.name, deferred=deferred),
        arguments={"address": request.about} if request.about else {},
    )


def _plan_message(queue_id: QueueId, hosts: list[MailHost], context: Context) -> Plan:
    """A queue id belongs to one host's queue: the host that holds it is the one to ask. A scoped
    caller (bot.core.scopes) may flush only a message from or to their domains; its sender and
    recipients (`parties`) are stored, so the approver's scope is checked against them too."""
    answers, failures = fanout.ask_each_host(hosts, lambda host: host.postfix.queue())
    for host, entries in answers:
        entry = next((e for e in entries if e.queue_id == queue_id.value), None)
        if entry is not None:
            parties = [entry.sender, *(r.address for r in entry.recipients)]
            if context.scope is not None:
                shown = context.scope.shows(entry.sender, parties[1:])
                context.scope.check_queue_id(context, queue_id.value, 0 if shown else 1, 1 if shown else 0)
            return Plan(
                host=host.name,
                command=postfix.flush_message(queue_id, host.config.postfix_config),
                preview=describe_entry(entry),
                summary=_("retry message {queue_id} on {host}").format(queue_id=queue_id, host=host.name),
                arguments={"queue_id": queue_id.value, "parties": parties},
            )
    where = i18n.either([host.name for host in hosts])
    unread = f" ({'; '.join(f'{f.host}: {f.error}' for f in failures)})" if failures else ""
    raise MailbotError(
        _("There is no message {queue_id} in the queue of {where}{unread}; nothing to flush.").format(
            queue_id=queue_id, where=where, unread=unread
        )
    )


def report_flush(change: ChangeRequest, result: CommandResult, context: Context) -> list[Section]:
    if result.exit_status != 0:
        return []
    time.sleep(SETTLE_SECONDS)
    host = MailHost(context.config.host(change.host), context.pool.connection(context.config.host(change.host)))
    after = host.postfix.queue()
    lines = [
        _("Before: {preview}").format(preview=change.preview),
        _("After:  {describe_queue}").format(describe_queue=describe_queue(after)),
    ]
    queue_id = change.arguments.get("queue_id")
    if queue_id:
        still = next((e for e in after if e.queue_id == queue_id), None)
        lines.append(
            _("{queue_id} is still queued: {describe_entry}").format(
                queue_id=queue_id, describe_entry=describe_entry(still)
            )
            if still
            else _("{queue_id} has left the queue.").format(queue_id=queue_id)
        )
    return [Section(_("Queue"), "\n".join(lines), monospace=False)]


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queue_id", nargs="?", metavar="QUEUE_ID", help=_("one message to retry (default: all)"))


FLUSH = ChangeVerb(
    name="flush",
    summary=N_("ask Postfix to retry the whole queue now, or one message"),
    policy="confirm",
    host_help=N_("the mail host whose queue (default: the one holding QUEUE_ID, else the first)"),
    configure=_configure,
    validate=validate_flush,
    plan=plan_flush,
    report=report_flush,
)
