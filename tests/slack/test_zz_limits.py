"""Last of the Slack tests (by name): every payload a bot under test sent to the fake Slack during the
run, checked against Slack's documented limits (blocks per message and per view, text lengths,
options per element, private_metadata...; tests/fakeslack/limits.py). Each test's own teardown
checks its calls too; this one says how many were checked in all."""

from __future__ import annotations

import pytest

from tests.fakeslack.limits import call_violations
from tests.slack.conftest import BOT_FAKES

CARRIES_BLOCK_KIT = {"chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"}
VIEWS = {"views.open", "views.update", "views.publish"}


def test_every_payload_the_bot_sent_was_within_slacks_limits():
    calls = [call for fake in BOT_FAKES for call in fake.calls() if call.method in CARRIES_BLOCK_KIT | VIEWS]
    if not calls:
        pytest.skip("no bot ran against the fake Slack in this run")
    broken = [(call.method, found) for call in calls if (found := call_violations(call.method, call.args))]
    assert broken == []
    views = sum(1 for call in calls if call.method in VIEWS)
    print(f"\n{len(calls)} payloads checked against Slack's limits ({views} views)")
