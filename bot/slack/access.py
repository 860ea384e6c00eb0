"""Who may run which verb, in which channel: checked before anything runs.

A request passes when it passes the global rule and the verb's own rule. A rule with
users and/or user groups admits a listed user or a member of a listed group (members are
read with `usergroups.users.list` and kept for a few minutes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bot.config import AccessRule, SlackConfig
from bot.i18n import _

GROUP_CACHE_SECONDS = 300

GroupMembers = Callable[[str], frozenset[str]]


class AccessPolicy:
    def __init__(self, config: SlackConfig, group_members: GroupMembers) -> None:
        self._config = config
        self._group_members = group_members
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def refusal(self, verb: str, user: str, channel: str) -> str | None:
        """None when allowed, else the polite sentence the user reads."""
        for rule in (self._config, self._config.verbs.get(verb, AccessRule())):
            if rule.allowed_channels and channel not in rule.allowed_channels:
                return _(
                    "`/mail {verb}` is not available in this channel; ask in one of the mail support channels."
                ).format(verb=verb)
            if (rule.allowed_users or rule.allowed_groups) and not self._admits(rule, user):
                return _(
                    "Sorry, you are not on the list of people who may use `/mail {verb}`; ask a mail admin."
                ).format(verb=verb)
        return None

    def is_member(self, group: str, user: str) -> bool:
        return user in self._members(group)

    def _admits(self, rule: AccessRule, user: str) -> bool:
        if user in rule.allowed_users:
            return True
        return any(self.is_member(group, user) for group in rule.allowed_groups)

    def _members(self, group: str) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(group)
            if cached and now - cached[0] < GROUP_CACHE_SECONDS:
                return cached[1]
        try:
            members = self._group_members(group)
        except Exception:  # Slack unreachable: refuse rather than guess, and retry next time
            return frozenset()
        with self._lock:
            self._cache[group] = (now, members)
        return members
