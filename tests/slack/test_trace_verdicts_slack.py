"""The trace in Slack: a long answer lists up to 15 verdicts inline, problems first; the file is the
text answer and its CSV."""

from __future__ import annotations

from datetime import timedelta

from bot.mailhost.mail_flow import assemble
from bot.mailhost.postfix_log import LineParser
from bot.mailhost.values import Address
from bot.mailhost.verdicts import read_verdicts
from bot.slack import blocks
from bot.verbs.trace import TraceReport
from tests.mailhost.test_verdicts import LAB_LOG, REFERENCE


def lab_report(address: str) -> TraceReport:
    parser = LineParser(REFERENCE)
    flow = assemble([line for raw in LAB_LOG.splitlines() if (line := parser.parse(raw))], "lab")
    report = TraceReport(Address(address), None, ("lab",), messages=list(flow.messages), rejected=list(flow.rejections))
    report.verdicts = read_verdicts(flow.messages, flow.rejections, lifetimes={"lab": timedelta(days=3)})
    return report


def test_a_long_trace_lists_fifteen_verdicts_inline_problems_first_and_attaches_text_and_csv():
    report = lab_report("john@lab.test")
    assert len(report.verdicts) > 15
    answer = blocks.answer(report, "/mail trace john@lab.test", 1.0, None, ephemeral=True)
    shown = "\n".join(b["text"]["text"] for b in answer.blocks if b["type"] == "section")
    assert "What happened to each message" in shown
    listed = [line for line in shown.splitlines() if " · " in line]
    assert len(listed) == 15
    # problems first (this report holds every verdict of the lab's log: full@'s is named as not john's)
    assert "deferred: for full@lab.test: ×" in listed[0] and "mailbox full" in listed[0]
    assert f"… {len(report.verdicts) - 15} more verdicts in the file." in shown
    assert answer.full_text is not None
    assert "What happened to each message" in answer.full_text
    assert "\nverdict,arrived,at,host,queue_id," in answer.full_text  # then the CSV
