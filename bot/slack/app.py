"""`/mail` in Slack: every verb of the registry behind one slash command.

Slack gives a command 3 seconds. The handler only validates (so a typo is answered at
once), acknowledges with a "working on it" line, and hands the work to the bot's own
bounded pool: bolt's listener pool has 5 threads, and a sixth slow command would miss its
ack if the SSH work ran there. The answer then replaces the placeholder through the
command's `response_url` (valid 30 minutes; after that, a fresh ephemeral message).
"""

from __future__ import annotations

import logging
import secrets
import shlex
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import i18n, observe
from bot.config import Config
from bot.core import changes, scopes
from bot.core.large_answers import AnswerSize, LargeAnswers
from bot.core.registry import Context, Outcome, Verb, verb_parser
from bot.core.render import clip
from bot.errors import BadInput, MailbotError
from bot.i18n import N_, _
from bot.mailhost.ssh import HostPool
from bot.slack import blocks, views
from bot.slack.access import AccessPolicy
from bot.slack.alerts import FLUSH_ACTION, TRACE_ACTION, AlertDesk
from bot.slack.approvals import ApprovalDesk
from bot.slack.jobs import BoundedJobs
from bot.slack.limits import Limit, SharedRateLimiter
from bot.slack.outbox import SlackOutbox, SlashCommand
from bot.slack.text import command_words
from bot.state import open_state
from bot.state.replicas import new_replica_id
from bot.state.shares import SharedAnswer
from bot.verbs import VERBS
from bot.verbs.deleted import DeletedReport
from bot.verbs.trace import TraceReport

log = logging.getLogger("mailbot.slack")

PROGRESS_AFTER = (5.0, 30.0)  # seconds after which a long job shows it is still working
SHARE_KEEP_SECONDS = 30 * 60
LISTING_PREFIX = "deleted:"  # a `deleted` answer's mails, kept (in `shares`) for its rows and its modal
LOCALE_KEEP_SECONDS = 3600  # a user's Slack locale (users.info), kept this long
LOCALE_RETRY_SECONDS = 300  # after a failed look-up, the channel's language for this long
LOCALE_KEEP_COUNT = 10_000
LISTING_GONE = N_("This list is no longer kept; run /mail deleted again.")
INTERNAL_ERROR = N_(
    ":warning: Something went wrong on the bot's side; it has been logged. Try again or ask a mail admin."
)


def usage() -> str:
    verbs = [v for v in VERBS.values() if not v.cli_only]
    lines = [_("Usage: /mail VERB ARGUMENTS. Verbs:")]
    lines += [f"{v.name}: {_(v.summary)}" for v in verbs]
    lines.append(_("Add --help after a verb for its arguments, e.g. /mail trace --help."))
    return "\n".join(lines)


@dataclass(frozen=True)
class Admission:
    """What the one way in decided. `payload`: what to show at once; `outcome`: the metrics' word when
    that was the whole answer (refused, bad_input, help, busy), "proposed" or None when the work was
    handed over; `message`: the refusal alone; `about_reason`: the refusal is about the reason."""

    payload: dict[str, Any]
    outcome: str | None
    message: str = ""
    about_reason: bool = False

    @property
    def handed_over(self) -> bool:
        return self.outcome in (None, "proposed")


