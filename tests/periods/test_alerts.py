"""The alert period's decisions (pure) and the state they leave, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import AlertsConfig
from bot.core.reasons import alert_kind as classify
from bot.errors import BadInput
from bot.mailhost.postqueue import QueuedRecipient, QueueEntry
from bot.periods.alerts import (
    OVER_QUOTA,
    QUEUE_GROWTH,
    QUEUE_SIZE,
    RELAY,
    STALE_MAPS,
    find_problems,
    host_problem,
    unreachable_problem,
)
from bot.slack.alerts import alert_message
from bot.state import open_state

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC).timestamp()
OVER = "host 127.0.0.1[127.0.0.1] said: 452 4.2.2 Over quota SESSIONID=<cyrus-1-2-3> (in reply to RCPT TO command)"
UNKNOWN = "host 127.0.0.1[127.0.0.1] said: 450 4.1.1 <x>: User unknown (in reply to RCPT TO command)"
REFUSED = "connect to mx.partner.example[192.0.2.7]:25: Connection refused"
LOCAL = frozenset({"lab.test"})
SETTINGS = AlertsConfig(channel="C1")


def entry(queue_id: str, to: str, reason: str | None, hours_ago: float, queue: str = "deferred") -> QueueEntry:
    arrival = datetime.fromtimestamp(NOW - hours_ago * 3600, tz=UTC)
    return QueueEntry(queue_id, queue, arrival, 30_000, "alice@partner.example", (QueuedRecipient(to, reason),))


def test_reasons_are_classed_and_user_unknown_only_for_local_addresses():
    assert classify(OVER, "full@lab.test", LOCAL) == OVER_QUOTA
    assert classify(UNKNOWN, "ghost@lab.test", LOCAL) == STALE_MAPS
    assert classify(UNKNOWN, "bob@partner.example", LOCAL) is None  # someone else's directory
    assert classify(REFUSED, "bob@partner.example", LOCAL) == RELAY
    assert classify("Host or domain name not found. Name service error", "a@b.example", LOCAL) == "dns"
    assert classify("greylisted, try again later", "a@b.example", LOCAL) is None


def test_deferred_mail_is_grouped_per_recipient_and_class_with_count_oldest_and_bounce_time():
    entries = [
        entry("A1", "full@lab.test", OVER, 5),
        entry("A2", "Full@lab.test", OVER.replace("1-2-3", "4-5-6"), 2),
        entry("A3", "ghost@lab.test", UNKNOWN, 1),
        entry("A4", "full@lab.test", None, 1, queue="active"),  # being delivered: not a deferral
    ]
    problems = find_problems("lab", entries, timedelta(days=3), SETTINGS, LOCAL, NOW)
    assert [(p.key, p.count) for p in problems] == [
        ("lab|over_quota|full@lab.test", 2),
        ("lab|stale_maps|ghost@lab.test", 1),
    ]
    full = problems[0]
    assert full.detail == "452 4.2.2 Over quota"
    assert full.oldest_at == NOW - 5 * 3600
    assert full.bounce_at == NOW - 5 * 3600 + 3 * 86400
    assert full.hint is not None and "after 3 days in the queue Postfix returns the mail to its senders" in full.hint
    assert problems[1].hint is not None and "the Postfix maps are stale" in problems[1].hint


def test_thresholds_and_an_unknown_lifetime():
    entries = [
        entry("A1", "full@lab.test", OVER, 0.1),
        entry("A2", "x@lab.test", OVER, 2),
        entry("A3", "x@lab.test", OVER, 3),
    ]
    strict = AlertsConfig(channel="C1", min_messages=2, min_age=3600)
    (only,) = find_problems("lab", entries, None, strict, LOCAL, NOW)
    assert (only.subject, only.count, only.bounce_at) == ("x@lab.test", 2, None)
    assert only.hint is not None and "maximal_queue_lifetime" in only.hint


def test_a_big_or_fast_growing_deferred_queue_is_one_problem_per_host():
    sized = AlertsConfig(channel="C1", queue_size=100, growth_per_hour=50)
    big = host_problem("lab", 150, None, sized, NOW)
    assert big is not None and (big.key, big.kind) == ("lab|queue", QUEUE_SIZE)
    growing = host_problem("lab", 90, (40, NOW - 1800), sized, NOW)  # +50 in half an hour: 100/h
    assert growing is not None and growing.kind == QUEUE_GROWTH and "100 more per hour" in growing.detail
    assert host_problem("lab", 90, (40, NOW - 60), sized, NOW) is None  # one busy minute is no trend
    assert host_problem("lab", 60, (40, NOW - 1800), sized, NOW) is None


def test_the_state_keeps_problems_edits_them_and_resolves_only_what_a_host_that_answered_lost(tmp_path):
    store = open_state(tmp_path / "state.db").alerts
    first = find_problems("lab", [entry("A1", "full@lab.test", OVER, 5.5)], timedelta(days=3), SETTINGS, LOCAL, NOW)
    down = unreachable_problem("edge", "edge: connection refused")
    store.reconcile([*first, down], ["lab"], NOW)
    assert [(p.key, p.version, p.shown_version) for p in store.to_show()] == [
        ("edge|unreachable", 1, 0),
        ("lab|over_quota|full@lab.test", 1, 0),
    ]
    for problem in store.to_show():
        store.shown(problem.key, problem.version, "C1", f"ts-{problem.host}")
    store.reconcile([*first, down], ["lab"], NOW + 1)  # nothing changed: nothing to show again
    assert store.to_show() == []
    more = find_problems(
        "lab", [entry("A1", "full@lab.test", OVER, 5.5), entry("A2", "full@lab.test", OVER, 1)],
        timedelta(days=3), SETTINGS, LOCAL, NOW + 2,
    )  # fmt: skip
    store.reconcile([*more, down], ["lab"], NOW + 2)
    (edited,) = store.to_show()
    assert (edited.count, edited.version, edited.ts) == (2, 2, "ts-lab")
    store.shown(edited.key, edited.version, None, None)
    store.reconcile([], ["edge"], NOW + 3)  # lab did not answer: its problem stays; edge is back
    (back,) = store.to_show()
    assert back.key == "edge|unreachable" and back.resolved_at == NOW + 3
    assert "Back at" in alert_message(back, NOW + 3)["text"]
    kept = store.get("lab|over_quota|full@lab.test")
    assert kept is not None and kept.resolved_at is None


def test_an_alert_message_says_count_age_time_left_and_has_its_buttons():
    (problem,) = find_problems("lab", [entry("A1", "full@lab.test", OVER, 5)], timedelta(days=3), SETTINGS, LOCAL, NOW)
    store_row = _known(problem)
    message = alert_message(store_row, NOW)
    text = message["blocks"][0]["text"]["text"]
    assert "*full@lab.test: mailbox over quota on lab*" in text
    assert "1 message deferred" in text and "(5 hours ago)" in text
    assert "2 days 19 hours left before Postfix returns them to their senders" in text
    actions = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
    assert [(a["action_id"], a["value"]) for a in actions] == [
        ("mail_alert_trace", problem.key),
        ("mail_alert_flush", problem.key),
    ]


def _known(problem):
    from bot.state.alerts import KnownProblem

    return KnownProblem(
        problem.key, problem.host, problem.kind, problem.subject, problem.detail, problem.hint, problem.count,
        problem.oldest_at, problem.bounce_at, NOW - 60, NOW, None, 1, 0, None, None,
    )  # fmt: skip


def test_watches_are_limited_per_user_and_survive_a_new_connection(tmp_path):
    watches = open_state(tmp_path / "state.db").watches
    watches.create("full@lab.test", "U1", None, NOW + 60, [("lab", "A1")], 2, NOW)
    watches.create("quota2@lab.test", "U1", None, NOW + 60, [("lab", "A2")], 2, NOW)
    with pytest.raises(BadInput, match="You already have 2 active watches, the most allowed"):
        watches.create("john@lab.test", "U1", None, NOW + 60, [("lab", "A3")], 2, NOW)
    watches.create("john@lab.test", "U2", None, NOW + 60, [("lab", "A3")], 2, NOW)  # another user's own limit
    reopened = open_state(tmp_path / "state.db").watches
    assert [w.address for w in reopened.active("U1")] == ["full@lab.test", "quota2@lab.test"]


def test_watch_arguments_for_a_duration_and_bad_ones():
    from bot.core.registry import verb_parser
    from bot.verbs import VERBS
    from bot.verbs.watch import validate_watch

    parser = verb_parser(VERBS["watch"], "/mail watch")
    request = validate_watch(parser.parse_args(["Full@lab.test", "for", "2h"]))
    assert request.address is not None and request.address.value == "full@lab.test"
    assert request.duration == timedelta(hours=2)
    assert validate_watch(parser.parse_args(["full@lab.test", "30m"])).duration == timedelta(minutes=30)
    assert validate_watch(parser.parse_args([])).address is None  # `/mail watch` alone: the list
    with pytest.raises(BadInput, match="is not a duration"):
        validate_watch(parser.parse_args(["full@lab.test", "for", "ever"]))
    with pytest.raises(BadInput, match="Say how long in one word"):
        validate_watch(parser.parse_args(["full@lab.test", "for", "2", "hours"]))
    with pytest.raises(BadInput):
        validate_watch(parser.parse_args(["full@lab.test;id", "for", "2h"]))


def test_every_alert_kind_reads_wholly_french_with_its_advice():
    """Rendered through the real path (the period's decisions, then the message), each kind in French."""
    from bot import i18n
    from tests.test_i18n import english_left

    dns = "Host or domain name not found. Name service error for name=partner.example type=MX"
    settings = AlertsConfig(channel="C1", queue_size=1)
    with i18n.use_language("fr"):
        problems = find_problems(
            "lab",
            [
                entry("A1", "full@lab.test", OVER, 5),
                entry("A2", "ghost@lab.test", UNKNOWN, 5),
                entry("A3", "bob@partner.example", REFUSED, 5),
                entry("A4", "carol@partner.example", dns, 5),
            ],
            timedelta(days=3),
            settings,
            LOCAL,
            NOW,
        )
        too_big = host_problem("lab", 4, None, settings, NOW)
        assert too_big is not None
        problems.append(too_big)
        problems.append(unreachable_problem("edge", "Connexion impossible à edge (192.0.2.9:22) : aucune route."))
        assert sorted(p.kind for p in problems) == [
            "dns",
            "over_quota",
            "queue_size",
            "relay",
            "stale_maps",
            "unreachable",
        ]
        for problem in problems:
            message = alert_message(_known(problem), NOW)
            text = "\n".join([message["text"], *(str(b.get("text", "")) for b in message["blocks"])])
            assert english_left(text) == [], text
            if problem.kind in ("over_quota", "stale_maps", "relay", "dns"):
                assert "Que faire :" in text, text
