"""What the desks (approvals, alerts) need from the bot, as a protocol: they never import app.py.

MailBot provides it; a desk is given it with an outbox and a job runner, so the dependencies go
one way: app -> approvals/alerts -> these protocols.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from bot.config import Config
from bot.core.registry import Context
from bot.slack.access import AccessPolicy
from bot.state import State


class BotServices(Protocol):
    config: Config
    state: State
    replica: str
    access: AccessPolicy

    @property
    def channel_language(self) -> str:
        """The language of what several people read in a channel."""

    def language_of(self, user: str) -> str:
        """The user's own language."""

    def click(
        self,
        body: dict[str, Any],
        words: list[str],
        amend: Callable[[Any], Any] | None = None,
        scope_checked: bool = False,
        **where: Any,
    ) -> None:
        """A click that asks for a verb: the same request as typing its words (bot.slack.app.MailBot.admit)."""

    def refresh_homes(self) -> None:
        """Republish the Home tabs that were opened: something in them changed."""

    def context(self, user: str, progress: Callable[[str], None] | None = None) -> Context:
        """The verbs' context, acting for `user`."""
