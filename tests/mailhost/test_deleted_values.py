"""Grammars and templates of the deleted-mail verbs: what reaches a remote shell, and how."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from bot.errors import BadInput
from bot.mailhost import commands
from bot.mailhost.values import (
    INBOX,
    Uid,
    encode_imap_utf7,
    mailbox_of,
    parse_address,
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


def test_templates_quote_each_word_and_use_absolute_tools():
    mailbox = mailbox_of("john", "lab.test")
    listing = commands.list_expunged(mailbox, parse_folder("Archives/2024"))
    argv = shlex.split(listing.shell_line())
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[4:] == [
        "sudo",
        "-n",
        "-u",
        "cyrus",
        "/usr/lib/cyrus/bin/unexpunge",
        "-l",
        "user/john/Archives/2024@lab.test",
    ]
    restore = commands.restore_expunged(mailbox, INBOX, (Uid(3), Uid(7)))
    assert restore.argv == (
        "sudo",
        "-n",
        "-u",
        "cyrus",
        "/usr/lib/cyrus/bin/unexpunge",
        "-u",
        "-d",
        "-v",
        "user/john@lab.test",
        "3",
        "7",
    )
    assert commands.restore_all_expunged(mailbox, INBOX).argv[5:] == ("-a", "-d", "-v", "user/john@lab.test")
    query = commands.bmcli_history_query(BM_CLI, parse_address("jdoe@lab.test"), parse_search_words(["l'été", "x"]))
    assert shlex.split(query.shell_line()) == [
        "sudo", "-n", BM_CLI, "mail", "history-query", "--email", "jdoe@lab.test", "--query", "l'été x"
    ]  # fmt: skip
    with pytest.raises(ValueError):
        commands.bmcli_version("bm-cli; id")
    with pytest.raises(ValueError):
        commands.restore_expunged(mailbox, INBOX, ())


def test_a_real_shell_runs_the_clock_wrapper_with_the_exact_words():
    mailbox = mailbox_of("o'brien", "lab.test")
    command = commands.list_expunged(mailbox, parse_folder("R&D (old)"))
    probe = commands.RemoteCommand("probe", (*command.argv[:4], "printf", "%s\\n", *command.argv[4:]))
    out = subprocess.run(["/bin/sh", "-c", probe.shell_line()], capture_output=True, text=True, check=True).stdout
    marker, *words = out.splitlines()
    assert marker.startswith("#mailbot host now=")
    assert words[-1] == "user/o'brien/R&-D (old)@lab.test"


def test_several_bm5_restores_run_in_one_fixed_script():
    command = commands.bmcli_restore(BM_CLI, parse_address("john@lab.test"), INBOX, (Uid(3), Uid(4)))
    assert command.argv[:2] == ("/bin/sh", "-c") and command.argv[2] == commands.BM5_RESTORE_SCRIPT
    assert command.argv[3:] == ("mailbot-restore", BM_CLI, "john@lab.test", "INBOX", "3", "4")
    single = commands.bmcli_restore(BM_CLI, parse_address("john@lab.test"), INBOX, (Uid(3),))
    assert single.argv == ("sudo", "-n", BM_CLI, "mail", "unexpunge", "john@lab.test", "--folder", "INBOX", "--id", "3")
