"""Answers within Slack's limits: 3,000 characters a section, 50 blocks, long ones as files."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from bot.core.registry import Section
from bot.slack import blocks


@dataclass
class Answer:
    title: str
    parts: list[Section]
    exit_code: int = 0

    def headline(self) -> str:
        return self.title

    def sections(self) -> list[Section]:
        return self.parts

    def to_json(self) -> dict:
        return {}


def table(rows: int) -> str:
    return "\n".join(
        f"11-28 02:28  ABCDEF{n:05d}  from sender{n}@example.org  sent  2.1.5 <INBOX> & co" for n in range(rows)
    )


def texts(answer: blocks.SlackAnswer) -> list[str]:
    return [b["text"]["text"] for b in answer.blocks if b["type"] == "section"]


def test_a_short_answer_is_inline_escaped_and_shareable():
    answer = blocks.answer(
        Answer(
            "Trace of a@b on lab: 2 messages.",
            [Section("Messages", table(2)), Section("What to do", "hint <one>", False)],
        ),
        "/mail trace a@b",
        0.42,
        "KEY",
        ephemeral=True,
    )
    assert answer.full_text is None
    body = "\n".join(texts(answer))
    assert "```" in body and "&lt;INBOX&gt; &amp; co" in body and "<INBOX>" not in body
    assert "• hint &lt;one&gt;" in body
    assert answer.blocks[-1]["elements"][0] == {
        "type": "button",
        "action_id": "mail_share",
        "text": {"type": "plain_text", "text": "Share in channel"},
        "value": "KEY",
    }
    assert "only you can see this" in answer.blocks[-2]["elements"][0]["text"]


def test_a_table_is_split_within_the_section_limit():
    parts = [Section("Messages", table(40)), Section("Still in the queue", table(19))]
    answer = blocks.answer(Answer("Trace", parts), "/mail trace a@b", 1.0, None, ephemeral=False)
    assert answer.full_text is None
    assert len(answer.blocks) <= blocks.MAX_BLOCKS
    for text in texts(answer):
        assert len(text) <= blocks.SECTION_LIMIT
    shown = "\n".join(texts(answer))
    assert all(f"ABCDEF{n:05d}" in shown for n in range(40))


def test_a_long_answer_becomes_a_summary_and_a_file():
    parts = [Section("Messages", table(500)), Section("What to do", "free some space", False)]
    answer = blocks.answer(Answer("Trace of big@lab.test", parts), "/mail trace big@lab.test", 3.0, "K", ephemeral=True)
    assert answer.full_text is not None
    assert all(f"ABCDEF{n:05d}" in answer.full_text for n in range(500))  # nothing cut
    shown = "\n".join(texts(answer))
    assert "ABCDEF00001" not in shown
    assert "free some space" in shown and "500 table lines" in shown
    assert len(answer.blocks) <= blocks.MAX_BLOCKS


def test_a_single_huge_line_is_cut_to_fit_a_section():
    answer = blocks.answer(Answer("T", [Section("x", "y" * 10_000)]), "/mail x", 0.1, None, ephemeral=True)
    assert all(len(text) <= blocks.SECTION_LIMIT for text in texts(answer))


def test_what_is_cut_to_fit_says_so():
    """Nothing shortened for Slack's limits without a visible … (and never inside `&amp;`)."""
    huge = blocks.answer(Answer("T", [Section("x", "y" * 10_000)]), "/mail x", 0.1, None, ephemeral=True)
    (shown,) = [text for text in texts(huge) if "yyy" in text]
    assert shown.endswith("y…\n```")
    prose = blocks.answer(Answer("T", [Section("x", "z" * 10_000, False)]), "/mail x", 0.1, None, ephemeral=True)
    assert any(text.endswith("z…") for text in texts(prose))
    amps = blocks.answer(Answer("T", [Section("x", "ab" + "&" * 5_000)]), "/mail x", 0.1, None, ephemeral=True)
    (cut,) = [text for text in texts(amps) if "&amp;" in text]
    assert cut.endswith("&amp;…\n```"), cut[-20:]
    assert len(cut) <= blocks.SECTION_LIMIT


def test_a_summary_too_long_for_one_message_says_the_rest_is_in_the_file():
    parts = [Section(f"Part {n}", f"point {n}", False) for n in range(80)] + [Section("Messages", table(500))]
    answer = blocks.answer(Answer("Trace", parts), "/mail trace a@b", 1.0, "K", ephemeral=True)
    assert answer.full_text is not None and "point 79" in answer.full_text
    assert len(answer.blocks) <= blocks.MAX_BLOCKS
    contexts = [b["elements"][0]["text"] for b in answer.blocks if b["type"] == "context"]
    kept = sum(1 for text in texts(answer) if text.startswith("*Part "))
    assert f"… {80 - kept} more parts of the answer are in the file." in contexts


def test_an_approval_card_marks_a_command_cut_to_fit():
    change = SimpleNamespace(
        requester="U1", summary="restore 200 mails", verb="restore", host="lab", id="R1", reason=None,
        display="sudo -n unexpunge " + " ".join(str(n) for n in range(2000)), preview="short", policy="approve",
        expires_at=1_800_000_000.0,
    )  # fmt: skip
    card = blocks.change_card(cast(Any, change))
    command = card["blocks"][1]["text"]["text"]
    assert command.endswith("…\n```") and len(command) <= blocks.SECTION_LIMIT
    assert card["blocks"][2]["text"]["text"] == "*Preview, taken when asked*\n```\nshort\n```"
