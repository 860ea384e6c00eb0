"""The trace benchmark (issue 9): what a trace costs on the lab, as ratios to a baseline measured
in the same run on the same files. No assertion: a benchmark, not a test.

Generates (once) about 1 GB of Postfix logs with `bench/gen_logs.py`, points a copy of the lab's
config at them, and measures over the lab's real SSH (OpenSSH on 127.0.0.1:2222, the bot's key):
  - the floor: `LC_ALL=C grep -F "<ADDR>"` over the plain files and `zcat | LC_ALL=C grep -F` over
    the .gz ones, run on the host over the same SSH connection, its output read to the end;
  - a trace of a rare, a medium and a very frequent address, the cache cleared first: on the host
    (the search command, output read to the end) and in the bot (`Postfix.trace_log`: the same,
    parsed and assembled as it streams in);
  - a second trace, of another address, once the cache of the unchanged rotated files is built;
  - `--since` covering the last hour of the logs vs the full trace, both from a cleared cache;
  - a warm command (`HostConnection.run(true)`, and `postqueue -j`) vs a bare paramiko `true`;
  - 30 `/mail trace` slash commands at once to `mailbot serve --http` (a local fake Slack);
  - the `queue` summary of 100,000 entries (bench/queue_summary.py) vs json.loads of its lines;
  - `mailbot trace` of the frequent address, whole process (table and --json, first and cached)
    vs the floor;
  - what this machine allows that trace at best: the CPU time of the host's search and of the whole
    CLI process, first and cached; their sum over the cores (host and bot share them here: the least
    time the two can take), and the bot's alone, vs the floor;
  - the peak RSS of `mailbot trace --json` (and of the table) for the frequent address vs the rare one.
  - the whole `trace` of the frequent address (`run_trace`: the host's search over SSH, the parse,
    the grouping, the queue, the verdicts), with and without its verdicts, interleaved (issue 22).

    python3 bench/run.py            # 1 GB, medians of 3 (about 3 minutes once generated)
    python3 bench/run.py --small    # 8 MB, one run each: what CI runs to keep it working
    python3 bench/run.py --steps verdicts   # only some of the steps (names as printed)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paramiko
import yaml

from bench import gen_logs, queue_summary
from bot.config import Config, load_config
from bot.core import render
from bot.errors import HostUnreachable
from bot.mailhost import postfix_log
from bot.mailhost.commands import RemoteCommand
from bot.mailhost.host import MailHost
from bot.mailhost.postqueue import parse_postqueue_json
from bot.mailhost.ssh import HostConnection, connect
from bot.mailhost.tools import postfix
from bot.mailhost.values import parse_address
from bot.verbs import trace as trace_verb
from bot.verbs.queue import QueueRequest, summarize

LAB_CONFIG = ROOT / "lab" / "mailbot-lab.yaml"
ADMIN_KEY = ROOT / "lab" / "run" / "ssh" / "lab_admin_key"
CACHE = "$HOME/.cache/mailbot/trace"
FLOOR = r"""export LC_ALL=C
needle=$1; shift
for f do case $f in *.gz) zcat -- "$f" | grep -F -e "$needle" ;; *) grep -F -e "$needle" -- "$f" ;; esac; done
exit 0"""
# The trace command run on the host with its answer thrown away, then the CPU time of what it ran
# (the shell's `times`: its own line, then its children's, `0m6.104000s 0m0.472000s`); the builder
# it leaves in the background after the answer is not waited for, so not counted.
HOST_CPU = r""""$@" > /dev/null || exit $?
times"""
SETTLE = f"""i=0; while [ -d "{CACHE}/.lock" ] || ls "{CACHE}"/.build.* >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -gt 1200 ] && exit 1; sleep 0.1; done"""


@dataclass
class Row:
    name: str
    seconds: float
    baseline_name: str
    baseline: float
    target: str = ""
    unit: str = "s"

    @property
    def ratio(self) -> float:
        return self.seconds / self.baseline if self.baseline else float("nan")


def median(work: Callable[[], object], runs: int, before: Callable[[], object] | None = None) -> float:
    samples = []
    for _ in range(runs):
        if before is not None:
            before()
        started = time.perf_counter()
        work()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


class Bench:
    def __init__(self, manifest: gen_logs.Manifest, runs: int, workdir: Path) -> None:
        self.manifest = manifest
        self.runs = runs
        self.workdir = workdir
        self.config_path = write_config(workdir, manifest.maillog)
        self.config: Config = load_config(str(self.config_path))
        self.host = self.config.hosts[0]
        self.lab_host = load_config(str(LAB_CONFIG)).hosts[0]
        self.connection = HostConnection(self.host)
        self.mailhost = MailHost(self.host, self.connection)
        self.rows: list[Row] = []
        self.notes: list[str] = []

    # --- the host ------------------------------------------------------------------------

    def shell(self, script: str, *args: str) -> bytes:
        command = RemoteCommand("bench", ("/bin/sh", "-c", script, "bench", *args))
        try:
            result = self.connection.run(command, timeout=300)
        except HostUnreachable:  # the lab is shared: another run may have dropped the connection; once more
            result = self.connection.run(command, timeout=300)
        if result.exit_status != 0:
            raise RuntimeError(f"{script[:40]}... failed: {result.stderr_text}")
        return result.stdout

    def settle(self) -> None:
        """Wait for the cache builder a trace may have left running on the host."""
        self.shell(SETTLE)

    def clear_cache(self) -> None:
        """Back to nothing cached. Other users of the lab's account (test suites) may be creating
        the cache's folders at the same moment: removal is tried a few times."""
        self.settle()
        self.shell(f'for i in 1 2 3 4 5 6 7 8 9 10; do rm -rf "{CACHE}" 2>/dev/null && exit 0; sleep 0.2; done; exit 1')

    def warm(self) -> None:
        """Every file cached: one full trace, then its builder left to finish."""
        self.bot_trace(self.manifest.addresses["rare"])
        self.settle()

    def floor(self, address: str) -> None:
        paths = [str(p) for p in self.manifest.paths]
        plain = [p for p in paths if not p.endswith(".gz")]
        packed = [p for p in paths if p.endswith(".gz")]
        self.shell(FLOOR, f"<{address}>", *plain, *packed)

    def host_trace(self, address: str, since_epoch: int = 0) -> None:
        command = postfix.trace_logs(parse_address(address), since_epoch, self.host.maillog)
        with self.connection.open(command) as stream:
            stream.read_all()
        if stream.exit_status != 0:
            raise RuntimeError(f"trace failed: {stream.stderr!r}")

    def bot_trace(self, address: str, since: timedelta | None = None) -> int:
        return len(self.mailhost.postfix.trace_log(parse_address(address), since).flow.messages)

    # --- the measurements ----------------------------------------------------------------

    def traces(self) -> None:
        addresses = self.manifest.addresses
        for role in ("rare", "medium", "frequent"):
            address = addresses[role]
            count = self.bot_trace(address)  # also warms the page cache and the connection
            floor = median(partial(self.floor, address), self.runs)
            host = median(partial(self.host_trace, address), self.runs, self.clear_cache)
            bot = median(partial(self.bot_trace, address), self.runs, self.clear_cache)
            label = f"trace {role} ({count:,} messages), first"
            self.rows.append(Row(f"{label}: host", host, "floor (grep + zcat|grep)", floor, "<= 1.3"))
            self.rows.append(Row(f"{label}: bot", bot, "floor (grep + zcat|grep)", floor))
        self.settle()

    def whole_process(self) -> None:
        """`mailbot trace` of the frequent address as people run it: the whole CLI process (start,
        login, queue, search, parsing, the table or the JSON written), first with nothing cached
        (the cache emptied before each run), then cached; each against the floor of the same run."""
        address = self.manifest.addresses["frequent"]
        floor = median(partial(self.floor, address), self.runs)
        base = "floor (grep + zcat|grep)"
        for label, before in (("first", self.clear_cache), ("cached", self.settle)):
            for output, json_out in (("table", False), ("--json", True)):
                seconds = median(partial(cli_rss, self.config_path, address, json_out), self.runs, before)
                row = f"`mailbot trace` frequent, {output}, {label}: whole process"
                self.rows.append(Row(row, seconds, base, floor, "<= 1.3"))
        self.settle()

    def cpu_bound(self) -> None:
        """What the machine allows the frequent address at best, host and bot sharing its cores: the
        CPU time of the host's search and of the whole CLI process (each the median of the runs),
        first and cached. Over the cores, their sum is the least time the two can take together.
        The bot's own is shown too: most of it is one thread (the parse, then the table), so a
        cached trace, whose host part is small, comes near it (a little under: paramiko's reader
        decrypts in a thread of its own)."""
        address = self.manifest.addresses["frequent"]
        cores = os.cpu_count() or 1
        floor = median(partial(self.floor, address), self.runs)
        command = postfix.trace_logs(parse_address(address), 0, self.host.maillog)
        for label, before in (("first", self.clear_cache), ("cached", self.settle)):
            host = statistics.median(self.host_cpu(command, before) for _ in range(self.runs))
            bot = statistics.median(cli_cpu(self.config_path, address, before) for _ in range(self.runs))
            self.rows.append(
                Row(f"frequent, {label}: (host + bot CPU) / {cores} cores", (host + bot) / cores, "floor", floor)
            )
            self.rows.append(Row(f"frequent, {label}: the bot's CPU, whole process", bot, "floor", floor))
            self.notes.append(f"frequent, {label}: the host's search {host:.2f} CPU-s, the bot {bot:.2f} CPU-s.")
        self.settle()

    def host_cpu(self, command: RemoteCommand, before: Callable[[], object]) -> float:
        """CPU seconds (user + system) of one trace command on the host, its answer not sent."""
        before()
        spent = re.findall(r"(\d+)m([\d.]+)s", self.shell(HOST_CPU, *command.argv).decode().splitlines()[-1])
        return sum(60 * int(minutes) + float(seconds) for minutes, seconds in spent)

    def second_trace(self) -> None:
        self.warm()
        second = self.manifest.addresses["second"]
        count = self.bot_trace(second)
        floor = median(lambda: self.floor(second), self.runs)
        host = median(lambda: self.host_trace(second), self.runs)
        bot = median(lambda: self.bot_trace(second), self.runs)
        label = f"second trace, another address ({count:,} msgs), cached"
        self.rows.append(Row(f"{label}: host", host, "floor (grep + zcat|grep)", floor, "<= 0.3"))
        self.rows.append(Row(f"{label}: bot", bot, "floor (grep + zcat|grep)", floor))
        frequent = self.manifest.addresses["frequent"]
        floor = median(lambda: self.floor(frequent), self.runs)
        host = median(lambda: self.host_trace(frequent), self.runs)
        bot = median(lambda: self.bot_trace(frequent), self.runs)
        self.rows.append(Row("trace frequent, cached: host", host, "floor (grep + zcat|grep)", floor))
        self.rows.append(Row("trace frequent, cached: bot", bot, "floor (grep + zcat|grep)", floor))

    def since(self) -> None:
        address = self.manifest.addresses["medium"]
        end = self.manifest.end
        window = timedelta(seconds=max(0, int(time.time()) - end) + 3600)  # the last hour of the logs
        full = median(lambda: self.host_trace(address), self.runs, self.clear_cache)
        recent = median(lambda: self.host_trace(address, end - 3600), self.runs, self.clear_cache)
        self.rows.append(Row("--since (last hour of the logs): host", recent, "full trace: host", full))
        full = median(lambda: self.bot_trace(address), self.runs, self.clear_cache)
        recent = median(lambda: self.bot_trace(address, window), self.runs, self.clear_cache)
        self.rows.append(Row("--since (last hour of the logs): bot", recent, "full trace: bot", full))
        self.notes.append(f"--since ran as --since {int(window.total_seconds()) // 60}m: the logs end at {iso(end)}.")
        self.settle()

    def warm_command(self) -> None:
        runs = max(20, 10 * self.runs)
        transport = connect(self.host)
        try:
            bare = median(lambda: bare_true(transport), runs)
        finally:
            transport.close()
        self.connection.run(RemoteCommand("true", ("true",)))
        bot = median(lambda: self.connection.run(RemoteCommand("true", ("true",))), runs)
        self.rows.append(Row("warm command `true` (HostConnection.run)", bot, "bare paramiko `true`", bare, "+5 ms"))
        guarded = HostConnection(self.lab_host)  # the bot's key, forced through the lab's guard
        try:
            guarded.run(postfix.queue_json())
            through_guard = median(lambda: guarded.run(postfix.queue_json()), runs)
            raw = median(lambda: self.connection.run(postfix.queue_json()), runs)
            self.rows.append(Row("warm `postqueue -j` through the guard", through_guard, "the same, no guard", raw))
        except Exception as exc:  # the lab's Postfix may be down: the rest still means something
            self.notes.append(f"the guard's cost not measured: {exc}")
        finally:
            guarded.close()
        try:
            self.mailhost.postfix.queue()
            queue = median(self.mailhost.postfix.queue, runs)
            self.rows.append(Row("warm `queue` (postqueue -j, parsed)", queue, "bare paramiko `true`", bare))
        except Exception as exc:  # the lab's Postfix may be down: the rest still means something
            self.notes.append(f"warm `queue` not measured: {exc}")

    def slack(self) -> None:
        from tests.fakeslack import FakeSlack
        from tests.slack.conftest import free_port, wait_healthy

        address = self.manifest.addresses["second"]
        self.warm()
        with FakeSlack() as fake:
            folder = self.workdir / "slack"
            folder.mkdir(exist_ok=True)
            config = write_config(folder, self.manifest.maillog, {"api_url": fake.api_url, "workers": 8})
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
            env.update(SLACK_BOT_TOKEN=fake.bot_token, SLACK_SIGNING_SECRET=fake.signing_secret)
            log = (folder / "bot.log").open("w")
            args = [sys.executable, "-m", "bot", "--config", str(config), "serve", "--http", "--host", "127.0.0.1"]
            bot = subprocess.Popen([*args, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
            try:
                wait_healthy(f"http://127.0.0.1:{port}/health", bot, folder / "bot.log")  # type: ignore[arg-type]
                url = f"http://127.0.0.1:{port}/slack/events"
                sent: dict[str, float] = {}
                acks: list[float] = []

                for n in range(30):
                    fake.add_user(f"U{n:04d}", f"agent{n}")

                def ask(n: int) -> None:
                    response_url = fake.new_response_url()
                    sent[response_url] = time.monotonic()
                    reply = fake.send_slash_command(
                        url, response_url=response_url, text=f"trace {address}", user_id=f"U{n:04d}"
                    )
                    acks.append(reply.elapsed)

                threads = [threading.Thread(target=ask, args=(n,)) for n in range(30)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                answered: dict[str, float] = {}
                deadline = time.monotonic() + 300
                while len(answered) < len(sent) and time.monotonic() < deadline:
                    for call in fake.calls("response_url"):
                        if call.url in sent and not str(call.args.get("text", "")).startswith("Still working"):
                            answered.setdefault(call.url, call.at - sent[call.url])
                    time.sleep(0.1)
            finally:
                bot.terminate()
                bot.wait(timeout=30)
                log.close()
        answers = sorted(answered.values())
        self.rows.append(Row("30 slash commands: ack, median", statistics.median(acks), "Slack's limit", 3.0, "< 3 s"))
        self.rows.append(Row("30 slash commands: ack, worst", max(acks), "Slack's limit", 3.0, "< 3 s"))
        if answers:
            one = median(lambda: self.bot_trace(address), 1)
            self.rows.append(
                Row("30 slash commands: answer, median", statistics.median(answers), "one trace: bot", one)
            )
            self.rows.append(Row("30 slash commands: answer, worst", max(answers), "one trace: bot", one))
        if len(answers) < len(sent):
            self.notes.append(f"only {len(answers)} of {len(sent)} slash commands were answered")

    def queue_summary(self, count: int) -> None:
        lines = queue_summary.generate(count)
        now = datetime.now(UTC)
        runs = max(1, self.runs)
        baseline = median(lambda: [json.loads(line) for line in lines], runs)

        def summary() -> str:
            return render.as_text(summarize(QueueRequest(None, None), [("mx1", parse_postqueue_json(lines))], now))

        whole = median(summary, runs)
        self.rows.append(Row(f"queue summary of {count:,} entries", whole, "json.loads of each line", baseline))

    def memory(self) -> None:
        addresses = self.manifest.addresses
        self.warm()
        rare = cli_rss(self.config_path, addresses["rare"])
        frequent = cli_rss(self.config_path, addresses["frequent"])
        table = cli_rss(self.config_path, addresses["frequent"], json_out=False)
        self.rows.append(
            Row(
                "peak RSS, `mailbot trace --json` frequent",
                frequent[0],
                "the same, rare address",
                rare[0],
                "<= 100 MB",
                unit="MB",
            )
        )
        self.rows.append(
            Row("peak RSS, `mailbot trace` frequent (table)", table[0], "the same, rare address", rare[0], unit="MB")
        )
        self.notes.append(
            f"`mailbot trace --json` end to end (process start to exit, cached): rare {rare[1]:.2f} s, "
            f"frequent {frequent[1]:.2f} s, JSON {frequent[2] / 1e6:.0f} MB."
        )

    def verdicts(self) -> None:
        """The whole trace of the frequent address (what `mailbot trace` does before it prints), with
        and without its verdicts: runs interleaved, so both see the same machine."""
        from bot.core.registry import Context
        from bot.mailhost.ssh import HostPool

        address = self.manifest.addresses["frequent"]
        self.warm()
        pool = HostPool()
        context = Context(self.config, pool, "bench")
        request = trace_verb.TraceRequest(parse_address(address), None)
        counts: list[int] = []

        def whole(with_verdicts: bool) -> float:
            with ExitStack() as patched:
                if not with_verdicts:  # the same trace, its verdicts not read
                    patched.enter_context(mock.patch.object(trace_verb, "read_verdicts", return_value=[]))
                started = time.perf_counter()
                report = trace_verb.run_trace(request, context)
                seconds = time.perf_counter() - started
            counts.append(len(report.verdicts))
            return seconds

        try:
            whole(True)  # the connection, the page cache, the interpreter's caches
            runs = max(5, 2 * self.runs + 1) if self.runs > 1 else 1
            without, with_ = [], []
            for _ in range(runs):
                without.append(whole(False))
                with_.append(whole(True))
        finally:
            pool.close()
        a, b = statistics.median(without), statistics.median(with_)
        self.rows.append(
            Row(
                f"trace frequent, whole, with verdicts ({max(counts):,})", b, "the same, without verdicts", a, "<= 1.05"
            )
        )
        self.notes.append(
            f"verdicts: {runs} interleaved pairs; without {', '.join(f'{s:.2f}' for s in without)}; "
            f"with {', '.join(f'{s:.2f}' for s in with_)}."
        )

    def stamps(self) -> None:
        """The bot's reading of the frequent address's stream (parse and grouping, in-process): its
        lines as rsyslog writes them by default since Debian 12 (RFC 3339 stamps, microseconds)
        against the same lines with classic stamps; runs interleaved."""
        from bot.mailhost.mail_flow import assemble_blocks
        from bot.mailhost.tools.postfix import _TraceReader

        address = self.manifest.addresses["frequent"]
        with self.connection.open(postfix.trace_logs(parse_address(address), 0, self.host.maillog)) as stream:
            classic = stream.read_all().decode("utf-8", "replace")
        rfc3339 = rfc3339_stream(classic)
        counts: set[int] = set()

        def read(text: str) -> None:
            reader = _TraceReader("bench")
            blocks, start = [], 0
            while start < len(text):  # whole lines, about 256 kB each, as RemoteStream.blocks gives them
                end = text.find("\n", start + (256 << 10))
                end = len(text) if end < 0 else end + 1
                blocks.append(text[start:end])
                start = end
            counts.add(len(assemble_blocks(reader.blocks(blocks), reader.parser, "bench").messages))

        read(classic)  # the interpreter's caches
        pairs = [
            (median(partial(read, rfc3339), 1), median(partial(read, classic), 1)) for _ in range(max(3, self.runs))
        ]
        if len(counts) != 1:
            raise RuntimeError(f"the two streams gave different messages: {sorted(counts)}")
        lines = classic.count("\n")
        self.rows.append(
            Row(
                f"reading the frequent stream ({lines:,} lines), RFC 3339 stamps",
                statistics.median(p[0] for p in pairs),
                "the same, classic stamps",
                statistics.median(p[1] for p in pairs),
            )
        )


def rfc3339_stream(text: str) -> str:
    """The trace script's stream with each log line's classic stamp (`Nov 28 02:27:30`) written as
    rsyslog's RSYSLOG_FileFormat writes it (`2026-11-28T02:27:30.000001+00:00`), microseconds
    growing within each second; the markers as they are. The year: the lines are of the last days."""
    now = datetime.now(UTC)
    days: dict[str, str] = {}
    out, second, micro = [], "", 0
    for line in text.split("\n"):
        if line[:3] in postfix_log.MONTHS and line[15:16] == " ":
            micro = micro + 1 if line[:15] == second else 0
            second = line[:15]
            day = days.get(line[:6])
            if day is None:
                month, number = postfix_log.MONTHS[line[:3]], int(line[4:6])
                day = days[line[:6]] = f"{postfix_log.infer_year(month, number, now):04d}-{month:02d}-{number:02d}"
            out.append(f"{day}T{line[7:15]}.{micro:06d}+00:00{line[15:]}")
        else:
            out.append(line)
    return "\n".join(out)


def bare_true(transport: paramiko.Transport) -> None:
    channel = transport.open_session()
    channel.exec_command("true")
    channel.recv_exit_status()
    channel.close()


# The peak of the bot's own process (VmHWM, reset at exec), written by the process when the
# console script's main is done; a parent's getrusage would also count the pages of this big
# benchmark process it was forked from.
_PEAK = (
    "import sys\n"
    "from bot.cli import main\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "finally:\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            sys.stderr.write('peak-kB ' + line.split()[1] + '\\n')\n"
    "sys.exit(code)\n"
)


def cli_rss(config: Path, address: str, json_out: bool = True) -> tuple[float, float, int]:
    """Peak RSS (MB), wall time and output size of one `mailbot trace ADDRESS [--json]` process."""
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603  (this interpreter, the bot, a generated address)
        [sys.executable, "-c", _PEAK, "--config", str(config), "trace", address, *(["--json"] if json_out else [])],
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    seconds = time.perf_counter() - started
    peak = [int(line.split()[1]) for line in done.stderr.decode().splitlines() if line.startswith("peak-kB ")]
    return (peak[-1] / 1024 if peak else float("nan")), seconds, len(done.stdout)


def cli_cpu(config: Path, address: str, before: Callable[[], object]) -> float:
    """CPU seconds (user + system) of one `mailbot trace ADDRESS` process, its table thrown away."""
    before()
    spent = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(  # noqa: S603  (this interpreter, the bot, a generated address)
        [sys.executable, "-m", "bot", "--config", str(config), "trace", address],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        check=True,
    )
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (now.ru_utime - spent.ru_utime) + (now.ru_stime - spent.ru_stime)


def write_config(folder: Path, maillog: str, slack: dict[str, Any] | None = None) -> Path:
    """The lab's first host (its SSH, its account), searching the generated logs; nothing else.

    With the lab's own key: the guard on the bot's key allows the lab's logs only, and what is
    measured here is the search (the guard's own cost is a row of its own).
    """
    document = yaml.safe_load(LAB_CONFIG.read_text())
    entry = document["hosts"][0]
    for key in ("key_file", "change_key_file", "known_hosts"):
        if key in entry:
            entry[key] = str((LAB_CONFIG.parent / entry[key]).resolve())
    entry["key_file"] = str(ADMIN_KEY)
    entry["maillog"] = maillog
    entry["command_timeout"] = 300
    document["hosts"] = [entry]
    document["state"] = {"path": str(folder / "mailbot.db")}
    if slack is not None:
        document["slack"] = slack
    path = folder / "mailbot-bench.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def machine(manifest: gen_logs.Manifest) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    memory = next(
        (int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines() if "MemTotal" in line),
        0,
    )
    release = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line).get(
        "PRETTY_NAME", "?"
    )

    def version(*argv: str) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=10)  # noqa: S603
        except OSError:
            return "absent"
        return (done.stdout or done.stderr).splitlines()[0].strip() if (done.stdout or done.stderr) else "?"

    awk = "mawk" if shutil.which("mawk") else version("awk", "--version")
    unpacked = sum(manifest.unpacked.values()) / 1e6
    return [
        f"machine: {os.cpu_count()} x {cpu}, {memory:,} MB RAM, {release.strip(chr(34))}, Linux {platform.release()}",
        f"tools on the host: {version('grep', '--version')}; {version('gzip', '--version')}; "
        f"pigz {'present' if shutil.which('pigz') else 'absent'}; awk: {awk}; {version('ssh', '-V')}; "
        f"paramiko {paramiko.__version__}; Python {platform.python_version()}",
        f"logs: {manifest.folder}: {unpacked:,.0f} MB unpacked in 4 files ({manifest.lines:,} lines, "
        f"{manifest.messages:,} messages), ending {iso(manifest.end)}",
    ]


