"""Why a mail waits or failed, in a word: the one reading of a server's answer or a queue's delay reason.

Every part that says why reads it here: the verdicts (`Verdict.cause`), the trace's and the queue's
"What to do", the alert period's problem kinds and the watches. Before, four readings with their own
marker lists drifted apart (a relay alert with no advice, "5.2.2" full for one and not the other).
Pure functions of text, no I/O and no language: the words and the advice are in `bot.core.reasons`.
"""

from __future__ import annotations

import re
from typing import Final

MAILBOX_FULL: Final = "mailbox_full"
GREYLISTED: Final = "greylisted"
UNKNOWN_RECIPIENT: Final = "unknown_recipient"
DOMAIN_NOT_FOUND: Final = "domain_not_found"
CONNECTION_REFUSED: Final = "connection_refused"
UNREACHABLE: Final = "unreachable"
TIMEOUT: Final = "timeout"
RELAY_DENIED: Final = "relay_denied"
SUSPENDED: Final = "suspended"
TRANSPORT_BROKEN: Final = "transport_broken"
LOCAL_CONFIG: Final = "local_config"
ON_HOLD: Final = "on_hold"
RELAY_LOGIN: Final = "relay_login"
RATE_LIMITED: Final = "rate_limited"
MAIL_LOOP: Final = "mail_loop"

# How servers say a mailbox is full: the enhanced codes, Cyrus/BlueMind's and others' wordings.
OVER_QUOTA_MARKERS = ("4.2.2", "5.2.2", "over quota", "quota exceeded", "mailbox full", "mailbox is full")

# (cause, markers in the lower-cased answer): the first match wins, so the precise ones come first.
CAUSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (MAILBOX_FULL, OVER_QUOTA_MARKERS),
    # "try again later" alone is not one: a busy server (`450 4.3.2 try again later`), Microsoft's
    # `451 4.4.4 Temporary server error. Please try again later`, a milter that is down all say it;
    # rspamd's greylisting says exactly `451 4.7.1 Try again later`.
    (GREYLISTED, ("greylist", "graylist", "postgrey", "come back later", "4.7.1 try again later")),
    # The big mailbox providers throttle a sender by volume or reputation, and say so with the
    # words "spam" and "blocked" in it (Gmail's `421-4.7.28 ... unusual rate of unsolicited mail ...
    # temporarily rate limited`, Yahoo's `421 4.7.0 [TSS04] ... temporarily deferred due to
    # unexpected volume or user complaints`, Microsoft's `451 4.7.650 ... temporarily rate limited due
    # to IP reputation`): before those, it is a wait, not a refusal of the mail.
    (
        RATE_LIMITED,
        (
            "rate limit",
            "ratelimit",
            "unusual rate",
            "unexpected volume",
            "4.7.28",
            "4.7.650",
            "too many connections",
            "too many concurrent",
        ),
    ),
    ("no_reverse_dns", ("cannot find your hostname", "cannot find your reverse hostname", "reverse dns")),
    ("sender_domain_unknown", ("sender address rejected: domain not found", "4.1.8", "5.1.8")),
    ("sender_refused", ("sender address rejected",)),
    ("helo_refused", ("helo command rejected",)),
    # Microsoft's `550 5.7.606 Access denied, banned sending IP [x]` (5.7.606-649), `5.7.511 ... banned sender`
    (
        "blocklisted",
        (
            "blocked using",
            " blocklist",
            " blacklist",
            " block list",
            "listed at",
            "listed on",
            "spamhaus",
            "banned sending ip",
            "5.7.511",
        ),
    ),
    (RELAY_DENIED, ("relay access denied", "relaying denied", "5.7.1 relaying", "not permitted to relay")),
    # Postfix's `mail for example.com loops back to myself` (the domain's MX is this server, which
    # does not take mail for it), local(8)'s `mail forwarding loop for x`, `Too many hops` (5.4.6)
    (MAIL_LOOP, ("loops back to myself", "forwarding loop", "too many hops", "hop count exceeded", "5.4.6")),
    (
        UNKNOWN_RECIPIENT,
        (
            "5.1.1",
            "4.1.1",
            "user unknown",
            "unknown user",
            "no such user",
            "mailbox unavailable",
            "does not exist",
            "invalid recipient",
            "mailbox not found",
            # Microsoft 365's Directory Based Edge Blocking: `550 5.4.1 Recipient address rejected:
            # Access denied. AS(201806281)`, no such recipient in that organisation
            "5.4.1 recipient address rejected",
        ),
    ),
    # Gmail's `550-5.2.1 The email account that you tried to reach is disabled`, Cyrus's `Mailbox
    # disabled`: the address exists and takes no mail (after the unknown ones: `5.2.1 mailbox
    # unavailable` is Exchange's unknown user)
    ("mailbox_disabled", ("5.2.1", "reach is disabled", "mailbox disabled", "account disabled", "account is disabled")),
    (DOMAIN_NOT_FOUND, ("host or domain name not found", "name service error", "domain not found", "5.1.2")),
    # Postfix's own `message size 31457280 exceeds size limit 20971520 of server mx[...]` (the
    # server's SIZE), Gmail's `552-5.2.3 Your message exceeded Google's message size limits`
    (
        "too_big",
        (
            "5.3.4",
            "message size exceeds",
            "exceeds size limit",
            "message size limit",
            "5.2.3",
            "message too big",
            "too large",
        ),
    ),
    ("spam", ("spam", "5.7.1 message rejected", "content rejected", "virus", "malware", "infected")),
    # this server's own login to a relay (smtp_sasl_*), before the sender's domain checks
    (
        RELAY_LOGIN,
        (
            "sasl authentication failed",
            "username and password not accepted",
            "client was not authenticated",
            "5.7.57",
            "authentication required",
        ),
    ),
    ("authentication", ("spf", "dmarc", "dkim", "5.7.26", "5.7.23", "authentication")),
    ("tls", ("tls", "ssl", "certificate", "starttls")),
    (CONNECTION_REFUSED, ("connection refused", "refused to talk")),
    (UNREACHABLE, ("network is unreachable", "no route to host")),
    (TIMEOUT, ("timed out", "timeout", "conversation with", "lost connection")),
    (TRANSPORT_BROKEN, ("mail transport unavailable", "unavailable transport", "unknown mail transport error")),
    (SUSPENDED, ("delivery temporarily suspended",)),
    (LOCAL_CONFIG, ("mail system configuration error", "transport")),
    (ON_HOLD, ("on hold",)),  # the bot's own reason for a held mail (the queue verb's table)
)

