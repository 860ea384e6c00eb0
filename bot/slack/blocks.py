"""Answers as Slack messages: a headline, tables in monospace, within Slack's limits.

A section's text holds at most 3,000 characters and a message at most 50 blocks, so a
table is split across sections on line boundaries. An answer that would still not fit,
or that is too long to read in a channel, becomes a summary (headline and prose) and the
whole text goes to a file instead: nothing is ever silently cut (what is cut to fit ends with …).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bot.core import render
from bot.core.registry import Outcome
from bot.i18n import _, ngettext
from bot.state.requests import ChangeRequest

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
# Beyond this many table lines an answer reads better as a file than as a wall of text.
MAX_INLINE_LINES = 60
SHARE_ACTION = "mail_share"

Block = dict[str, Any]


@dataclass(frozen=True)
class SlackAnswer:
    text: str
    blocks: list[Block]
    full_text: str | None = None  # set when the whole answer must go to a file

    def payload(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}

    def to_json(self) -> dict[str, Any]:
        """As kept in the shared state, so that another replica can share it."""
        return {"text": self.text, "blocks": self.blocks, "full_text": self.full_text}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SlackAnswer:
        return cls(str(data["text"]), list(data["blocks"]), data.get("full_text"))


def escape(text: str) -> str:
    """Slack's mrkdwn reads `&`, `<` and `>` as markup, even inside code blocks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


CUT = "…"  # ends every text that was cut to fit


