"""Why a mail waits or failed, said to people: the cause in plain words and what to do about it.

The one home of the support procedure's advice per cause (`bot.mailhost.reasons` reads the cause):
`trace`'s and `queue`'s "What to do", the verdicts' words, the alert period's hints and the
watches all say the same thing for the same answer, in the reader's language.
"""

from __future__ import annotations

from datetime import timedelta

from bot.core import render
from bot.i18n import N_, _, ngettext
from bot.mailhost import reasons as r

# A server's answer in plain words (bot.mailhost.reasons.CAUSES names them).
CAUSE_WORDS = {
    r.MAILBOX_FULL: N_("mailbox full"),
    r.GREYLISTED: N_("greylisted by the receiving server, which asks to try again later"),
    "no_reverse_dns": N_("the sending server's address has no host name (reverse DNS)"),
    "sender_domain_unknown": N_("the sender's domain does not exist"),
    "sender_refused": N_("the sender's address was refused"),
    "helo_refused": N_("the sending server's HELO name was refused"),
    "blocklisted": N_("the sending server is on a blocklist"),
    r.RELAY_DENIED: N_("relaying refused: this server does not carry mail for that domain"),
    r.UNKNOWN_RECIPIENT: N_("unknown recipient"),
    "mailbox_disabled": N_("the recipient's mailbox is disabled"),
    r.DOMAIN_NOT_FOUND: N_("the recipient's domain was not found (DNS)"),
    "too_big": N_("message too large"),
    "spam": N_("taken for spam or a virus"),
    r.RELAY_LOGIN: N_("the relay refused this server's login (SASL)"),
    "authentication": N_("the sender's domain failed its checks (SPF, DKIM, DMARC)"),
    "tls": N_("encryption (TLS) failed"),
    r.CONNECTION_REFUSED: N_("the receiving server refused the connection"),
    r.UNREACHABLE: N_("the receiving server cannot be reached (no route to it)"),
    r.TIMEOUT: N_("the receiving server did not answer in time"),
    r.TRANSPORT_BROKEN: N_("a Postfix transport of this server is broken"),
    r.SUSPENDED: N_("delivery to that destination suspended after earlier errors"),
    r.LOCAL_CONFIG: N_("a configuration problem on this mail server"),
    r.ON_HOLD: N_("held by an admin or a filter"),
    r.RATE_LIMITED: N_("the receiving server is slowing down mail from this server (volume or reputation)"),
    r.MAIL_LOOP: N_("a mail loop: the mail came back to this server"),
}

_NEXT_HOP_ADVICE = N_(
    "The next hop does not answer: check that it is up; Postfix retries by itself, flush once it is back."
)
# What the support procedure says to do, per cause (mailbox_full and unknown_recipient are below:
# they name the host's queue lifetime or ask whether the address is local).
ADVICE = {
    r.GREYLISTED: N_("The remote server greylists: the next retry normally goes through, nothing to do."),
    r.DOMAIN_NOT_FOUND: N_(
        "DNS cannot resolve the destination: check the domain's MX records and the host's resolver."
    ),
    r.CONNECTION_REFUSED: _NEXT_HOP_ADVICE,
    r.UNREACHABLE: _NEXT_HOP_ADVICE,
    r.TIMEOUT: _NEXT_HOP_ADVICE,
    r.SUSPENDED: _NEXT_HOP_ADVICE,
    r.RELAY_DENIED: N_(
        "The next hop refuses to relay for this server: check its relay settings (mynetworks, relay_domains) "
        "or this server's transport for the domain."
    ),
    r.RELAY_LOGIN: N_(
        "The relay refuses this server's login: check the user and password for it (smtp_sasl_password_maps), "
        "then flush."
    ),
    r.TRANSPORT_BROKEN: N_(
        "A Postfix transport is broken: look for warnings in the mail log, fix master.cf, then flush."
    ),
    r.LOCAL_CONFIG: N_(
        "Postfix reports a configuration error: look for warnings in the mail log (postfix check), fix, then flush."
    ),
    r.ON_HOLD: N_("Held by an admin or a filter: release with postsuper -H once checked."),
    r.MAIL_LOOP: N_(
        "The mail comes back to this server: check that its domain is one this server takes mail for "
        "(mydestination, virtual_mailbox_domains, relay_domains) and where the domain's MX and transport point."
    ),
    r.RATE_LIMITED: N_(
        "The receiving server limits mail from this server: Postfix retries by itself; if it lasts, check this "
        "server's reputation (blocklists, SPF, DKIM) and how much it sends to that domain."
    ),
}

