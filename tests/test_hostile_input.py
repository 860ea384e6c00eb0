"""Hostile text, from the terminal or from Slack, either is refused or becomes validated values.

For every verb's grammar: any words (hypothesis) and a fixed corpus of nasty inputs go
through the same path as a real command (Slack's unwrapping, the verb's parser, its
validation). The outcome is a BadInput sentence, or a request whose every field is a value
of a strict type, or free text that is only stored (a reason), never sent to a shell.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.registry import verb_parser
from bot.errors import BadInput
from bot.mailhost.values import Address, MessageId, QueueId
from bot.slack.text import command_words
from bot.verbs import VERBS
from tests.conftest import GUARD_LOG, LAB_CONFIG, guard_log_since, run_mailbot

SAFE_WORD = re.compile(r"[A-Za-z0-9@._%+=~'-]+")  # what may reach a remote command as a value
STORED_ONLY = {"reason"}  # free text kept in the audit and on the card, never in a command
DOMAINS = {"domain"}  # the queue's filter (`/mail queue example.com`): read in the bot, validated as a domain
NASTY = [
    "john@lab.test; rm -rf /",
    "john@lab.test && id",
    "`id`@lab.test",
    "$(id)@lab.test",
    "${IFS}@lab.test",
    "john@lab.test\nid",
    "john@lab.test\x00",
    "'john'@lab.test",
    '"john doe"@lab.test',
    "-oProxyCommand=sh@lab.test",
    "--since=1d",
    "a" * 100_000,
    "jоhn@lab.test",  # Cyrillic о
    "john@lab。test",  # ideographic full stop
    "ｊｏｈｎ@lab.test",  # full width
    "user@bücher.example",
    "<mailto:a@b.example|a@b.example>",
    "<mailto:evil;id@b.example|a@b.example>",
    "<@U123ABC>",
    "*bold* _it_ ~strike~",
    "john@lab.test|cat /etc/shadow",
    "../../etc/passwd",
    "%0aid",
    "john@lab.test #comment",
]
VERB_NAMES = sorted(name for name, verb in VERBS.items() if not verb.cli_only)


def outcome(verb_name: str, text: str) -> Any:
    """What the bot makes of `/mail VERB text`: a validated request, or BadInput."""
    verb = VERBS[verb_name]
    words = command_words(text)
    if "-h" in words or "--help" in words:
        raise BadInput("help")
    return verb.validate(verb_parser(verb, f"/mail {verb_name}").parse_args(words))


def assert_only_safe_values(request: Any) -> None:
    if request is None:
        return
    for field in dataclasses.fields(request):
        value = getattr(request, field.name)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if item is None or isinstance(item, (bool, int)):
                continue
            if isinstance(item, (Address, QueueId, MessageId)):
                text = item.value
                assert not text.startswith("-"), (field.name, text)
                if not isinstance(item, MessageId):
                    assert SAFE_WORD.fullmatch(text), (field.name, text)
                else:
                    assert not set(text) & set(" \t\n\r\x00<>"), text
            elif hasattr(item, "value"):
                assert not str(item.value).startswith("-"), (field.name, item)
                assert "\n" not in str(item.value) and "\x00" not in str(item.value), (field.name, item)
            elif isinstance(item, str) and field.name in DOMAINS:
                assert SAFE_WORD.fullmatch(item) and not item.startswith("-"), (field.name, item)
            elif isinstance(item, str):
                assert field.name in STORED_ONLY or field.name == "host", (field.name, item)
                assert "\x00" not in item
            elif dataclasses.is_dataclass(item):
                assert_only_safe_values(item)


@pytest.mark.parametrize("verb_name", VERB_NAMES)
@pytest.mark.parametrize("text", NASTY)
def test_nasty_corpus(verb_name, text):
    try:
        request = outcome(verb_name, text)
    except BadInput as refused:
        assert refused.message and "\n" not in refused.message.strip().split("\n")[0]
        assert len(refused.message) < 400
        return
    assert_only_safe_values(request)


@pytest.mark.parametrize("verb_name", VERB_NAMES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.lists(st.text(max_size=40), max_size=5))
def test_any_words(verb_name, words):
    text = " ".join(words)
    try:
        request = outcome(verb_name, text)
    except BadInput:
        return
    assert_only_safe_values(request)


# --- the same corpus against the lab, through the guard --------------------------------------

# Each nasty text in each place a verb takes a value; the other places hold good values.
PLACES = [
    ["trace", "{}"],
    ["trace", "john@lab.test", "--since", "{}"],
    ["message", "{}"],
    ["queue", "{}"],
    ["deleted", "{}"],
    ["deleted", "john@lab.test", "--folder", "{}"],
    ["history", "{}", "1"],
    ["history", "john@lab.test", "{}"],
    ["history", "john@lab.test", "1", "--folder", "{}"],
    ["search", "john@lab.test", "{}"],
    ["locate", "john@lab.test", "{}"],
    ["restore", "john@lab.test", "{}"],
    ["flush", "{}"],
]


def test_nasty_inputs_from_the_terminal_reach_the_host_only_as_the_bots_commands(lab_config):
    """Every nasty text in every place, through the CLI (in-process: NUL and 100 kB included),
    against the lab: a clear answer each time, and the guard's log shows only allowed shapes."""
    before = GUARD_LOG.stat().st_size
    answers = {0: 0, 1: 0, 2: 0}
    for place in PLACES:
        for text in NASTY:
            argv = ["--config", str(LAB_CONFIG), *(word.replace("{}", text) for word in place)]
            run = run_mailbot(*argv)
            code, out, err = run.returncode, run.stdout, run.stderr
            assert code in answers, (argv[2:], code, err)
            answers[code] += 1
            assert "Traceback" not in out + err and "internal error" not in err, (argv[2:], err)
            if code:
                # one line, named after the program (`mailbot: `) or, for a usage mistake, its verb
                assert re.match(r"mailbot(?: [a-z-]+)?: ", err) and err.count("\n") == 1, (argv[2:], err)
    logged = guard_log_since(before)
    refused = [line for line in logged if " refused" in line]
    assert refused == [], refused
    assert logged, "nothing reached the host: the corpus no longer exercises the guard"
    allowed = sorted({line.split(" allowed ", 1)[1].split(":")[0] for line in logged})
    print(
        f"\n{len(PLACES) * len(NASTY)} nasty commands from the terminal: {answers[2]} refused as bad input, "
        f"{answers[1]} failed on the host, {answers[0]} answered; {len(logged)} commands reached the host, "
        f"all allowed shapes ({', '.join(allowed)}); 0 outside them"
    )
