"""One advice per cause, the same for the trace, the queue, the alerts and the watches, in the reader's language."""

from __future__ import annotations

from datetime import timedelta

from bot import i18n
from bot.core import reasons

LOCAL = frozenset({"lab.test"})
REFUSED = "connect to mx.partner.example[192.0.2.7]:25: Connection refused"
DNS = "Host or domain name not found. Name service error for name=partner.example type=MX"


def test_every_alert_kind_comes_with_advice() -> None:
    """A relay or DNS alert used to go out with no "What to do" line: its advice came from another list."""
    for answer, recipient in (
        ("452 4.2.2 Over quota", "full@lab.test"),
        ("450 4.1.1 <ghost@lab.test>: User unknown", "ghost@lab.test"),
        (REFUSED, "bob@partner.example"),
        ("connect to mx.partner.example[192.0.2.7]:25: No route to host", "bob@partner.example"),
        (DNS, "bob@partner.example"),
        (
            "host mta7.am0.yahoodns.net[192.0.2.8] said: 421 4.7.0 [TSS04] Messages from 198.51.100.1 temporarily "
            "deferred due to unexpected volume or user complaints",
            "bob@yahoo.example",
        ),
    ):
        assert reasons.alert_kind(answer, recipient, LOCAL) is not None, answer
        assert reasons.advice(answer, timedelta(days=5)), answer


def test_user_unknown_is_stale_maps_only_for_our_domains() -> None:
    unknown = "450 4.1.1 <x>: User unknown"
    assert reasons.alert_kind(unknown, "ghost@lab.test", LOCAL) == reasons.STALE_MAPS
    assert reasons.alert_kind(unknown, "bob@partner.example", LOCAL) is None
    assert reasons.advice(unknown, local=False) is None
    assert "regen-maps" in (reasons.advice(unknown) or "")


def test_the_queue_advice_names_the_hosts_lifetime() -> None:
    text = reasons.advice("452 4.2.2 Over quota", timedelta(days=5))
    assert text == (
        "Mailbox full: ask the user to free space or raise the quota, then flush the queue (postqueue -f) "
        "rather than waiting for the next retry; after 5 days in the queue Postfix returns the mail to its senders."
    )
    assert "maximal_queue_lifetime" in (reasons.advice("452 4.2.2 Over quota") or "")


def test_advice_and_words_in_french() -> None:
    with i18n.use_language("fr"):
        assert reasons.advice(REFUSED) == (
            "Le relais suivant ne répond pas : vérifiez qu'il fonctionne ; Postfix réessaie tout seul, "
            "relancez la file dès qu'il est revenu."
        )
        assert reasons.words("unreachable") == "le serveur destinataire est injoignable (aucune route vers lui)"
        hint = reasons.over_quota_hint("full@lab.test", 3, timedelta(days=5))
        assert hint.startswith("La boîte aux lettres de full@lab.test") and "5 jours" in hint


def test_a_mail_loop_says_where_to_look_in_english_and_french() -> None:
    """Postfix's `loops back to myself`: this server is the domain's MX but does not take its mail."""
    loop = "mail for partner.example loops back to myself"
    assert reasons.words("mail_loop") == "a mail loop: the mail came back to this server"
    assert "virtual_mailbox_domains" in (reasons.advice(loop) or "")
    with i18n.use_language("fr"):
        assert reasons.words("mail_loop") == "une boucle de messagerie : le message est revenu vers ce serveur"
        assert (reasons.advice(loop) or "").startswith("Le message revient vers ce serveur : vérifiez")
