"""The bm-cli parsers and the plain reading of a mail's story: on the seed's tables (BlueMind's
documentation) and on what the lab's bm-cli stand-in printed from the lab's real Cyrus data."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from bot.mailhost.bmcli import (
    BmCliFormatError,
    HistoryEvent,
    MailHistory,
    parse_ascii_tables,
    parse_bm5_unexpunge,
    parse_history,
    parse_java_date,
    parse_user_get,
    read_story,
)
from tests.conftest import FIXTURES

SEED = (FIXTURES / "corpus" / "bluemind-doc_troubleshooting-snippets.txt").read_text()
LAB = FIXTURES / "lab" / "deleted"
UNREAD = "received, still unread in INBOX"
TRASHED = re.compile(r"read, then moved to Trash \(new UID \d+\) and removed from INBOX")
MAILSHARE = re.compile(r"moved to the shared mailbox `projet` \(UID \d+\); not a deletion, so not in the Trash")


def seed_block(command: str) -> str:
    start = SEED.index(command)
    end = SEED.find("\n# bm-cli", start + 1)
    return SEED[start : end if end > 0 else None]


def lab(name: str) -> str:
    path = LAB / name
    if not path.exists():
        pytest.fail(f"{path} missing: run lab/capture-fixtures.sh deleted and commit what it writes")
    return path.read_text()


def test_the_seeds_three_stories():
    query = parse_history(seed_block("bm-cli mail history-query --email jdoe@blue-mind.net --query Rappel"))
    assert [len(h.events) for h in query] == [1, 4]
    assert read_story(query[0]) == UNREAD
    assert read_story(query[1]) == "read, then moved to Trash (new UID 3) and removed from INBOX"
    moved = parse_history(seed_block("bm-cli mail history-imap --email jdoe@blue-mind.net --imapUid 7"))
    (story,) = moved
    assert story.events[2].owner == "projet" and story.events[2].owner_kind == "MAILSHARE"
    assert story.events[2].uid == 56
    assert read_story(story) == (
        "moved to the shared mailbox `project` (UID 56); not a deletion, so not in the Trash"
    )  # the English page's Folder column says "project" (its Owner column, "projet")


def test_history_rows():
    (history,) = parse_history(seed_block("bm-cli mail history-imap --email john.test@local.lan --imapUid 1"))
    first = history.events[0]
    assert first.at == datetime(2019, 6, 13, 13, 11, 14, tzinfo=UTC)
    assert (first.kind, first.owner, first.owner_kind, first.folder, first.uid) == (
        "Created",
        "John Test",
        "USER",
        "INBOX",
        12617,
    )
    assert first.folder_uid == "mbox_records_nqjg0zo2avnp9p8i121e8czq"
    assert history.events[1].flags == ("Seen", "Important")
    assert history.events[0].flags is None  # empty, and 12617. appears again below: not shown
    # the Trash copy's Owner is another user: the table says so, the reading too
    assert read_story(history) == "read, then moved to admin admin's `Trash` (new UID 12617) and removed from INBOX"


def test_the_lab_stories_as_the_stand_in_prints_them():
    """The last table of each query is the latest traffic run's mail."""
    assert read_story(parse_history(lab("bmcli-query-convocation.txt"))[-1]) == UNREAD
    assert TRASHED.fullmatch(read_story(parse_history(lab("bmcli-query-facture.txt"))[-1]))
    assert MAILSHARE.fullmatch(read_story(parse_history(lab("bmcli-query-apollon.txt"))[-1]))
    (trashed,) = parse_history(lab("bmcli-history-trashed.txt"))
    assert TRASHED.fullmatch(read_story(trashed))
    assert [e.folder for e in trashed.events] == ["INBOX", "Trash", "INBOX"]
    (shared,) = parse_history(lab("bmcli-history-mailshare.txt"))
    assert MAILSHARE.fullmatch(read_story(shared))
    assert parse_history(lab("bmcli-history-unknown-uid.txt")) == []  # bm-cli prints nothing at all


def test_a_query_prints_one_table_per_mail_back_to_back():
    text = lab("bmcli-query-rappel.txt")
    histories = parse_history(text)
    assert len(histories) == text.count("| Date ")
    assert len(histories) >= 3
    readings = {read_story(h) for h in histories}
    assert UNREAD in readings
    assert any(TRASHED.fullmatch(r) for r in readings) and any(MAILSHARE.fullmatch(r) for r in readings)


