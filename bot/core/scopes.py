"""Who may ask about which mail domains (`scopes:`), checked before anything runs.

A hoster's support team serves many customers: an agent of one must not read another's mail.
With `scopes:` in the config, each caller (a Slack user, a member of a Slack user group, a CLI
user by Unix name) may ask about the domains of the entries that name them, and nothing else;
a caller no entry names may ask about nothing. Addresses are compared by their technical domain
(config `domains`: `jdoe@lab-alias.test` is `lab.test`'s). A scoped caller's request must name
an address: a verb given only a queue id, a Message-ID or nothing (the whole queue, the audit)
would show other customers' mail, so it is refused. Without `scopes:` nothing is limited.

One function, `refusal`, called where a command arrives (the Slack adapter before it acks, the
CLI before it runs), before any SSH; the caller audits the refusal.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from typing import Any

from bot import i18n, observe
from bot.config import Config
from bot.core.registry import Context
from bot.errors import MailbotError
from bot.i18n import _
from bot.mailhost.values import Address

EVERY_DOMAIN = "*"


def allowed_domains(
    config: Config, caller: str, channel: str, is_member: Callable[[str, str], bool]
) -> frozenset[str] | None:
    """The technical domains `caller` may ask about; None: every domain (no `scopes:`, or `*`)."""
    if not config.scopes:
        return None
    domains: set[str] = set()
    for scope in config.scopes:
        named = (
            caller in scope.unix
            if channel == "cli"
            else caller in scope.users or any(is_member(group, caller) for group in scope.groups)
        )
        if named:
            if EVERY_DOMAIN in scope.domains:
                return None
            domains.update(technical(config, domain) for domain in scope.domains)
    return frozenset(domains)


def technical(config: Config, domain: str) -> str:
    """An alias domain's BlueMind technical domain (config `domains`), else the domain itself."""
    return config.domains.get(domain.lower(), domain.lower())


def named(request: Any) -> Iterator[tuple[str, str]]:
    """(as written, its domain) for every address a verb's validated request names (its fields, and
    lists of them), and its `domain` field (`queue DOMAIN`)."""
    if not dataclasses.is_dataclass(request):
        return
    for field in dataclasses.fields(request):
        value = getattr(request, field.name)
        if field.name == "domain" and isinstance(value, str):
            yield value, value
            continue
        for item in value if isinstance(value, (list, tuple, frozenset, set)) else (value,):
            if isinstance(item, Address):
                yield item.value, item.domain


def refusal(config: Config, verb: str, request: Any, allowed: frozenset[str] | None) -> str | None:
    """None when the request stays within `allowed`, else the one sentence the caller reads."""
    if allowed is None:
        return None
    if not allowed:
        return _("You are in no scope of this bot, so it answers nothing about mail for you; ask a mail admin.")
    shown = ", ".join(sorted(allowed))
    asked = list(named(request))
    if not asked:
        return _(
            "Your access is limited to {domains}: `{verb}` needs an address of those domains, or it would show "
            "other customers' mail."
        ).format(domains=shown, verb=verb)
    for written, domain in asked:
        if technical(config, domain) not in allowed:
            return _("{address} is outside your access ({domains}); ask a mail admin if you need it.").format(
                address=written, domains=shown
            )
    return None


def audit_refusal(context: Context, verb: str, request: Any, allowed: frozenset[str] | None) -> None:
    """The refusal in the audit, in English like every record, under the command's request id."""
    with i18n.use_language(i18n.ENGLISH):
        sentence = refusal(context.config, verb, request, allowed)
    try:
        context.state.audit.record(
            "refused", context.requester, request_id=observe.request_id(), verb=verb, detail=sentence
        )
    except MailbotError as failure:  # the state is down: the refusal still stands
        logging.getLogger("mailbot.scopes").warning("a refusal could not be audited: %s", failure.message)
