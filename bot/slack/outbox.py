"""Everything the bot says in Slack leaves through an outbox.

The desks (approvals, alerts) and MailBot only need "deliver this answer", "reply to this click",
"post, edit, upload": the `Outbox` protocol. `SlackOutbox` does it with slack_sdk, retrying
Slack's rate limits and dropped connections, so none of the callers imports the others.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.webhook import WebhookClient

from bot.slack import blocks

log = logging.getLogger("mailbot.slack")

RESPONSE_URL_LIFETIME = 29 * 60  # Slack keeps a response_url for 30 minutes
RATE_LIMIT_RETRIES = 3  # a 429 is waited out (Retry-After) this many times, then the caller hears of it
CONNECTION_RETRIES = 2


def retry_handlers() -> list[RetryHandler]:
    """What every Slack client of the bot retries: a bounded number of 429s, and dropped connections."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
        ConnectionErrorRetryHandler(max_retry_count=CONNECTION_RETRIES),
    ]


@dataclass(frozen=True)
class SlashCommand:
    """A request as it came in: typed after `/mail`, or made by a click or a modal (bot.slack.entry).

    Where its answer goes: through `response_url` in place of the placeholder (`replace`, a slash
    command), or as a new message beside the one clicked (`replace=False`); without a response_url
    (a modal's submission) as an ephemeral message, in `thread_ts` when the click was in a thread;
    with `public_thread`, posted for everyone in the thread `thread_ts` (an alert's *Trace*)."""

    user: str
    channel: str
    text: str
    response_url: str
    replace: bool = True
    thread_ts: str | None = None
    public_thread: bool = False

    @property
    def line(self) -> str:
        return f"/mail {self.text}".strip()


class Outbox(Protocol):
    """What the bot's parts may say in Slack. `post`, `edit`, `respond` and `upload` raise
    SlackApiError or OSError: each caller decides what a failure means for its user."""

    def deliver(self, command: SlashCommand, started: float, payload: dict[str, Any]) -> None:
        """Replace the command's placeholder; past the response_url's life, a new ephemeral message."""

    def reply(self, response_url: str, text: str, markup: bool = False) -> None:
        """One ephemeral sentence to whoever clicked or typed."""

    def respond(self, response_url: str, payload: dict[str, Any], replace: bool) -> None:
        """An ephemeral message through a response_url (`replace`: instead of the original)."""

    def post(self, channel: str, payload: dict[str, Any], thread_ts: str | None = None) -> tuple[str, str]:
        """A message in a channel (or a thread); its (channel, ts)."""

    def edit(self, channel: str, ts: str, payload: dict[str, Any]) -> None:
        """A posted message, changed."""

    def upload(self, channel: str, content: str, filename: str, title: str, thread_ts: str | None = None) -> None:
        """A file in a channel (or a thread)."""

    def direct_channel(self, user: str) -> str:
        """The user's direct-message channel with the bot."""

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        """A modal, opened for whoever clicked (`trigger_id`, valid 3 s); its view id."""

    def update_view(self, view_id: str, view: dict[str, Any]) -> None:
        """An open modal, changed."""

    def publish_home(self, user: str, view: dict[str, Any]) -> None:
        """The user's Home tab, as it stands."""


class SlackOutbox:
    """The outbox over slack_sdk: the Web API client, and a webhook client per response_url."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def _webhook(self, response_url: str) -> WebhookClient:
        return WebhookClient(response_url, timeout=10, retry_handlers=retry_handlers())

    def deliver(self, command: SlashCommand, started: float, payload: dict[str, Any]) -> None:
        if command.public_thread and command.thread_ts:
            try:
                self.post(command.channel, payload, thread_ts=command.thread_ts)
                return
            except SlackApiError as exc:
                log.warning("could not post in the thread (%s); answering privately", exc.response.get("error"))
        if command.response_url and time.monotonic() - started < RESPONSE_URL_LIFETIME:
            try:
                response = self._webhook(command.response_url).send(
                    replace_original=command.replace, response_type="ephemeral", **payload
                )
                if response.status_code == 200:
                    return
                log.warning("response_url answered %s; posting the answer instead", response.status_code)
            except Exception as exc:  # network trouble: fall back to the Web API
                log.warning("response_url failed (%s); posting the answer instead", type(exc).__name__)
        try:
            self.client.chat_postEphemeral(
                channel=command.channel, user=command.user, thread_ts=command.thread_ts, **payload
            )
        except SlackApiError as exc:
            log.error("could not deliver an answer to %s: %s", command.user, exc.response.get("error"))

    def reply(self, response_url: str, text: str, markup: bool = False) -> None:
        if response_url:
            self.respond(response_url, blocks.notice(text, markup), replace=False)

    def respond(self, response_url: str, payload: dict[str, Any], replace: bool) -> None:
        self._webhook(response_url).send(response_type="ephemeral", replace_original=replace, **payload)

    def post(self, channel: str, payload: dict[str, Any], thread_ts: str | None = None) -> tuple[str, str]:
        if thread_ts is None:
            posted = self.client.chat_postMessage(channel=channel, **payload)
        else:
            posted = self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, **payload)
        return str(posted["channel"]), str(posted["ts"])

    def edit(self, channel: str, ts: str, payload: dict[str, Any]) -> None:
        self.client.chat_update(channel=channel, ts=ts, **payload)

    def upload(self, channel: str, content: str, filename: str, title: str, thread_ts: str | None = None) -> None:
        if thread_ts is None:
            self.client.files_upload_v2(channel=channel, content=content, filename=filename, title=title)
        else:
            self.client.files_upload_v2(
                channel=channel, thread_ts=thread_ts, content=content, filename=filename, title=title
            )

    def direct_channel(self, user: str) -> str:
        opened = self.client.conversations_open(users=user)
        channel = (opened.get("channel") or {}).get("id")
        if not channel:
            raise LookupError("conversations.open gave no channel")
        return str(channel)

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        opened = self.client.views_open(trigger_id=trigger_id, view=view)
        return str((opened.get("view") or {}).get("id", ""))

    def update_view(self, view_id: str, view: dict[str, Any]) -> None:
        self.client.views_update(view_id=view_id, view=view)

    def publish_home(self, user: str, view: dict[str, Any]) -> None:
        self.client.views_publish(user_id=user, view=view)
