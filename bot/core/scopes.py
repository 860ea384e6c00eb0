"""Who may ask about which mail domains (`scopes:`), checked before anything runs.

A hoster's support team serves many customers: an agent of one must not read another's mail.
With `scopes:` in the config, each caller (a Slack user, a member of a Slack user group, a CLI
user by Unix name) may ask about the domains of the entries that name them, and nothing else;
a caller no entry names may ask about nothing. Addresses are compared by their technical domain
(config `domains`: `jdoe@lab-alias.test` is `lab.test`'s). Without `scopes:` nothing is limited.

The checks, all here:
- `refusal`, where a command arrives (the Slack adapter before it acks, the CLI before it runs),
  before any SSH; the caller audits it. A verb that names an address must name one in scope; a
  verb that needs none (the whole queue, the audit) would show other customers' mail, so it is
  refused, unless it lists mail (`Verb.lists_mail`: `message`, `queue`, `trace --client`), or it
  names a queue id (`flush QUEUE_ID`), which is judged once the host says whose mail it is:
- `Scope.within`, where such a verb lists the messages: a scoped caller sees those whose sender
  or a recipient is in scope, and one sentence says how many others were hidden (`hidden`);
- `Scope.check_queue_id`, where a queue id (or a Message-ID) the caller named turned out to be
  only other customers' mail: one refusal sentence, as for an address outside the scope;
- `Scope.alert_refusal`, at an alert's button: the alert's address must be in scope;
- `Scope.check_mailbox`, where an address became a mailbox (`bot.core.mailboxes.resolve`): an alias
  only the host knows (bm-cli, virtual_alias_maps) is judged by the mailbox it resolves to;
- `Scope.check_change`, for an approver: at the click, and just before the command runs.
The verbs get the caller's `Scope` in their Context (`context.scope`; None: not limited).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from bot import i18n, observe
from bot.errors import BadInput, MailbotError
from bot.i18n import N_, _, ngettext
from bot.mailhost.values import Address, QueueId

if TYPE_CHECKING:  # annotations only: a refused address should not pay for the config (issue 24)
    from bot.config import Config
    from bot.state import State

EVERY_DOMAIN = "*"
T = TypeVar("T")


class Context(Protocol):
    """What a refusal reads of the verb's Context (bot.core.registry.Context, which holds the Scope:
    this module does not import it back)."""

    @property
    def config(self) -> Config: ...

    @property
    def state(self) -> State: ...

    @property
    def requester(self) -> str: ...


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


def named(request: Any, domains: bool = True) -> Iterator[tuple[str, str]]:
    """(as written, its domain) for every address a verb's validated request names (its fields, and
    lists of them), and its `domain` field (`queue DOMAIN`) unless not `domains`."""
    if not dataclasses.is_dataclass(request):
        return
    for field in dataclasses.fields(request):
        value = getattr(request, field.name)
        if field.name == "domain" and isinstance(value, str):
            if domains:
                yield value, value
            continue
        for item in value if isinstance(value, (list, tuple, frozenset, set)) else (value,):
            if isinstance(item, Address):
                yield item.value, item.domain


def names_queue_id(request: Any) -> bool:
    """Whether a verb's validated request names a queue id (`flush QUEUE_ID`)."""
    return dataclasses.is_dataclass(request) and any(
        isinstance(getattr(request, field.name), QueueId) for field in dataclasses.fields(request)
    )


def refusal(
    config: Config, verb: str, request: Any, allowed: frozenset[str] | None, lists_mail: bool = False
) -> str | None:
    """None when the request stays within `allowed`, else the one sentence the caller reads.
    A verb that `lists_mail` is not refused for what it does not name (a domain, a client, a
    queue id): it shows only the caller's mail; an address it names is checked as for any verb.
    A queue id alone is not refused here either: the verb checks whose mail it is
    (`Scope.check_queue_id`)."""
    if allowed is None:
        return None
    if not allowed:
        return _("You are in no scope of this bot, so it answers nothing about mail for you; ask a mail admin.")
    shown = ", ".join(sorted(allowed))
    asked = list(named(request, domains=not lists_mail))
    if not asked and (lists_mail or names_queue_id(request)):
        return None
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


def audit_refusal(
    context: Context, verb: str, request: Any, allowed: frozenset[str] | None, lists_mail: bool = False
) -> None:
    """The refusal in the audit, in English like every record, under the command's request id."""
    with i18n.use_language(i18n.ENGLISH):
        sentence = refusal(context.config, verb, request, allowed, lists_mail)
    _audit(context, verb, sentence)


def _audit(context: Context, verb: str, sentence: str | None) -> None:
    try:
        context.state.audit.record(
            "refused", context.requester, request_id=observe.request_id(), verb=verb, detail=sentence
        )
    except MailbotError as failure:  # the state is down: the refusal still stands
        logging.getLogger("mailbot.scopes").warning("a refusal could not be audited: %s", failure.message)


