"""`postconf -h maximal_queue_lifetime`: Postfix time values, the unit defaulting to days."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.mailhost.postconf import PostconfFormatError, parse_postfix_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5d\n", timedelta(days=5)),
        ("3\n", timedelta(days=3)),  # no unit: days, for maximal_queue_lifetime
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("3600s", timedelta(hours=1)),
        ("1w", timedelta(weeks=1)),
        ("0", timedelta(0)),
    ],
)
def test_postfix_time_values_and_their_units(text, expected):
    assert parse_postfix_time(text) == expected


def test_the_default_unit_is_the_parameters_own():
    assert parse_postfix_time("30", default_unit="s") == timedelta(seconds=30)


@pytest.mark.parametrize("text", ["", "3 days", "-1d", "mailbot-guard: refused: not one of the bot's commands"])
def test_anything_else_is_refused(text):
    with pytest.raises(PostconfFormatError):
        parse_postfix_time(text)
