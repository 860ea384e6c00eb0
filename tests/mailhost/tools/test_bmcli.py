"""bm-cli's templates: what reaches a remote shell, and how."""

from __future__ import annotations

import shlex

import pytest

from bot.mailhost.tools import bmcli
from bot.mailhost.values import INBOX, Uid, parse_address, parse_search_words

BM_CLI = "/usr/bin/bm-cli"
JOHN = parse_address("john@lab.test")


def test_bm_cli_templates_quote_each_word_and_use_its_absolute_path():
    query = bmcli.bmcli_history_query(BM_CLI, parse_address("jdoe@lab.test"), parse_search_words(["l'été", "x"]))
    assert shlex.split(query.shell_line()) == [
        "sudo", "-n", BM_CLI, "mail", "history-query", "--email", "jdoe@lab.test", "--query", "l'été x"
    ]  # fmt: skip
    with pytest.raises(ValueError):
        bmcli.bmcli_version("bm-cli; id")


def test_several_bm5_restores_run_in_one_fixed_script():
    command = bmcli.bmcli_restore(BM_CLI, parse_address("john@lab.test"), INBOX, (Uid(3), Uid(4)))
    assert command.argv[:2] == ("/bin/sh", "-c") and command.argv[2] == bmcli.BM5_RESTORE_SCRIPT
    assert command.argv[3:] == ("mailbot-restore", BM_CLI, "john@lab.test", "INBOX", "-", "3", "4")
    share = bmcli.bmcli_restore(BM_CLI, parse_address("projet@lab.test"), INBOX, (Uid(3), Uid(4)), JOHN)
    assert share.argv[3:] == ("mailbot-restore", BM_CLI, "projet@lab.test", "INBOX", "john@lab.test", "3", "4")
    single = bmcli.bmcli_restore(BM_CLI, parse_address("john@lab.test"), INBOX, (Uid(3),))
    assert single.argv == ("sudo", "-n", BM_CLI, "mail", "unexpunge", "john@lab.test", "--folder", "INBOX", "--id", "3")
