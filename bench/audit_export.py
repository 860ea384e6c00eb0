"""The audit export's speed: `mailbot audit --since 1d --csv` and `--json` over N records.

The state (SQLite, a temporary folder) is filled through the bot's own `AuditLog.record` (each
record hashed and chained), a fifth of the records with text a spreadsheet would run as a formula
(CSV-escaped). Then the real CLI exports it, each record checked against the chain as it is
written out; the best of the runs is printed with its records per second, and `python -c pass`
in the same run for scale. No assertion on speed: a benchmark, not a test.

    python3 bench/audit_export.py              # 10,000 records, 3 runs
    python3 bench/audit_export.py --small      # 1,000 records, 1 run
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from bot.state import open_state

HOST = {"name": "nowhere", "address": "127.0.0.1", "port": 9, "user": "u", "key_file": "k", "known_hosts": "h"}


def fill(folder: Path, count: int) -> Path:
    state = open_state(folder / "state.db")
    with state.database.connect() as connection:  # one transaction: filling is not what is measured
        for n in range(count):
            detail = f'=HYPERLINK("http://x.example/{n}")' if n % 5 == 0 else f"INC-{n}, a reason"
            state.audit.append(
                connection,
                "ran",
                f"U{n % 40:04d}",
                verb="flush",
                command="sudo -n /usr/sbin/postqueue -f",
                exit_status=0,
                duration=0.25,
                detail=detail,
                request_id=f"R{n:012x}",
            )
    state.database.close()
    path = folder / "mailbot.yaml"
    path.write_text(yaml.safe_dump({"hosts": [HOST], "state": {"path": str(folder / "state.db")}}))
    return path


def timed(*args: str) -> tuple[float, int]:
    started = time.perf_counter()
    run = subprocess.run([sys.executable, *args], capture_output=True, check=False)  # noqa: S603
    return time.perf_counter() - started, len(run.stdout.splitlines()) if run.returncode == 0 else -run.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    count, runs = (1_000, 1) if args.small else (args.count, args.runs)
    with tempfile.TemporaryDirectory() as folder:
        config = fill(Path(folder), count)
        baseline = min(timed("-c", "pass")[0] for _ in range(runs))
        print(f"{count} audit records; python -c pass {baseline * 1000:.0f} ms")
        for kind in ("--csv", "--json"):
            results = [timed("-m", "bot", "--config", str(config), "audit", "--since", "1d", kind) for _ in range(runs)]
            best, lines = min(results)
            assert lines > 0, f"audit {kind} failed"
            print(f"audit --since 1d {kind}: {best:.2f} s ({count / best:,.0f} records/s, {lines} lines)")


if __name__ == "__main__":
    main()