@dataclasses.dataclass(frozen=True)
class Scope:
    """What one caller may see while one verb runs: the technical domains of their `scopes:`."""

    domains: frozenset[str]
    aliases: Mapping[str, str]  # config `domains`: alias domain -> technical domain
    verb: str = "-"

    @property
    def words(self) -> str:
        return ", ".join(sorted(self.domains))

    def covers(self, address: str | None) -> bool:
        """Whether an address (or a bare domain) is in scope, by its technical domain."""
        domain = (address or "").rpartition("@")[2].strip().lower().rstrip(".")
        return bool(domain) and self.aliases.get(domain, domain) in self.domains

    def shows(self, sender: str | None, recipients: Iterable[str | None]) -> bool:
        return self.covers(sender) or any(self.covers(r) for r in recipients)

    def within(self, items: Iterable[T], parties: Callable[[T], tuple[str | None, Iterable[str | None]]]) -> list[T]:
        """The items whose sender or a recipient (`parties(item)`) is in scope."""
        return [item for item in items if self.shows(*parties(item))]

    def refuse(self, context: Context, sentence: str, english: str) -> BadInput:
        """The refusal to raise, audited (in English) under the caller's name and the command's id."""
        _audit(context, self.verb, english)
        return BadInput(sentence)

    def check_mailbox(self, context: Context, address: str, mailbox: str) -> None:
        """`address` resolved (by the config, Cyrus, bm-cli or Postfix's aliases) to `mailbox`
        (an email): the mailbox must be in scope, before anything reads it."""
        if self.covers(mailbox):
            return
        sentence = N_(
            "{address} is the mailbox {mailbox}, which is outside your access ({domains}); ask a mail admin if you "
            "need it."
        )
        values = {"address": address, "mailbox": mailbox, "domains": self.words}
        raise self.refuse(context, _(sentence).format(**values), sentence.format(**values))

    def check_queue_id(self, context: Context, queue_id: str, hidden: int, shown: int) -> None:
        """A queue id or Message-ID the caller named: when all the mail found under it is other
        customers' (`hidden`, none `shown`), one refusal sentence, audited, as for an address."""
        if shown or not hidden:
            return
        sentence = N_("{queue_id} is mail outside your access ({domains}); ask a mail admin if you need it.")
        values = {"queue_id": queue_id, "domains": self.words}
        raise self.refuse(context, _(sentence).format(**values), sentence.format(**values))

    def alert_refusal(self, context: Context, subject: str) -> str | None:
        """An alert's button: None when its address (or domain) is in scope, else the one sentence
        the clicker reads (an alert about a whole host's queue is every customer's), audited."""
        if self.covers(subject):
            return None
        sentence = N_("This alert is about {subject}, outside your access ({domains}); ask a mail admin.")
        values = {"subject": subject, "domains": self.words}
        _audit(context, self.verb, sentence.format(**values))
        return _(sentence).format(**values)

    def change_refusal(self, arguments: Mapping[str, Any]) -> str | None:
        """Why this caller may not approve (or run) a stored change, or None: every address and
        domain it names (`address`, `domain`) must be in scope, and it must name one; a change of
        one queued message (`parties`: its sender and recipients) needs one of them in scope."""
        parties = [str(party) for party in arguments.get("parties") or ()]
        if parties and not any(self.covers(party) for party in parties):
            return _("{queue_id} is mail outside your access ({domains}), so you cannot approve this request.").format(
                queue_id=arguments.get("queue_id", "?"), domains=self.words
            )
        named_ = [str(arguments[key]) for key in ("address", "domain") if arguments.get(key)]
        if parties and not named_:
            return None
        outside = next((value for value in named_ if not self.covers(value)), None)
        if outside is not None:
            return _("{address} is outside your access ({domains}), so you cannot approve this request.").format(
                address=outside, domains=self.words
            )
        if not named_:
            return _(
                "Your access is limited to {domains}: this request names no address of those domains, so you cannot "
                "approve it."
            ).format(domains=self.words)
        return None

    def check_change(self, context: Context, arguments: Mapping[str, Any]) -> None:
        """`change_refusal`, raised and audited."""
        sentence = self.change_refusal(arguments)
        if sentence is not None:
            with i18n.use_language(i18n.ENGLISH):
                english = self.change_refusal(arguments)
            raise self.refuse(context, sentence, english or sentence)


def of(
    config: Config, caller: str, channel: str, is_member: Callable[[str, str], bool], verb: str = "-"
) -> Scope | None:
    """The caller's Scope for one verb; None: not limited."""
    allowed = allowed_domains(config, caller, channel, is_member)
    return None if allowed is None else Scope(allowed, dict(config.domains), verb)


def hidden(count: int) -> str | None:
    """The one sentence that says how many messages a scoped caller was not shown; None for none."""
    if not count:
        return None
    return ngettext(
        "{count} message outside your access was hidden.", "{count} messages outside your access were hidden.", count
    ).format(count=count)
