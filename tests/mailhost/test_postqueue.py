"""postqueue -j and -p parsers on the lab's real output and third-party listings."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.mailhost.postqueue import QueueFormatError, parse_postqueue_json, parse_postqueue_text
from tests.conftest import FIXTURES, SHARED_CORPUS

LAB = FIXTURES / "lab"
NOW = datetime(2026, 11, 28, 23, 0)


def test_lab_json_listing():
    raw = [json.loads(line) for line in (LAB / "postqueue-j.txt").read_text().splitlines()]
    entries = parse_postqueue_json((LAB / "postqueue-j.txt").read_text().splitlines())
    assert [e.queue_id for e in entries] == [r["queue_id"] for r in raw]
    for entry, record in zip(entries, raw, strict=True):
        assert entry.sender == record["sender"]
        assert entry.size == record["message_size"]
        assert entry.arrival_time == datetime.fromtimestamp(record["arrival_time"], tz=UTC)
        assert entry.queue_name == "deferred"
        assert [r.address for r in entry.recipients] == ["full@lab.test"]
        assert "452 4.2.2 Over quota" in (entry.recipients[0].delay_reason or "")
        assert entry.involves("FULL@lab.test") and not entry.involves("john@lab.test")


def test_lab_text_listing_agrees_with_json():
    from_json = {e.queue_id: e for e in parse_postqueue_json((LAB / "postqueue-j.txt").read_text().splitlines())}
    from_text = parse_postqueue_text((LAB / "postqueue-p.txt").read_text(), NOW)
    assert {e.queue_id for e in from_text} == set(from_json)
    for entry in from_text:
        twin = from_json[entry.queue_id]
        assert (entry.size, entry.sender, entry.recipients) == (twin.size, twin.sender, twin.recipients)
        assert entry.arrival_time.replace(tzinfo=UTC) == twin.arrival_time  # the lab runs in UTC


def test_empty_queue():
    assert parse_postqueue_text("Mail queue is empty\n", NOW) == []
    assert parse_postqueue_json([]) == []


def test_active_markers_and_reasons_at_column_zero():
    entries = parse_postqueue_text((FIXTURES / "corpus" / "kumina-postfix_exporter_showq.txt").read_text(), NOW)
    assert len(entries) == 24
    assert entries[0].queue_id == "C420820802" and entries[0].active
    deferred = [e for e in entries if not e.active]
    assert deferred and all(r.delay_reason for e in deferred for r in e.recipients)


def test_bluemind_doc_listing():
    snippet = (FIXTURES / "corpus" / "bluemind-doc_troubleshooting-snippets.txt").read_text()
    listing = snippet.split("# postqueue -p\n", 1)[1].split("\n\n", 1)[0]
    (entry,) = parse_postqueue_text(listing, NOW)
    assert (entry.queue_id, entry.size, entry.sender) == ("4E4D83AF8E", 943, "full@bluemind.net")
    assert entry.arrival_time == datetime(2026, 3, 2, 7, 10, 58)
    assert entry.recipients[0].delay_reason is not None and "Over quota" in entry.recipients[0].delay_reason


@pytest.mark.skipif(not SHARED_CORPUS.exists(), reason="the GPL samples are read from ../shared/corpus only")
def test_held_messages_and_long_json_ids_from_shared_corpus():
    held = parse_postqueue_text((SHARED_CORPUS / "outini-pymailq_mailq.sample.txt").read_text(), NOW)
    assert len(held) == 30 and any(e.held for e in held)
    lines = (SHARED_CORPUS / "rseichter-postqf_qdata.jsonl").read_text().splitlines()
    entries = parse_postqueue_json(lines)
    assert len(entries) == 5 and all("z" in e.queue_id for e in entries)


def test_something_else_than_postqueue_is_refused():
    with pytest.raises(QueueFormatError):
        parse_postqueue_json(["sudo: a password is required"])
    with pytest.raises(QueueFormatError):
        parse_postqueue_text("FORCED: SSH_ORIGINAL_COMMAND=[postqueue -p]\n", NOW)