def test_tables_cut_at_the_border_columns():
    text = "\n".join(
        [
            "note before",
            "+----+-----------+",
            "| id | subject   |",
            "+----+-----------+",
            "|  1 | a | b     |",
            "+----+-----------+",
            "|  2 |  long one |",
            "|    |  continued|",
            "+----+-----------+",
            "+----+",
            "| id |",
            "+----+",
            "note after",
        ]
    )
    tables, notes = parse_ascii_tables(text)
    assert [t.rows for t in tables] == [(("1", "a | b"), ("2", "long one continued")), ()]
    assert notes == ["note before", "note after"]


def test_bm5_unexpunge_dry():
    out = parse_bm5_unexpunge(lab("bmcli-unexpunge-dry.txt"))
    assert out.deleted_count == len(out.items) > 0
    ids = [int(i) for i in re.findall(r"ItemValue\{id=(\d+)\}", lab("bmcli-unexpunge-dry.txt"))]
    assert [i.id for i in out.items] == ids
    assert all(i.modified and i.modified.tzinfo for i in out.items)
    assert "Alerte disque /var 91%" in {i.subject for i in out.items}
    missing = parse_bm5_unexpunge(lab("bmcli-unexpunge-no-folder.txt"))
    assert missing.missing_folder == "Nope" and "INBOX" in missing.available_folders and missing.items == ()


def test_bm5_unexpunge_run_and_errors():
    run = parse_bm5_unexpunge("Folder has 2 deleted message(s)\nRecover message with id 7\nack: 41\n")
    assert run.acks == 1 and run.recovered_ids == (7,)
    with pytest.raises(BmCliFormatError):
        parse_bm5_unexpunge("+----+\n| no |\n+----+\n| x  |\n+----+\n")


def test_user_get():
    (user,) = parse_user_get(lab("bmcli-user-get.txt"))
    assert (user.login, user.email) == ("john", "john@lab.test")
    assert parse_user_get(lab("bmcli-user-get-unknown.txt")) == []
    with pytest.raises(BmCliFormatError):
        parse_user_get("{not json")


def test_java_dates():
    assert parse_java_date("Thu Jun 13 14:09:42 CEST 2019") == datetime(2019, 6, 13, 12, 9, 42, tzinfo=UTC)
    assert parse_java_date("Thu Jun 13 14:09:42 GMT+02:00 2019") == datetime(2019, 6, 13, 12, 9, 42, tzinfo=UTC)
    assert parse_java_date("Thu Jun 13 14:09:42 XYZT 2019") == datetime(2019, 6, 13, 14, 9, 42)
    assert parse_java_date("yesterday") is None


def _event(kind: str, folder: str, uid: int, flags: tuple[str, ...] = (), owner_kind: str = "USER") -> HistoryEvent:
    return HistoryEvent(None, "", kind, "x", owner_kind, f"f-{folder}", folder, uid, flags)


def test_other_readings():
    deleted = MailHistory((_event("Created", "INBOX", 5), _event("Updated", "INBOX", 5, ("Seen", "Deleted"))))
    assert read_story(deleted).startswith("read, then deleted from INBOX without going through the Trash (UID 5)")
    archived = MailHistory(
        (_event("Created", "INBOX", 5), _event("Created", "Archives", 1), _event("Updated", "INBOX", 5, ("Deleted",)))
    )
    assert read_story(archived) == "moved to the folder `Archives` (new UID 1) and removed from INBOX"
    emptied = MailHistory(
        (
            _event("Created", "INBOX", 5),
            _event("Created", "Trash", 2),
            _event("Updated", "INBOX", 5, ("Deleted",)),
            _event("Updated", "Trash", 2, ("Deleted",)),
        )
    )
    assert read_story(emptied).startswith(
        "moved to Trash (new UID 2) and removed from INBOX; then deleted from the Trash"
    )
    restored = MailHistory(
        (_event("Created", "INBOX", 5), _event("Updated", "INBOX", 5, ("Deleted",)), _event("Created", "INBOX", 9))
    )
    assert read_story(restored) == "restored in INBOX as UID 9"
    assert read_story(MailHistory(())) == "no history recorded for this mail"
