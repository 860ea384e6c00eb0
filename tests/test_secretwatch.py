"""The secret watch finds what it is there to find (so that its silence means something)."""

from __future__ import annotations

import logging

from tests.secretwatch import LogWatch, SecretWatch


def test_the_watch_finds_a_secret_in_a_log_record_a_traceback_and_a_file(tmp_path):
    watch = SecretWatch()
    token = watch.add("bot token", "xoxb-1234-watch-me")
    logger = logging.getLogger("tests.secretwatch.sample")
    logger.propagate = False
    logger.addHandler(LogWatch(watch))
    logger.info("calling with %s", "nothing")
    assert watch.leaks == []
    logger.warning("calling with %s", token)
    try:
        raise RuntimeError(f"bad token {token}")
    except RuntimeError:
        logger.exception("failed")
    (tmp_path / "audit.db").write_bytes(b"\x00\x01" + token.encode() + b"\x02")
    (tmp_path / "clean.log").write_text("nothing here\n")
    watch.scan_files(tmp_path)
    assert watch.leaks == [
        "the bot token appears in a log record of tests.secretwatch.sample",
        "the bot token appears in a log record of tests.secretwatch.sample",
        f"the bot token appears in {tmp_path / 'audit.db'}",
    ]
    assert watch.seen["log records"] == 3 and watch.seen["files"] == 2


def test_short_values_are_not_watched():
    watch = SecretWatch()
    watch.add("passphrase", "abc")  # would match by chance everywhere
    watch.scan("abcdef", "somewhere")
    assert watch.leaks == []