# The next hop is the trouble: the alert period calls these "relay" problems (a provider's throttle
# too: the mail to that domain piles up until it lifts).
NEXT_HOP = frozenset({CONNECTION_REFUSED, UNREACHABLE, TIMEOUT, RELAY_DENIED, SUSPENDED, RELAY_LOGIN, RATE_LIMITED})


def is_over_quota(answer: str) -> bool:
    """Does a server's answer (or a queue's delay reason) say the mailbox is full?"""
    lowered = answer.lower()
    return any(marker in lowered and _says(marker, lowered) for marker in OVER_QUOTA_MARKERS)


def cause_of(answer: str | None) -> str | None:
    """The kind of trouble a server's answer (or a refusal's or a queue's reason) names, or None."""
    if not answer:
        return None
    lowered = answer.lower()
    for cause, markers in CAUSES:
        if any(marker in lowered and _says(marker, lowered) for marker in markers):
            return cause
    return None


def _says(marker: str, lowered: str) -> bool:
    """A marker found in the answer is the answer's own: an enhanced status code (`5.1.1`) is one
    only standing alone, not inside the address of the host that answered (`connect to
    mx[10.5.1.12]:25: Connection refused` is no unknown recipient, `[10.4.2.21]` no full mailbox)."""
    standalone = _STANDALONE_CODES.get(marker)
    return standalone is None or standalone.search(lowered) is not None


# Each marker that is an enhanced status code, as a pattern that finds it alone: not after a digit
# or a dot, not before a digit or a dot and a digit (`550-5.1.1`, `(5.2.2)` and `5.2.2.` are codes).
_STANDALONE_CODES = {
    marker: re.compile(rf"(?<![\d.]){re.escape(marker)}(?!\.?\d)")
    for _cause, markers in (*CAUSES, ("", OVER_QUOTA_MARKERS))
    for marker in markers
    if re.fullmatch(r"\d\.\d{1,3}\.\d{1,3}", marker)
}
