"""The guard program, generated from the templates, run here as sshd would run it."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import parse_config
from bot.errors import BadInput
from bot.mailhost import commands, guard
from bot.mailhost import host as mail_host
from bot.mailhost.tools import bmcli, cyrus, postfix
from bot.mailhost.values import (
    INBOX,
    PostfixMap,
    mailbox_of,
    parse_address,
    parse_body_guid,
    parse_client_ip,
    parse_folder,
    parse_mail_numbers,
    parse_message_id,
    parse_queue_id,
    parse_search_words,
    parse_uid,
    parse_uids,
    spool_file,
)
from tests.mailhost.guardrun import allowed_by, loaded

HOST = parse_config(
    {
        "hosts": [
            {
                "name": "mx",
                "address": "192.0.2.1",
                "user": "bmsupport",
                "key_file": "/k",
                "known_hosts": "/kh",
                "maillog": ["/var/log/mail.log", "/var/log/mail.err"],
                "regen_maps": [["sudo", "-n", "/usr/sbin/postmap", "hash:/etc/postfix/vmailbox"]],
            }
        ]
    },
    Path("/etc/mailbot/mailbot.yaml"),
).hosts[0]
SHAPES = guard.shapes_for(HOST)


allowed = allowed_by(SHAPES)


@settings(max_examples=200, deadline=None)
@given(
    text=st.from_regex(r"[a-zA-Z0-9._%+=~'-]{1,20}@[a-z0-9-]{1,10}\.[a-z]{2,6}", fullmatch=True),
    since=st.integers(0, 2**33),
)
def test_every_trace_the_bot_can_send_is_allowed(text, since):
    try:
        address = parse_address(text)
    except BadInput:
        return
    assert allowed(postfix.trace_logs(address, since, HOST.maillog), "read") == "trace_logs"


@pytest.mark.parametrize(
    ("command", "name"),
    [
        (postfix.message_logs(parse_queue_id("4PcV4K5FPLz3tBr"), HOST.maillog), "message_by_queue_id"),
        (postfix.message_logs(parse_message_id("<a.b$c@example.org>"), HOST.maillog), "message_by_message_id"),
        (postfix.trace_client_logs(parse_client_ip("192.0.2.25"), 1_700_000_000, HOST.maillog), "trace_by_client"),
        (postfix.trace_client_logs(parse_client_ip("2001:DB8::25"), 0, HOST.maillog), "trace_by_client"),
        (
            postfix.trace_message_id_logs(parse_message_id("<a.b$c@example.org>"), 1_700_000_000, HOST.maillog),
            "trace_by_message_id",
        ),
        (postfix.queue_json(), "queue_json"),
        (postfix.queue_text(), "queue_text"),
        (mail_host.probe_host(HOST.maillog), "probe_host"),
        (postfix.postfix_version(), "postfix_version"),
        (postfix.queue_lifetime(), "queue_lifetime"),
        (postfix.flush_queue(), "flush_queue"),
        (postfix.flush_message(parse_queue_id("C5BF3135FAF")), "flush_message"),
        (postfix.regen_maps(HOST.regen_maps, HOST.bm_cli), "regen_maps"),
        (postfix.address_maps(), "address_maps"),
        (
            postfix.map_lookup(parse_address("jdoe@lab.test"), PostfixMap("hash:/etc/postfix/virtual_mailbox")),
            "map_lookup",
        ),
    ],
)
def test_each_template_matches_its_own_shape(command, name):
    assert allowed(command) == name


EDGE = parse_config(
    {
        "hosts": [
            {
                "name": "edge",
                "address": "192.0.2.2",
                "user": "bmsupport",
                "key_file": "/k",
                "known_hosts": "/kh",
                "maillog": "/var/log/mail-edge.log",
                "postfix_config": "/etc/postfix-edge",
                "roles": ["mta"],
            }
        ]
    },
    Path("/etc/mailbot/mailbot.yaml"),
).hosts[0]


def test_a_postfix_instance_host_allows_its_own_instance_only():
    allowed_on_edge = allowed_by(guard.shapes_for(EDGE))

    edge = EDGE.postfix_config
    assert allowed_on_edge(postfix.queue_json(edge)) == "queue_json"
    assert allowed_on_edge(postfix.queue_text(edge)) == "queue_text"
    assert allowed_on_edge(postfix.postfix_version(edge)) == "postfix_version"
    assert allowed_on_edge(postfix.queue_lifetime(edge)) == "queue_lifetime"
    assert allowed_on_edge(postfix.queue_lifetime()) is None
    assert allowed_on_edge(postfix.flush_queue(edge)) == "flush_queue"
    assert allowed_on_edge(postfix.flush_message(parse_queue_id("4PcV4K5FPLz3tBr"), edge)) == "flush_message"
    # the default instance, or another one, is not what this host entry names
    assert allowed_on_edge(postfix.queue_json()) is None
    assert allowed_on_edge(postfix.flush_queue()) is None
    assert allowed_on_edge(postfix.queue_json("/etc/postfix-evil")) is None
    assert allowed(postfix.queue_json(edge)) is None  # nor the other way round


def test_a_read_only_key_cannot_change_anything():
    assert allowed(postfix.flush_queue(), "read") is None
    assert allowed(postfix.queue_json(), "write") is None


@pytest.mark.parametrize(
    "argv",
    [
        ["rm", "-rf", "/"],
        ["/bin/sh", "-c", "id"],
        ["/usr/sbin/postqueue", "-j", "-c", "/tmp/evil"],
        ["sudo", "-n", "/usr/sbin/postqueue", "-i", "ABC; id"],
        [
            "/bin/sh",
            "-c",
            postfix.TRACE_SCRIPT + "\nid",
            "mailbot-trace",
            "anycase",
            "<a@b.example>",
            "0",
            "/var/log/mail.log",
        ],
        ["/bin/sh", "-c", postfix.TRACE_SCRIPT, "mailbot-trace", "anycase", "<a@b.example>", "0", "/etc/shadow"],
        [
            "/bin/sh",
            "-c",
            postfix.TRACE_SCRIPT,
            "mailbot-trace",
            "anycase",
            "<$(id)@b.example>",
            "0",
            "/var/log/mail.log",
            "/var/log/mail.err",
        ],
        ["/bin/sh", "-c", postfix.TRACE_SCRIPT, "mailbot-trace", "exact", "[1.2.3.4]; id", "0", "/var/log/mail.log"],
        ["/bin/sh", "-c", postfix.TRACE_SCRIPT, "mailbot-trace", "exact", "[1.2.3.4", "0", "/var/log/mail.log"],
        ["/bin/sh", "-c", postfix.TRACE_SCRIPT, "mailbot-trace", "anycase", "[1.2.3.4]", "0", "/var/log/mail.log"],
        ["/bin/sh", "-c", postfix.TRACE_SCRIPT, "mailbot-trace", "exact", "[.*]", "0", "/var/log/mail.log"],
        ["/bin/sh", "-c", postfix.TRACE_SCRIPT, "mailbot-trace", "exact", "message-id=<a b>", "5", "/var/log/mail.log"],
        [
            "/bin/sh",
            "-c",
            postfix.TRACE_SCRIPT,
            "mailbot-trace",
            "exact",
            "-f/etc/passwd",
            "0",
            "/var/log/mail.log",
            "/var/log/mail.err",
        ],
    ],
)
def test_anything_else_is_refused(argv):
    assert allowed(commands.RemoteCommand("x", tuple(argv))) is None


@pytest.fixture
def program(tmp_path) -> Path:
    path = tmp_path / "mailbot-guard"
    path.write_text(guard.program(SHAPES))
    path.chmod(0o755)
    return path


def run_guard(program: Path, log: Path, original: str | None, mode: str = "all") -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    if original is not None:
        env["SSH_ORIGINAL_COMMAND"] = original
    return subprocess.run(
        [sys.executable, str(program), "--log", str(log), mode], env=env, capture_output=True, text=True, check=False
    )


PROGRAM = loaded(SHAPES)
split = cast(Callable[[str], "list[str] | None"], PROGRAM["split"])
# What a shell line may hold: shlex.quote's own characters, the others a shell gives meaning to,
# the blanks shlex splits on and those it does not (vertical tab, no-break space), Latin letters.
SHELL_TEXT = st.text(alphabet=st.sampled_from("ab-/._ '\"\\ \t\n\r\x0b\xa0é#$;|&*"), max_size=30)


def shlex_or_none(line: str) -> list[str] | None:
    try:
        return shlex.split(line)
    except ValueError:
        return None


@settings(max_examples=500, deadline=None)
@given(st.lists(SHELL_TEXT, max_size=6))
def test_the_program_splits_the_words_shlex_quote_wrote(words):
    assert split(" ".join(shlex.quote(word) for word in words)) == words


@settings(max_examples=500, deadline=None)
@given(SHELL_TEXT)
def test_the_program_splits_any_line_as_shlex_does(line):
    """Quoted as the bot quotes or not: the same words as shlex.split's (None where it refuses)."""
    assert split(line) == shlex_or_none(line)


