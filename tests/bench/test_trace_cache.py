"""The trace script on generated logs, run here by a real /bin/sh, against the slow two-pass.

Whatever path the script takes (first search in two passes, then the cache its builder
leaves; a log that grew; logs rotated since; a file rewritten in place), the answer must be
the one `bench/trace_reference.py` gets by reading every file whole. The set is small (8 MB,
four files) but has the shapes that matter: messages across rotations, bounces and their
notices, content-filter hops, NOQUEUE rejects, invalid UTF-8, reused queue ids.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from bench import gen_logs
from bench.trace_reference import answer, message_answer, reference_lines
from bot.mailhost.tools.postfix import message_logs, trace_logs
from bot.mailhost.values import parse_address, parse_queue_id

END = 1_795_835_340  # a fixed end: the same bytes on every run
SIZE = 12 << 20
ADDRESSES = (gen_logs.RARE, gen_logs.MEDIUM, gen_logs.SECOND, gen_logs.FREQUENT)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("logs")
    gen_logs.ensure(SIZE, seed=3, folder=folder, end=END, quiet=True)
    return folder


@pytest.fixture
def logs(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the set (mtimes kept) that a test may rotate or grow."""
    folder = tmp_path / "logs"
    shutil.copytree(pristine, folder)
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def run(argv_line: str, home: Path, user: str | None = None, small: int | None = None) -> list[bytes]:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": str(home)}
    if small is not None:  # the script's small-host threshold, in bytes of text
        env["MAILBOT_TRACE_SMALL"] = str(small)
    runuser = shutil.which("runuser") or "runuser"
    prefix = [runuser, "-u", user, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items())] if user else []
    done = subprocess.run([*prefix, "/bin/sh", "-c", argv_line], capture_output=True, env=env, check=True)
    assert done.stderr == b"", done.stderr
    settle(home)
    return done.stdout.split(b"\n")


def settle(home: Path, timeout: float = 60) -> None:
    """Wait for the cache builder the search may have left running."""
    cache = home / ".cache" / "mailbot" / "trace"
    deadline = time.monotonic() + timeout
    while (cache / ".lock").exists() or list(cache.glob(".build.*")):
        assert time.monotonic() < deadline, "the cache builder did not finish"
        time.sleep(0.05)


def trace(
    address: str, logs: Path, home: Path, since: int = 0, user: str | None = None, small: int | None = None
) -> list[bytes]:
    command = trace_logs(parse_address(address), since, (str(logs / "mail.log"),))
    return run(command.shell_line(), home, user, small)


def expected(address: str, logs: Path, since: int = 0) -> dict:
    return answer(reference_lines(f"<{address}>", True, [str(logs / "mail.log")], since), address)


def key_of(path: Path) -> str:
    meta = path.stat()
    key = f"{meta.st_dev}-{meta.st_ino}"
    return f"{key}-{meta.st_size}-{int(meta.st_mtime)}" if path.suffix == ".gz" else key


def entries(home: Path) -> dict[str, list[str]]:
    cache = home / ".cache" / "mailbot" / "trace"
    return {e.name: (e / "state").read_text().splitlines() for e in cache.iterdir() if (e / "state").exists()}


def test_first_search_then_cached_ones_give_the_slow_answer(logs, home):
    first = trace(gen_logs.RARE, logs, home)
    assert answer(first, gen_logs.RARE) == expected(gen_logs.RARE, logs)
    assert any(b"status=bounced" in line for line in first)  # the bounce it sent, and its notice
    cached = entries(home)
    assert len(cached) == 4, cached  # the builder grouped every file after the answer
    for address in ADDRESSES:
        assert answer(trace(address, logs, home), address) == expected(address, logs), address
    mine = answer(trace(gen_logs.FREQUENT, logs, home), gen_logs.FREQUENT)
    assert len(mine["messages"]) > 300
    cache = home / ".cache" / "mailbot"
    assert cache.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o077 == 0 for p in cache.rglob("*") if p.is_file())


def test_a_reader_gone_mid_answer_ends_the_search(logs, home):
    """The bot went away (its SSH channel closed) while the cached messages went out: the script
    ends there, on the broken pipe, instead of searching on for no one."""
    trace(gen_logs.RARE, logs, home)  # the first search: its builder caches every file
    assert len(entries(home)) == 4
    command = trace_logs(parse_address(gen_logs.FREQUENT), 0, (str(logs / "mail.log"),))
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": str(home)}
    search = subprocess.Popen(["/bin/sh", "-c", command.shell_line()], stdout=subprocess.PIPE, env=env)
    assert search.stdout is not None
    assert search.stdout.read(4096).startswith(b"#mailbot host ")
    search.stdout.close()  # far more is to come: the frequent address has hundreds of messages
    assert search.wait(timeout=60) in (128 + signal.SIGPIPE, -signal.SIGPIPE)


