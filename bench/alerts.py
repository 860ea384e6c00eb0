"""One alert period over a big queue with many watches: time and peak memory, against a baseline.

The same generated `postqueue -j` text as bench/queue_summary.py (realistic reasons, Cyrus
session ids that make every over-quota reason distinct), one host, and W watches of queued
messages in a real SQLite state. Timed in the same run, on the same text:
  baseline  json.loads of every line (the least any parser must do)
  period    parse_postqueue_json + find_problems + host_problem + storing the problems
            (reconcile) + checking every watch against the queue (none left it: the log is
            only read for messages that did, on the mail host)
Peak memory (tracemalloc) of the baseline and of the period, measured apart from the timings.
No assertion: a benchmark, not a test.

    python3 bench/alerts.py                 # 100,000 entries, 200 watches
    python3 bench/alerts.py --small         # 2,000 entries, 20 watches, one run (make test)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.queue_summary import generate, timed
from bot.config import AlertsConfig, parse_config
from bot.core.registry import Context
from bot.mailhost.host import MailHost
from bot.mailhost.postqueue import parse_postqueue_json
from bot.mailhost.ssh import HostPool
from bot.periods.alerts import find_problems, host_problem
from bot.periods.queues import HostQueue
from bot.periods.watches import check_watches

HOST = {"name": "mx1", "address": "192.0.2.1", "user": "bot", "key_file": "/k", "known_hosts": "/kh"}
SETTINGS = AlertsConfig(channel="C1", queue_size=50_000, growth_per_hour=5_000)


def peak(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--watches", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="2,000 entries, 20 watches, one run")
    args = parser.parse_args()
    if args.small:
        args.count, args.watches, args.runs = 2_000, 20, 1
    lines = generate(args.count)
    with tempfile.TemporaryDirectory() as folder:
        config = parse_config(
            {"hosts": [HOST], "state": {"path": f"{folder}/state.db"}, "domains": {"corp.example": "corp.example"}},
            Path(folder) / "mailbot.yaml",
        )
        context = Context(config=config, pool=HostPool(), requester="bench")
        host = MailHost(config.hosts[0], cast(Any, None))  # no SSH: the period's text is given
        entries = parse_postqueue_json(lines)
        now = time.time()
        for n, entry in enumerate(entries[: args.watches]):
            address = entry.recipients[0].address.lower()
            context.state.watches.create(address, f"U{n}", None, now + 7200, [("mx1", entry.queue_id)], 5, now)

        def period() -> int:
            at = time.time()
            queued = parse_postqueue_json(lines)
            problems = find_problems("mx1", queued, None, SETTINGS, frozenset({"corp.example"}), at)
            deferred = sum(1 for e in queued if e.queue_name == "deferred")
            found = host_problem("mx1", deferred, (deferred - 10, at - 1800), SETTINGS, at)
            problems += [found] if found else []
            context.state.alerts.reconcile(problems, ["mx1"], at)
            check_watches(context, [HostQueue(host, queued)], at)
            return len(problems)

        problems = period()  # the first period stores every problem; the timed ones find them known
        baseline = timed(lambda: [json.loads(line) for line in lines], args.runs)
        seconds = timed(period, args.runs)
        baseline_peak = peak(lambda: [json.loads(line) for line in lines])
        period_peak = peak(period)
    megabytes = sum(map(len, lines)) / 1e6
    print(
        f"alert period, {args.count:,} entries ({megabytes:.0f} MB of postqueue -j), {args.watches} watches, "
        f"{problems:,} problems; median of {args.runs}"
    )
    print(f"{'step':<38}{'seconds':>9}{'x base':>8}{'peak MB':>9}{'x base':>8}")
    for name, spent, memory in (
        ("baseline: json.loads per line", baseline, baseline_peak),
        ("one period (parse, find, store, watch)", seconds, period_peak),
    ):
        print(f"{name:<38}{spent:>9.3f}{spent / baseline:>8.2f}{memory / 1e6:>9.1f}{memory / baseline_peak:>8.2f}")


if __name__ == "__main__":
    main()
