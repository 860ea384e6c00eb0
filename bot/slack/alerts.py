"""Alerts and watches in Slack: the bot speaks first, in `alerts.channel` and in watch threads.

A timer thread runs the period (bot.periods.alerts.run_period, the one entry point), then
shows what the state holds and Slack does not yet: a new problem is posted with its *Trace*
and *Flush once fixed* buttons, a changed one is edited, a resolved one is edited to say when
and after how long; a watch's news goes to the thread of its command. Because Slack only
catches up with the state, a restart (or a second replica) posts nothing twice.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

from slack_bolt import Ack
from slack_sdk.errors import SlackApiError

from bot import i18n, observe
from bot.core import render, scopes
from bot.core.registry import Outcome, StartsWatch
from bot.errors import MailbotError
from bot.i18n import _, ngettext
from bot.periods import alerts
from bot.slack import blocks
from bot.slack.approvals import ApprovalDesk
from bot.slack.jobs import JobRunner
from bot.slack.outbox import Outbox, SlashCommand
from bot.slack.services import BotServices
from bot.state.alerts import KnownProblem

log = logging.getLogger("mailbot.alerts")

TRACE_ACTION = "mail_alert_trace"
FLUSH_ACTION = "mail_alert_flush"
MAX_POSTS_PER_PERIOD = 20  # a queue full of problems is told over several periods, not in one flood
ALERTS_LEASE = "alerts"  # the replica holding it runs the period (one queue read per host, one post per alert)
_ICONS = {alerts.UNREACHABLE: ":red_circle:", alerts.QUEUE_SIZE: ":chart_with_upwards_trend:"}


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M", time.gmtime(epoch))


def _lasted(problem: KnownProblem) -> str:
    return render.duration_words(timedelta(seconds=(problem.resolved_at or time.time()) - problem.first_seen))


_OUR_WORDS = (alerts.UNREACHABLE, alerts.QUEUE_SIZE, alerts.QUEUE_GROWTH)  # their detail is the bot's sentence


def alert_message(problem: KnownProblem, now: float | None = None) -> dict[str, Any]:
    """The message of one problem, as it stands: open (with buttons) or resolved (without)."""
    now = time.time() if now is None else now
    what = alerts.title(problem.kind)
    where = blocks.escape(problem.host)
    if problem.kind == alerts.UNREACHABLE:
        headline = _("{host} cannot be reached").format(host=problem.host)
        lines = [blocks.escape(problem.detail)]
    elif problem.kind in (alerts.QUEUE_SIZE, alerts.QUEUE_GROWTH):
        headline = _("{host}: {what}").format(host=problem.host, what=what)
        lines = [blocks.escape(problem.detail)]
    else:
        headline = _("{address}: {what} on {host}").format(address=problem.subject, what=what, host=problem.host)
        facts = ngettext(
            "{count} message deferred, the oldest since {since} ({age} ago).",
            "{count} messages deferred, the oldest since {since} ({age} ago).",
            problem.count,
        ).format(
            count=problem.count,
            since=blocks.slack_time(problem.oldest_at or now),
            age=render.duration_words(timedelta(seconds=now - (problem.oldest_at or now))),
        )
        if problem.bounce_at is not None:
            facts += " " + _("{left} left before Postfix returns them to their senders ({at}).").format(
                left=render.duration_words(timedelta(seconds=problem.bounce_at - now)),
                at=blocks.slack_time(problem.bounce_at),
            )
        else:
            facts += " " + _("Time left before the bounce: unknown (maximal_queue_lifetime could not be read).")
        lines = [facts, _("Reason: `{reason}`").format(reason=blocks.escape(problem.detail))]
        if problem.hint:
            lines.append(_("What to do: {hint}").format(hint=blocks.escape(problem.hint)))
    if problem.resolved_at is not None:
        done = (
            _("Back at {time} UTC, after {lasted}.")
            if problem.kind == alerts.UNREACHABLE
            else _("Resolved at {time} UTC, after {lasted}.")
        ).format(time=_clock(problem.resolved_at), lasted=_lasted(problem))
        text = _("{headline}: {detail}").format(headline=headline, detail=done)
        return {
            "text": text,
            "blocks": [
                blocks.section(f":white_check_mark: ~{blocks.escape(headline)}~\n*{blocks.escape(done)}*"),
                blocks.context(
                    _("First seen {at} on {host}.").format(at=blocks.slack_time(problem.first_seen), host=where)
                ),
            ],
        }
    icon = _ICONS.get(problem.kind, ":warning:")
    body: list[dict[str, Any]] = [
        blocks.section(f"{icon} *{blocks.escape(headline)}*\n" + "\n".join(lines)),
        blocks.context(
            _("First seen {first} · updated {updated}").format(
                first=blocks.slack_time(problem.first_seen), updated=blocks.slack_time(problem.last_seen)
            )
        ),
    ]
    buttons = []
    if problem.kind not in (alerts.UNREACHABLE, alerts.QUEUE_SIZE, alerts.QUEUE_GROWTH):
        buttons.append(_button(TRACE_ACTION, _("Trace"), problem.key))
    if problem.kind != alerts.UNREACHABLE:
        buttons.append(_button(FLUSH_ACTION, _("Flush once fixed"), problem.key))
    if buttons:
        body.append({"type": "actions", "elements": buttons})
    reason = problem.detail if problem.kind in _OUR_WORDS else f"`{problem.detail}`"  # a server's words, quoted
    return {"text": _("{headline}: {detail}").format(headline=headline, detail=reason), "blocks": body}


def _button(action_id: str, label: str, value: str) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": {"type": "plain_text", "text": label}, "value": value}


class AlertDesk:
    """The period's timer, what it shows, and the two buttons of an alert."""

    def __init__(self, bot: BotServices, outbox: Outbox, jobs: JobRunner, approvals: ApprovalDesk) -> None:
        self.bot = bot
        self.outbox = outbox
        self.jobs = jobs
        self.approvals = approvals
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def every(self) -> float:
        config = self.bot.config
        return config.alerts.every if config.alerts else config.watch.every

    def start(self) -> None:
        def loop() -> None:
            while not self._stopping.is_set():
                try:
                    if self.bot.state.leases.hold(ALERTS_LEASE, self.bot.replica, 2 * self.every + 10):
                        with i18n.use_language(self.bot.channel_language):
                            self.period()
                except MailbotError as failure:  # the state is down: the period waits for it
                    log.warning("the alert period waits for the state: %s", failure.message)
                except Exception:
                    log.exception("the alert period failed")
                self._stopping.wait(self.every)

        self._thread = threading.Thread(target=loop, name="mail-alerts", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 30.0) -> None:
        """End the timer and give the alerts lease up: another replica (or this bot restarted) takes the
        next period at once instead of staying silent until the lease expires (two periods)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(wait)  # a period in flight ends first: it may be posting
        try:
            self.bot.state.leases.release(ALERTS_LEASE, self.bot.replica)
        except MailbotError as failure:  # the state is down: the lease expires on its own
            log.warning("the alerts lease could not be released: %s", failure.message)

    def period(self) -> None:
        """One period, then Slack catches up with the state; `start` runs it on the replica holding
        the alerts lease, so two replicas read each queue once and post each alert once."""
        report = alerts.run_period(self.bot.context("mailbot"))
        for queue in report.queues:  # what the metrics and GET /ready know of each host
            if queue.error is None:
                observe.queue_seen(queue.host.name, len(queue.entries))
        if report.queues:
            log.info("%s", report.summary())
        changed = self.show() if self.bot.config.alerts is not None else False
        if self.tell() or changed:  # an alert came, went or changed, a watch ended: the Home tabs show them
            self.bot.refresh_homes()

    def show(self) -> bool:
        """Post or edit what changed; whether anything did."""
        settings = self.bot.config.alerts
        assert settings is not None
        store = self.bot.state.alerts
        posts = 0
        changed = False
        for problem in store.to_show():
            try:
                if problem.ts is None:
                    if problem.resolved_at is not None:  # came and went unseen: nothing to say
                        store.shown(problem.key, problem.version, None, None)
                        continue
                    if posts >= MAX_POSTS_PER_PERIOD:
                        continue
                    posts += 1
                    channel, ts = self.outbox.post(settings.channel, alert_message(problem))
                    store.shown(problem.key, problem.version, channel, ts)
                    changed = True
                    log.info("alert posted: %s", problem.key)
                else:
                    self.outbox.edit(problem.channel or settings.channel, problem.ts, alert_message(problem))
                    store.shown(problem.key, problem.version, None, None)
                    changed = True
            except SlackApiError as exc:  # tried again next period
                log.warning("could not show the alert %s: %s", problem.key, exc.response.get("error"))
        return changed

    def tell(self) -> bool:
        """Tell the watches' news in their threads; whether a watch ended."""
        store = self.bot.state.watches
        ended = False
        for news in store.news():
            watch = news.watch
            if not (watch.channel and watch.thread_ts):
                continue  # a terminal's watch (it tells its own stdout), or a thread not opened yet
            lines = news.text.split("\n", 1)
            text = blocks.escape(lines[0]) + (f"\n```\n{blocks.escape(lines[1])}\n```" if len(lines) > 1 else "")
            try:
                section = blocks.section(f"<@{watch.owner}> {text}"[: blocks.SECTION_LIMIT])
                payload = {"text": lines[0], "blocks": [section]}
                self.outbox.post(watch.channel, payload, thread_ts=watch.thread_ts)
                store.told(news)
                ended = ended or news.message is None
            except SlackApiError as exc:
                log.warning("could not tell the watch %s: %s", watch.id, exc.response.get("error"))
        return ended

    def open_thread(self, outcome: Outcome, command: SlashCommand) -> None:
        """A new watch: its answer goes in the channel, and the news will come in its thread."""
        watch_id = outcome.watch_id if isinstance(outcome, StartsWatch) else None
        if not watch_id:
            return
        try:
            channel, ts = self.outbox.post(
                command.channel,
                {
                    "text": outcome.headline(),
                    "blocks": [
                        blocks.section(f":eyes: <@{command.user}> {blocks.escape(outcome.headline())}"),
                        blocks.context(f"`{blocks.escape(command.line)}`"),
                    ],
                },
            )
        except SlackApiError as exc:
            log.warning("could not open the thread of the watch %s: %s", watch_id, exc.response.get("error"))
            return
        self.bot.state.watches.attach_thread(watch_id, channel, ts)

    # --- the buttons ----------------------------------------------------------------------

    def _clicked(self, body: dict[str, Any]) -> tuple[str, str, str, str, KnownProblem | None]:
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        user = str((body.get("user") or {}).get("id", ""))
        channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id", ""))
        problem = self.bot.state.alerts.get(str(action.get("value", "")))
        return user, channel, str(container.get("message_ts", "")), str(body.get("response_url", "")), problem

    def on_trace(self, ack: Ack, body: dict[str, Any]) -> None:
        """*Trace*: `trace ADDRESS` through the one way in, answered in the alert's thread."""
        ack()
        user, _channel, ts, response_url, problem = self._clicked(body)
        if problem is None or problem.kind in (alerts.UNREACHABLE, alerts.QUEUE_SIZE, alerts.QUEUE_GROWTH):
            with i18n.use_language(self.bot.language_of(user)):
                self.outbox.reply(response_url, _("This alert is unknown to the bot, or has no address to trace."))
            return
        refusal = self._out_of_scope(problem, "trace", user)  # the alert's own rule, then the one way in
        if refusal:
            self.outbox.reply(response_url, refusal)
            return
        self.bot.click(body, ["trace", problem.subject], thread_ts=ts or None, public_thread=bool(ts))

    def _out_of_scope(self, problem: KnownProblem, verb: str, user: str) -> str | None:
        """The clicker's `scopes:` (bot.core.scopes): only the alerts about their domains' addresses
        (a whole host's queue is every customer's); a refusal is one sentence, audited."""
        scope = scopes.of(self.bot.config, user, "slack", self.bot.access.is_member, verb)
        if scope is None:
            return None
        with i18n.use_language(self.bot.language_of(user)):  # the clicker's own answer
            return scope.alert_refusal(self.bot.context(user), problem.subject)

    def on_flush(self, ack: Ack, body: dict[str, Any]) -> None:
        """*Flush once fixed*: `flush --host HOST` through the one way in, with its normal policy."""
        ack()
        user, _channel, _ts, response_url, problem = self._clicked(body)
        if problem is None or problem.kind == alerts.UNREACHABLE:
            with i18n.use_language(self.bot.language_of(user)):
                self.outbox.reply(response_url, _("This alert is unknown to the bot, or its host cannot be flushed."))
            return
        refusal = self._out_of_scope(problem, "flush", user)  # the alert's own rule, then the one way in
        if refusal:
            self.outbox.reply(response_url, refusal)
            return
        with i18n.use_language(self.bot.language_of(user)):
            reason = _("alert: {subject} on {host}").format(subject=problem.subject, host=problem.host)
        # a whole host's flush, about the alert's address: the scope approvers are judged by (main's `about`);
        # the clicker's scope was the alert's, just above
        self.bot.click(
            body,
            ["flush", "--host", problem.host, "--reason", reason],
            amend=lambda request: replace(request, about=problem.subject),
            scope_checked=True,
        )
