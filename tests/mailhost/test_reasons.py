"""The one reading of why a mail waits or failed, on answers real servers gave (Postfix, Cyrus, remote MXs)."""

from __future__ import annotations

import pytest

from bot.mailhost import reasons as r


@pytest.mark.parametrize(
    ("answer", "cause"),
    [
        (
            "host mx.example.com[192.0.2.1] said: 550 5.1.1 <x@example.com>: Recipient address rejected",
            "unknown_recipient",
        ),
        (
            "host 127.0.0.1[127.0.0.1] said: 450 4.1.1 <x@lab.test>: User unknown (in reply to RCPT TO command)",
            "unknown_recipient",
        ),
        ("connect to mx.example.com[192.0.2.1]:25: Connection refused", "connection_refused"),
        ("connect to mx.example.com[192.0.2.1]:25: Connection timed out", "timeout"),
        ("connect to mx.example.com[2001:db8::1]:25: Network is unreachable", "unreachable"),
        ("connect to mx.example.com[192.0.2.1]:25: No route to host", "unreachable"),
        ("Host or domain name not found. Name service error for name=x.example type=MX", "domain_not_found"),
        ("450 4.7.1 Greylisted, see http://postgrey.schweikert.ch/", "greylisted"),
        ("host 127.0.0.1[127.0.0.1] said: 452 4.2.2 Over quota SESSIONID=<cyrus-1-2-3>", "mailbox_full"),
        ("host mx.example.com[192.0.2.1] said: 552 5.2.2 Mailbox is full", "mailbox_full"),
        ("mail transport unavailable", "transport_broken"),
        (
            "delivery temporarily suspended: lost connection with mta7.am0.yahoodns.net[98.136.216.22] "
            "while sending RCPT TO",
            "timeout",
        ),
        ("host mx.example.com[192.0.2.1] said: 554 5.7.1 <a@b>: Relay access denied", "relay_denied"),
        ("on hold", "on_hold"),
        (
            "delivery temporarily suspended: connect to mx.example.com[192.0.2.1]:25: Connection refused",
            "connection_refused",
        ),
        ("delivery temporarily suspended: server unavailable or unable to receive mail", "suspended"),
        ("554 5.7.1 Service unavailable", None),  # a refusal by this server: nothing earlier to suspend it
        (
            "host mx.example.com[192.0.2.1] said: 550 5.7.1 Unfortunately, messages from [192.0.2.8] weren't sent. "
            "Please contact your Internet service provider since part of their network is on our block list (S3140).",
            "blocklisted",
        ),
        ("250 2.7.0 Ok, discarded, id=03879-01 - INFECTED: Eicar-Signature", "spam"),
        # "Recipient address rejected" says which check refused, after it: not an unknown user by itself
        (
            "550 5.7.23 <a@b.example>: Recipient address rejected: Message rejected due to: SPF fail - not authorized",
            "authentication",
        ),
        ("450 4.2.0 <a@b.example>: Recipient address rejected: Delayed by postgrey", "greylisted"),
        ("554 5.7.1 <a@b.example>: Recipient address rejected: Access denied", None),
        ("451 4.7.1 Try again later", "greylisted"),  # rspamd's greylisting
        ("host mx.example.com[192.0.2.1] said: 451 4.4.4 Temporary server error. Please try again later ATTR5", None),
        ("451 4.7.1 Service unavailable - try again later", None),  # a milter that is down
        ("host mx.example.com[192.0.2.1] refused to talk to me: 450 4.3.2 try again later", "connection_refused"),
        (
            "SASL authentication failed; server smtp.gmail.com[192.0.2.5] said: 535-5.7.8 Username and Password "
            "not accepted. For more information, go to 535 5.7.8 https://support.google.com/mail/?p=BadCredentials",
            "relay_login",
        ),
        (
            "host smtp.office365.com[192.0.2.6] said: 530 5.7.57 Client not authenticated to send mail. "
            "(in reply to MAIL FROM command)",
            "relay_login",
        ),
        # the big providers' throttles and blocks, as their own documentation words them
        (
            "host gmail-smtp-in.l.google.com[192.0.2.7] said: 421-4.7.28 [198.51.100.1      15] Our system has "
            "detected an unusual rate of 421-4.7.28 unsolicited mail originating from your IP address. To protect "
            "our 421-4.7.28 users from spam, mail sent from your IP address has been temporarily 421-4.7.28 rate "
            "limited. (in reply to end of DATA command)",
            "rate_limited",
        ),
        (
            "host mta7.am0.yahoodns.net[192.0.2.8] said: 421 4.7.0 [TSS04] Messages from 198.51.100.1 temporarily "
            "deferred due to unexpected volume or user complaints - 4.16.55.1; see "
            "https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command)",
            "rate_limited",
        ),
        (
            "host example-com.mail.protection.outlook.com[192.0.2.9] said: 451 4.7.650 The mail server "
            "[198.51.100.1] has been temporarily rate limited due to IP reputation. (in reply to MAIL FROM command)",
            "rate_limited",
        ),
        (
            "host example-com.mail.protection.outlook.com[192.0.2.9] said: 550 5.7.606 Access denied, banned "
            "sending IP [198.51.100.1]. To request removal from this list please visit https://sender.office.com/ "
            "and follow the directions. (in reply to RCPT TO command)",
            "blocklisted",
        ),
        (
            "host example-com.mail.protection.outlook.com[192.0.2.9] said: 550 5.4.1 Recipient address rejected: "
            "Access denied. AS(201806281) [DB5EUR03FT017.eop-EUR03.prod.protection.outlook.com] "
            "(in reply to RCPT TO command)",
            "unknown_recipient",
        ),
        (
            "host gmail-smtp-in.l.google.com[192.0.2.7] said: 550-5.7.1 [198.51.100.1] Our system has detected "
            "that this message is 550-5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail, "
            "550-5.7.1 this message has been blocked. (in reply to end of DATA command)",
            "spam",
        ),
        (
            "host gmail-smtp-in.l.google.com[192.0.2.7] said: 550-5.2.1 The email account that you tried to reach "
            "is disabled. Learn more at 550 5.2.1 https://support.google.com/mail/?p=DisabledUser (in reply to RCPT "
            "TO command)",
            "mailbox_disabled",
        ),
        ("host mx.example.com[192.0.2.1] said: 550 5.2.1 Mailbox unavailable", "unknown_recipient"),
        ("host mx.example.com[192.0.2.1] said: 454 4.7.0 TLS not available: STARTTLS is disabled", "tls"),
        ("250 2.0.0 Ok", None),
        ("", None),
        # an enhanced status code inside the answering host's address is not one
        ("connect to mx.example.com[10.5.1.12]:25: Connection refused", "connection_refused"),
        ("connect to mx.example.com[10.4.2.21]:25: Connection timed out", "timeout"),
        ("host mx.example.com[172.16.5.3.4] said: 451 4.3.0 Try again", None),
        ("host mx.example.com[10.0.0.1] said: 452 4.2.2 Over quota (in reply to RCPT TO command)", "mailbox_full"),
        ("host mx.example.com[10.0.0.1] said: 550 Requested action not taken (5.1.1).", "unknown_recipient"),
        # Postfix's own words when the next hop's SIZE is smaller, and Gmail's
        (
            "message size 31457280 exceeds size limit 20971520 of server mx.example.com[192.0.2.1]",
            "too_big",
        ),
        (
            "host gmail-smtp-in.l.google.com[192.0.2.7] said: 552-5.2.3 Your message exceeded Google's message "
            "size limits. (in reply to end of DATA command)",
            "too_big",
        ),
        # a loop: the domain's MX is this server, which does not take its mail
        ("mail for example.com loops back to myself", "mail_loop"),
        ("mail forwarding loop for john@example.com", "mail_loop"),
        ("host mx.example.com[192.0.2.1] said: 554 5.4.6 Too many hops (in reply to end of DATA command)", "mail_loop"),
    ],
)
def test_an_answer_is_read_into_its_cause(answer: str, cause: str | None) -> None:
    assert r.cause_of(answer) == cause


def test_over_quota_is_the_mailbox_full_cause_and_nothing_else() -> None:
    for answer in ("452 4.2.2 Over quota", "552 5.2.2 Mailbox is full", "quota exceeded (mailbox for user is full)"):
        assert r.is_over_quota(answer) and r.cause_of(answer) == r.MAILBOX_FULL
    assert not r.is_over_quota("450 4.1.1 User unknown")
    assert not r.is_over_quota("connect to mx.example.com[10.4.2.21]:25: Connection timed out")