def test_the_log_search_is_split_without_shlex(monkeypatch):
    """The 18 kB script of the log search takes the quick way (shlex took 10 ms for it on the host)."""
    command = postfix.trace_logs(parse_address("o'brien@example.com"), 0, HOST.maillog)
    monkeypatch.setitem(PROGRAM, "shlex_split", lambda line: pytest.fail("shlex was needed"))
    assert split(command.shell_line()) == list(command.argv)


def test_the_program_writes_the_log_search_once():
    """Ten shapes hold the log search's script; the program holds it once (it is compiled at every command)."""
    text = guard.program(SHAPES)
    assert text.count("export LC_ALL=C\\numask 077") == 1
    assert len(text) < 60_000


def test_the_program_runs_an_allowed_command_without_a_shell(program, tmp_path):
    log = tmp_path / "guard.log"
    line = "timeout -k 2 30 " + postfix.postfix_version().shell_line()
    done = run_guard(program, log, line)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()[0].isdigit()  # the Postfix version
    assert "allowed postfix_version: '/usr/sbin/postconf -h mail_version'" in log.read_text()


@pytest.mark.parametrize(
    "original",
    [
        "rm -rf /tmp/mailbot-guard-victim",
        "timeout -k 2 30 rm -rf /tmp/mailbot-guard-victim",
        "/usr/sbin/postconf -h mail_version; rm -rf /tmp/mailbot-guard-victim",
        "sudo -n /usr/sbin/postqueue -f",  # a write, on a read-only key
        "'unclosed",
    ],
)
def test_the_program_refuses_and_logs(program, tmp_path, original):
    victim = Path("/tmp/mailbot-guard-victim")
    victim.mkdir(exist_ok=True)
    log = tmp_path / "guard.log"
    done = run_guard(program, log, original, mode="read")
    assert done.returncode == 126
    assert "mailbot-guard: refused" in done.stderr
    assert victim.exists()
    assert log.read_text().startswith(tuple("0123456789")) and "refused: " in log.read_text()
    victim.rmdir()


