"""The Block Kit the bot builds for buttons, modals and the Home tab stays within Slack's documented
limits however long the list (tests/fakeslack/limits.py, the same checker the fake applies)."""

from __future__ import annotations

import json
import time
from typing import cast

from bot.core.registry import Section
from bot.slack import blocks, views
from bot.state.alerts import KnownProblem, Watch
from bot.state.requests import ChangeRequest
from bot.verbs.deleted import DeletedReport
from tests.fakeslack.limits import message_violations, view_violations
from tests.fakeslack.payloads import view_state


def listing(count: int, subject: str = "Facture impayée n°{n}") -> views.Listing:
    mails = tuple(
        views.ListedMail(
            number=n,
            uid=n,
            subject=subject.format(n=n),
            sender=f"<sender{n}@partner.example>",
            deleted="2 Dec 14:03",
            left="5 d",
            moved=n % 7 == 0,
        )
        for n in range(1, count + 1)
    )
    return views.Listing("U123", "john@lab.test", "INBOX", mails)


class _Report:
    """What deleted_blocks reads of a DeletedReport: its headline and its sections."""

    def __init__(self, count: int) -> None:
        self.count = count

    def headline(self) -> str:
        return f"{self.count} deleted mails can be restored in john@lab.test, INBOX, on lab"

    def sections(self) -> list[Section]:
        return [Section("Deleted mails", "table"), Section("Notes", "To bring mails back: restore ...", False)]


def test_a_long_deleted_list_is_rows_within_fifty_blocks_and_says_where_the_rest_is():
    for count in (1, 13, 40, 41, 300):
        tail = [blocks.context("`/mail deleted john@lab.test` · 0.4 s"), blocks.share_button("s" * 16)]
        shown, cut = views.deleted_blocks(cast(DeletedReport, _Report(count)), listing(count), "k" * 12, tail)
        assert message_violations({"text": "x", "blocks": shown}) == [], count
        rows = [b for b in shown if b.get("accessory", {}).get("action_id") == views.DELETED_ROW_ACTION]
        assert len(rows) == min(count, views.MAX_ROWS) and cut == (count > views.MAX_ROWS)
        if cut:
            assert f"… {count - len(rows)} more deleted mail" in json.dumps(shown, ensure_ascii=False)
        assert shown[-2:] == tail
        values = [o["value"] for o in rows[0]["accessory"]["options"]]
        assert values == ["r:kkkkkkkkkkkk:1", "h:kkkkkkkkkkkk:1", "l:kkkkkkkkkkkk:1"]


def test_the_restore_modal_pages_a_thousand_mails_and_keeps_long_subjects_within_an_option():
    many = listing(1000, subject="Re: " + "très long sujet " * 30 + "{n}")
    view = views.restore_modal(many, "k" * 12, [5, 150, 999], {"c": "C123"}, needs_reason=True, approve=True)
    assert view_violations(view) == []
    pages = [b for b in view["blocks"] if b["type"] == "input" and b["block_id"].startswith("mails")]
    assert len(pages) == 10 and all(len(p["element"]["options"]) <= 100 for p in pages)
    assert pages[1]["label"]["text"] == "Mails to restore (101–200 of 1000)"
    picked = [o["value"] for p in pages for o in p["element"].get("initial_options") or []]
    assert picked == ["5", "150", "999"]
    option = pages[0]["element"]["options"][0]
    assert len(option["text"]["text"]) <= 75 and option["text"]["text"].endswith("…")
    reason = next(b for b in view["blocks"] if b.get("block_id") == views.REASON_BLOCK)
    assert reason["optional"] is False and reason["element"]["max_length"] == 300
    # what Slack sends back: the numbers picked, on any page, and the reason
    submitted = {**view, "state": view_state(view, {"mails2": ["201", "250"], "reason": "INC-9"})}
    assert views.picked(submitted) == ([5, 150, 201, 250, 999], "INC-9")
    assert views.metadata_of(view) == {"c": "C123", "k": "k" * 12}


def test_more_mails_than_twenty_pages_are_named_not_dropped():
    view = views.restore_modal(listing(2300), "k", [], {}, needs_reason=False, approve=False)
    assert view_violations(view) == [] and len(view["blocks"]) <= 100
    assert "300 more mails are not listed here" in json.dumps(view)


def change(n: int, requester: str = "U123", state: str = "pending") -> ChangeRequest:
    now = time.time()
    return ChangeRequest(
        verb="restore",
        arguments={},
        host="lab",
        template="t",
        argv=(),
        display="unexpunge",
        preview="",
        summary=f"restore {n} deleted mails of user/john@lab.test (INBOX) on lab " + "x" * 3000,
        policy="approve",
        requester=requester,
        channel="C123",
        reason="INC-" + "9" * 290,
        id=f"R{n:012x}",
        state=state,
        created_at=now,
        expires_at=now + 900,
        decided_by=None,
        decided_at=None,
        card_channel="C123",
        card_ts="1.2",
        response_url=None,
        exit_status=None,
        finished_at=None,
    )


def test_the_home_tab_holds_everything_within_a_hundred_blocks():
    decide = [change(n, requester="U789") for n in range(30)]
    own = [change(n, state="ran") for n in range(30)]
    now = time.time()
    watches = [
        Watch(f"W{n}", f"user{n}@lab.test", "U123", "C123", "1.2", now, now + 60, now, None, None) for n in range(30)
    ]
    problems: list[KnownProblem] = []
    view = views.home_view(decide, own, watches, problems, blocks.APPROVE_ACTION, blocks.REJECT_ACTION)
    assert view_violations(view) == [] and len(view["blocks"]) <= 100
    text = json.dumps(view, ensure_ascii=False)
    assert "Reject…" in text and "Stop" in text and "No open alert." in text


def test_an_approval_card_with_its_longest_parts_fits():
    card = blocks.change_card(change(1), None, "<@U456>, <!subteam^S0ADMINS01>", ("U456",), 2)
    assert message_violations(card) == []
    shown = json.dumps(card)
    assert "Approvals: 1 of 2 (<@U456>)." in shown and "<!subteam^S0ADMINS01>" in shown


def test_the_rows_show_the_mails_most_recently_deleted_first():
    """What an agent looks for is what was just deleted: a week of deletions fills more than the 40 rows
    of a message, and the newest must be among them (UIDs follow arrival, not deletion)."""
    from datetime import datetime, timedelta
    from types import SimpleNamespace

    from bot.verbs.deleted import DeletedMail

    start = datetime(2026, 12, 1, 8, 0)
    deleted = {uid: start + timedelta(hours=(uid * 37) % 100) for uid in range(1, 61)}  # deletion order != UIDs
    mails = [DeletedMail(uid, 100, None, None, at, "<a@b.example>", None, f"Mail {uid}") for uid, at in deleted.items()]
    report = SimpleNamespace(
        mails=mails,
        retention_days=7,
        now=start + timedelta(days=5),
        resolved=SimpleNamespace(address=SimpleNamespace(value="john@lab.test")),
        folder=SimpleNamespace(value="INBOX"),
    )
    listed = views.listing_of(cast(DeletedReport, report), "U123")
    assert [m.uid for m in listed.mails] == sorted(deleted, key=deleted.__getitem__, reverse=True)
    shown, cut = views.deleted_blocks(cast(DeletedReport, _Report(60)), listed, "k" * 12, [])
    first_row = next(b for b in shown if b.get("accessory", {}).get("action_id") == views.DELETED_ROW_ACTION)
    newest = max(deleted, key=deleted.__getitem__)
    assert cut and first_row["text"]["text"].startswith(f"*Mail {newest}*\nUID {newest} ")
