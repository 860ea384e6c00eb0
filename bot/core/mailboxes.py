"""From the address an agent types to the mailbox the tools name: `user/LOGIN@TECHNICAL_DOMAIN`.

Cyrus and BlueMind know a mailbox by its login and the domain's technical name, never by an
alias. The config's `domains` map turns an alias domain into the technical one (no command
runs for that); on BlueMind 4 `mbpath` then says whether Cyrus has the mailbox. When it does
not (a user alias like jdoe@ for john@, a domain the config does not list), bm-cli resolves
the address as BlueMind does. On BlueMind 5 there is no Cyrus: bm-cli always resolves. An
address that resolves to nothing is an answer that says so.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

from bot.config import HostConfig
from bot.core.registry import Context
from bot.errors import MailbotError, MailboxNotFound
from bot.i18n import _
from bot.mailhost.host import MailHost
from bot.mailhost.tools.bmcli import BmCli
from bot.mailhost.values import INBOX, Address, Folder, Mailbox, Uid, mailbox_of, parse_address, parse_folder, parse_uid


@dataclass(frozen=True)
class MailRequest:
    """One mail of a mailbox, as `history` and `locate` are asked for it: ADDRESS UID [--folder F]."""

    address: Address
    uid: Uid
    folder: Folder


def validate_mail_request(args: argparse.Namespace) -> MailRequest:
    address = parse_address(args.address)
    return MailRequest(address, parse_uid(args.uid), parse_folder(args.folder) if args.folder else INBOX)


@dataclass(frozen=True)
class Resolved:
    """The mailbox behind an address, where it lives, and how the bot knew."""

    address: Address
    mailbox: Mailbox
    host: MailHost  # BlueMind 4: the Cyrus store holding the mailbox; 5: the bm-cli host
    bmcli: BmCli  # where bm-cli runs (history, search, BlueMind 5 restores)
    version: int
    how: str
    display_name: str | None = None  # the directory's, when bm-cli was asked: the Owner of its copies

    @property
    def authn(self) -> Address | None:
        """bm-cli's --authn for a mailshare's deleted mail: the host entry's `bm_authn` user."""
        authn = self.bmcli.config.bm_authn
        return parse_address(authn) if self.mailbox.shared and authn else None

    @property
    def label(self) -> str:
        """`user/john@lab.test`, with the typed address when it differs (an alias)."""
        if self.address.value == self.mailbox.email:
            return self.mailbox.cyrus_name
        return f"{self.mailbox.cyrus_name} ({self.address} {self.how})"

    @property
    def kind(self) -> str:
        return "mailshare" if self.mailbox.shared else "user"

    def json(self) -> dict[str, object]:
        return {
            "address": self.address.value,
            "mailbox": self.mailbox.cyrus_name,
            "login": self.mailbox.login,
            "domain": self.mailbox.domain,
            "host": self.host.name,
            "bluemind": self.version,
            "kind": self.kind,
        }


def owner_name(resolved: Resolved) -> str | None:
    """The Owner column bm-cli prints for the mailbox's copies: the directory's display name, which
    `maintenance list` gives; None when it cannot say (the story then goes by the asked copy)."""
    if resolved.display_name is not None:
        return resolved.display_name
    try:
        entry = resolved.bmcli.entry(resolved.address)
    except MailbotError:
        return None
    return entry.display_name if entry else None


def store_hosts(context: Context) -> tuple[HostConfig, ...]:
    return context.config.hosts_with_role("store") or context.config.hosts


def bmcli_host(context: Context) -> HostConfig:
    return (context.config.hosts_with_role("bmcli") or store_hosts(context))[0]


def mail_host(context: Context, config: HostConfig) -> MailHost:
    return MailHost(config, context.pool.connection(config))


def resolve(address: Address, context: Context) -> Resolved:
    resolved = _resolve(address, context)
    if context.scope is not None:  # an alias only the host knows: judged by its mailbox (bot.core.scopes)
        context.scope.check_mailbox(context, address.value, resolved.mailbox.email)
    return resolved


