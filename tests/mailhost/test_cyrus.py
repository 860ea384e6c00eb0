"""The Cyrus parsers on real output: the shared captures (Cyrus 3.6.1) and what the lab printed
(`lab/capture-fixtures.sh deleted`, tests/fixtures/lab/deleted/)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from bot.mailhost.cyrus import (
    CyrusFormatError,
    decode_mime_words,
    parse_ctime,
    parse_mail_headers,
    parse_mbexamine,
    parse_mbpath,
    parse_unexpunge_list,
    parse_unexpunge_restore,
)
from tests.conftest import FIXTURES

CAPTURES = FIXTURES / "captures"  # copies of shared/reference/captures (real Cyrus 3.6.1 output)
LAB = FIXTURES / "lab" / "deleted"


def capture(name: str) -> str:
    return (CAPTURES / name).read_text()


def outputs(text: str) -> dict[str, tuple[str, int]]:
    """The captures' `$ command` blocks: command -> (output, rc)."""
    blocks: dict[str, tuple[str, int]] = {}
    for match in re.finditer(r"^\$ (?P<cmd>[^\n]*)\n(?P<out>.*?)\[rc=(?P<rc>\d+)\]", text, re.S | re.M):
        blocks.setdefault(match["cmd"], (match["out"], int(match["rc"])))
    return blocks


def lab(name: str) -> str:
    path = LAB / name
    if not path.exists():
        pytest.fail(f"{path} missing: run lab/capture-fixtures.sh deleted and commit what it writes")
    return path.read_text()


def test_unexpunge_list_from_the_capture():
    out, rc = outputs(capture("unexpunge-l.txt"))["/usr/lib/cyrus/bin/unexpunge -l user/john@lab.test"]
    listing = parse_unexpunge_list(out)
    assert rc == 0 and listing.failure is None
    assert [m.uid for m in listing.mails] == [2, 3, 4, 7]
    first = listing.mails[0]
    assert first.size == 761
    assert first.sent == datetime(2026, 11, 28, 0, 0, 0)
    assert first.received == datetime(2026, 11, 28, 0, 2, 50)
    assert first.expunged == datetime(2026, 11, 28, 0, 2, 54)
    assert first.sender == "<alice@partner.example>" and first.to == "<john@lab.test>"
    assert first.cc is None and first.bcc is None
    assert first.subject == "Rappel: reunion lundi 9h"


def test_a_missing_mailbox_is_a_line_without_newline_and_exit_0():
    for command, (out, rc) in outputs(capture("unexpunge-bad.txt")).items():
        if " -l " in command and "does not exist" in out:
            listing = parse_unexpunge_list(out)
            assert rc == 0 and listing.mails == () and listing.mailbox_missing, command
    real = lab("unexpunge-l-missing.txt")
    assert not real.endswith("\n")  # exactly as Cyrus writes it
    listing = parse_unexpunge_list(real)
    assert listing.mailbox_missing and "lab.test!user.nosuch" in (listing.failure or "")


def test_the_labs_listing_decodes_literal_and_encoded_subjects():
    text = lab("unexpunge-l-john.txt")
    listing = parse_unexpunge_list(text)
    uids = [int(u) for u in re.findall(r"^UID: (\d+)$", text, re.M)]
    assert [m.uid for m in listing.mails] == uids and len(uids) >= 7
    subjects = {m.subject for m in listing.mails}
    assert "Alerte disque /var 91%" in subjects  # a literal: `Subj: {22}` then the text
    assert "{22}" in text
    # Sent as =?UTF-8?B?...?=; Cyrus 3.6 caches it decoded, as a literal counted in bytes (26, not 22)
    assert "Échéance TVA – relance" in subjects
    assert "Subj: {26}\nÉchéance TVA – relance\n" in text
    assert all(m.expunged and m.received and m.size for m in listing.mails)


def test_a_broken_cache_record_keeps_the_mail_without_its_addresses():
    listing = parse_unexpunge_list(lab("unexpunge-l-cache-error.txt"))
    good, broken = listing.mails
    assert good.subject == "cache test 0" and good.cache_error is None
    assert broken.uid == 2 and broken.sender is None and broken.subject is None
    assert broken.cache_error == "cache record missing or corrupt, not printing cache details"
    assert broken.size and broken.expunged


