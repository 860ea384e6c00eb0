"""The verdicts' cost: a trace's parse and grouping with and without verdicts, in the same run.

    .venv/bin/python bench/verdicts.py [LOG] [COPIES]

LOG (default: the corpus's pixelpark log) is read COPIES times over (default 20), as one host's
answer; the ratio (with / without, median of 5 runs each, interleaved) must stay <= 1.05.
"""

from __future__ import annotations

import gzip
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

from bot.mailhost.mail_flow import assemble
from bot.mailhost.postfix_log import LineParser
from bot.mailhost.verdicts import read_verdicts

DEFAULT = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "corpus" / "pixelpark-postfix-logsums_mail.log.gz"
)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    copies = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8", "replace")
    lines = text.splitlines() * copies

    def trace(verdicts: bool) -> float:
        start = time.perf_counter()
        parser = LineParser(datetime(2030, 1, 1))
        flow = assemble((line for raw in lines if (line := parser.parse(raw))), "h", keep_lines=False)
        if verdicts:
            read_verdicts(flow.messages, flow.rejections)
        return time.perf_counter() - start

    without, with_ = [], []
    for _ in range(5):
        without.append(trace(False))
        with_.append(trace(True))
    a, b = statistics.median(without), statistics.median(with_)
    print(f"{len(lines)} lines: without verdicts {a:.3f} s, with {b:.3f} s, ratio {b / a:.3f}")


if __name__ == "__main__":
    main()