def test_an_interactive_login_is_refused(program, tmp_path):
    done = run_guard(program, tmp_path / "guard.log", None)
    assert done.returncode == 126 and "no shell" in done.stderr


def test_the_authorized_keys_line():
    line = guard.authorized_keys_line(
        "ssh-ed25519 AAAAC3Nza mailbot@x\n", "/usr/local/lib/mailbot-guard", "read", "/home/b/g.log"
    )
    assert line == (
        'command="/usr/local/lib/mailbot-guard --log /home/b/g.log read",restrict ssh-ed25519 AAAAC3Nza mailbot@x'
    )
    assert shlex.split(line.split('"')[1])[-1] == "read"
    assert os.sep in line


STORE = parse_config(
    {
        "hosts": [
            {
                "name": "store",
                "address": "192.0.2.3",
                "user": "bmsupport",
                "key_file": "/k",
                "known_hosts": "/kh",
                "maillog": "/var/log/mail.log",
                "roles": ["mta", "store", "bmcli"],
                "bm_cli": "/usr/bin/bm-cli",
            }
        ]
    },
    Path("/etc/mailbot/mailbot.yaml"),
).hosts[0]
STORE_SHAPES = guard.shapes_for(STORE)


allowed_on_store = allowed_by(STORE_SHAPES)


