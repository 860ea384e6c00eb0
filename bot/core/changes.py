"""The one way a change reaches a mail host: proposed, decided by the right person, run once.

A change verb only says what it would run (`Verb.plan`) and how to read the host afterwards
(`Verb.report`). This module stores the plan, lets the Slack adapter or the CLI decide it,
and runs exactly the stored command, auditing each step. Policies (config `policies`, else
the verb's own): `confirm`, the requester confirms; `approve`, an approver who is not the
requester approves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bot.core.registry import Context, Section, Verb
from bot.errors import BadInput, ExitStatus, MailbotError
from bot.i18n import _
from bot.mailhost.commands import RemoteCommand
from bot.state.audit import digest
from bot.state.requests import APPROVED, ChangeRequest, NewRequest

HOST_OUTPUT_SHOWN = 3000  # characters of what a change printed; the rest is cut, marked …

MAX_REASON = 300
INTERRUPTED_AFTER_SECONDS = 3600
RUN_GRACE_SECONDS = 5.0  # beyond a host's connect + command timeouts, before a dead replica's run is failed


def policy_of(verb: Verb, context: Context) -> str:
    return context.config.policies.get(verb.name, verb.policy)


def check_reason(verb: Verb, reason: str | None, context: Context) -> str | None:
    """The reason or ticket a change carries; required for the verbs the config names."""
    text = " ".join((reason or "").split())
    if len(text) > MAX_REASON:
        raise BadInput(
            _("The reason is {count} characters long; keep it under {MAX_REASON}.").format(
                count=len(text), MAX_REASON=MAX_REASON
            )
        )
    if not text.isprintable():
        raise BadInput(_("The reason holds characters that cannot be shown; type plain text."))
    if not text and verb.name in context.config.approvals.require_reason:
        raise BadInput(_('`{name}` needs a reason or ticket number: add --reason "...".').format(name=verb.name))
    return text or None


def propose(verb: Verb, request: Any, reason: str | None, channel: str, context: Context) -> ChangeRequest:
    """Work out the plan on the host now (the preview is fresh) and store it as a pending request."""
    assert verb.plan is not None
    policy = policy_of(verb, context)
    plan = verb.plan(request, context)
    return context.state.requests.create(
        NewRequest(
            verb=verb.name,
            arguments=plan.arguments,
            host=plan.host,
            template=plan.command.template,
            argv=plan.command.argv,
            display=plan.command.shell_line(),
            preview=plan.preview,
            summary=plan.summary,
            policy=policy if policy != "read" else "confirm",
            requester=context.requester,
            channel=channel,
            reason=reason,
            lifetime_seconds=context.config.approvals.expiry_minutes * 60,
        )
    )


def missing_approvers(verb: Verb, context: Context) -> str | None:
    """In Slack, an `approve` verb with nobody to approve it is refused before anything is asked."""
    approvals = context.config.approvals
    if policy_of(verb, context) == "approve" and not (approvals.approvers or approvals.approver_group):
        return _("`{name}` needs an approver, and none is configured (approvals.approvers); ask a mail admin.").format(
            name=verb.name
        )
    return None


def refusal_to_decide(change: ChangeRequest, user: str, approve: bool, is_approver: bool) -> str | None:
    """Why `user` may not take this decision, or None. The state itself is checked by the store."""
    if change.policy == "confirm":
        if user != change.requester:
            return _("Only the person who asked can confirm or cancel this request.")
        return None
    if approve and user == change.requester:
        return _("You cannot approve your own request: another approver must.")
    if not is_approver and not (not approve and user == change.requester):
        return _("Only the configured approvers can decide this request.")
    return None


def why_undecided(change: ChangeRequest) -> str:
    """What a click on a request that is no longer pending learns."""
    if change.state == "expired" or (change.state == "pending" and change.expires_at <= time.time()):
        return _("This request has expired; ask again if it is still needed.")
    who = f"<@{change.decided_by}>" if change.decided_by else None
    if change.state == "approved":
        return (
            _("This request was already approved by {who}.") if who else _("This request was already approved.")
        ).format(who=who)
    if change.state in ("ran", "failed"):
        return (
            _("This request was already approved by {who} and run.")
            if who
            else _("This request was already approved and run.")
        ).format(who=who)
    if change.state == "rejected":
        return (
            _("This request was already rejected by {who}.") if who else _("This request was already rejected.")
        ).format(who=who)
    return _("This request was already {state}.").format(state=change.state)


@dataclass
class ChangeOutcome:
    change: ChangeRequest
    exit_status: int
    stdout: str
    stderr: str
    seconds: float
    report: list[Section]

    @property
    def exit_code(self) -> int:
        return ExitStatus.OK if self.exit_status == 0 else ExitStatus.FAILED

    def headline(self) -> str:
        result = (
            _("done")
            if self.exit_status == 0
            else _("failed (exit {exit_status})").format(exit_status=self.exit_status)
        )
        return _("{summary}: {result} in {seconds:.1f} s.").format(
            summary=self.change.summary, result=result, seconds=self.seconds
        )

    def sections(self) -> list[Section]:
        parts = list(self.report)
        output = "\n".join(part for part in (self.stdout.strip(), self.stderr.strip()) if part)
        if output:
            shown = output if len(output) <= HOST_OUTPUT_SHOWN else output[: HOST_OUTPUT_SHOWN - 1] + "…"
            parts.append(Section(_("What the host printed"), shown))
        return parts

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for section in self.report:
            data.update(section.data)
        return data | {
            "request_id": self.change.id,
            "verb": self.change.verb,
            "host": self.change.host,
            "command": self.change.display,
            "exit_status": self.exit_status,
            "seconds": round(self.seconds, 3),
            "stdout": self.stdout,
            "stderr": self.stderr,
            "report": [{"title": s.title, "body": s.body} for s in self.report],
        }


def carry_out(verb: Verb, change_id: str, user: str, context: Context) -> ChangeOutcome:
    """Run the stored command of an approved request, once, and audit what came back."""
    change = context.state.requests.get(change_id)
    if change is None or change.state != APPROVED:
        raise MailbotError(_("Request {change_id} is not approved; nothing was run.").format(change_id=change_id))
    if context.scope is not None:  # the approver's `scopes:`, again just before the command runs
        try:
            context.scope.check_change(context, change.arguments)
        except BadInput:
            context.state.requests.finish(change.id, user, -1, digest(b""), 0.0, "outside the approver's scope")
            raise
    host = context.config.host(change.host)
    command = RemoteCommand(change.template, change.argv)
    context.state.requests.start(change.id)  # from now on its host's timeout counts
    started = time.monotonic()
    try:
        result = context.pool.connection(host, for_change=True).run(command)
    except MailbotError as failure:
        context.state.requests.finish(change.id, user, -1, digest(b""), time.monotonic() - started, failure.message)
        raise
    seconds = time.monotonic() - started
    context.state.requests.finish(
        change.id, user, result.exit_status, digest(result.stdout + result.stderr), seconds, result.stderr_text or None
    )
    report = verb.report(change, result, context) if verb.report else []
    return ChangeOutcome(
        change=change,
        exit_status=result.exit_status,
        stdout=result.stdout.decode("utf-8", "replace"),
        stderr=result.stderr_text,
        seconds=seconds,
        report=report,
    )


def sweep(
    context: Context, live_runners: frozenset[str] | None = None
) -> tuple[list[ChangeRequest], list[ChangeRequest]]:
    """Expire pending requests past their time, and fail the runs a stopped bot left behind: a run
    whose replica is not in `live_runners` once its host's timeouts have passed, any after an hour."""
    requests = context.state.requests
    timeouts = {h.name: h.connect_timeout + h.command_timeout + RUN_GRACE_SECONDS for h in context.config.hosts}
    return requests.expire_due(), requests.interrupted(INTERRUPTED_AFTER_SECONDS, timeouts, live_runners)
