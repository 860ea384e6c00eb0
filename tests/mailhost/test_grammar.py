"""One grammar (bot/mailhost/grammar.py), three readers that must agree on every value.

For each kind of value, the same corpus (the hostile texts of tests/test_hostile_input.py, the
cases of tests/mailhost/test_values.py, every queue id of the real logs in tests/fixtures, and
neighbours of them) goes through:
  - values.py, as a user's text: what it makes of it is what the bot would send;
  - the guard's shapes, as the word of a real command template holding that text;
  - for queue ids, the trace script's awk (the `qid` function and the cache builder's `group`),
    run by mawk and gawk as on a host.
What values refuses the guard refuses too (as it would arrive, raw), and what values accepts the
guard allows (in the form the bot sends it).
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import BadInput
from bot.mailhost import commands, grammar, values
from bot.mailhost.postfix_log import parse_line
from bot.mailhost.tools import bmcli, postfix
from bot.mailhost.tools import cyrus as cyrus_tools
from tests.conftest import FIXTURES
from tests.mailhost import test_values
from tests.mailhost.guardrun import allowed_by
from tests.mailhost.test_guard import STORE, STORE_SHAPES
from tests.test_hostile_input import NASTY

BM = STORE.bm_cli
LOGS = FIXTURES / "corpus"


def _parametrized(test: Callable[..., Any]) -> list[str]:
    """The texts a parametrized test of test_values.py is run with."""
    texts: list[str] = []
    for mark in getattr(test, "pytestmark", []):
        for case in mark.args[1]:
            texts.append(case[0] if isinstance(case, tuple) else case)
    return texts


def _fixture_queue_ids() -> list[str]:
    ids: set[str] = set()
    for path in sorted(LOGS.glob("*.log*")):
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        for raw in data.decode("utf-8", "replace").splitlines():
            match = re.search(r"\]: ([0-9A-Za-z]+): ", raw)
            if match:
                ids.add(match.group(1))
    return sorted(ids)


REAL_QUEUE_IDS = _fixture_queue_ids()
BASE = [
    *NASTY,
    *_parametrized(test_values.test_plain_addresses_are_accepted_and_lower_cased),
    *_parametrized(test_values.test_anything_else_is_refused_with_a_sentence),
    *_parametrized(test_values.test_real_queue_ids_are_recognised),
    *_parametrized(test_values.test_words_that_are_not_queue_ids),
]


def _neighbours(text: str) -> list[str]:
    """The text cut, stretched and bent: where a grammar's edges are."""
    return [text, text[:-1], text[1:], text + text[-1:], text.lower(), text.upper(), text + "z", "-" + text]


QUEUE_ID_CORPUS = sorted(
    {
        variant
        for text in [*BASE, *REAL_QUEUE_IDS, "ABCDEF", "ABCDE", "A" * 24, "A" * 25, "4PcV4K5FPLz3tBrzz", "0123456789z1"]
        for variant in _neighbours(text)
        if "\n" not in variant and "\x00" not in variant and len(variant) < 1000
    }
)


def test_the_corpus_holds_real_queue_ids_of_both_kinds():
    assert len(REAL_QUEUE_IDS) > 100
    assert any(
        grammar.LONG_QUEUE_ID_SEPARATOR in q and not q.isupper() for q in REAL_QUEUE_IDS if values.is_queue_id(q)
    )
    assert any(re.fullmatch("[0-9A-F]+", q) for q in REAL_QUEUE_IDS)


_store_allows = allowed_by(STORE_SHAPES)


def guard_allows(command: commands.RemoteCommand) -> bool:
    return _store_allows(command) is not None