def _resolve(address: Address, context: Context) -> Resolved:
    stores = [mail_host(context, h) for h in store_hosts(context)]
    bm_host = mail_host(context, bmcli_host(context))
    version = stores[0].bluemind_version()
    domains = context.config.domains
    technical = domains.get(address.domain, address.domain)
    by_config = _("via the config's domains") if technical != address.domain else _("as typed")
    context.progress(_("Looking up the mailbox of {address}…").format(address=address))
    if version == 5:
        return _by_bmcli(address, context, bm_host.bmcli, bm_host, version, None)
    candidate = mailbox_of(address.local_part, technical)
    for store in stores:
        if store.cyrus.folder_path(candidate) is not None:
            return Resolved(address, candidate, store, bm_host.bmcli, version, by_config)
    return _by_bmcli(address, context, bm_host.bmcli, stores, version, candidate)


def _by_bmcli(
    address: Address,
    context: Context,
    bmcli: BmCli,
    stores: list[MailHost] | MailHost,
    version: int,
    tried: Mailbox | None,
) -> Resolved:
    where = ", ".join(s.name for s in stores) if isinstance(stores, list) else stores.name
    first = _("there is no mailbox {tried} on {where}, and ").format(tried=tried, where=where) if tried else ""
    try:
        user, reason = bmcli.user(address)
    except MailbotError as failure:
        raise MailboxNotFound(
            _("{address} does not resolve to a mailbox: {first}bm-cli could not be asked ({message})").format(
                address=address, first=first, message=failure.message
            )
        ) from None
    if user is None and _SHARE_HINT.search(reason):
        return _mailshare(address, context, bmcli, stores, version, first, reason)
    if user is None:
        raise MailboxNotFound(
            _("{address} does not resolve to a mailbox: {first}bm-cli on {name} says: {reason}.").format(
                address=address, first=first, name=bmcli.name, reason=reason
            )
        )
    email_domain = (user.email or address.value).rsplit("@", 1)[1]
    mailbox = mailbox_of(user.login, context.config.domains.get(email_domain, email_domain))
    if isinstance(stores, MailHost):  # BlueMind 5: no Cyrus to ask
        return Resolved(address, mailbox, stores, bmcli, version, _("via bm-cli"))
    for store in stores:
        if store.cyrus.folder_path(mailbox) is not None:
            return Resolved(address, mailbox, store, bmcli, version, _("via bm-cli"))
    raise MailboxNotFound(
        _("bm-cli resolves {address} to {mailbox}, but no store host ({where}) has that mailbox.").format(
            address=address, mailbox=mailbox, where=where
        )
    )


# `user get` skips mailshares ("Your search for 'X' did not match anything"): `maintenance list` finds them.
_SHARE_HINT = re.compile(r"did not match anything")


def _mailshare(
    address: Address,
    context: Context,
    bmcli: BmCli,
    stores: list[MailHost] | MailHost,
    version: int,
    first: str,
    reason: str,
) -> Resolved:
    entry = bmcli.entry(address)
    if entry is None or entry.kind != "MAILSHARE" or not entry.email:
        raise MailboxNotFound(
            _("{address} does not resolve to a mailbox: {first}bm-cli on {name} says: {reason}.").format(
                address=address, first=first, name=bmcli.name, reason=reason
            )
        )
    local, _at, domain = entry.email.partition("@")
    mailbox = mailbox_of(local, context.config.domains.get(domain, domain), shared=True)
    host = stores if isinstance(stores, MailHost) else stores[0]
    return Resolved(address, mailbox, host, bmcli, version, _("via bm-cli"), entry.display_name)


def require_user_mailbox(resolved: Resolved) -> None:
    """BlueMind 4's Cyrus tools, as the bot runs them, name users' mailboxes only."""
    if resolved.mailbox.shared and resolved.version == 4:
        raise MailboxNotFound(
            _(
                "{address} is the shared mailbox {mailbox}: on BlueMind 4 the bot reads users' mailboxes "
                "only; ask an admin (Cyrus's tools on the store host)."
            ).format(address=resolved.address, mailbox=resolved.mailbox.email)
        )
