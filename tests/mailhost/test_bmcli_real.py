"""The parsers and the story against what BlueMind's real bm-cli prints, fact by fact
(reference/BMCLI.md), on samples rendered the way BlueMind's code renders them (bmcli_render.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.mailhost.bmcli import (
    holds,
    parse_ascii_tables,
    parse_bm5_unexpunge,
    parse_directory_entries,
    parse_history,
    parse_repair,
    parse_version,
    read_story,
    refused_option,
    restored_copy,
    whose,
)
from tests.mailhost.bmcli_render import ascii_table, history_table, java_date

T0 = datetime(2025, 2, 3, 14, 3, 7, tzinfo=UTC)
JOHN = "John Doe (USER)"
MARIE = "Marie Durand (USER)"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- AsciiTable ---------------------------------------------------------------------------


def test_a_long_cell_wraps_at_its_last_space_and_is_rejoined_with_one():
    preview = " ".join(f"mot{n}" for n in range(40))  # 199 characters, spaces within reach
    text = ascii_table(["id", "subject", "preview", "last-modification"], [["42", "Réunion", preview, "x"]])
    assert max(len(line) for line in text.splitlines()) < 120  # wrapped at 78, not one long line
    ((row,),), _ = [t.rows for t in parse_ascii_tables(text)[0]], None
    assert row[2] == preview


def test_a_word_longer_than_78_is_cut_inside_and_rejoined_without_a_space():
    url = "https://intranet.example.com/" + "a1b2c3d4" * 15  # 149 characters, no space
    preview = f"Voir {url} merci"
    text = ascii_table(["id", "subject", "preview", "last-modification"], [["7", None, preview, "x"]])
    (table,), _notes = parse_ascii_tables(text)
    assert table.rows[0][2] == preview
    assert table.rows[0][1] == ""  # a null subject prints as an empty cell


def test_an_emoji_and_a_bar_in_a_cell_keep_every_column():
    subject = "Facture 🧾 | relance"
    date = java_date(T0)
    text = ascii_table(["id", "subject", "preview", "last-modification"], [["9", subject, "x", date]])
    row_line = text.splitlines()[3]
    assert len(row_line) == len(text.splitlines()[0]) - 1  # the emoji counts 2 for Java: one short on screen
    (table,), _notes = parse_ascii_tables(text)
    assert table.rows == (("9", subject, "x", date),)


def test_an_empty_table_is_its_header_alone():
    text = ascii_table(["Date", "Type", "Owner", "Folder-UID", "Folder", "Item/IMAP-UID", "Flags"], [])
    assert len(text.splitlines()) == 4
    (history,) = parse_history(text)
    assert history.events == ()


# --- history tables -------------------------------------------------------------------------


def test_dates_are_gmt_and_owner_names_may_hold_parentheses():
    text = history_table([(T0, "Created", "Ressources Humaines (RH) (USER)", "f1", "INBOX", 3, "")])
    (history,) = parse_history(text)
    (event,) = history.events
    assert event.at == T0 and event.at_text == "Mon Feb 03 14:03:07 GMT 2025"
    assert (event.owner, event.owner_kind, event.uid, event.flags) == ("Ressources Humaines (RH)", "USER", 3, ())


def test_a_mail_to_two_colleagues_is_not_read_as_a_move():
    """John and Marie each got a copy; John read his and moved it to Trash."""
    rows = [
        (at(0), "Created", JOHN, "j-inbox", "INBOX", 871, "Seen,Deleted"),
        (at(0.2), "Created", MARIE, "m-inbox", "INBOX", 412, ""),
        (at(3600), "Updated", JOHN, "j-inbox", "INBOX", 871, "Seen,Deleted"),
        (at(3700), "Created", JOHN, "j-trash", "Trash", 15, "Seen"),
        (at(3700.1), "Updated", JOHN, "j-inbox", "INBOX", 871, "Seen,Deleted"),
    ]
    (history,) = parse_history(history_table(rows))
    reading = read_story(history, "John Doe", ("INBOX", 871))
    assert reading == (
        "read, then moved to Trash (new UID 15) and removed from INBOX; "
        "also delivered to Marie Durand's `INBOX` (UID 412)"
    )
    # Marie's story, from the same table: hers is still there, unread
    assert read_story(history, "Marie Durand", ("INBOX", 412)) == (
        "received, still unread in INBOX; also delivered to John Doe's `INBOX` (UID 871)"
    )


def test_the_asked_copy_names_the_owner_when_the_directory_cannot():
    rows = [
        (at(0), "Created", MARIE, "m-inbox", "INBOX", 412, ""),
        (at(0.1), "Created", JOHN, "j-inbox", "INBOX", 871, "Seen"),
    ]
    (history,) = parse_history(history_table(rows))
    assert whose(history, None, ("INBOX", 871)) == "John Doe"
    assert read_story(history, None, ("INBOX", 871)).startswith("received and read, still in INBOX")


def test_blanked_flags_are_unknown_not_empty():
    """Two copies share `5.`: bm-cli blanks the earlier copy's flags. The mail moved: nothing may
    claim it is still in INBOX."""
    rows = [
        (at(0), "Created", JOHN, "j-inbox", "INBOX", 5, "Seen,Deleted"),
        (at(60), "Updated", JOHN, "j-inbox", "INBOX", 5, "Seen,Deleted"),
        (at(61), "Created", JOHN, "j-arch", "2024", 5, "Seen"),
    ]
    (history,) = parse_history(history_table(rows))
    assert [e.flags for e in history.events] == [None, None, ("Seen",)]
    reading = read_story(history, "John Doe", ("INBOX", 5))
    assert "still in INBOX" not in reading
    assert reading.startswith(
        "read, then copied or moved to `2024` (new UID 5); bm-cli does not show whether it left INBOX"
    )
    assert reading.endswith("whether the original is still there is unknown")


def test_a_deleted_entry_ends_a_copy():
    rows = [
        (at(0), "Created", JOHN, "j-inbox", "INBOX", 9, ""),
        (at(30), "Deleted", JOHN, "j-inbox", "INBOX", 9, ""),
    ]
    (history,) = parse_history(history_table(rows))
    assert read_story(history, "John Doe").startswith("deleted from INBOX without going through the Trash (UID 9)")


def test_a_move_to_a_mailshare_and_a_lookup_in_every_folder():
    rows = [
        (at(0), "Created", JOHN, "j-inbox", "INBOX", 7, "Seen,Deleted"),
        (at(90), "Created", "projet (MAILSHARE)", "p-root", "projet", 56, ""),
        (at(90.5), "Updated", JOHN, "j-inbox", "INBOX", 7, "Seen,Deleted"),
    ]
    (history,) = parse_history(history_table(rows))
    assert read_story(history, "John Doe") == (
        "moved to the shared mailbox `projet` (UID 56); not a deletion, so not in the Trash"
    )  # Seen shows on the INBOX row after the move only: when it was read, the table does not say
    assert holds(history, "John Doe", "INBOX", 7) and not holds(history, "John Doe", "Archives/2024", 7)


def test_the_restored_copy_is_found_by_its_body():
    rows = [
        (at(0), "Created", JOHN, "j-inbox", "INBOX", 20, "Seen,Deleted"),
        (at(10), "Updated", JOHN, "j-inbox", "INBOX", 20, "Seen,Deleted"),
        (at(500), "Created", JOHN, "j-inbox", "INBOX", 31, "Seen"),
    ]
    (history,) = parse_history(history_table(rows))
    copy = restored_copy(history, "John Doe", "INBOX", 20)
    assert copy is not None and (copy.uid, copy.folder) == (31, "INBOX")


def test_several_tables_back_to_back_one_per_body():
    one = history_table([(at(0), "Created", JOHN, "a", "INBOX", 1, "")])
    two = history_table([(at(5), "Created", JOHN, "a", "INBOX", 2, "Seen")])
    histories = parse_history(one + "\n" + two)
    assert [h.events[0].uid for h in histories] == [1, 2]


# --- mail unexpunge -------------------------------------------------------------------------

GUID = "3f786850e387550fdab836ed7e6dc881de23001b"


def test_bm5_item_ids_come_with_their_old_uid_and_body():
    skipping = (
        "Skipping action on ItemValue{uid: 14., id: 48213, version: 9, displayName: null, "
        f"value: [rec imap: 14, body: {GUID}, flags: [\\Deleted]]}} because dry mode is enabled."
    )
    table = ascii_table(
        ["id", "subject", "preview", "last-modification"], [["48213", "Alerte disque", "plein", java_date(T0)]]
    )
    text = "\n".join(
        [
            "authN resolves to john@lab.test",
            "Partition is lab_test, checked folder is 'INBOX'",
            "Folder has 1 deleted message(s)",
            skipping,
            table,
            "Checked 1 deleted item(s), will restore 0 item(s)",
        ]
    )
    out = parse_bm5_unexpunge(text)
    (item,) = out.items
    assert (item.id, item.imap_uid, item.body_guid, item.modified) == (48213, 14, GUID, T0)
    assert out.deleted_count == 1


def test_an_unknown_folder_lists_the_folders_and_exits_0():
    text = "Could not locate folder 'null', available folders are:\n * INBOX\n * Archives/Été\n * Trash\n"
    out = parse_bm5_unexpunge(text)
    assert out.missing_folder == "null" and out.available_folders == ("INBOX", "Archives/Été", "Trash")


# --- the directory, the repair, the version ----------------------------------------------------


def test_maintenance_list_finds_any_kind_compact_or_spread():
    compact = (
        '{"kind":"MAILSHARE","email":"projet@lab.test","emails":["projet@lab.test"],'
        '"entryUid":"b7e1","displayName":"projet"}'
    )
    (entry,) = parse_directory_entries(compact)
    assert (entry.kind, entry.email, entry.display_name, entry.entry_uid) == (
        "MAILSHARE",
        "projet@lab.test",
        "projet",
        "b7e1",
    )
    spread = '{\n  "kind" : "USER",\n  "email" : "john@lab.test",\n  "displayName" : "John Doe"\n}\n'
    assert parse_directory_entries("Global progress 1/1 (100%)\n" + spread)[0].display_name == "John Doe"


def test_a_failed_repair_is_read_from_its_lines_not_its_exit_status():
    stdout = "Selected ops: [mailboxPostfixMaps]\n[john@lab.test (john-uid)] Repairing mailboxPostfixMaps\n"
    ok = parse_repair(stdout, "")
    assert ok.entries == 1 and ok.failures == () and len(ok.log) == 1
    failed = parse_repair(stdout, "Failed to repair entry john@lab.test: NullPointerException\n")
    assert failed.failures == ("Failed to repair entry john@lab.test: NullPointerException",)


def test_versions_and_refused_options():
    assert parse_version("5.0.0.202406031742\n") == (5, 0)
    assert parse_version("4.8.0.202206141015-labstandin") == (4, 8)
    assert parse_version("nothing") is None
    usage = "Unknown option: '--folderPath'\nUsage: bm-cli mail history-imap --email=<email> --imapUid=<imapUid>\n"
    assert refused_option(usage) == "--folderPath"
    assert refused_option("Invalid or unknown domain : x") is None
