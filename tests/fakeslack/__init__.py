"""A local fake of the Slack platform for the test suite (see README.md beside this file).

from fakeslack import FakeSlack, fake_slack  # the fixture, to re-export from a conftest.py
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .payloads import (
    Reply,
    block_action_payload,
    post_signed,
    send_block_action,
    send_interactivity,
    send_slash_command,
    signature_headers,
    slash_command_payload,
)
from .server import (
    DEFAULT_APP_TOKEN,
    DEFAULT_BOT_TOKEN,
    DEFAULT_SIGNING_SECRET,
    Call,
    Channel,
    FakeSlack,
    Message,
    UploadedFile,
    User,
)
from .socket_mode import Ack, Envelope, SocketModeServer

__all__ = [
    "DEFAULT_APP_TOKEN",
    "DEFAULT_BOT_TOKEN",
    "DEFAULT_SIGNING_SECRET",
    "Ack",
    "Call",
    "Channel",
    "Envelope",
    "FakeSlack",
    "Message",
    "Reply",
    "SocketModeServer",
    "UploadedFile",
    "User",
    "block_action_payload",
    "fake_slack",
    "post_signed",
    "send_block_action",
    "send_interactivity",
    "send_slash_command",
    "signature_headers",
    "slash_command_payload",
]


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A started FakeSlack (Web API + Socket Mode), stopped after the test."""
    with FakeSlack() as fake:
        yield fake
