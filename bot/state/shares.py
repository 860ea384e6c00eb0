"""The answers behind *Share in channel*, kept for a while so that any replica can post them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from bot.state.db import Database


@dataclass(frozen=True)
class SharedAnswer:
    owner: str
    channel: str
    filename: str
    answer: dict[str, Any]  # the Slack answer as JSON (bot.slack.blocks.SlackAnswer.to_json)
    created_at: float


class ShareStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def put(self, key: str, shared: SharedAnswer, keep_seconds: float) -> None:
        now = time.time()
        with self.database.connect() as connection:
            connection.execute("DELETE FROM shares WHERE expires_at <= ?", (now,))
            connection.execute(
                "INSERT INTO shares (share_key, owner, channel, filename, answer, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    shared.owner,
                    shared.channel,
                    shared.filename,
                    json.dumps(shared.answer),
                    shared.created_at,
                    shared.created_at + keep_seconds,
                ),
            )

    def get(self, key: str) -> SharedAnswer | None:
        """The answer, if still kept (None after its expiry)."""
        with self.database.connect(reading=True) as connection:
            row = connection.execute(
                "SELECT * FROM shares WHERE share_key = ? AND expires_at > ?", (key, time.time())
            ).fetchone()
        if row is None:
            return None
        return SharedAnswer(row["owner"], row["channel"], row["filename"], json.loads(row["answer"]), row["created_at"])