# The alert period's problem kinds (stored with each problem: the names stay).
OVER_QUOTA, STALE_MAPS, RELAY, DNS = "over_quota", "stale_maps", "relay", "dns"


def words(cause: str | None) -> str | None:
    """The cause in plain words, or None for an answer the bot does not know."""
    return _(CAUSE_WORDS[cause]) if cause in CAUSE_WORDS else None


def lifetime_words(lifetime: timedelta | None) -> str:
    """`3 days`, `12 hours`... for advice; the parameter's name when the figure is unknown."""
    if lifetime is None:
        return _("maximal_queue_lifetime (Postfix's setting)")
    return render.duration_words(lifetime)


def over_quota_advice(lifetime: timedelta | None = None) -> str:
    """What to do for mail waiting on a full mailbox; `lifetime` is the host's maximal_queue_lifetime."""
    return _(
        "ask the user to free space or raise the quota, then flush the queue (postqueue -f) rather than "
        "waiting for the next retry; after {lifetime} in the queue Postfix returns the mail to its senders."
    ).format(lifetime=lifetime_words(lifetime))


def stale_maps_advice() -> str:
    return _(
        "If this address exists in BlueMind, the Postfix maps are stale: rebuild them (Mail maintenance > "
        "Execute, or regen-maps); no restart is needed."
    )


def advice(answer: str | None, lifetime: timedelta | None = None, local: bool = True) -> str | None:
    """What to do about mail that waits with this answer (a queue's delay reason, a deferral's reply),
    or None where the procedure says nothing. `local`: the recipient is in one of our domains."""
    cause = r.cause_of(answer)
    if cause == r.MAILBOX_FULL:
        return _("Mailbox full: {advice}").format(advice=over_quota_advice(lifetime))
    if cause == r.UNKNOWN_RECIPIENT:
        return stale_maps_advice() if local else None
    return _(ADVICE[cause]) if cause in ADVICE else None


def alert_kind(answer: str, recipient: str, local_domains: frozenset[str]) -> str | None:
    """The alert period's problem kind for a deferral, or None (nothing the support team acts on)."""
    cause = r.cause_of(answer)
    if cause == r.MAILBOX_FULL:
        return OVER_QUOTA
    if cause == r.UNKNOWN_RECIPIENT:
        return STALE_MAPS if recipient.rsplit("@", 1)[-1].lower() in local_domains else None
    if cause == r.DOMAIN_NOT_FOUND:
        return DNS
    if cause in r.NEXT_HOP:
        return RELAY
    return None


def over_quota_hint(address: str, waiting: int, lifetime: timedelta | None) -> str:
    """A full mailbox, for one address (the trace's hint, and the alert's)."""
    return (
        ngettext(
            "{address}'s mailbox is over quota: {count} message waiting in the queue.",
            "{address}'s mailbox is over quota: {count} messages waiting in the queue.",
            waiting,
        ).format(address=address, count=waiting)
        + " "
        + _capitalized(over_quota_advice(lifetime))
    )


def _capitalized(clause: str) -> str:
    return clause[:1].upper() + clause[1:]


def stale_maps_hint(address: str, times: int) -> str:
    """'User unknown' from the mailbox server for an address Postfix accepted (the trace's hint, and the alert's)."""
    return _(
        "Postfix accepted mail for {address}, then the mailbox server answered 'User unknown' "
        "(5.1.1) {count}: if this address exists in BlueMind, the Postfix maps are stale. "
        "Rebuild them (Mail maintenance > Execute, or regen-maps); no restart is needed."
    ).format(address=address, count=render.count(times, "time"))
