"""Grammars of the deleted-mail verbs' values (their templates: tests/mailhost/tools)."""

from __future__ import annotations

import pytest

from bot.errors import BadInput
from bot.mailhost.values import (
    INBOX,
    Uid,
    encode_imap_utf7,
    mailbox_of,
    parse_folder,
    parse_search_words,
    parse_uid,
    parse_uids,
    spool_file,
)

BM_CLI = "/usr/bin/bm-cli"


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "12a", "4294967296", "", " ", "1e3", "０1", "1;id", "$(id)"])
def test_bad_uids(text):
    with pytest.raises(BadInput, match="not a mail UID"):
        parse_uid(text)


def test_uids():
    assert parse_uid(" 42 ") == Uid(42)
    assert parse_uids(["7", "3", "7"]) == (Uid(3), Uid(7))
    with pytest.raises(BadInput, match="at least one UID"):
        parse_uids([])
    with pytest.raises(BadInput, match="too many"):
        parse_uids([str(i) for i in range(1, 300)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("inbox", "INBOX"), ("INBOX/Trash", "Trash"), ("Archives/2024", "Archives/2024"), ("Éléments envoyés", None)],
)
def test_folders(text, expected):
    assert parse_folder(text).value == (expected or text)


@pytest.mark.parametrize(
    "text",
    ["-rf", ".hidden", "a//b", "x@other.test", "*", "%", "a/", "x\ny", "a;b", "a$b", "`id`", "a\\b", "x" * 300, ""],
)
def test_bad_folders(text):
    with pytest.raises(BadInput):
        parse_folder(text)


def test_modified_utf7_as_cyrus_names_folders():
    assert encode_imap_utf7("Éléments envoyés") == "&AMk-l&AOk-ments envoy&AOk-s"
    assert encode_imap_utf7("R&D") == "R&-D"
    mailbox = mailbox_of("john", "lab.test")
    assert mailbox.folder_name(parse_folder("Éléments envoyés")) == "user/john/&AMk-l&AOk-ments envoy&AOk-s@lab.test"
    assert mailbox.folder_name(INBOX) == "user/john@lab.test"


def test_search_words():
    assert parse_search_words(["Rappel", "facture 2024-113"]).value == "Rappel facture 2024-113"
    for bad in (["--all"], ['"x"'], ["a*"], ["OR(", "x"], [], ["w"] * 11):
        with pytest.raises(BadInput):
            parse_search_words(bad)


def test_mailbox_from_host_data_is_held_to_the_address_grammar():
    assert mailbox_of("marie.durand", "lab.test").cyrus_name == "user/marie.durand@lab.test"
    with pytest.raises(BadInput):
        mailbox_of("john; id", "lab.test")


def test_spool_paths():
    assert spool_file("/var/spool/cyrus/mail/domain/l/lab.test/j/user/john", Uid(7)).value.endswith("/john/7.")
    for bad in ("relative/path", "/var/spool/../../etc", "/var/spool/cyrus/with space", "/x/.hidden"):
        with pytest.raises(ValueError):
            spool_file(bad, Uid(1))