def test_the_one_pass_of_a_small_host_gives_the_slow_answer(logs, home):
    """The search a small host gets (2 MB of logs, 0.5 MB more per file after the first), made to
    read these 12 MB: every address, and one queue id across a rotation, as the reference reads
    them; no cache is made."""
    for address in ADDRESSES:
        assert answer(trace(address, logs, home, small=1 << 30), address) == expected(address, logs), address
    assert entries(home) == {}
    deferred = (line for line in (logs / "mail.log.1").read_bytes().split(b"\n") if gen_logs.RARE.encode() in line)
    queue_id = next(line.split(b": ")[1].decode() for line in deferred if b"]: " in line and b"NOQUEUE" not in line)
    command = message_logs(parse_queue_id(queue_id), (str(logs / "mail.log"),))
    found = message_answer(run(command.shell_line(), home, small=1 << 30))
    assert found and found == message_answer(reference_lines(queue_id, False, [str(logs / "mail.log")]))


def test_a_refusal_without_queue_id_and_an_unknown_address(logs, home):
    noqueue = next(
        line for line in (logs / "mail.log").read_bytes().split(b"\n") if b"NOQUEUE: reject: RCPT from unknown" in line
    )
    address = noqueue.split(b" to=<")[1].split(b">")[0].decode().lower()
    for _ in range(2):  # first search, then from the cache
        mine = answer(trace(address, logs, home), address)
        assert mine == expected(address, logs)
        assert mine["rejected"]
        assert answer(trace("never.seen@nowhere.example", logs, home), "never.seen@nowhere.example") == {
            "messages": [],
            "rejected": [],
        }


def test_a_message_by_queue_id_across_a_rotation(logs, home):
    deferred = [line for line in (logs / "mail.log.1").read_bytes().split(b"\n") if gen_logs.RARE.encode() in line]
    queue_ids = sorted(
        {line.split(b": ")[1].decode() for line in deferred if b"]: " in line and b"NOQUEUE" not in line}
    )
    assert queue_ids
    for queue_id in queue_ids:
        command = message_logs(parse_queue_id(queue_id), (str(logs / "mail.log"),))
        slow = message_answer(reference_lines(queue_id, False, [str(logs / "mail.log")]))
        for _ in range(2):
            assert message_answer(run(command.shell_line(), home)) == slow