class MailBot:
    """The Slack side of mailbot. Thread-safe; one instance serves every user."""

    def __init__(self, config: Config, client: WebClient, pool: HostPool | None = None) -> None:
        self.config = config
        self.client = client
        self.pool = pool or HostPool()
        # what it says goes through the outbox; its work through the bounded pool; the desks get both
        self.outbox = SlackOutbox(client)
        self.jobs = BoundedJobs(config.slack.workers, config.slack.max_pending)
        self.large_answers = LargeAnswers(config.slack.large_answers, int(config.slack.large_answer_mb * 1_000_000))
        self.access = AccessPolicy(config.slack, self._group_members)
        # Everything a click needs is in the state, shared with the other replicas: requests and
        # cards, answers to share, rate-limit counters. `replica` names this process in it.
        self.state = open_state(config.state_path, config.state_url)
        self.replica = new_replica_id()
        self.user_rate = SharedRateLimiter(self.state.rates, "user", Limit(*config.slack.rate_limits.per_user))
        self.channel_rate = SharedRateLimiter(self.state.rates, "channel", Limit(*config.slack.rate_limits.per_channel))
        self.approvals = ApprovalDesk(self, self.outbox, self.jobs)
        self.alerts = AlertDesk(self, self.outbox, self.jobs, self.approvals)
        self._locales: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._locales_lock = threading.Lock()
        self._homes: set[str] = set()  # who opened their Home tab: refreshed when something in it changes
        self._homes_lock = threading.Lock()

    # --- the language: each person's own, the channel's for what several people read --------

    @property
    def channel_language(self) -> str:
        """The language of cards posted in a channel (config `slack.language`, else English)."""
        return self.config.slack.language

    def language_of(self, user: str) -> str:
        """The user's Slack locale (`users.info`, `fr-FR` -> fr, kept an hour), else the channel's."""
        now = time.monotonic()
        with self._locales_lock:
            cached = self._locales.get(user)
        if cached and now < cached[0]:
            return cached[1]
        try:
            info = self.client.users_info(user=user, include_locale=True)
            locale = str((info.get("user") or {}).get("locale") or "")
            language, keep = i18n.normalise(locale) or self.channel_language, LOCALE_KEEP_SECONDS
        except Exception as exc:  # Slack unreachable, an unknown user, the scope missing: not for long
            log.warning("users.info for %s failed (%s)", user, type(exc).__name__)
            language, keep = self.channel_language, LOCALE_RETRY_SECONDS
        with self._locales_lock:
            self._locales[user] = (now + keep, language)
            self._locales.move_to_end(user)
            while len(self._locales) > LOCALE_KEEP_COUNT:
                self._locales.popitem(last=False)
        return language

    def register(self, app: App) -> None:
        app.command("/mail")(self.on_command)
        app.action(blocks.SHARE_ACTION)(self.on_share)
        app.action(blocks.APPROVE_ACTION)(self.approvals.on_approve)
        app.action(blocks.REJECT_ACTION)(self.approvals.on_reject)
        app.action(TRACE_ACTION)(self.alerts.on_trace)
        app.action(FLUSH_ACTION)(self.alerts.on_flush)
        app.action(views.DELETED_ROW_ACTION)(self.on_deleted_row)
        app.action(views.DELETED_ROW_BUTTON)(self.on_deleted_row)
        app.action(views.RESTORE_OPEN_ACTION)(self.on_restore_open)
        app.view(views.RESTORE_VIEW)(self.on_restore_submit)
        app.view_closed(views.RESTORE_VIEW)(self.on_view_closed)
        app.action(views.QUEUED_FLUSH_ACTION)(self.on_queued)
        app.action(views.QUEUED_WATCH_ACTION)(self.on_queued)
        app.action(views.QUEUED_JOURNEY_ACTION)(self.on_queued)
        app.view(views.REJECT_VIEW)(self.approvals.on_reject_submit)
        app.view_closed(views.REJECT_VIEW)(self.on_view_closed)
        app.action(views.HOME_STOP_WATCH)(self.on_home_unwatch)
        app.event("app_home_opened")(self.on_home_opened)

    def context(self, user: str, progress: Callable[[str], None] | None = None) -> Context:
        return Context(
            config=self.config,
            pool=self.pool,
            requester=user,
            progress=progress or (lambda message: None),
            _state=self.state,
        )

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking work; with `wait`, let work in flight finish and post its answer."""
        self.alerts.stop()
        self.jobs.shutdown(wait=wait)
        self.approvals.stop_sweeper()  # after the jobs: their runs are recorded under this replica's beat
        self.pool.close()
        self.state.database.close()

    # --- the slash command ---------------------------------------------------------------

    def on_command(self, ack: Ack, command: dict[str, Any]) -> None:
        """Each command gets its request id here: its log lines, SSH commands and audit records carry it."""
        arrived = time.monotonic()
        first = str(command.get("text", "")).strip().split(maxsplit=1)[:1]  # not command_words: it may refuse
        name = first[0].lower() if first and first[0].lower() in VERBS else "-"  # a label: never user text
        acked = False

        def timed_ack(**payload: Any) -> None:
            nonlocal acked
            ack(**payload)
            if not acked:
                acked = True
                observe.latency("ack", name, time.monotonic() - arrived)

        with i18n.use_language(self.language_of(str(command.get("user_id", "")))), observe.serving():
            outcome = self._on_command(timed_ack, command)
            if outcome is not None:  # answered by the ack alone (refused, bad input, help)
                observe.answered(name, "slack", outcome, time.monotonic() - arrived, log)

    def _on_command(self, ack: Callable[..., None], command: dict[str, Any]) -> str | None:
        """Acknowledge the command and hand its work over; the outcome when the ack was the whole answer."""
        request = SlashCommand(
            user=str(command.get("user_id", "")),
            channel=str(command.get("channel_id", "")),
            text=str(command.get("text", "")).strip(),
            response_url=str(command.get("response_url", "")),
        )
        try:
            words = command_words(request.text)
        except BadInput as refused:
            ack(response_type="ephemeral", **blocks.notice(refused.message))
            return "bad_input"
        admission = self.admit(request, words)
        ack(response_type="ephemeral", **admission.payload)
        return admission.outcome

    def admit(
        self,
        request: SlashCommand,
        words: list[str],
        amend: Callable[[Any], Any] | None = None,
        scope_checked: bool = False,
    ) -> Admission:
        """The one way in: a slash command, a button and a modal's submission each become words of a
        verb, checked here once (grammar, channel, user and group, rate limit, scope, reason,
        approvers) and handed to the same pool, the same approval flow and the same audit."""
        try:
            verb, parsed = self._understand(words)
        except BadInput as refused:
            return Admission(blocks.notice(refused.message), "bad_input", refused.message)
        if verb is None:
            return Admission(blocks.notice(str(parsed)), "help", str(parsed))
        if amend is not None:  # what a button knows beyond the words (an alert's address: `about`)
            parsed = amend(parsed)
        refusal = (
            self.access.refusal(verb.name, request.user, request.channel)
            or self._too_fast(request)
            or (None if scope_checked else self._out_of_scope(verb, parsed, request.user))
        )
        if refusal:
            log.info("refused %s for %s in %s", verb.name, request.user, request.channel)
            return Admission(blocks.notice(refusal), "refused", refusal)
        scope = scopes.of(self.config, request.user, "slack", self.access.is_member, verb.name)
        if verb.changes_things:
            context = self.context(request.user)
            try:
                reason = changes.check_reason(verb, getattr(parsed, "reason", None), context)
            except BadInput as refused:
                return Admission(blocks.notice(refused.message), "bad_input", refused.message, about_reason=True)
            nobody = changes.missing_approvers(verb, context)
            if nobody:
                return Admission(blocks.notice(nobody), "refused", nobody)
            busy = self.jobs.submit(lambda: self.approvals.propose(verb, parsed, reason, request, scope))
        else:
            busy = self.jobs.submit(lambda: self._run(verb, parsed, request, scope))
        if busy:
            return Admission(blocks.notice(busy), "busy", busy)
        return Admission(blocks.working(request.line), "proposed" if verb.changes_things else None)

    def _out_of_scope(self, verb: Verb, parsed: Any, user: str) -> str | None:
        """The user's `scopes:` (bot.core.scopes), checked before anything runs; a refusal is audited."""
        allowed = scopes.allowed_domains(self.config, user, "slack", self.access.is_member)
        refusal = scopes.refusal(self.config, verb.name, parsed, allowed, verb.lists_mail)
        if refusal is not None:
            scopes.audit_refusal(self.context(user), verb.name, parsed, allowed, verb.lists_mail)
        return refusal

    def _too_fast(self, request: SlashCommand) -> str | None:
        wait = self.user_rate.wait_needed(request.user)
        if wait:
            return _("You are sending commands faster than the bot allows; try again in {wait:.0f} s.").format(
                wait=wait
            )
        wait = self.channel_rate.wait_needed(request.channel)
        if wait:
            return _("This channel is sending commands faster than the bot allows; try again in {wait:.0f} s.").format(
                wait=wait
            )
        return None

    def _understand(self, words: list[str]) -> tuple[Verb | None, Any]:
        """(verb, validated request), or (None, a sentence to answer with)."""
        if not words or words[0] in {"help", "-h", "--help"}:
            return None, usage()
        verb = VERBS.get(words[0].lower())
        if verb is None or verb.cli_only:
            return None, _("`{words}` is not a verb of /mail.\n{usage}").format(words=clip(words[0], 40), usage=usage())
        parser = verb_parser(verb, f"/mail {verb.name}")
        if "-h" in words[1:] or "--help" in words[1:]:
            return None, parser.format_help()
        if "--json" in words[1:]:
            raise BadInput(_("--json is for the command line; Slack answers show tables."))
        return verb, verb.validate(parser.parse_args(words[1:]))

    # --- the work, in the bot's own pool ---------------------------------------------------

    def _run(self, verb: Verb, request: Any, command: SlashCommand, scope: scopes.Scope | None = None) -> None:
        started = time.monotonic()
        progress = _Progress(self, command, started, verb.name)
        result = "ok"
        try:
            with self.large_answers.job(progress.now) as size:
                payload, result = self._answer(verb, request, command, started, progress, scope, size)
        except Exception:  # a bug: the user still gets an answer, the log gets the details
            log.exception("%s by %s: internal error", verb.name, command.user)
            payload, result = blocks.notice(_(INTERNAL_ERROR)), "error"
        finally:
            progress.finish()
        self.outbox.deliver(command, started, payload)
        progress.first_byte()
        observe.answered(verb.name, "slack", result, time.monotonic() - started, log)

    def _answer(
        self,
        verb: Verb,
        request: Any,
        command: SlashCommand,
        started: float,
        progress: _Progress,
        scope: scopes.Scope | None = None,
        size: AnswerSize | None = None,
    ) -> tuple[dict[str, Any], str]:
        """The answer's blocks, and its outcome for the metrics (ok, failed, bad_input)."""
        assert verb.run is not None
        context = self.context(command.user, progress.note)
        context.scope = scope  # what the verb lists or resolves, within the caller's `scopes:`
        context.answer_size = size  # its turn among the large answers, held until the answer is built and sent
        try:
            outcome = verb.run(request, context)
        except MailbotError as failure:
            log.info("%s by %s failed: %s", verb.name, command.user, failure.message)
            return blocks.notice(f":warning: {failure.message}"), "bad_input" if failure.exit_code == 2 else "failed"
        self.alerts.open_thread(outcome, command)  # a new watch: its news goes in a thread
        if getattr(outcome, "watch_id", None) or verb.name == "unwatch":
            self.refresh_homes()
        filename = f"{verb.name}-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        share_id: str | None = None if command.public_thread else secrets.token_urlsafe(12)
        answer = self._slack_answer(outcome, command, started, share_id)
        if share_id is not None:
            try:
                shared = SharedAnswer(command.user, command.channel, filename, answer.to_json(), time.time())
                self.state.shares.put(str(share_id), shared, SHARE_KEEP_SECONDS)
            except MailbotError as failure:  # the state is down: the answer still comes, without its Share button
                log.warning("the answer cannot be kept for sharing: %s", failure.message)
                share_id = None
                answer = self._slack_answer(outcome, command, started, None)
        payload = answer.payload()
        if answer.full_text is not None:
            if command.public_thread and command.thread_ts:
                where = self._upload_in_thread(command, answer.full_text, filename, answer.text)
            else:
                where = self._upload_privately(command.user, answer.full_text, filename, answer.text)
            tail = 2 if share_id else 1  # the footer, and the Share button when there is one
            payload["blocks"] = [*payload["blocks"][:-tail], blocks.context(where), *payload["blocks"][-tail:]]
        return payload, "ok" if outcome.exit_code == 0 else "failed"

    def _slack_answer(
        self, outcome: Outcome, command: SlashCommand, started: float, share_id: str | None
    ) -> blocks.SlackAnswer:
        """The answer as blocks; a deleted listing as rows you can act on, a trace with buttons on
        each queued message (bot.slack.views)."""
        seconds = time.monotonic() - started
        ephemeral = not command.public_thread
        if isinstance(outcome, DeletedReport) and outcome.mails:
            listing = views.listing_of(outcome, command.user)
            key: str | None = secrets.token_urlsafe(9)
            try:
                kept = SharedAnswer(command.user, command.channel, "", listing.to_json(), time.time())
                self.state.shares.put(LISTING_PREFIX + str(key), kept, SHARE_KEEP_SECONDS)
            except MailbotError as failure:  # the rows still show, without their menus
                log.warning("the listing cannot be kept for its buttons: %s", failure.message)
                key = None
            tail = [blocks.context(blocks.footer(command.line, seconds, ephemeral))]
            tail += [blocks.share_button(share_id)] if share_id else []
            shown, cut = views.deleted_blocks(outcome, listing, key, tail)
            return blocks.SlackAnswer(outcome.headline(), shown, blocks.file_text(outcome) if cut else None)
        answer = blocks.answer(outcome, command.line, seconds, share_id, ephemeral=ephemeral)
        if isinstance(outcome, TraceReport) and outcome.queued:
            actions = views.queued_actions(outcome)
            keep = 2 if share_id else 1
            room = views.MAX_MESSAGE_BLOCKS - len(answer.blocks) - (1 if answer.full_text is not None else 0)
            actions = actions[: max(room, 0) // 2 * 2]
            if actions:
                body = [*answer.blocks[:-keep], *actions, *answer.blocks[-keep:]]
                answer = blocks.SlackAnswer(answer.text, body, answer.full_text)
        return answer

    def _upload_in_thread(self, command: SlashCommand, content: str, filename: str, title: str) -> str:
        try:
            self.outbox.upload(command.channel, content, filename, title, thread_ts=command.thread_ts)
            return _("The full answer is attached in this thread as `{filename}`.").format(filename=filename)
        except (SlackApiError, OSError) as exc:
            log.warning("file upload failed: %s", exc)
            return _("The full answer could not be uploaded as a file; run the command on the CLI for the whole table.")

    def _upload_privately(self, user: str, content: str, filename: str, title: str) -> str:
        """Long answers hold personal data: the file goes to the asker's direct messages."""
        try:
            self.outbox.upload(self.outbox.direct_channel(user), content, filename, title)
            return _("The full answer is in your direct messages as `{filename}`.").format(filename=filename)
        except (SlackApiError, LookupError) as exc:
            log.warning("file upload failed: %s", exc)
            return _("The full answer could not be uploaded as a file; run the command on the CLI for the whole table.")

    # --- clicks and modals: words of a verb, through the one way in ------------------------------

    def click(
        self,
        body: dict[str, Any],
        words: list[str],
        amend: Callable[[Any], Any] | None = None,
        scope_checked: bool = False,
        **where: Any,
    ) -> None:
        """A button or menu that asks for a verb: the same request as typing it, answered beside
        the message clicked (or where `where` says: `public_thread`, `thread_ts`)."""
        user = str((body.get("user") or {}).get("id", ""))
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id", ""))
        request = SlashCommand(
            user, channel, shlex.join(words), str(body.get("response_url", "")), replace=False, **where
        )
        arrived = time.monotonic()
        name = words[0] if words and words[0] in VERBS else "-"
        with i18n.use_language(self.language_of(user)), observe.serving():
            admission = self.admit(request, words, amend, scope_checked)
            if not admission.handed_over:
                self.outbox.deliver(request, arrived, admission.payload)
                observe.answered(name, "slack", str(admission.outcome), time.monotonic() - arrived, log)

    def _listing(self, key: str) -> views.Listing | None:
        try:
            stored = self.state.shares.get(LISTING_PREFIX + key)
        except MailbotError as failure:
            log.warning("a listing could not be read: %s", failure.message)
            return None
        return views.Listing.from_json(stored.owner, stored.answer) if stored is not None else None

    def on_deleted_row(self, ack: Ack, body: dict[str, Any]) -> None:
        """A row's menu: *Restore…* (the modal, this mail picked), *History*, *Locate*."""
        ack()
        action = (body.get("actions") or [{}])[0]
        value = str((action.get("selected_option") or {}).get("value") or action.get("value") or "")
        what, _sep, rest = value.partition(":")
        key, _sep, number = rest.rpartition(":")
        user = str((body.get("user") or {}).get("id", ""))
        with i18n.use_language(self.language_of(user)):
            listing = self._listing(key)
            if listing is None or not number.isdigit():
                self.outbox.reply(str(body.get("response_url", "")), _(LISTING_GONE))
                return
            if what == "r":
                self._open_restore(body, listing, key, [int(number)])
                return
            verb = {"h": "history", "l": "locate"}.get(what)
            if verb is None:
                return
        folder = [] if listing.folder == "INBOX" else ["--folder", listing.folder]
        self.click(body, [verb, listing.address, number, *folder])

    def on_restore_open(self, ack: Ack, body: dict[str, Any]) -> None:
        """The list's *Restore…*: the modal with every mail of the list, none picked."""
        ack()
        key = str((body.get("actions") or [{}])[0].get("value", ""))
        user = str((body.get("user") or {}).get("id", ""))
        with i18n.use_language(self.language_of(user)):
            listing = self._listing(key)
            if listing is None:
                self.outbox.reply(str(body.get("response_url", "")), _(LISTING_GONE))
                return
            self._open_restore(body, listing, key, [])

    def _open_restore(self, body: dict[str, Any], listing: views.Listing, key: str, chosen: list[int]) -> None:
        user = str((body.get("user") or {}).get("id", ""))
        response_url = str(body.get("response_url", ""))
        if user != listing.owner:  # the mails of a listing are its asker's: others ask `deleted` themselves
            self.outbox.reply(response_url, _("Only the person who listed these mails can restore from this list."))
            return
        restore = VERBS["restore"]
        context = self.context(user)
        container = body.get("container") or {}
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id", ""))
        view = views.restore_modal(
            listing,
            key,
            chosen,
            {"c": channel},
            needs_reason=restore.name in self.config.approvals.require_reason,
            approve=changes.policy_of(restore, context) == "approve",
        )
        try:
            self.outbox.open_view(str(body.get("trigger_id", "")), view)
        except SlackApiError as exc:
            log.warning("views.open failed: %s", exc.response.get("error"))
            self.outbox.reply(
                response_url,
                _("Slack did not open the form ({error}); click again.").format(error=exc.response.get("error")),
            )

    def on_restore_submit(self, ack: Ack, body: dict[str, Any]) -> None:
        """The restore modal, submitted: `restore ADDRESS N... --reason` through the one way in; a
        refusal shows in the modal, under the field it is about."""
        view = body.get("view") or {}
        user = str((body.get("user") or {}).get("id", ""))
        metadata = views.metadata_of(view)
        first = f"{views.MAILS_BLOCK}0"
        with i18n.use_language(self.language_of(user)), observe.serving():
            listing = self._listing(metadata.get("k", ""))
            numbers, reason = views.picked(view)
            if listing is None or user != listing.owner:
                ack(response_action="errors", errors={views.REASON_BLOCK: _(LISTING_GONE)})
                return
            if not numbers:
                ack(response_action="errors", errors={first: _("Pick at least one mail.")})
                return
            known = listing.by_number()
            if any(n not in known for n in numbers):
                ack(response_action="errors", errors={first: _(LISTING_GONE)})
                return
            folder = [] if listing.folder == "INBOX" else ["--folder", listing.folder]
            words = ["restore", listing.address, *(str(n) for n in numbers), *folder]
            words += ["--reason", reason] if reason else []
            request = SlashCommand(user, metadata.get("c", ""), shlex.join(words), "", replace=False)
            admission = self.admit(request, words)
            if not admission.handed_over:
                block = views.REASON_BLOCK if admission.about_reason else first
                ack(response_action="errors", errors={block: blocks.fit(admission.message, 1000)})
                observe.answered("restore", "slack", str(admission.outcome), 0.0, log)
                return
            ack()

    def on_view_closed(self, ack: Ack, body: dict[str, Any]) -> None:
        """A modal closed without submitting: nothing was asked."""
        ack()
        log.info("a form was closed by %s without asking", (body.get("user") or {}).get("id", ""))

    def on_queued(self, ack: Ack, body: dict[str, Any]) -> None:
        """A trace's queued message: *Flush this one* (its normal policy), *Watch* (the watch's own
        thread), *Journey* (the `message` verb)."""
        ack()
        action = (body.get("actions") or [{}])[0]
        verb = {
            views.QUEUED_FLUSH_ACTION: "flush",
            views.QUEUED_WATCH_ACTION: "watch",
            views.QUEUED_JOURNEY_ACTION: "message",
        }[str(action.get("action_id"))]
        self.click(body, [verb, str(action.get("value", ""))])

    # --- the Home tab --------------------------------------------------------------------------

    def on_home_opened(self, event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        self.refresh_home(str(event.get("user", "")))

    def refresh_home(self, user: str) -> None:
        """Publish `user`'s Home tab as the state has it now, in their language."""
        if not user:
            return
        with self._homes_lock:
            self._homes.add(user)
        with i18n.use_language(self.language_of(user)):
            try:
                recent = self.state.requests.recent()
                now = time.time()
                pending = [c for c in recent if c.state == "pending" and c.expires_at > now]
                decide = [
                    c
                    for c in pending
                    if c.requester != user
                    and changes.refusal_to_decide(c, user, True, self.approvals.is_approver(user)) is None
                ]
                own = [c for c in recent if c.requester == user]
                view = views.home_view(
                    decide,
                    own,
                    self.state.watches.active(user),
                    self.state.alerts.open_problems(),
                    blocks.APPROVE_ACTION,
                    blocks.REJECT_ACTION,
                )
                self.outbox.publish_home(user, view)
            except (MailbotError, SlackApiError) as failure:
                log.warning("the Home tab of %s could not be published: %s", user, failure)

    def refresh_homes(self) -> None:
        """Something in the Home tabs changed (a request, a decision, a watch): republish the ones opened."""
        with self._homes_lock:
            users = sorted(self._homes)
        for user in users:
            self.refresh_home(user)

    def on_home_unwatch(self, ack: Ack, body: dict[str, Any]) -> None:
        """*Stop* on a watch of the Home tab: `unwatch ADDRESS`, for the clicker's own watch."""
        ack()
        user = str((body.get("user") or {}).get("id", ""))
        address = str((body.get("actions") or [{}])[0].get("value", ""))
        with i18n.use_language(self.language_of(user)):
            try:
                verb = VERBS["unwatch"]
                assert verb.run is not None
                verb.run(verb.validate(verb_parser(verb, "/mail unwatch").parse_args([address])), self.context(user))
            except MailbotError as failure:
                log.info("unwatch from the Home tab failed: %s", failure.message)
        self.refresh_home(user)

    # --- sharing an answer in the channel ----------------------------------------------------

    def on_share(self, ack: Ack, body: dict[str, Any]) -> None:
        ack()
        with i18n.use_language(self.language_of(str(body.get("user", {}).get("id", "")))):
            self._share(body)

    def _share(self, body: dict[str, Any]) -> None:
        key = str(body.get("actions", [{}])[0].get("value", ""))
        user = str(body.get("user", {}).get("id", ""))
        response_url = str(body.get("response_url", ""))
        try:
            stored = self.state.shares.get(key)
        except MailbotError as failure:
            self.outbox.reply(response_url, failure.message)
            return
        if stored is None:
            self.outbox.reply(response_url, _("This answer is no longer kept; run the command again to share it."))
            return
        if stored.owner != user:
            self.outbox.reply(response_url, _("Only the person who asked can share this answer."))
            return
        answer = blocks.SlackAnswer.from_json(stored.answer)
        shared = [b for b in answer.blocks if b.get("type") != "actions"]
        shared.append(blocks.context(_("Shared by <@{user}>.").format(user=user)))
        try:
            _channel, ts = self.outbox.post(stored.channel, {"text": answer.text, "blocks": shared})
            if answer.full_text is not None:
                self.outbox.upload(stored.channel, answer.full_text, stored.filename, answer.text, thread_ts=ts)
        except SlackApiError as exc:
            self.outbox.reply(
                response_url, _("Slack refused to post the answer here ({get}).").format(get=exc.response.get("error"))
            )

    def _group_members(self, group: str) -> frozenset[str]:
        return frozenset(self.client.usergroups_users_list(usergroup=group).get("users") or [])


class _Progress:
    """Tells a waiting user that a long job is still running, at most twice."""

    def __init__(self, bot: MailBot, command: SlashCommand, started: float, verb: str = "-") -> None:
        self._bot = bot
        self._command = command
        self._started = started
        self._verb = verb
        self._first_byte = False
        self._latest: str | None = None
        self._language = i18n.current_language()  # the timers' threads do not inherit it
        self._done = False
        self._lock = threading.Lock()
        self._timers = [threading.Timer(delay, self._update) for delay in PROGRESS_AFTER]
        for timer in self._timers:
            timer.daemon = True
            timer.start()

    def note(self, message: str) -> None:
        self._latest = message

    def now(self, message: str) -> None:
        """A note the user should read at once (their job waits), not at the next update."""
        self._latest = message
        self._update()

    def finish(self) -> None:
        with self._lock:
            self._done = True
        for timer in self._timers:
            timer.cancel()

    def first_byte(self) -> None:
        """The user read something of the answer (a progress line or the answer itself): timed once."""
        with self._lock:
            if self._first_byte:
                return
            self._first_byte = True
        observe.latency("first_byte", self._verb, time.monotonic() - self._started)

    def _update(self) -> None:
        with self._lock:
            if self._done:
                return
            with i18n.use_language(self._language):
                payload = blocks.still_working(self._command.line, time.monotonic() - self._started, self._latest)
            self._bot.outbox.deliver(self._command, self._started, payload)
        self.first_byte()
