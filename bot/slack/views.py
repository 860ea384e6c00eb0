"""Block Kit you can act on: deleted mails as rows, a trace's queued messages with buttons, the
modals (restore, reject) and the Home tab. Built with `slack_sdk.models`, whose blocks, elements
and views check Slack's limits when they turn into JSON (`to_dict`), so a payload over a limit
fails here, in the bot's own test suite, rather than at Slack.

Every button, menu and modal only names what to do; what runs is a request made of words, the same
as `/mail` typed, and goes through the one way in (`MailBot.admit`) with every check.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    SectionBlock,
    StaticMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.core import render
from bot.core.changes import MAX_REASON
from bot.i18n import _, ngettext
from bot.slack import blocks
from bot.state.alerts import KnownProblem, Watch
from bot.state.requests import ChangeRequest
from bot.verbs.deleted import DeletedReport, left_text
from bot.verbs.trace import TraceReport

# Slack's documented limits (api.slack.com/reference/block-kit): what the builders stay within.
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_OPTIONS = 100  # options of a static select
MAX_OPTION_TEXT = 75  # an option's text and description
MAX_PLAIN_TEXT_BUTTON = 75
MAX_METADATA = 3000  # a view's private_metadata
MAX_TITLE = 24  # a view's title, submit and close
MAX_LABEL = 2000

# action ids and callback ids (the routes of bot.slack.app)
DELETED_ROW_ACTION = "mail_deleted_row"  # a row's overflow menu: Restore…, History, Locate
DELETED_ROW_BUTTON = "mail_deleted_restore_one"  # a row's button when it has no other action (BlueMind 5)
RESTORE_OPEN_ACTION = "mail_deleted_restore"  # the list's *Restore…*
RESTORE_VIEW = "mail_restore_modal"
REJECT_VIEW = "mail_reject_modal"
QUEUED_FLUSH_ACTION = "mail_queued_flush"
QUEUED_WATCH_ACTION = "mail_queued_watch"
QUEUED_JOURNEY_ACTION = "mail_queued_journey"
HOME_STOP_WATCH = "mail_home_unwatch"
REASON_BLOCK, REASON_ACTION = "reason", "text"
MAILS_BLOCK, MAILS_ACTION = "mails", "pick"

MAX_ROWS = 40  # deleted mails shown as rows in one message; the rest in the file and in the modal
MAX_MODAL_PAGES = 20  # select elements of up to 100 mails each in the restore modal
MAX_QUEUED_BUTTONS = 5  # queued messages of a trace that get their own buttons


def dump(block: Block) -> dict[str, Any]:
    return dict(block.to_dict())


def _plain(text: str, limit: int) -> str:
    return blocks.fit(" ".join(text.split()), limit) or "-"


# --- deleted mails ---------------------------------------------------------------------


@dataclass(frozen=True)
class ListedMail:
    number: int  # what restore takes (UID, or BlueMind 5's item id)
    uid: int | None  # its IMAP UID, for History and Locate
    subject: str
    sender: str
    deleted: str
    left: str
    moved: bool


@dataclass(frozen=True)
class Listing:
    """A `deleted` answer as kept in the state (`shares`), for its rows' menus and its modal."""

    owner: str
    address: str
    folder: str
    mails: tuple[ListedMail, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "deleted",
            "address": self.address,
            "folder": self.folder,
            "mails": [m.__dict__ for m in self.mails],
        }

    @classmethod
    def from_json(cls, owner: str, data: dict[str, Any]) -> Listing | None:
        if data.get("kind") != "deleted":
            return None
        mails = tuple(ListedMail(**m) for m in data.get("mails") or [])
        return cls(owner, str(data["address"]), str(data["folder"]), mails)

    def by_number(self) -> dict[int, ListedMail]:
        return {m.number: m for m in self.mails}


def listing_of(report: DeletedReport, owner: str) -> Listing:
    """The mails most recently deleted first: what an agent looks for is what was just deleted, and
    a folder can hold a week of deletions, of which one message shows the first 40 rows."""
    retention = report.retention_days
    newest_first = sorted(report.mails, key=lambda m: m.expunged.timestamp() if m.expunged else 0.0, reverse=True)
    mails = tuple(
        ListedMail(
            number=m.number,
            uid=m.uid,
            subject=m.subject or _("(no subject)"),
            sender=(m.sender or "").strip(),
            deleted=render.when(m.expunged),
            left=left_text(m.days_left(report.now, retention)),
            moved=bool(m.still_in),
        )
        for m in newest_first
    )
    return Listing(owner, report.resolved.address.value, report.folder.value, mails)


