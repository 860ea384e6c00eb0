"""How long the `queue` summary takes on a big queue, as a ratio to the cheapest possible pass.

Generates `postqueue -j` output for N messages (realistic shapes: several queues, a handful
of reasons with per-session ids, Zipf-like recipient domains), then times, in the same run
and on the same text:
  baseline  json.loads of every line (the least any parser must do)
  parse     bot.mailhost.postqueue.parse_postqueue_json
  summary   parse + bot.verbs.queue.summarize + rendering the text answer
Prints medians of several runs and the ratios. No assertion: a benchmark, not a test.

    python3 bench/queue_summary.py            # 100,000 entries
    python3 bench/queue_summary.py --count 2000 --runs 1   # the quick mode CI runs
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core import render
from bot.mailhost.postqueue import parse_postqueue_json
from bot.mailhost.values import parse_address
from bot.verbs.queue import QueueRequest, summarize

REASONS = [
    "host 10.0.0.7[10.0.0.7] said: 452 4.2.2 Over quota SESSIONID=<cyrus-{n}-1> (in reply to RCPT TO command)",
    "connect to mx.{d}[192.0.2.{k}]:25: Connection timed out",
    "host mx.{d}[192.0.2.{k}] said: 450 4.7.1 <x@{d}>: Recipient address rejected: Greylisted "
    "(in reply to RCPT TO command)",
    "Host or domain name not found. Name service error for name={d} type=MX: Host not found, try again",
    "delivery temporarily suspended: connect to mx.{d}[192.0.2.{k}]:25: Connection refused",
]


def generate(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    domains = [f"domain{n}.example" for n in range(500)]
    weights = [1 / (rank + 1) for rank in range(len(domains))]
    now = int(time.time())
    lines = []
    for n in range(count):
        recipients = []
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            domain = rng.choices(domains, weights)[0]
            reason = rng.choice(REASONS).format(n=n, d=domain, k=n % 250)
            recipients.append({"address": f"user{rng.randrange(20000)}@{domain}", "delay_reason": reason})
        lines.append(
            json.dumps(
                {
                    "queue_name": rng.choice(("deferred",) * 8 + ("active", "hold")),
                    "queue_id": f"{n:011X}",
                    "arrival_time": now - rng.randrange(5 * 86400),
                    "message_size": rng.randrange(500, 5_000_000),
                    "forced_expire": False,
                    "sender": f"sender{rng.randrange(5000)}@corp.example",
                    "recipients": recipients,
                }
            )
        )
    return lines


def timed(work: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    lines = generate(args.count)
    now = datetime.now(UTC)

    def summary(request: QueueRequest) -> str:
        report = summarize(request, [("mx1", parse_postqueue_json(lines))], now)
        return render.as_text(report)

    baseline = timed(lambda: [json.loads(line) for line in lines], args.runs)
    parse = timed(lambda: parse_postqueue_json(lines), args.runs)
    whole = timed(lambda: summary(QueueRequest(None, None)), args.runs)
    filtered = timed(lambda: summary(QueueRequest(None, "domain3.example")), args.runs)
    one = timed(lambda: summary(QueueRequest(parse_address("user42@domain0.example"), None)), args.runs)
    megabytes = sum(map(len, lines)) / 1e6
    print(f"queue summary, {args.count:,} entries ({megabytes:.0f} MB of postqueue -j), median of {args.runs}")
    print(f"{'step':<34}{'seconds':>10}{'x baseline':>12}")
    for name, seconds in (
        ("baseline: json.loads per line", baseline),
        ("parse_postqueue_json", parse),
        ("summary (parse + group + render)", whole),
        ("summary filtered by a domain", filtered),
        ("summary filtered by an address", one),
    ):
        print(f"{name:<34}{seconds:>10.3f}{seconds / baseline:>12.2f}")


if __name__ == "__main__":
    main()
