from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import BadInput
from bot.mailhost.values import is_queue_id, parse_address, parse_duration, parse_queue_id


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("john@lab.test", "john@lab.test"),
        ("  John.Doe@Lab.Test ", "john.doe@lab.test"),
        ("marie.durand+news@sub.example.co.uk", "marie.durand+news@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("user@xn--bcher-kva.example", "user@xn--bcher-kva.example"),
    ],
)
def test_plain_addresses_are_accepted_and_lower_cased(typed, expected):
    assert parse_address(typed).value == expected


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "required"),
        ("john", "exactly one @"),
        ("a@b@c.example", "exactly one @"),
        ("x;rm -rf /@lab.test", "letters, digits"),
        ("$(id)@lab.test", "letters, digits"),
        ("`id`@lab.test", "letters, digits"),
        ("-oProxyCommand=x@lab.test", "may not start"),
        (".john@lab.test", "may not start"),
        ("jo..hn@lab.test", "letters, digits"),
        ('"john doe"@lab.test', "letters, digits"),
        ("john@localhost", "no valid domain"),
        ("john@-lab.test", "no valid domain"),
        ("john@lab.test\nrm", "not plain ASCII"),
        ("john@lab.test\x00", "not plain ASCII"),
        ("jоhn@lab.test", "not plain ASCII"),  # Cyrillic o
        ("user@bücher.example", "xn-- form"),
        ("a" * 300 + "@lab.test", "at most 254"),
    ],
)
def test_anything_else_is_refused_with_a_sentence(typed, says):
    with pytest.raises(BadInput) as refused:
        parse_address(typed)
    assert says in refused.value.message
    assert refused.value.exit_code == 2
    assert "\n" not in refused.value.message


@given(st.text(max_size=300))
def test_an_accepted_address_holds_no_shell_metacharacter(text):
    try:
        address = parse_address(text)
    except BadInput:
        return
    assert not set(address.value) & set(' \t\n"`$;&|<>()\\*?[]{}!#')
    assert not address.value.startswith("-")


@pytest.mark.parametrize("queue_id", ["C5BF3135FAF", "4PcV4K5FPLz3tBr", "AB7CC16E2A3", "48rT2v1hQrz1J0N", "7EE668039"])
def test_real_queue_ids_are_recognised(queue_id):
    assert is_queue_id(queue_id)
    assert parse_queue_id(queue_id).value == queue_id


@pytest.mark.parametrize("text", ["NOQUEUE", "warning", "statistics", "c5bf3135faf", "AB7C", "4PcV4K5FPL", "x;id"])
def test_words_that_are_not_queue_ids(text):
    assert not is_queue_id(text)


def test_durations():
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration("1w") == timedelta(weeks=1)
    for bad in ("", "2", "d", "-2d", "2 d", "2D", "1y", "0d", "999999d"):
        with pytest.raises(BadInput):
            parse_duration(bad)


def test_a_zero_duration_is_told_as_such():
    with pytest.raises(BadInput) as refused:
        parse_duration("0m")
    assert refused.value.message == "'0m' looks back no time at all: give at least 1, like 30m or 2d."
    with pytest.raises(BadInput, match="is not a duration"):
        parse_duration("0")