def _row(mail: ListedMail, key: str | None) -> dict[str, Any]:
    subject = blocks.fit(blocks.escape(mail.subject), 1500)
    sender = blocks.fit(blocks.escape(mail.sender), 300) if mail.sender else _("unknown sender")
    which = f"UID {mail.uid}" if mail.uid == mail.number else _("item {number}").format(number=mail.number)
    facts = (
        which
        + " · "
        + _("{sender} · deleted {deleted} · {left} left").format(sender=sender, deleted=mail.deleted, left=mail.left)
    )
    if mail.moved:
        facts += " · " + _("moved, not deleted: a restore makes a second copy")
    accessory: Any = None
    if key is not None:
        restore = Option(text=_("Restore…"), value=f"r:{key}:{mail.number}")
        if mail.uid is not None:
            accessory = OverflowMenuElement(
                action_id=DELETED_ROW_ACTION,
                options=[
                    restore,
                    Option(text=_("History"), value=f"h:{key}:{mail.uid}"),
                    Option(text=_("Locate"), value=f"l:{key}:{mail.uid}"),
                ],
            )
        else:
            accessory = ButtonElement(text=_("Restore…"), action_id=DELETED_ROW_BUTTON, value=f"r:{key}:{mail.number}")
    return dump(SectionBlock(text=MarkdownTextObject(text=f"*{subject}*\n{facts}"), accessory=accessory))


def deleted_blocks(
    report: DeletedReport, listing: Listing, key: str | None, tail: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], bool]:
    """The rows of a `deleted` answer, its notes and its *Restore…* button, before `tail` (footer,
    Share); and whether rows were left out (the whole table then goes to the file)."""
    notes: list[dict[str, Any]] = []
    for part in report.sections():
        if not part.monospace:
            notes.extend(blocks.prose_sections(part.title, part.body))
    head = [blocks.section(f"*{blocks.escape(report.headline())}*")]
    restore = (
        [
            dump(
                ActionsBlock(
                    elements=[
                        ButtonElement(text=_("Restore…"), action_id=RESTORE_OPEN_ACTION, value=key, style="primary")
                    ]
                )
            )
        ]
        if key is not None and listing.mails
        else []
    )
    room = MAX_MESSAGE_BLOCKS - len(head) - len(notes) - len(restore) - len(tail) - 2  # a note, the file's line
    shown = min(len(listing.mails), MAX_ROWS, max(room, 0))
    rows = [_row(m, key) for m in listing.mails[:shown]]
    more: list[dict[str, Any]] = []
    if shown < len(listing.mails):
        left_out = len(listing.mails) - shown
        more = [
            blocks.context(
                ngettext(
                    "… {count} more deleted mail: *Restore…* lists every one; the whole table is in the file.",
                    "… {count} more deleted mails: *Restore…* lists every one; the whole table is in the file.",
                    left_out,
                ).format(count=left_out)
            )
        ]
    return [*head, *rows, *more, *notes, *restore, *tail], bool(more)


