"""The verb records: what every read verb and every change verb gets from the table, declared once."""

from __future__ import annotations

import pytest

from bot.core.registry import ChangeVerb, ReadVerb, verb_parser
from bot.errors import BadInput, ExitStatus
from bot.verbs import VERBS

CHANGES = [name for name in VERBS if isinstance(VERBS[name], ChangeVerb)]


def test_the_table_holds_read_verbs_and_change_verbs_only():
    assert sorted(CHANGES) == ["flush", "regen-maps", "restore"]
    assert all(isinstance(VERBS[name], ReadVerb) for name in VERBS if name not in CHANGES)
    assert all(VERBS[name].policy in ("confirm", "approve") for name in CHANGES)


@pytest.mark.parametrize("name", CHANGES)
def test_every_change_verb_takes_a_reason_so_a_required_one_can_be_given(name):
    """`approvals.require_reason` can name any change verb: each must accept --reason."""
    verb = VERBS[name]
    assert isinstance(verb, ChangeVerb)
    usage = verb_parser(verb, f"/mail {name}").format_help()
    assert "--reason TEXT" in usage
    assert ("--host NAME" in usage) is (verb.host_help is not None)


def test_a_read_verb_refuses_reason_as_a_usage_mistake():
    parser = verb_parser(VERBS["trace"], "/mail trace")
    with pytest.raises(BadInput, match="unrecognized arguments: --reason"):
        parser.parse_args(["john@lab.test", "--reason", "INC-1"])
    assert int(BadInput("x").exit_code) == int(ExitStatus.BAD_INPUT) == 2