def test_a_growing_log_gets_a_new_segment(logs, home):
    current = logs / "mail.log"
    whole = current.read_bytes()
    cut = whole.index(b"\n", len(whole) // 2) + 1
    current.write_bytes(whole[:cut])
    os.utime(current, (END, END))
    assert answer(trace(gen_logs.FREQUENT, logs, home), gen_logs.FREQUENT) == expected(gen_logs.FREQUENT, logs)
    with current.open("ab") as handle:  # Postfix writes on: same inode, more lines
        handle.write(whole[cut:])
    os.utime(current, (END, END))
    for address in (gen_logs.FREQUENT, gen_logs.MEDIUM):  # the new part searched in two passes
        assert answer(trace(address, logs, home), address) == expected(address, logs)
    key = f"{os.stat(current).st_dev}-{os.stat(current).st_ino}"
    state = entries(home)[key]
    assert f"covered {len(whole)}" in state
    assert sum(line.startswith("seg ") for line in state) == 2
    for address in (gen_logs.FREQUENT, gen_logs.RARE):  # both segments from the cache
        assert answer(trace(address, logs, home), address) == expected(address, logs)


def test_rotation_keeps_what_was_renamed_and_drops_what_is_gone(logs, home):
    trace(gen_logs.MEDIUM, logs, home)
    before = entries(home)
    old_current = logs / "mail.log"
    kept = f"{old_current.stat().st_dev}-{old_current.stat().st_ino}"
    # logrotate with delaycompress: .2.gz -> .3.gz, .1 -> .2.gz (compressed: a new file),
    # mail.log -> .1 (renamed: the same inode), and a new mail.log.
    (logs / "mail.log.3.gz").unlink()
    (logs / "mail.log.2.gz").rename(logs / "mail.log.3.gz")
    one = logs / "mail.log.1"
    stamp = one.stat().st_mtime
    (logs / "mail.log.2.gz").write_bytes(gzip.compress(one.read_bytes(), mtime=0))
    os.utime(logs / "mail.log.2.gz", (stamp, stamp))
    one.unlink()
    old_current.rename(one)
    fresh = one.read_bytes().split(b"\n")[-200:]
    (logs / "mail.log").write_bytes(b"\n".join(fresh))
    os.utime(logs / "mail.log", (END + 60, END + 60))
    for address in ADDRESSES:
        assert answer(trace(address, logs, home), address) == expected(address, logs), address
    after = entries(home)
    assert kept in before and after[kept] == before[kept]  # mail.log.1 still uses its entry
    current = {key_of(path) for path in logs.iterdir()}
    assert set(after) <= current  # the entries of the files that are gone went with them
    assert len(after) == 3  # .3.gz, .2.gz, .1 (the new mail.log is too small to cache)


def test_a_file_rewritten_in_place_is_not_read_from_the_cache(logs, home):
    trace(gen_logs.MEDIUM, logs, home)
    one = logs / "mail.log.1"
    stamp = one.stat().st_mtime
    text = one.read_bytes()
    with one.open("r+b") as handle:  # the same inode, other lines (a copytruncate gone wrong)
        handle.write(text[len(text) // 2 :] + text[: len(text) // 2])
    os.utime(one, (stamp, stamp))
    for address in (gen_logs.MEDIUM, gen_logs.FREQUENT):
        assert answer(trace(address, logs, home), address) == expected(address, logs), address


def test_since_reads_only_the_files_that_can_hold_it(logs, home):
    since = END - 3600
    lines = trace(gen_logs.FREQUENT, logs, home, since=since)
    files = {line.split(b"path=")[1] for line in lines if line.startswith(b"#mailbot file ")}
    assert files == {str(logs / "mail.log").encode()}
    assert answer(lines, gen_logs.FREQUENT) == expected(gen_logs.FREQUENT, logs, since)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root to act as another user")
def test_the_cache_never_shows_what_the_account_can_no_longer_read(pristine):
    top = Path(tempfile.mkdtemp(prefix="mailbot-test-"))  # pytest's own folders are root's only
    try:
        top.chmod(0o755)
        logs, home = top / "logs", top / "home"
        shutil.copytree(pristine, logs)
        home.mkdir()
        for path in [logs, *logs.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.chown(home, "nobody")
        first = trace(gen_logs.MEDIUM, logs, home, user="nobody")
        assert answer(first, gen_logs.MEDIUM) == expected(gen_logs.MEDIUM, logs)
        assert len(entries(home)) == 4
        hidden = logs / "mail.log.1"
        hidden.chmod(0o600)  # root's only, from now on
        lines = trace(gen_logs.MEDIUM, logs, home, user="nobody")
        assert f"#mailbot unreadable {hidden}".encode() in lines
        assert len(entries(home)) == 3  # and its entry is gone
        hidden_lines = set(hidden.read_bytes().split(b"\n"))
        assert not any(line in hidden_lines for line in lines if line and not line.startswith(b"#"))
    finally:
        shutil.rmtree(top)


@pytest.mark.parametrize(("files", "cached"), [(2, False), (3, True)])
def test_the_small_host_limit_grows_with_the_files_to_read(pristine, tmp_path, home, files, cached):
    """2 MB of text, and 0.5 MB more for each file after the first (each file costs the two passes
    a few programs): two files of 1.1 MB are read in one pass (nothing to cache), three in two
    passes, whose builder then caches them (a file of 1 MB or more)."""
    lines = b"".join((pristine / name).read_bytes() for name in ("mail.log.1", "mail.log")).splitlines(keepends=True)
    folder = tmp_path / "few"
    folder.mkdir()
    names = ["mail.log"] + [f"mail.log.{n}" for n in range(1, files)]
    at = 0
    for age, name in enumerate(names):
        part, size = [], 0
        while size < 1_100_000:
            part.append(lines[at])
            size += len(lines[at])
            at += 1
        (folder / name).write_bytes(b"".join(part))
        os.utime(folder / name, (END - 86400 * age, END - 86400 * age))
    found = trace(gen_logs.FREQUENT, folder, home)
    assert answer(found, gen_logs.FREQUENT) == expected(gen_logs.FREQUENT, folder)
    assert len(entries(home)) == (files if cached else 0)