def restore_modal(
    listing: Listing, key: str, chosen: Sequence[int], metadata: dict[str, str], needs_reason: bool, approve: bool
) -> dict[str, Any]:
    """The mails as options (`chosen` preselected), pages of 100, a reason, what will happen."""
    folder = listing.folder
    happens = _(
        "Each mail you pick comes back in *{folder}* of *{address}* as a new copy, with a new UID; "
        "the old UID is not reused."
    ).format(folder=blocks.escape(folder), address=blocks.escape(listing.address))
    happens += "\n" + (
        _("Nothing runs until an approver other than you approves the request in the channel.")
        if approve
        else _("Nothing runs until you confirm the request.")
    )
    view_blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=happens))]
    pages = [listing.mails[i : i + MAX_OPTIONS] for i in range(0, len(listing.mails), MAX_OPTIONS)]
    for number, page in enumerate(pages[:MAX_MODAL_PAGES]):
        options = [_option(m) for m in page]
        initial = [o for o, m in zip(options, page, strict=True) if m.number in chosen]
        label = (
            _("Mails to restore")
            if len(pages) == 1
            else _("Mails to restore ({first}–{last} of {count})").format(
                first=number * MAX_OPTIONS + 1, last=number * MAX_OPTIONS + len(page), count=len(listing.mails)
            )
        )
        view_blocks.append(
            InputBlock(
                block_id=f"{MAILS_BLOCK}{number}",
                label=label,
                optional=True,
                element=StaticMultiSelectElement(
                    action_id=MAILS_ACTION,
                    placeholder=_("Pick mails"),
                    options=options,
                    initial_options=initial or None,
                ),
            )
        )
    if len(pages) > MAX_MODAL_PAGES:
        beyond = len(listing.mails) - MAX_MODAL_PAGES * MAX_OPTIONS
        view_blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=_("{count} more mails are not listed here; restore them with /mail restore.").format(
                            count=beyond
                        )
                    )
                ]
            )
        )
    view_blocks.append(
        InputBlock(
            block_id=REASON_BLOCK,
            label=_("Reason or ticket") + ("" if needs_reason else _(" (optional)")),
            optional=not needs_reason,
            element=PlainTextInputElement(action_id=REASON_ACTION, max_length=MAX_REASON),
        )
    )
    view = View(
        type="modal",
        callback_id=RESTORE_VIEW,
        title=_plain(_("Restore deleted mail"), MAX_TITLE),
        submit=_plain(_("Ask to restore"), MAX_TITLE),
        close=_plain(_("Cancel"), MAX_TITLE),
        private_metadata=_metadata({**metadata, "k": key}),
        notify_on_close=True,
        blocks=view_blocks,
    )
    return dict(view.to_dict())


def _option(mail: ListedMail) -> Option:
    text = mail.subject + (f" — {mail.sender}" if mail.sender else "")
    description = _("deleted {deleted} · {left} left").format(deleted=mail.deleted, left=mail.left)
    return Option(
        text=_plain(text, MAX_OPTION_TEXT), value=str(mail.number), description=_plain(description, MAX_OPTION_TEXT)
    )


def picked(view: dict[str, Any]) -> tuple[list[int], str | None]:
    """The numbers picked in a submitted restore modal, and its reason."""
    values = (view.get("state") or {}).get("values") or {}
    numbers: list[int] = []
    for block_id, actions in values.items():
        if block_id.startswith(MAILS_BLOCK):
            for option in (actions.get(MAILS_ACTION) or {}).get("selected_options") or []:
                value = str(option.get("value", ""))
                if value.isdigit():
                    numbers.append(int(value))
    return numbers, reason_of(view)


def reason_of(view: dict[str, Any]) -> str | None:
    values = (view.get("state") or {}).get("values") or {}
    value = ((values.get(REASON_BLOCK) or {}).get(REASON_ACTION) or {}).get("value")
    return str(value) if value else None


def _metadata(data: dict[str, str]) -> str:
    text = json.dumps(data, separators=(",", ":"))
    if len(text) > MAX_METADATA:
        raise ValueError("private_metadata over Slack's 3,000 characters")
    return text


def metadata_of(view: dict[str, Any]) -> dict[str, str]:
    try:
        data = json.loads(str(view.get("private_metadata") or "{}"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


# --- the trace's queued messages -------------------------------------------------------------


def queued_actions(report: TraceReport) -> list[dict[str, Any]]:
    """Each message still queued (up to 5): what it is, then *Flush this one*, *Watch*, *Journey*."""
    out: list[dict[str, Any]] = []
    for queued in report.queued[:MAX_QUEUED_BUTTONS]:
        entry = queued.entry
        to = entry.recipients[0].address if entry.recipients else ""
        reason = next((r.delay_reason for r in entry.recipients if r.delay_reason), None)
        watched = report.address.value if report.address else to
        line = _("Queued `{queue_id}` on {host}, to {to}").format(
            queue_id=entry.queue_id, host=blocks.escape(queued.host), to=blocks.escape(to or "?")
        )
        if reason:
            line += ": " + blocks.fit(blocks.escape(reason), 500)
        out.append(blocks.context(line))
        buttons = [ButtonElement(text=_("Flush this one"), action_id=QUEUED_FLUSH_ACTION, value=entry.queue_id)]
        if watched:
            buttons.append(ButtonElement(text=_("Watch"), action_id=QUEUED_WATCH_ACTION, value=watched))
        buttons.append(ButtonElement(text=_("Journey"), action_id=QUEUED_JOURNEY_ACTION, value=entry.queue_id))
        out.append(dump(ActionsBlock(block_id=f"queued-{entry.queue_id}", elements=buttons)))
    if len(report.queued) > MAX_QUEUED_BUTTONS:
        more = len(report.queued) - MAX_QUEUED_BUTTONS
        out.append(
            blocks.context(
                ngettext(
                    "{count} more queued message: /mail queue {address} lists it.",
                    "{count} more queued messages: /mail queue {address} lists them.",
                    more,
                ).format(count=more, address=blocks.escape(report.subject()))
            )
        )
    return out


# --- approvals -----------------------------------------------------------------------------


def reject_modal(change: ChangeRequest, metadata: dict[str, str]) -> dict[str, Any]:
    asks = _("<@{requester}> asks to {summary}.").format(
        requester=change.requester, summary=blocks.escape(change.summary)
    )
    view = View(
        type="modal",
        callback_id=REJECT_VIEW,
        title=_plain(_("Reject the request"), MAX_TITLE),
        submit=_plain(_("Reject"), MAX_TITLE),
        close=_plain(_("Back"), MAX_TITLE),
        private_metadata=_metadata({**metadata, "r": change.id}),
        notify_on_close=True,
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=blocks.fit(asks, 3000))),
            InputBlock(
                block_id=REASON_BLOCK,
                label=_("Why (the requester reads it on the card)"),
                element=PlainTextInputElement(action_id=REASON_ACTION, max_length=MAX_REASON, multiline=True),
            ),
        ],
    )
    return dict(view.to_dict())