JOHN = mailbox_of("john", "lab.test")
SENT = parse_folder("Éléments envoyés")
ARCHIVE = parse_folder("Archives/2019 (old) & co")
BM = STORE.bm_cli
J = parse_address("j@lab.test")
JOHN_ADDRESS = parse_address("john@lab.test")
ALL_UIDS = parse_uids([str(n) for n in range(1, 201)])


@pytest.mark.parametrize(
    ("command", "name", "writes"),
    [
        (cyrus.mailbox_path(JOHN), "mailbox_path", False),
        (cyrus.mailbox_path(JOHN, SENT), "mailbox_path", False),
        (cyrus.list_expunged(JOHN), "list_expunged", False),
        (cyrus.list_expunged(JOHN, ARCHIVE), "list_expunged", False),
        (cyrus.index_records(JOHN), "index_records", False),
        (cyrus.index_records(JOHN, others=False), "index_records", False),
        (cyrus.mail_head(spool_file("/var/spool/cyrus/mail/j/user/john", parse_uid("42"))), "mail_head", False),
        (mail_host.bluemind_probe(BM), "bluemind_probe", False),
        (bmcli.bmcli_version(BM), "bmcli_version", False),
        (bmcli.bmcli_user(BM, parse_address("john@lab.test")), "bmcli_user", False),
        (
            bmcli.bmcli_history_imap(BM, J, parse_uid("7"), SENT),
            "bmcli_history_imap",
            False,
        ),
        (
            bmcli.bmcli_history_imap(BM, J, parse_uid("7"), INBOX),
            "bmcli_history_imap",
            False,
        ),
        (
            bmcli.bmcli_history_query(BM, J, parse_search_words(["Réunion", "budget:2024"])),
            "bmcli_history_query",
            False,
        ),
        (bmcli.bmcli_deleted(BM, J, INBOX), "bmcli_deleted", False),
        (bmcli.bmcli_deleted(BM, J, parse_folder("projet/sub"), JOHN_ADDRESS), "bmcli_deleted", False),
        (bmcli.bmcli_entry(BM, J), "bmcli_entry", False),
        (bmcli.bmcli_history_imap(BM, J, parse_uid("7"), None), "bmcli_history_imap", False),
        (
            bmcli.bmcli_history_guid(BM, parse_body_guid("3F786850E387550FDAB836ED7E6DC881DE23001B")),
            "bmcli_history_guid",
            False,
        ),
        (bmcli.bmcli_folder_path_probe(BM), "bmcli_history_imap", False),
        (cyrus.restore_expunged(JOHN, INBOX, parse_uids(["19"])), "restore_expunged", True),
        (
            cyrus.restore_expunged(JOHN, ARCHIVE, parse_uids([str(n) for n in range(1, 201)])),
            "restore_expunged",
            True,
        ),
        (cyrus.restore_all_expunged(JOHN, SENT), "restore_all_expunged", True),
        (bmcli.bmcli_restore(BM, J, INBOX, parse_uids(["5"])), "bmcli_restore", True),
        (
            bmcli.bmcli_restore(BM, J, SENT, parse_uids(["5", "6", "7"])),
            "bmcli_restore",
            True,
        ),
        (bmcli.bmcli_restore(BM, J, INBOX, parse_mail_numbers(["9664800014"]), JOHN_ADDRESS), "bmcli_restore", True),
        (
            bmcli.bmcli_restore(BM, J, INBOX, parse_mail_numbers(["9223372036854775807", "5"]), JOHN_ADDRESS),
            "bmcli_restore",
            True,
        ),
        (bmcli.bmcli_restore_all(BM, J, INBOX), "bmcli_restore_all", True),
        (bmcli.bmcli_restore_all(BM, J, INBOX, JOHN_ADDRESS), "bmcli_restore_all", True),
    ],
)
def test_each_deleted_mail_template_matches_its_own_shape(command, name, writes):
    assert allowed_on_store(command) == name
    assert allowed_on_store(command, "write" if writes else "read") == name
    assert allowed_on_store(command, "read" if writes else "write") is None  # a read key restores nothing


