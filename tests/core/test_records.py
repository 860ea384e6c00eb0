"""The JSON texts of a trace's records, written without dicts, against json's own encoder.

`--json` writes messages, deliveries and verdicts as text made by hand (records.message_text,
Verdict.json_text): each must be byte for byte what `json.dumps(..., ensure_ascii=False)` of its
dict gives, whatever the strings hold and whatever the clocks say.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import records, render
from bot.mailhost import verdicts as v
from bot.mailhost.mail_flow import Delivery, Message, Notice, assemble
from bot.mailhost.postfix_log import LineParser
from tests.conftest import FIXTURES

# Strings a log can carry and JSON must escape: quotes, backslashes, controls, line separators,
# non-Latin text, a replacement character (invalid UTF-8 read with errors replaced).
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "\u2028", "é", "漢", "\ufffd", "😀"]),
        st.characters(codec="utf-8"),
    ),
    max_size=12,
)
MAYBE_TEXT = st.none() | TEXT
ZONES = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30)), ZoneInfo("Europe/Paris")]
)
NIGHTS_TURNED_BACK = [datetime(2026, 10, 25, 2, 30), datetime(2027, 10, 31, 2, 0, 1)]  # Paris: each 02:xx twice


@st.composite
def stamps(draw: st.DrawFn) -> datetime:
    moment = draw(
        st.sampled_from(NIGHTS_TURNED_BACK)
        | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
    )
    return moment.replace(tzinfo=draw(ZONES), fold=draw(st.integers(0, 1)))


DELIVERIES = st.builds(
    Delivery,
    recipient=TEXT,
    orig_recipient=MAYBE_TEXT,
    status=st.sampled_from(["sent", "deferred", "bounced", "expired"]) | TEXT,
    dsn=TEXT,
    relay=TEXT,
    delay=st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 10**6).map(float),
    at=stamps(),
    response=TEXT,
    daemon=TEXT,
    mailbox=MAYBE_TEXT,
    folder=MAYBE_TEXT,
    imap_uid=st.none() | st.integers(0, 2**32),
    next_queue_id=MAYBE_TEXT,
)
MESSAGES = st.builds(
    Message,
    queue_id=TEXT,
    host=TEXT,
    first_seen=stamps(),
    last_seen=stamps(),
    message_id=MAYBE_TEXT,
    sender=MAYBE_TEXT,
    client=MAYBE_TEXT,
    size=st.none() | st.integers(0, 2**40),
    nrcpt=st.none() | st.integers(0, 1000),
    deliveries=st.lists(DELIVERIES, max_size=3).map(tuple),
    rejections=st.just(()),
    notices=st.lists(st.builds(Notice, kind=TEXT, queue_id=TEXT), max_size=2).map(tuple),
    expired=st.booleans(),
    removed=st.booleans(),
    admin_actions=st.just(()),
    lines=st.just(()),
)
VERDICTS = st.builds(
    v.Verdict,
    kind=st.sampled_from(v.KINDS),
    recipient=MAYBE_TEXT,
    orig_recipient=MAYBE_TEXT,
    sender=MAYBE_TEXT,
    hops=st.lists(st.builds(v.Hop, host=TEXT, queue_id=TEXT), max_size=3).map(tuple),
    arrived=stamps(),
    at=stamps(),
    message_id=MAYBE_TEXT,
    client=MAYBE_TEXT,
    attempts=st.integers(0, 10**4),
    first_deferred=st.none() | stamps(),
    last_deferred=st.none() | stamps(),
    reason=MAYBE_TEXT,
    cause=MAYBE_TEXT,
    dsn=MAYBE_TEXT,
    relay=MAYBE_TEXT,
    mailbox=MAYBE_TEXT,
    folder=MAYBE_TEXT,
    imap_uid=st.none() | st.integers(0, 2**32),
    next_queue_id=MAYBE_TEXT,
    notice_queue_id=MAYBE_TEXT,
    notice_to=MAYBE_TEXT,
    in_queue=st.none() | st.booleans(),
    gives_up_at=st.none() | stamps(),
    refused_on=MAYBE_TEXT,
    redirect_rule=MAYBE_TEXT,
)


@settings(max_examples=400)
@given(message=MESSAGES, previous=MAYBE_TEXT)
def test_a_message_s_text_is_what_the_encoder_writes_of_its_dict(message: Message, previous: str | None) -> None:
    expected = render.encode(records.message_json(message, previous))
    assert records.message_text(message, previous, render.stamp_texts()) == expected
    more = ', "verdict": []'
    assert records.message_text(message, previous, render.stamp_texts(), more) == expected[:-1] + more + "}"


@settings(max_examples=400)
@given(verdict=VERDICTS)
def test_a_verdict_s_text_is_what_the_encoder_writes_of_its_dict(verdict: v.Verdict) -> None:
    assert verdict.json_text(render.stamp_texts()) == render.encode(verdict.to_json())


def test_one_instant_in_two_zones_keeps_each_zone_s_text() -> None:
    """Two hosts in two time zones: equal times (the same instant) are not the same text; nor are
    the two 02:30 of a night the clock is turned back (equal, told apart by `fold` only)."""
    stamp = render.stamp_texts()
    paris = datetime(2026, 12, 4, 16, 17, tzinfo=timezone(timedelta(hours=1)))
    utc = paris.astimezone(UTC)
    assert paris == utc
    assert [stamp(paris), stamp(utc), stamp(paris)] == [
        '"2026-12-04T16:17:00+01:00"',
        '"2026-12-04T15:17:00+00:00"',
        '"2026-12-04T16:17:00+01:00"',
    ]
    zone = ZoneInfo("Europe/Paris")
    first, second = datetime(2026, 10, 25, 2, 30, tzinfo=zone), datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=zone)
    assert first == second
    assert [stamp(first), stamp(second), stamp(first)] == [
        '"2026-10-25T02:30:00+02:00"',
        '"2026-10-25T02:30:00+01:00"',
        '"2026-10-25T02:30:00+02:00"',
    ]
    assert [stamp(second), stamp(first)] == ['"2026-10-25T02:30:00+01:00"', '"2026-10-25T02:30:00+02:00"']


def test_every_record_of_the_corpus_log_is_written_as_the_encoder_writes_it() -> None:
    """pixelpark's real log (tests/fixtures/corpus/README.md): its messages and verdicts, one
    time object shared by many records, as a trace writes them."""
    text = gzip.decompress((FIXTURES / "corpus" / "pixelpark-postfix-logsums_mail.log.gz").read_bytes())
    parser = LineParser(datetime(2030, 1, 1))
    lines = text.decode("utf-8", "replace").splitlines()
    flow = assemble([line for raw in lines if (line := parser.parse(raw))], "mx")
    verdicts = v.read_verdicts(flow.messages, flow.rejections)
    assert len(flow.messages) > 200 and len(verdicts) > 200
    stamp = render.stamp_texts()
    origins = records.origins(list(flow.messages))
    written = [records.message_text(m, origins.get(m.queue_id), stamp) for m in flow.messages]
    assert written == [render.encode(records.message_json(m, origins.get(m.queue_id))) for m in flow.messages]
    assert [x.json_text(stamp) for x in verdicts] == [render.encode(x.to_json()) for x in verdicts]
    assert {len(x.record()) for x in verdicts} == {len(v.Verdict._fields)}  # those made in bulk have every field
    assert json.loads(written[0])["queue_id"] == flow.messages[0].queue_id


def test_a_long_answer_s_times_are_each_their_own_text() -> None:
    """More distinct times than the texts kept (a busy trace's 75,000): each time, asked again after
    thousands of others, in any order, is still its own text."""
    stamp = render.stamp_texts()
    start = datetime(2026, 12, 4, tzinfo=UTC)
    times = [start + timedelta(seconds=n) for n in range(10_000)]
    expected = [f'"{t.isoformat()}"' for t in times]
    assert [stamp(t) for t in times] == expected
    assert [stamp(t) for t in reversed(times)] == expected[::-1]
    assert [stamp(t) for t in times[::7]] == expected[::7]