def fit(text: str, limit: int) -> str:
    """At most `limit` characters of escaped text: a text cut to fit ends with `…`, never inside an
    entity (`&amp;`), so no reader takes a cut text for a whole one."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(CUT)]
    entity = cut.rfind("&", len(cut) - 4)
    if entity != -1 and ";" not in cut[entity:]:
        cut = cut[:entity]
    return cut + CUT


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def code_sections(title: str, body: str) -> list[Block]:
    """A table as one or more sections of ``` blocks, each under the section limit."""
    blocks: list[Block] = []
    chunk: list[str] = []
    heading = f"*{escape(title)}*\n" if title else ""
    budget = SECTION_LIMIT - len(heading) - 8
    size = 0
    for line in escape(body).splitlines():
        line = fit(line, budget - 1)
        if chunk and size + len(line) + 1 > budget:
            blocks.append(section(heading + "```\n" + "\n".join(chunk) + "\n```"))
            heading, chunk, size = "", [], 0
            budget = SECTION_LIMIT - 8
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(section(heading + "```\n" + "\n".join(chunk) + "\n```"))
    return blocks


def prose_sections(title: str, body: str) -> list[Block]:
    heading = f"*{escape(title)}*\n" if title else ""
    items = [f"• {escape(item)}" for item in body.splitlines() if item.strip()]
    blocks: list[Block] = []
    current = heading
    for item in items:
        item = fit(item, SECTION_LIMIT - 1)
        if len(current) + len(item) + 1 > SECTION_LIMIT:
            blocks.append(section(current.rstrip()))
            current = ""
        current += item + "\n"
    if current.strip():
        blocks.append(section(current.rstrip()))
    return blocks


def share_button(share_id: str) -> Block:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": SHARE_ACTION,
                "text": {"type": "plain_text", "text": _("Share in channel")},
                "value": share_id,
            }
        ],
    }


def footer(command: str, seconds: float, ephemeral: bool) -> str:
    return f"`{escape(command)}` · {seconds:.1f} s" + (_(" · only you can see this") if ephemeral else "")


def answer(outcome: Outcome, command: str, seconds: float, share_id: str | None, ephemeral: bool) -> SlackAnswer:
    headline = outcome.headline()
    sections = outcome.sections()
    footer_text = footer(command, seconds, ephemeral)
    body: list[Block] = []
    table_lines = 0
    for part in sections:
        if part.monospace:
            text = part.body
            body.extend(code_sections(part.title, text))
            table_lines += text.count("\n") + 1
        else:
            body.extend(prose_sections(part.title, part.body))
    tail = [context(footer_text)] + ([share_button(share_id)] if share_id else [])
    blocks = [section(f"*{escape(headline)}*"), *body, *tail]
    if len(blocks) <= MAX_BLOCKS and table_lines <= MAX_INLINE_LINES:
        return SlackAnswer(text=headline, blocks=blocks)
    summary = [section(f"*{escape(headline)}*")]
    inline = getattr(outcome, "slack_inline", None)  # a verb's own short list (the trace's verdicts)
    for part in ([inline()] if callable(inline) else []) + sections:
        if not part.monospace:
            summary.extend(prose_sections(part.title, part.body))
    if len(summary) > MAX_BLOCKS - 3:  # room for the note and the tail
        left_out = len(summary) - (MAX_BLOCKS - 4)
        more = ngettext(
            "… {count} more part of the answer is in the file.",
            "… {count} more parts of the answer are in the file.",
            left_out,
        )
        summary = [*summary[: MAX_BLOCKS - 4], context(more.format(count=left_out))]
    note = _("The full answer ({table_lines} table lines) is in the attached file.").format(table_lines=table_lines)
    return SlackAnswer(text=headline, blocks=[*summary, section(note), *tail], full_text=file_text(outcome))


def file_text(outcome: Outcome) -> str:
    """The attached file: the text answer, and the CSV of a verb that has one (the trace's)."""
    text = render.as_text(outcome)
    to_csv = getattr(outcome, "to_csv", None)
    return text + "\n" + to_csv() if callable(to_csv) else text


def notice(text: str, markup: bool = False) -> dict[str, Any]:
    """A one-sentence answer: an error, a refusal, a usage hint. `markup` keeps the bot's own
    mentions and dates (`<@U…>`, `<!date…>`) live; anything that holds user text is escaped."""
    return {"text": text, "blocks": [section(text if markup else escape(text))]}


def working(command: str) -> dict[str, Any]:
    text = _("Working on `{command}`…").format(command=escape(command))
    return {
        "text": _("Working on {command}…").format(command=command),
        "blocks": [context(f":hourglass_flowing_sand: {text}")],
    }


def still_working(command: str, seconds: float, progress: str | None) -> dict[str, Any]:
    detail = f" {escape(progress)}" if progress else ""
    text = _(":hourglass_flowing_sand: Still working on `{command}` ({seconds:.0f} s).{detail}").format(
        command=escape(command), seconds=seconds, detail=detail
    )
    return {"text": _("Still working on {command}…").format(command=command), "blocks": [context(text)]}


APPROVE_ACTION = "mail_approve"
REJECT_ACTION = "mail_reject"


def slack_time(epoch: float) -> str:
    """A time each reader sees in their own time zone (the fallback is UTC)."""
    fallback = time.strftime("%H:%M UTC", time.gmtime(epoch))
    return f"<!date^{int(epoch)}^{{time}}|{fallback}>"


def change_card(
    change: ChangeRequest,
    outcome_line: str | None = None,
    deciders: str | None = None,
    approved_by: tuple[str, ...] = (),
    required: int = 1,
) -> dict[str, Any]:
    """The approval card: who asks what and why, where, the exact command, a fresh preview, who may
    decide and until when, and with several approvers needed, how many approved and who.

    With `outcome_line` (decided, ran, expired) the buttons are gone and the line says what happened.
    """
    summary = fit(escape(change.summary), 2000)  # with the reason (300) and the facts, within a section
    asks = _("<@{requester}> asks to {summary}.").format(requester=change.requester, summary=summary)
    facts = _("Verb `{verb}` · host `{host}` · request `{id}`").format(
        verb=change.verb, host=escape(change.host), id=change.id
    )
    if change.reason:
        facts += _("\nReason: {reason}").format(reason=escape(change.reason))
    card: list[Block] = [
        section(f"*{asks}*\n{facts}"),
        section(_("*Command that will run*\n```\n") + fit(escape(change.display), SECTION_LIMIT - 40) + "\n```"),
        section(_("*Preview, taken when asked*\n```\n") + fit(escape(change.preview), SECTION_LIMIT - 40) + "\n```"),
    ]
    if change.policy == "approve" and required > 1:
        who_approved = ", ".join(f"<@{user}>" for user in approved_by) or _("nobody yet")
        card.append(
            context(
                _("Approvals: {count} of {required} ({who}).").format(
                    count=len(approved_by), required=required, who=who_approved
                )
            )
        )
    if change.policy == "approve":
        who = _("an approver other than the requester") + (f" ({deciders})" if deciders else "")
    else:
        who = f"<@{change.requester}>"
    if outcome_line is None:
        card.append(
            context(
                _("Needs {who} to decide before {slack_time}.").format(
                    who=who, slack_time=slack_time(change.expires_at)
                )
            )
        )
        confirm = change.policy == "confirm"
        card.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE_ACTION,
                        "style": "primary",
                        "text": {"type": "plain_text", "text": _("Confirm") if confirm else _("Approve")},
                        "value": change.id,
                    },
                    {
                        "type": "button",
                        "action_id": REJECT_ACTION,
                        "style": "danger",
                        "text": {"type": "plain_text", "text": _("Cancel") if confirm else _("Reject…")},
                        "value": change.id,
                    },
                ],
            }
        )
    else:
        card.append(section(outcome_line))
    return {
        "text": _("{requester} asks to {summary}").format(requester=change.requester, summary=change.summary),
        "blocks": card,
    }
