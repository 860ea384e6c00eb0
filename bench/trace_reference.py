"""The slow, obvious trace the fast one must agree with, and the answer both are compared on.

`reference_lines` is the seed's manual method written plainly in Python, reading every log
file whole: pass 1 keeps the lines holding the needle and their queue ids, pass 2 every line
(in every file) of those queue ids, plus the needle lines that have no queue id. It uses the
bot's own notion of a queue id (`is_queue_id`) and emits the same `#mailbot file` markers, so
its lines go through the same reader and assembly as the real trace's.

`answer` is what `mailbot trace --json` shows of a host's lines: the messages that name the
address (sender, recipient or original recipient), the refusals that name it, in order.
"""

from __future__ import annotations

import gzip
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.core import records
from bot.mailhost.mail_flow import Message, Rejection, assemble
from bot.mailhost.tools.postfix import _TraceReader
from bot.mailhost.values import Address, is_queue_id, parse_address

_QUEUE_ID = re.compile(rb"\]: ([0-9A-Za-z]+): ")
_SIBLING = re.compile(r"(?:\.\d.*|-\d.*)?")


def log_files(maillog: str) -> list[Path]:
    """The log and its rotated siblings (`.1`, `.2.gz`, `-20261127.gz`), oldest first."""
    base = Path(maillog)
    found = [
        p
        for p in base.parent.iterdir()
        if p.name.startswith(base.name) and _SIBLING.fullmatch(p.name[len(base.name) :]) and p.is_file()
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime)


def _queue_id(line: bytes) -> bytes | None:
    match = _QUEUE_ID.search(line)
    if match and is_queue_id(match.group(1).decode("ascii")):
        return match.group(1)
    return None


def reference_lines(needle: str, anycase: bool, maillogs: Iterable[str], since: int = 0) -> list[bytes]:
    """Pass 1: the needle's lines and queue ids; pass 2: every line of those ids, every file."""
    wanted = needle.encode().lower() if anycase else needle.encode()
    contents: list[tuple[Path, list[bytes]]] = []
    for maillog in maillogs:
        for path in log_files(maillog):
            if int(path.stat().st_mtime) < since:
                continue
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            contents.append((path, data.split(b"\n")))

    def holds(line: bytes) -> bool:
        return wanted in (line.lower() if anycase else line)

    ids = {qid for _, lines in contents for line in lines if holds(line) and (qid := _queue_id(line))}
    out = [b"#mailbot host now=%d tz=%s" % (int(time.time()), time.strftime("%z").encode())]
    for path, lines in contents:
        out.append(b"#mailbot file mtime=%d path=%s" % (int(path.stat().st_mtime), str(path).encode()))
        for line in lines:
            qid = _queue_id(line)
            if (qid in ids) if qid else (line and holds(line)):
                out.append(line)
    return out


def _names(message: Message, address: Address) -> bool:
    """The address is this message's sender, a recipient, or an original recipient."""
    wanted = address.value
    if (message.sender or "").lower() == wanted:
        return True
    return any(d.recipient.lower() == wanted or (d.orig_recipient or "").lower() == wanted for d in message.deliveries)


def _rejection_names(rejection: Rejection, address: Address) -> bool:
    return address.value in ((rejection.recipient or "").lower(), (rejection.sender or "").lower())


def answer(lines: Iterable[bytes], address: str, host: str = "mx1") -> dict[str, Any]:
    """The messages and refusals naming `address`, as `trace --json` shows them."""
    wanted = parse_address(address)
    flow = assemble(_TraceReader(host).read(lines), host)
    messages = sorted((m for m in flow.messages if _names(m, wanted)), key=lambda m: (m.first_seen, m.host, m.queue_id))
    rejected = [r for r in flow.rejections if _rejection_names(r, wanted)]
    rejected += [r for m in flow.messages for r in m.rejections if _rejection_names(r, wanted)]
    rejected.sort(key=lambda r: r.at)
    origins = records.origins(messages)
    return {
        "messages": [records.message_json(m, origins.get(m.queue_id)) for m in messages],
        "rejected": [records.rejection_json(r) for r in rejected],
    }


def message_answer(lines: Iterable[bytes], host: str = "mx1") -> list[dict[str, Any]]:
    """Every message of a `message QUEUE_ID` search, as JSON."""
    flow = assemble(_TraceReader(host).read(lines), host)
    origins = records.origins(list(flow.messages))
    return [records.message_json(m, origins.get(m.queue_id)) for m in flow.messages]