def test_anything_else_is_refused():
    with pytest.raises(CyrusFormatError):
        parse_unexpunge_list("sudo: a terminal is required\n")
    assert parse_unexpunge_list("").mails == ()


def test_restore_output_gives_old_and_new_uids():
    out, _ = outputs(capture("unexpunge-restore.txt"))["/usr/lib/cyrus/bin/unexpunge -a -d -v user/john@lab.test"]
    restored = parse_unexpunge_restore(out)
    assert [(r.old_uid, r.new_uid) for r in restored.restored] == [(3, 24), (4, 25), (7, 26)]
    assert restored.count == 3 and restored.failure is None
    lab_run = parse_unexpunge_restore(lab("unexpunge-restore.txt"))
    assert len(lab_run.restored) == 1 and lab_run.count == 1
    assert lab_run.restored[0].new_uid > lab_run.restored[0].old_uid
    assert lab_run.restored[0].mailbox == "user/bob.martin@lab.test"


def test_restore_silent_failures():
    unknown = parse_unexpunge_restore(lab("unexpunge-restore-unknown.txt"))
    assert unknown.restored == () and unknown.count == 0 and unknown.failure is None
    out, rc = outputs(lab("unexpunge-restore-missing.txt")).popitem()[1]
    missing = parse_unexpunge_restore(out)
    assert rc == 20 and missing.failure == "Failed to open mailbox 'lab.test!user.nosuch'"
    usage = outputs(capture("unexpunge-bad.txt"))["/usr/lib/cyrus/bin/unexpunge -u -d user/john@lab.test"][0]
    assert parse_unexpunge_restore(usage).usage


def test_mbpath():
    assert parse_mbpath(lab("mbpath-john.txt")).endswith("/lab.test/j/user/john")
    out, _ = outputs(capture("spool.txt"))["/usr/lib/cyrus/bin/mbpath user/john@lab.test"]
    assert parse_mbpath(out) == "/var/spool/cyrus/mail/domain/l/lab.test/j/user/john"
    with pytest.raises(CyrusFormatError):
        parse_mbpath("Invalid mailbox name: 'user/nosuch@lab.test'\n")


def test_mbexamine_gives_each_present_mail_with_guid_and_cache():
    records = parse_mbexamine(lab("mbexamine-john.txt"))
    boxes = {r.mailbox for r in records}
    assert {"user/john@lab.test", "user/john/Trash@lab.test", "projet@lab.test"} <= boxes
    assert all(r.guid and len(r.guid) == 40 and r.size > 0 and r.internal_date > 0 for r in records)
    trash = [r for r in records if r.mailbox == "user/john/Trash@lab.test"]
    assert any("seen" in r.flags for r in trash)  # read, then moved to the Trash
    ceo = parse_mbexamine(lab("mbexamine-ceo.txt"))
    assert ceo and any(r.subject == "Alerte disque /var 91%" for r in ceo)  # a literal, on the next line


def test_ctime_and_mime_words():
    assert parse_ctime("Sat Nov  2 00:02:54 2026") == datetime(2026, 11, 2, 0, 2, 54)
    assert parse_ctime("garbage") is None
    assert decode_mime_words("=?UTF-8?Q?=C3=89ch=C3=A9ance?= TVA") == "Échéance TVA"
    assert decode_mime_words("=?bogus?X?zz?=") == "=?bogus?X?zz?="


def test_headers_of_a_lab_mail_file():
    path = LAB / "mail-head-encoded.txt"
    if not path.exists():
        pytest.fail(f"{path} missing: run lab/capture-fixtures.sh deleted and commit what it writes")
    data = path.read_bytes()
    headers = parse_mail_headers(data)
    assert headers.subject == "Échéance TVA – relance"
    assert headers.sender == "noreply@impots.gouv.fr" and headers.to == "john@lab.test"
    assert headers.message_id and headers.message_id.startswith("<") and headers.date


def test_headers_folded_and_missing():
    headers = parse_mail_headers(b"Subject: a long\r\n subject\r\nFrom: A <a@b.c>\r\n\r\nSubject: body\r\n")
    assert headers.subject == "a long subject" and headers.sender == "A <a@b.c>" and headers.message_id is None
    assert parse_mail_headers(b"") == parse_mail_headers(b"\r\n")


def test_fixture_folder_exists():
    assert Path(LAB).is_dir(), "run lab/capture-fixtures.sh deleted"