def _awk_accepts(awk: str, ids: list[str]) -> dict[str, tuple[bool, bool]]:
    """What the trace script's `qid` and `group` make of each id, in the lines Postfix writes."""
    programs = dict(re.findall(r"^(qid|group)='(.*?)'$", postfix.TRACE_SCRIPT, re.S | re.M))
    assert set(programs) == {"qid", "group"}
    lines = "".join(f"Dec  1 10:00:00 mx postfix/smtpd[1]: {q}: client=a\n" for q in ids)
    found = subprocess.run(
        [awk, programs["qid"] + ' { print "[" qid($0) "]" }'], input=lines, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    # `group` keeps a message's lines together until `removed`: an id it knows gives one record of two lines.
    pairs = "".join(
        f"Dec  1 10:00:00 mx postfix/smtpd[1]: {q}: client=a\nDec  1 10:00:01 mx postfix/qmgr[2]: {q}: removed\n"
        for q in ids
    )
    grouped = subprocess.run(
        [awk, "-v", "open=/dev/null", programs["group"]], input=pairs, capture_output=True, text=True, check=True
    ).stdout.split("\0")[:-1]
    records = iter(grouped)
    result: dict[str, tuple[bool, bool]] = {}
    for q, qid in zip(ids, found, strict=True):
        record = next(records)
        together = "\n" in record
        if not together:
            next(records)  # the `removed` line, on its own
        result[q] = (qid == f"[{q}]", together)
    return result


AWKS = [awk for awk in ("mawk", "gawk") if shutil.which(awk)]


@pytest.mark.parametrize("awk", AWKS)
def test_queue_ids_values_the_guard_and_the_awk_agree(awk):
    assert AWKS, "no awk to run the trace script's programs"
    ids = [q for q in QUEUE_ID_CORPUS if q and " " not in q and ":" not in q and "]" not in q and "\\" not in q]
    in_awk = _awk_accepts(awk, ids)
    disagree = []
    for q in QUEUE_ID_CORPUS:
        try:
            sent: str | None = values.parse_queue_id(q).value
        except BadInput:
            sent = None
        accepted = sent == q  # values.parse_queue_id strips: " X" is accepted as "X", not as typed
        guard = guard_allows(postfix.flush_message(values.QueueId(q)))
        pattern = re.fullmatch(grammar.QUEUE_ID, q) is not None
        awk_says = in_awk.get(q, (accepted, accepted))
        if not (accepted == values.is_queue_id(q) == guard == pattern == awk_says[0] == awk_says[1]):
            disagree.append((q, accepted, guard, pattern, awk_says))
        if sent is not None:
            assert guard_allows(postfix.flush_message(values.QueueId(sent)))
    assert disagree == []
    assert sum(values.is_queue_id(q) for q in QUEUE_ID_CORPUS) > 100  # not a corpus of refusals only


def _agree(
    parse: Callable[[str], Any],
    sent_form: Callable[[str], Any],
    shaped: Callable[[Any], commands.RemoteCommand],
    corpus: list[str],
    refusals: bool = True,
) -> int:
    """values' verdict on each text against the guard's on the command that carries it; the number
    of texts accepted. `refusals`: the text reaches the host as it is (not re-encoded)."""
    accepted = 0
    for text in corpus:
        try:
            value = parse(text)
        except BadInput:
            if refusals:
                assert not guard_allows(shaped(sent_form(text))), f"values refuses {text!r}, the guard allows it"
            continue
        accepted += 1
        assert guard_allows(shaped(value)), f"values accepts {text!r} as {value}, the guard refuses it"
    return accepted


def _corpus(*extra: str) -> list[str]:
    texts = {variant for text in [*BASE, *extra] for variant in _neighbours(text)}
    return sorted(t for t in texts if t)


def test_addresses_values_and_the_guard_agree():
    corpus = _corpus(
        "a@b.example", "a.b@c.example", "a..b@c.example", "a.@c.example", "'a@c.example", "a'@c.example",
        "a-@c.example", "a@c", "a@-c.example", "a@c-.example", "a@" + "b" * 63 + ".example", "a@" + "b" * 64 + ".ex",
        "a" * 64 + "@c.example", "a" * 65 + "@c.example", "a@" + ".".join(["b" * 60] * 4) + ".example",
    )  # fmt: skip
    accepted = _agree(
        values.parse_address,
        values.Address,
        lambda a: postfix.trace_logs(a, 0, STORE.maillog),
        [t.strip().lower() for t in corpus],
    )
    assert accepted > 20
    mailboxes = _agree(
        values.parse_address,
        values.Address,
        lambda a: cyrus_tools.list_expunged(values.Mailbox(a.local_part, a.domain)),
        [t.strip().lower() for t in corpus if t.count("@") == 1],
    )
    assert mailboxes == accepted


def test_message_ids_values_and_the_guard_agree():
    corpus = _corpus("20261128.1234@example.org", "a.b$c@example.org", "x" * 250, "x" * 251, "-x@y", "a b@c", "a<b")
    corpus = [t for t in corpus if not (t.startswith("<") and t.endswith(">"))]  # values unwraps those
    assert (
        _agree(values.parse_message_id, values.MessageId, lambda m: postfix.message_logs(m, STORE.maillog), corpus) > 10
    )


def test_client_ips_values_and_the_guard_agree():
    corpus = _corpus(
        "192.0.2.1", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "::1", "2001:db8::25",
        "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1::2::3", "fe80::1%eth0", "::ffff:192.0.2.1", "[192.0.2.1]", "::",
        "2001:0db8:0000::1", "g::1", "1.2.3.4/24",
    )  # fmt: skip
    corpus = [t for t in corpus if t == t.strip() and not t.startswith("[")]  # values strips and unwraps those
    accepted = _agree(
        values.parse_client_ip, values.ClientIp, lambda c: postfix.trace_client_logs(c, 0, STORE.maillog), corpus
    )
    assert accepted > 10


def test_uids_values_and_the_guard_agree():
    corpus = _corpus("1", "42", "0", "01", "4294967295", "4294967296", "9999999999", "12345678901", "-1", "1.5")
    accepted = _agree(
        values.parse_uid,
        lambda t: values.Uid(cast(int, t)),  # the text as it would arrive
        lambda u: bmcli.bmcli_history_imap(BM, values.parse_address("j@lab.test"), u, values.parse_folder("INBOX")),
        [t.strip() for t in corpus],
    )
    assert accepted >= 4
    assert guard_allows(
        cyrus_tools.restore_expunged(values.Mailbox("j", "lab.test"), values.Folder("INBOX"), (values.Uid(4294967295),))
    )
    assert not guard_allows(
        cyrus_tools.restore_expunged(values.Mailbox("j", "lab.test"), values.Folder("INBOX"), (values.Uid(4294967296),))
    )


FOLDERS = [
    "INBOX", "Trash", "Archives/2019 (old) & co", "Éléments envoyés", "Sub/values.Folder", "a" * 200, "é" * 200,
    "a" * 201, "/Trash", "Trash/", "a//b", " Trash", "Trash ", "a /b", ".hidden", "-x", "a@b", "a\tb", "日本語/メール",
    "x!#&'+,()", "a.b-c_d",
]  # fmt: skip


def test_folders_values_and_the_guard_agree_for_bm_cli_and_for_cyrus():
    corpus = [t for t in _corpus(*FOLDERS) if t.strip().upper() != "INBOX" and not t.upper().startswith("INBOX/")]
    corpus = [t for t in corpus if t == t.strip()]  # values strips: the guard sees what it sends
    address = values.parse_address("j@lab.test")
    mailbox = values.Mailbox("j", "lab.test")
    bm = _agree(values.parse_folder, values.Folder, lambda f: bmcli.bmcli_deleted(BM, address, f), corpus)
    # In a Cyrus name the folder goes in modified UTF-7: only what values accepts is sent that way.
    cyrus = _agree(
        values.parse_folder, values.Folder, lambda f: cyrus_tools.list_expunged(mailbox, f), corpus, refusals=False
    )
    assert bm == cyrus > 10


def test_search_words_values_and_the_guard_agree():
    corpus = _corpus("Rappel", "budget:2024", "Réunion budget", "_x", "a" * 120, "a" * 121, "a'b", "a;b", 'a"b')
    address = values.parse_address("j@lab.test")
    accepted = _agree(
        lambda t: values.parse_search_words([t]),
        lambda t: values.SearchQuery((t,)),
        lambda q: bmcli.bmcli_history_query(BM, address, q),
        [t for t in corpus if t.split() == [t]],  # one word as typed: values splits on spaces
    )
    assert accepted > 10
    eleven = " ".join(["w"] * 11)
    assert not guard_allows(bmcli.bmcli_history_query(BM, address, values.SearchQuery((eleven,))))
    assert guard_allows(bmcli.bmcli_history_query(BM, address, values.parse_search_words(["w"] * 10)))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789ABCDEFGbcdzyaeZ-. @"), min_size=1, max_size=30))
def test_any_word_is_a_queue_id_for_values_exactly_when_it_is_for_the_guard(text):
    assert values.is_queue_id(text) == guard_allows(postfix.flush_message(values.QueueId(text)))


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[a-z0-9.'_%+=~-]{1,8}@[a-z0-9.-]{1,12}", fullmatch=True))
def test_any_address_is_valid_for_values_exactly_when_the_guard_allows_it(text):
    try:
        valid = values.parse_address(text).value == text
    except BadInput:
        valid = False
    assert valid == guard_allows(postfix.trace_logs(values.Address(text), 0, STORE.maillog))


@settings(max_examples=200, deadline=None)
@given(queue_id=st.sampled_from(QUEUE_ID_CORPUS))
def test_the_log_parser_reads_the_queue_id_values_accepts(queue_id):
    line = parse_line(f"Dec  1 10:00:00 mx postfix/qmgr[2]: {queue_id}: removed", datetime(2026, 12, 3))
    assert line is not None
    assert (line.queue_id == queue_id) == values.is_queue_id(queue_id)
