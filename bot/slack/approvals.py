"""Changes in Slack: the approval card, the decision, the run, the expiry.

`bot.core.changes` holds the rules (who may decide, what is stored, what runs once);
this module shows them in Slack: it posts the card (in the channel for `approve`, privately
for `confirm`), takes the Approve/Reject clicks, runs the stored command in the bot's pool,
edits the card with the outcome, and sweeps expired requests, also right after a restart.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from slack_bolt import Ack
from slack_sdk.errors import SlackApiError

from bot import i18n
from bot.core import changes, scopes
from bot.core.registry import Verb
from bot.errors import MailbotError
from bot.i18n import N_, _
from bot.slack import blocks, views
from bot.slack.jobs import JobRunner
from bot.slack.outbox import Outbox, SlashCommand
from bot.slack.services import BotServices
from bot.state.audit import digest
from bot.state.replicas import ALIVE_SECONDS, BEAT_SECONDS
from bot.state.requests import ChangeRequest
from bot.verbs import VERBS

log = logging.getLogger("mailbot.slack")

SWEEP_SECONDS = BEAT_SECONDS
COUNTED = N_("Your approval is counted ({count} of {required}); another approver must approve too.")
SWEEPER_LEASE = "sweeper"
SWEEPER_LEASE_SECONDS = 2 * SWEEP_SECONDS  # a replica that stops renewing hands over within this


class ApprovalDesk:
    def __init__(self, bot: BotServices, outbox: Outbox, jobs: JobRunner) -> None:
        self.bot = bot
        self.outbox = outbox
        self.jobs = jobs
        self._stopping = threading.Event()
        self._sweeper: threading.Thread | None = None

    def stop_sweeper(self) -> None:
        """Stop beating and sweeping; hand the sweeper's lease over at once rather than at its expiry."""
        self._stopping.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=15)
        with contextlib.suppress(MailbotError):
            self.bot.state.leases.release(SWEEPER_LEASE, self.bot.replica)
            self.bot.state.replicas.leave(self.bot.replica)

    def start_sweeper(self, every_seconds: float = SWEEP_SECONDS) -> None:
        """Beat, and expire requests past their time, now (after a restart) and then regularly.
        With several replicas, the one holding the sweeper's lease sweeps, so each card is edited once."""
        started = time.time()

        def loop() -> None:
            while not self._stopping.is_set():
                try:
                    self.bot.state.replicas.beat(self.bot.replica, started)
                    if self.bot.state.leases.hold(SWEEPER_LEASE, self.bot.replica, SWEEPER_LEASE_SECONDS):
                        self.sweep()
                except MailbotError as failure:
                    log.warning("the sweeper waits for the state: %s", failure.message)
                except Exception:
                    log.exception("sweeping expired requests failed")
                self._stopping.wait(every_seconds)

        self._sweeper = threading.Thread(target=loop, name="mail-sweeper", daemon=True)
        self._sweeper.start()

    def sweep(self) -> None:
        live = frozenset(r.replica for r in self.bot.state.replicas.seen(ALIVE_SECONDS))
        expired, interrupted = changes.sweep(self.bot.context("mailbot"), live | {self.bot.replica})
        for change in expired:
            with i18n.use_language(self.card_language(change)):
                when = blocks.slack_time(change.decided_at or time.time())
                self._update_card(change, _(":hourglass: Expired at {when}.").format(when=when))
        for change in interrupted:
            with i18n.use_language(self.card_language(change)):
                line = _(":warning: The bot stopped while this ran; check the host before asking again.")
                self._update_card(change, line)

    def card_language(self, change: ChangeRequest) -> str:
        """A card in the channel is read by several people: the channel's language; a private
        confirmation card is the requester's alone: theirs."""
        return self.bot.channel_language if change.policy == "approve" else self.bot.language_of(change.requester)

    def propose(
        self, verb: Verb, request: Any, reason: str | None, command: SlashCommand, scope: scopes.Scope | None = None
    ) -> None:
        started = time.monotonic()
        context = self.bot.context(command.user)
        context.scope = scope  # the requester's: an alias the host resolves outside it is refused
        in_channel = changes.policy_of(verb, context) == "approve"
        # the summary and preview are stored with the request and shown on its card: the card's language
        with i18n.use_language(self.bot.channel_language if in_channel else i18n.current_language()):
            try:
                change = changes.propose(verb, request, reason, command.channel, context)
            except MailbotError as failure:
                self.outbox.deliver(command, started, blocks.notice(f":warning: {failure.message}"))
                return
            card = self.card(change)
        self.bot.refresh_homes()
        if change.policy == "confirm":
            # Only the requester decides: the card is theirs alone, updated through the command's response_url.
            self.bot.state.requests.attach_card(change.id, command.channel, None, command.response_url)
            self.outbox.deliver(command, started, card)
            return
        try:
            card_channel, card_ts = self.outbox.post(command.channel, card)
        except SlackApiError as exc:
            error = exc.response.get("error")
            self.outbox.deliver(
                command,
                started,
                blocks.notice(_(":warning: The approval card could not be posted ({error}).").format(error=error)),
            )
            return
        self.bot.state.requests.attach_card(change.id, card_channel, card_ts)
        until = blocks.slack_time(change.expires_at)
        note = _("Your request `{id}` is waiting for an approver in this channel (until {until}).").format(
            id=change.id, until=until
        )
        self.outbox.deliver(command, started, blocks.notice(note, markup=True))

    def on_approve(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()
        self._decide(body, approve=True)

    def on_reject(self, ack: Ack, body: dict[str, Any]) -> None:
        """*Cancel* on a confirmation card decides at once; *Reject…* on an approval card opens a
        modal for the reason (shown on the card and kept in the audit)."""
        ack()
        user = str(body.get("user", {}).get("id", ""))
        change_id = str(body.get("actions", [{}])[0].get("value", ""))
        response_url = str(body.get("response_url", ""))
        with i18n.use_language(self.bot.language_of(user)):
            try:
                change = self.bot.state.requests.get(change_id)
            except MailbotError as failure:
                self.outbox.reply(response_url, failure.message)
                return
            if change is None or change.policy == "confirm":
                self._decide(body, approve=False)
                return
            refusal = changes.refusal_to_decide(change, user, False, self.is_approver(user))
            if refusal or change.state != "pending":
                self.outbox.reply(response_url, refusal or changes.why_undecided(change), markup=True)
                return
            container = body.get("container") or {}
            metadata = {"u": response_url, "c": str(container.get("channel_id") or "")}
            metadata["t"] = str(container.get("message_ts") or "")
            try:
                self.outbox.open_view(str(body.get("trigger_id", "")), views.reject_modal(change, metadata))
            except SlackApiError as exc:
                log.warning("views.open failed: %s", exc.response.get("error"))
                self.outbox.reply(
                    response_url,
                    _("Slack did not open the form ({error}); click again.").format(error=exc.response.get("error")),
                )

    def on_reject_submit(self, ack: Ack, body: dict[str, Any]) -> None:
        """The reject modal, submitted: the reason is checked, then the rejection is the same decision."""
        view = body.get("view") or {}
        user = str(body.get("user", {}).get("id", ""))
        metadata = views.metadata_of(view)
        with i18n.use_language(self.bot.language_of(user)):
            reason = " ".join((views.reason_of(view) or "").split())
            if not reason or len(reason) > changes.MAX_REASON or not reason.isprintable():
                why = _("Say why in plain text, under {count} characters.").format(count=changes.MAX_REASON)
                ack(response_action="errors", errors={views.REASON_BLOCK: why})
                return
            ack()
            container = {"channel_id": metadata.get("c", ""), "message_ts": metadata.get("t", "")}
            self._decide(
                {
                    "user": {"id": user},
                    "actions": [{"value": metadata.get("r", "")}],
                    "response_url": metadata.get("u", ""),
                    "container": container if container["message_ts"] else {},
                },
                approve=False,
                reason=reason,
            )

    def _decide(self, body: dict[str, Any], approve: bool, reason: str | None = None) -> None:
        with i18n.use_language(self.bot.language_of(str(body.get("user", {}).get("id", "")))):
            try:
                self._decide_as_clicker(body, approve, reason)
            except MailbotError as failure:  # the state is down: nothing was decided, nothing ran
                log.warning("a decision could not be taken: %s", failure.message)
                self.outbox.reply(str(body.get("response_url", "")), failure.message)

    def _decide_as_clicker(self, body: dict[str, Any], approve: bool, reason: str | None = None) -> None:
        """Who may not decide, and a decision too late, are told in the clicker's own language."""
        change_id = str(body.get("actions", [{}])[0].get("value", ""))
        user = str(body.get("user", {}).get("id", ""))
        response_url = str(body.get("response_url", ""))
        change = self.bot.state.requests.get(change_id)
        verb = VERBS.get(change.verb) if change else None
        if change is None or verb is None:
            self.outbox.reply(response_url, _("This request is unknown to the bot."))
            return
        refusal = changes.refusal_to_decide(change, user, approve, self.is_approver(user))
        if not refusal and approve:
            refusal = self._out_of_scope(change, user)
        if refusal:
            log.info("%s refused to decide %s: %s", user, change.id, refusal)
            self.outbox.reply(response_url, refusal)
            return
        with i18n.use_language(self.card_language(change)):
            self._record_decision(change, verb, user, approve, body, response_url, reason)

    def _record_decision(
        self,
        change: ChangeRequest,
        verb: Verb,
        user: str,
        approve: bool,
        body: dict[str, Any],
        response_url: str,
        reason: str | None = None,
    ) -> None:
        """The decision, the card's new line and the run, in the card's language."""
        required = self.bot.config.approvals.required if change.policy == "approve" else 1
        if approve and required > 1:
            moved, approved_by = self.bot.state.requests.endorse(change.id, user, required, runner=self.bot.replica)
            if not moved and user in approved_by:
                self._attach_clicked_card(change, body)
                change = self.bot.state.requests.get(change.id) or change
                if len(approved_by) < required:
                    self._update_card(change, None, response_url)  # "1 of 2 (<@U…>)", the buttons stay
                    self.bot.refresh_homes()
                    self.outbox.reply(
                        response_url,
                        _(
                            "Your approval is counted ({count} of {required}); another approver must approve too."
                        ).format(count=len(approved_by), required=required),
                    )
                return
        else:
            moved = self.bot.state.requests.decide(change.id, user, approve, runner=self.bot.replica, detail=reason)
        if not moved:
            current = self.bot.state.requests.get(change.id) or change
            self.outbox.reply(response_url, changes.why_undecided(current), markup=True)
            if current.state == "pending":  # expired but not swept yet
                self.sweep()
            return
        self._attach_clicked_card(change, body)
        change = self.bot.state.requests.get(change.id) or change
        when = blocks.slack_time(time.time())
        if not approve:
            word = _("Cancelled") if change.policy == "confirm" else _("Rejected")
            line = _(":no_entry_sign: {word} by <@{user}> at {when}.").format(word=word, user=user, when=when)
            if reason:
                line += "\n" + _("Why: {reason}").format(reason=blocks.escape(reason))
            self._update_card(change, line, response_url)
            self.bot.refresh_homes()
            return
        word = _("Confirmed") if change.policy == "confirm" else _("Approved")
        self._update_card(
            change,
            _(":white_check_mark: {word} by <@{user}> at {when}; running…").format(word=word, user=user, when=when),
            response_url,
        )
        busy = self.jobs.submit(lambda: self._carry_out(verb, change, user, word, response_url))
        if busy:  # approved but not run: say so on the card; the request stays approved, never re-run
            self._update_card(
                change,
                _(":warning: {word} by <@{user}>, but the bot could not run it: {busy}").format(
                    word=word, user=user, busy=busy
                ),
            )

    def _attach_clicked_card(self, change: ChangeRequest, body: dict[str, Any]) -> None:
        """A click can arrive before the card's own post returned: the click says where the card is."""
        container = body.get("container") or {}
        if change.policy == "approve" and not change.card_ts and container.get("message_ts"):
            channel = str(container.get("channel_id") or change.channel)
            self.bot.state.requests.attach_card(change.id, channel, str(container["message_ts"]))

    def _out_of_scope(self, change: ChangeRequest, user: str) -> str | None:
        """An approver's `scopes:` must cover the request's address and domain; a refusal is audited."""
        scope = self._scope(change, user)
        if scope is None or (refusal := scope.change_refusal(change.arguments)) is None:
            return None
        with i18n.use_language(i18n.ENGLISH):
            english = scope.change_refusal(change.arguments)
        scope.refuse(self.bot.context(user), refusal, english or refusal)
        return refusal

    def _scope(self, change: ChangeRequest, user: str) -> scopes.Scope | None:
        return scopes.of(self.bot.config, user, "slack", self.bot.access.is_member, change.verb)

    def _carry_out(self, verb: Verb, change: ChangeRequest, user: str, word: str, response_url: str) -> None:
        context = self.bot.context(user)
        context.scope = self._scope(change, user)  # checked again just before the command runs
        try:
            self._still_allowed(change, user)  # the policy too: an approver removed meanwhile cannot run it
            outcome = changes.carry_out(verb, change.id, user, context)
        except MailbotError as failure:
            self._update_card(
                change,
                _(":x: {word} by <@{user}>; the run failed: {message}").format(
                    word=word, user=user, message=blocks.escape(failure.message)
                ),
                response_url,
            )
            return
        finally:
            self.bot.refresh_homes()
        mark = ":white_check_mark:" if outcome.exit_status == 0 else ":x:"
        line = _("{mark} {word} by <@{user}>. Ran in {seconds:.1f} s, exit {exit_status}.").format(
            mark=mark, word=word, user=user, seconds=outcome.seconds, exit_status=outcome.exit_status
        )
        restored = outcome.to_json().get("restored") or []
        if restored:  # a restore: each mail's new UID, on the card as in the thread
            pairs = ", ".join(f"{r.get('old_uid')} → {r.get('new_uid')}" for r in restored[:20])
            line += "\n" + _("New UIDs: {pairs}").format(pairs=pairs) + (" …" if len(restored) > 20 else "")
        self._update_card(change, line, response_url)
        answer = blocks.answer(outcome, f"/mail {change.verb}", outcome.seconds, None, ephemeral=False)
        try:
            if change.card_ts and change.card_channel:
                self.outbox.post(change.card_channel, answer.payload(), thread_ts=change.card_ts)
            elif response_url:  # a private confirmation: the result stays private too
                self.outbox.respond(response_url, answer.payload(), replace=False)
        except (SlackApiError, OSError) as exc:
            log.warning("could not post the result of %s: %s", change.id, exc)

    def _still_allowed(self, change: ChangeRequest, user: str) -> None:
        """Just before the command runs: every approver is still one (the config may have changed on
        this replica since the click); else the request ends failed, and nothing runs."""
        if change.policy != "approve":
            return
        approvers = (*self.bot.state.requests.endorsers(change.id), user)
        gone = [a for a in approvers if not self.is_approver(a) or a == change.requester]
        if gone:
            detail = "no longer an approver: " + ", ".join(gone)
            self.bot.state.requests.finish(change.id, user, -1, digest(b""), 0.0, detail)
            raise MailbotError(
                _("{who} is no longer an approver; nothing was run.").format(who=", ".join(f"<@{a}>" for a in gone))
            )

    def card(self, change: ChangeRequest, outcome_line: str | None = None) -> dict[str, Any]:
        """The card as it stands: who may decide, and with several approvers, who approved."""
        approvals = self.bot.config.approvals
        deciders = [f"<@{user}>" for user in approvals.approvers]
        if approvals.approver_group:
            deciders.append(f"<!subteam^{approvals.approver_group}>")
        required = approvals.required if change.policy == "approve" else 1
        approved_by = self.bot.state.requests.endorsers(change.id) if required > 1 else ()
        if required > 1 and change.state in ("approved", "ran", "failed") and change.decided_by:
            approved_by = (*approved_by, change.decided_by)
        return blocks.change_card(change, outcome_line, ", ".join(deciders) or None, approved_by, required)

    def _update_card(self, change: ChangeRequest, outcome_line: str | None, response_url: str | None = None) -> None:
        try:
            card = self.card(change, outcome_line)
        except MailbotError as failure:
            log.warning("the card of %s cannot be drawn: %s", change.id, failure.message)
            return
        try:
            if change.card_ts and change.card_channel:
                self.outbox.edit(change.card_channel, change.card_ts, card)
                return
            url = response_url or change.response_url
            if url:
                self.outbox.respond(url, card, replace=True)
        except (SlackApiError, OSError) as exc:
            log.warning("could not update the card of %s: %s", change.id, exc)

    def is_approver(self, user: str) -> bool:
        approvals = self.bot.config.approvals
        if user in approvals.approvers:
            return True
        return bool(approvals.approver_group) and self.bot.access.is_member(str(approvals.approver_group), user)
