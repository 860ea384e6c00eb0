import pytest

from bot.errors import BadInput
from bot.slack.text import command_words


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("trace john@lab.test", ["trace", "john@lab.test"]),
        ("trace <mailto:john@lab.test|john@lab.test>", ["trace", "john@lab.test"]),
        ("trace <mailto:john@lab.test> --since 2d", ["trace", "john@lab.test", "--since", "2d"]),
        ("  trace   john@lab.test  ", ["trace", "john@lab.test"]),
        ('search john@lab.test "rappel réunion"', ["search", "john@lab.test", "rappel réunion"]),
        ("search john@lab.test \u201crappel\u201d", ["search", "john@lab.test", "rappel"]),
        ("trace a&amp;b &lt;x&gt;", ["trace", "a&b", "<x>"]),
        ("trace <http://lab.test|lab.test>", ["trace", "lab.test"]),
        ("trace\u00a0john@lab.test\u202f--since\u20072d", ["trace", "john@lab.test", "--since", "2d"]),
        ("trace \u200bjohn@lab.test\ufeff", ["trace", "john@lab.test"]),
        ("", []),
    ],
)
def test_slack_markup_is_unwrapped(typed, words):
    assert command_words(typed) == words


def test_shell_syntax_stays_plain_text():
    assert command_words("trace john@lab.test;id $(x) `y`") == ["trace", "john@lab.test;id", "$(x)", "`y`"]


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("trace <@U123>", "Mentions"),
        ("trace <#C123|general>", "Mentions"),
        ('search john@lab.test "unclosed', "not closed"),
        ("trace " + "x" * 5000, "keep it under"),
    ],
)
def test_what_cannot_be_a_command(typed, says):
    with pytest.raises(BadInput, match=says):
        command_words(typed)