UNEXPUNGE = "/usr/lib/cyrus/bin/unexpunge"


@pytest.mark.parametrize(
    "argv",
    [
        ["sudo", "-n", "-u", "cyrus", UNEXPUNGE, "-u", "-d", "-v", "user/john@lab.test", "19;id"],
        ["sudo", "-n", "-u", "cyrus", UNEXPUNGE, "-u", "-d", "-v", "user/john@lab.test"],  # no UID at all
        ["sudo", "-n", "-u", "cyrus", UNEXPUNGE, "-u", "-d", "-v", "user/john@lab.test", *["1"] * 201],
        ["sudo", "-n", "-u", "cyrus", UNEXPUNGE, "-u", "-d", "-v", "user/john/../../x@lab.test", "19"],
        ["sudo", "-n", "-u", "cyrus", UNEXPUNGE, "-u", "-d", "-v", "user/*@lab.test", "19"],
        ["sudo", "-n", "-u", "cyrus", UNEXPUNGE, "-a", "-d", "-v", "-f", "user/john@lab.test"],
        ["sudo", "-n", "-u", "cyrus", "/usr/bin/head", "-c", "65536", "--", "/etc/shadow"],
        ["sudo", "-n", "-u", "cyrus", "/usr/bin/head", "-c", "65536", "--", "/var/spool/cyrus/../../etc/42."],
        ["sudo", "-n", "-u", "cyrus", "/usr/bin/head", "-c", "999999", "--", "/var/spool/cyrus/mail/42."],
        ["sudo", "-n", "/usr/bin/bm-cli", "mail", "history-query", "--email", "j@lab.test", "--query", "a; id"],
        ["sudo", "-n", "/usr/bin/bm-cli", "mail", "history-query", "--email", "j@lab.test", "--query", "-x"],
        ["sudo", "-n", "/usr/bin/bm-cli", "user", "delete", "j@lab.test"],
        ["sudo", "-n", "/tmp/bm-cli", "--version"],
        ["/bin/sh", "-c", bmcli.BM5_RESTORE_SCRIPT + "; id", "mailbot-restore", BM, "j@lab.test", "INBOX", "1", "2"],
        [
            "/bin/sh",
            "-c",
            bmcli.BM5_RESTORE_SCRIPT,
            "mailbot-restore",
            BM,
            "j@lab.test",
            "INBOX",
            "-",
            "9223372036854775808",
        ],
        ["sudo", "-n", BM, "mail", "history-guid", "--body-guid", "../../etc/passwd"],
        ["sudo", "-n", BM, "maintenance", "repair", "all", "--ops", "mailboxPostfixMaps"],  # a change, not configured
        ["sudo", "-n", BM, "maintenance", "list", "*"],
        ["/usr/sbin/postmap", "-q", "j@lab.test", "hash:/etc/shadow"],
        ["/usr/sbin/postmap", "-q", "j@lab.test", "hash:/etc/postfix/../shadow"],
    ],
)
def test_deleted_mail_lookalikes_are_refused(argv):
    assert allowed_on_store(commands.RemoteCommand("x", tuple(argv))) is None


def test_a_host_without_the_store_role_allows_no_mailbox_tool():
    assert allowed(cyrus.list_expunged(JOHN)) == "list_expunged"  # HOST's roles default to mta, store
    assert allowed_on_edge_shapes(cyrus.list_expunged(JOHN)) is None
    assert allowed_on_edge_shapes(bmcli.bmcli_version(BM)) is None


allowed_on_edge_shapes = allowed_by(guard.shapes_for(EDGE))
