"""What starting `mailbot` costs (issue 24): each command's whole process, as a ratio to a bare
`python -c pass` measured in the same run, interleaved with it. No assertion: a benchmark.

  - `mailbot --version` (target <= 3x), `--help` in English and French, a refused address (<= 5x);
  - which verb modules each command imported (only the one that runs), and whether the French
    catalogue was compiled (Babel's .po reader imported) or read compiled;
  - `mailbot trace ADDRESS` on the lab, a rare address, whole process (target <= 0.35 s).

    python3 bench/startup.py            # medians of 15 runs
    python3 bench/startup.py --small    # 3 runs: what CI runs (`make bench-small`)

The processes run as an installed bot does: Python's bytecode cached (this environment may set
PYTHONDONTWRITEBYTECODE, which a pip install does not: it compiles the package), the catalogue's
compiled copy in a cache folder of this run (made by the first French start, not measured).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAB_CONFIG = ROOT / "lab" / "mailbot-lab.yaml"
MAILBOT = Path(sys.executable).with_name("mailbot")  # the console script pip installed, as a user runs it
VERB_MODULES = {
    "bot.verbs." + module
    for module in (
        "audit",
        "check",
        "deleted",
        "flush",
        "history",
        "locate",
        "message",
        "queue",
        "regen_maps",
        "restore",
        "trace",
        "watch",
    )
}


@dataclass
class Command:
    name: str
    argv: list[str]
    target: str
    exit_code: int = 0
    samples: list[float] = field(default_factory=list)


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, check=False)  # noqa: S603
    return time.perf_counter() - started, done.returncode


# The modules loaded when the command is done, written by the process itself (importlib's imports,
# as the verb table's, do not show in -X importtime): the console script's main, then the list
# (the console script itself ends without the interpreter's teardown, so no atexit runs). On a line
# of its own, whatever the command wrote last. tests/test_startup.py runs the same probe.
PROBE = (
    "import sys\n"
    "from bot.cli import main\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "finally:\n"
    "    sys.stderr.write('\\nmodules: ' + ' '.join(sys.modules) + '\\n')\n"
    "sys.exit(code)\n"
)


def modules_in(stderr: str) -> set[str] | None:
    """What `PROBE` wrote, or None if it wrote nothing (the process died first)."""
    lines = [line for line in stderr.splitlines() if line.startswith("modules: ")]
    return set(lines[-1].split()[1:]) if lines else None


def imported(argv: list[str], env: dict[str, str]) -> set[str]:
    """The modules a command has loaded when it exits."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE, *argv[1:]], env=env, cwd=ROOT, capture_output=True, check=False
    )
    return modules_in(done.stderr.decode()) or set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="3 runs each (CI)")
    parser.add_argument("--runs", type=int, help="runs per figure, the median is shown (default 15, 3 with --small)")
    parser.add_argument("--address", default="john@lab.test", help="the lab address traced (default john@lab.test)")
    args = parser.parse_args()
    runs = args.runs or (3 if args.small else 15)
    cache = Path(tempfile.mkdtemp(prefix="mailbot-startup-"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "LC_ALL", "LC_MESSAGES")}
    env.update(LANG="C.UTF-8", MAILBOT_CACHE_DIR=str(cache))
    mailbot = str(MAILBOT) if MAILBOT.exists() else None
    base = [mailbot] if mailbot else [sys.executable, "-m", "bot"]
    commands = [
        Command("`mailbot --version`", [*base, "--version"], "<= 3"),
        Command("`mailbot --help`", [*base, "--help"], "<= 5"),
        Command("`mailbot --lang fr --help`", [*base, "--lang", "fr", "--help"], "<= 5"),
        Command("refused address: `mailbot trace not-an-address`", [*base, "trace", "not-an-address"], "<= 5", 2),
        Command("the same in French", [*base, "--lang", "fr", "trace", "not-an-address"], "<= 5", 2),
    ]
    if LAB_CONFIG.exists():
        trace = [*base, "--config", str(LAB_CONFIG), "trace", args.address]
        commands.append(Command(f"`mailbot trace {args.address}` on the lab", trace, "<= 0.35 s"))
    else:
        print(f"note: {LAB_CONFIG} is missing: the lab trace is not measured (bash lab/up.sh)", file=sys.stderr)
    baseline = Command("`python -c pass`", [sys.executable, "-c", "pass"], "")
    for command in [baseline, *commands]:  # warm: bytecode written, catalogue compiled, page cache
        for _ in range(2):
            _, code = run_once(command.argv, env)
        if code != command.exit_code:
            sys.exit(f"{' '.join(command.argv)} exited {code}, not {command.exit_code}")
    for _ in range(runs):  # interleaved: a busy moment of the machine weighs on every row alike
        for command in [baseline, *commands]:
            command.samples.append(run_once(command.argv, env)[0])
    floor = statistics.median(baseline.samples)
    print(f"each figure: the median of {runs} whole processes; baseline `python -c pass` {floor * 1000:.1f} ms")
    width = max(len(c.name) for c in commands) + 2
    print(f"{'measurement':<{width}}{'ms':>8}{'ratio':>8}  {'target':<10}  verb modules imported")
    for command in commands:
        value = statistics.median(command.samples)
        modules = imported(command.argv, env)
        verbs = sorted(m.removeprefix("bot.verbs.") for m in modules & VERB_MODULES) or ["none"]
        catalogue = " (French catalogue compiled at this start)" if "babel.messages.pofile" in modules else ""
        print(
            f"{command.name:<{width}}{value * 1000:>8.1f}{value / floor:>8.2f}  {command.target:<10}  "
            f"{', '.join(verbs)}{catalogue}"
        )
    compiled = sorted(p.name for p in cache.glob("*.mo"))
    print(f"note: the French catalogue read compiled from {cache}: {', '.join(compiled) or 'nothing there'}")
    for path in cache.glob("*"):
        path.unlink()
    cache.rmdir()


if __name__ == "__main__":
    main()