# --- the Home tab --------------------------------------------------------------------------


def home_view(
    decide: Sequence[ChangeRequest],
    own: Sequence[ChangeRequest],
    watches: Sequence[Watch],
    problems: Sequence[KnownProblem],
    approve_action: str,
    reject_action: str,
) -> dict[str, Any]:
    """A person's Home tab: what they can decide, what they asked, what they watch, what is wrong."""
    out: list[Block] = [HeaderBlock(text=_plain(_("Mail support"), 150))]

    def header(title: str) -> None:
        out.append(DividerBlock())
        out.append(SectionBlock(text=MarkdownTextObject(text=f"*{blocks.escape(title)}*")))

    header(_("Requests you can decide"))
    if not decide:
        out.append(blocks_context(_("Nothing waits for you.")))
    for change in decide[:10]:
        line = _("<@{requester}> asks to {summary}.").format(
            requester=change.requester, summary=blocks.escape(change.summary)
        )
        if change.reason:
            line += "\n" + _("Reason: {reason}").format(reason=blocks.escape(change.reason))
        line += "\n" + _("Before {time} · request `{id}`").format(
            time=blocks.slack_time(change.expires_at), id=change.id
        )
        out.append(SectionBlock(text=MarkdownTextObject(text=blocks.fit(line, 3000))))
        out.append(
            ActionsBlock(
                block_id=f"decide-{change.id}",
                elements=[
                    ButtonElement(text=_("Approve"), action_id=approve_action, value=change.id, style="primary"),
                    ButtonElement(text=_("Reject…"), action_id=reject_action, value=change.id, style="danger"),
                ],
            )
        )
    header(_("Your requests"))
    if not own:
        out.append(blocks_context(_("You have asked for no change lately.")))
    for change in own[:10]:
        out.append(
            blocks_context(
                _("{summary} · {state} · request `{id}`").format(
                    summary=blocks.escape(change.summary), state=state_words(change.state), id=change.id
                )
            )
        )
    header(_("Your watches"))
    if not watches:
        out.append(blocks_context(_("You watch no address.")))
    for watch in watches[:10]:
        out.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=_("{address}, until {time}").format(
                        address=blocks.escape(watch.address), time=blocks.slack_time(watch.ends_at)
                    )
                ),
                accessory=ButtonElement(text=_("Stop"), action_id=HOME_STOP_WATCH, value=watch.address),
            )
        )
    header(_("Open alerts"))
    if not problems:
        out.append(blocks_context(_("No open alert.")))
    for problem in problems[:10]:
        out.append(
            blocks_context(
                _("{subject} on {host}: {detail}").format(
                    subject=blocks.escape(problem.subject),
                    host=blocks.escape(problem.host),
                    detail=blocks.fit(blocks.escape(problem.detail), 500),
                )
            )
        )
    return dict(View(type="home", blocks=out[:MAX_VIEW_BLOCKS]).to_dict())


def blocks_context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def state_words(state: str) -> str:
    words = {
        "pending": _("waiting for a decision"),
        "approved": _("approved, running"),
        "rejected": _("rejected"),
        "expired": _("expired"),
        "ran": _("done"),
        "failed": _("failed"),
    }
    return words.get(state, state)
