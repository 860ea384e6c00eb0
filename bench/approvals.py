"""Approvals per second through the state: PostgreSQL against SQLite, in the same run.

One approval is what the bot writes for a change: the request stored (and audited), the
approve click (one conditional UPDATE, audited), the run's start and its end (audited), so
four transactions and three audit appends. Clients approve in parallel threads (as the bot's
pool does), every write serialised by the backend's writers' lock. SQLite is a file in a
temporary folder; PostgreSQL a cluster this script starts there (initdb + pg_ctl, as the tests
do; run as root, the server runs as `postgres`), so both sit on the same disk. fsync stays on for
both (a real deployment's durability). Prints approvals/s for each and the ratio; checks the
audit chain afterwards. No assertion on speed: a benchmark, not a test.

    python3 bench/approvals.py            # 400 approvals, 8 threads, 3 runs
    python3 bench/approvals.py --small    # 40 approvals, 1 run: the quick mode `make test` runs
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.state import State, open_state
from bot.state.requests import NewRequest
from tests.postgres import start_cluster


def proposal(n: int) -> NewRequest:
    return NewRequest(
        verb="flush",
        arguments={},
        host="lab",
        template="flush_queue",
        argv=("sudo", "-n", "/usr/sbin/postqueue", "-f"),
        display="sudo -n /usr/sbin/postqueue -f",
        preview=f"{n} message(s) in the queue",
        summary="flush the queue of lab",
        policy="approve",
        requester="U1",
        channel="C1",
        reason=f"INC-{n}",
        lifetime_seconds=900,
    )


def approvals_per_second(state: State, count: int, threads: int) -> float:
    """Wall-clock approvals per second with `threads` clients approving `count` requests in total."""
    per_thread = count // threads
    barrier = threading.Barrier(threads + 1)

    def client(t: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            change = state.requests.create(proposal(t * per_thread + i))
            assert state.requests.decide(change.id, "U2", approve=True, runner="bench")
            state.requests.start(change.id)
            state.requests.finish(change.id, "U2", 0, "sha256:bench", 0.1, None)

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return per_thread * threads / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=400, help="approvals per run (default 400)")
    parser.add_argument("--threads", type=int, default=8, help="parallel clients (default 8)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each backend; the median is shown")
    parser.add_argument("--small", action="store_true", help="40 approvals, 1 run (for CI)")
    args = parser.parse_args()
    if args.small:
        args.count, args.runs = 40, 1
    folder = Path(tempfile.mkdtemp(prefix="mailbot-bench-"))
    cluster = start_cluster(fsync=True)
    try:
        results: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
        for run in range(args.runs):
            cluster.psql("postgres", f"CREATE DATABASE bench{run}")
            states = {
                "sqlite": open_state(folder / f"bench{run}.db"),
                "postgresql": open_state(folder / "unused.db", cluster.url(f"bench{run}")),
            }
            for backend, state in states.items():
                state.requests.get("warm-up")  # schema created, pool open: not timed
                results[backend].append(approvals_per_second(state, args.count, args.threads))
                broken = state.audit.verify()
                if broken is not None or len(state.audit.records()) != 3 * (args.count // args.threads) * args.threads:
                    print(f"{backend}: the audit chain is not whole after the run", file=sys.stderr)
                    return 1
                state.database.close()
        sqlite, postgresql = (statistics.median(results[k]) for k in ("sqlite", "postgresql"))
        print(f"approvals through the state: {args.count} per run, {args.threads} threads, {args.runs} run(s)")
        print(f"  sqlite      {sqlite:8.1f} approvals/s")
        print(f"  postgresql  {postgresql:8.1f} approvals/s")
        print(f"  ratio postgresql/sqlite: {postgresql / sqlite:.2f}")
    finally:
        cluster.stop("fast")
        shutil.rmtree(cluster.folder, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
