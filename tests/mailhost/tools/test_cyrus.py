"""The Cyrus tools' templates: what reaches a remote shell, and how."""

from __future__ import annotations

import shlex

import pytest

from bot.mailhost.tools import cyrus
from bot.mailhost.values import INBOX, Uid, mailbox_of, parse_folder


def test_templates_quote_each_word_and_use_absolute_tools():
    mailbox = mailbox_of("john", "lab.test")
    listing = cyrus.list_expunged(mailbox, parse_folder("Archives/2024"))
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
    restore = cyrus.restore_expunged(mailbox, INBOX, (Uid(3), Uid(7)))
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
    assert cyrus.restore_all_expunged(mailbox, INBOX).argv[5:] == ("-a", "-d", "-v", "user/john@lab.test")
    with pytest.raises(ValueError):
        cyrus.restore_expunged(mailbox, INBOX, ())