def print_table(rows: list[Row], notes: list[str], header: list[str], runs: int) -> None:
    print("\n".join(header))
    print(f"each figure: median of {runs} run(s); each ratio to a baseline measured in this run, on these files")
    width = max(len(r.name) for r in rows) + 2
    base_width = max(len(r.baseline_name) for r in rows) + 2
    print(f"{'measurement':<{width}}{'value':>10}  {'baseline':<{base_width}}{'value':>10}{'ratio':>8}  target")
    for row in rows:
        value = f"{row.seconds:.3f}" if row.unit == "s" else f"{row.seconds:.0f} MB"
        base = f"{row.baseline:.3f}" if row.unit == "s" else f"{row.baseline:.0f} MB"
        ratio = f"{row.ratio:.2f}"
        print(f"{row.name:<{width}}{value:>10}  {row.baseline_name:<{base_width}}{base:>10}{ratio:>8}  {row.target}")
    for note in notes:
        print(f"note: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="8 MB of logs, one run each (CI)")
    parser.add_argument("--size", help="size of the generated logs (default 1G, or 8M with --small)")
    parser.add_argument("--runs", type=int, help="runs per figure, the median is shown (default 3, 1 with --small)")
    parser.add_argument("--steps", help="only these steps, comma-separated (default: all)")
    args = parser.parse_args()
    size = gen_logs.parse_size(args.size or ("8M" if args.small else "1G"))
    runs = args.runs or (1 if args.small else 3)
    if not LAB_CONFIG.exists():
        sys.exit(f"{LAB_CONFIG} is missing: start the lab first (bash lab/up.sh, as root)")
    manifest = gen_logs.ensure(size)
    with tempfile.TemporaryDirectory(prefix="mailbot-bench-") as folder:
        bench = Bench(manifest, runs, Path(folder))
        steps: list[tuple[str, Callable[[], None]]] = [
            ("traces", bench.traces),
            ("whole process", bench.whole_process),
            ("cpu bound", bench.cpu_bound),
            ("second trace", bench.second_trace),
            ("since", bench.since),
            ("warm command", bench.warm_command),
            ("slash commands", bench.slack),
            ("queue summary", lambda: bench.queue_summary(2000 if args.small else 100_000)),
            ("memory", bench.memory),
            ("verdicts", bench.verdicts),
            ("stamps", bench.stamps),
        ]
        if args.steps:
            wanted = {s.strip() for s in args.steps.split(",")}
            unknown = wanted - {name for name, _step in steps}
            if unknown:
                sys.exit(f"unknown steps: {', '.join(sorted(unknown))}")
            steps = [(name, step) for name, step in steps if name in wanted]
        try:
            for name, step in steps:
                print(f"... {name}", file=sys.stderr, flush=True)
                step()
        finally:
            try:
                bench.clear_cache()  # the cache of the generated logs is this run's business only
            finally:
                bench.connection.close()
        print_table(bench.rows, bench.notes, machine(manifest), runs)


if __name__ == "__main__":
    main()
