"""The host-side trace script, run here by a real /bin/sh on real rotated files.

The same script runs on the mail host over SSH; running it locally on crafted and
third-party logs checks what it finds: rotated siblings, compressed files, the queue-id
join, NOQUEUE and postscreen lines, invalid UTF-8, the --since cut and missing logs.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import time
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.mailhost.commands import RemoteCommand
from bot.mailhost.mail_flow import assemble
from bot.mailhost.postfix_log import LineParser
from bot.mailhost.tools.postfix import _TraceReader, message_logs, trace_logs
from bot.mailhost.values import parse_address, parse_queue_id
from tests.conftest import FIXTURES

SILVENGA = FIXTURES / "corpus" / "silvenga-MailTrace_mail-snip.log"
PIXELPARK = FIXTURES / "corpus" / "pixelpark-postfix-logsums_mail.log.gz"
LAB_LOG = FIXTURES / "lab" / "maillog.txt"
# The lab's log as BusyBox's syslogd wrote it: `Nov 28 02:28:39 vm mail.info postfix/smtpd[19077]: `
# (its lines replayed to that daemon's /dev/log, with their own stamps; tests/fixtures/captures/README.md).
BUSYBOX = FIXTURES / "captures" / "busybox-syslogd-maillog.txt"


def solaris(line: str) -> str:
    """A line as Solaris's syslogd writes it, a message id and the level after the daemon's `]: `
    (`postfix/smtp[2076]: [ID 197553 mail.info] 2E35E2F68: to=<...>`); the id varies with the text."""
    head, colon, text = line.partition("]: ")
    return f"{head}{colon}[ID {zlib.crc32(text[:20].encode()) % 1_000_000} mail.info] {text}" if colon else line


def run_script(address: str, logs: list[Path], since: int = 0, small: int | None = None) -> list[bytes]:
    """The script's output lines; `small` moves its small-host threshold (bytes of text), which
    otherwise sends these few kilobytes down the one-pass search."""
    command = trace_logs(parse_address(address), since, tuple(str(p) for p in logs))
    return run_command(command, small)


def run_command(command: RemoteCommand, small: int | None = None) -> list[bytes]:
    # A UTF-8 locale on purpose: the script must force LC_ALL=C itself, or grep drops lines.
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    if small is not None:
        env["MAILBOT_TRACE_SMALL"] = str(small)
    done = subprocess.run(["/bin/sh", "-c", command.shell_line()], capture_output=True, env=env, check=True)
    return done.stdout.splitlines()


def log_lines(output: list[bytes]) -> list[bytes]:
    return [line for line in output if not line.startswith(b"#mailbot ")]


def test_every_line_of_each_matching_queue_id_comes_back(tmp_path):
    log = tmp_path / "mail.log"
    log.write_bytes(SILVENGA.read_bytes())
    lines = log_lines(run_script("test@example.not.exists", [log]))
    expected = [line for line in SILVENGA.read_bytes().splitlines() if b"29EA217F4FB" in line]
    assert lines == expected  # client=, message-id=, from=, the bounce, the notice, removed
    assert any(b"client=" in line for line in lines)


def test_rotated_and_compressed_siblings_are_read_oldest_first(tmp_path):
    lines = gzip.decompress(PIXELPARK.read_bytes()).splitlines(keepends=True)
    third = len(lines) // 3
    base = tmp_path / "mail.log"
    parts = {
        tmp_path / "mail.log-20230314.gz": lines[:third],
        tmp_path / "mail.log.1": lines[third : 2 * third],
        base: lines[2 * third :],
    }
    for age, (path, chunk) in enumerate(parts.items()):
        data = b"".join(chunk)
        path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
        os.utime(path, (1_700_000_000 + age * 1000, 1_700_000_000 + age * 1000))
    address = "user01.test@uhu-banane.net"
    output = run_script(address, [base])
    files = [line.split(b"path=")[1].decode() for line in output if line.startswith(b"#mailbot file ")]
    assert files == [str(p) for p in parts]
    needle = f"<{address}>".encode()
    expected_ids = {
        line.split(b": ")[1] for line in lines if needle in line.lower() and b"NOQUEUE" not in line.split(b": ")[1]
    }
    found = log_lines(output)
    found_ids = {line.split(b": ")[1] for line in found if b"NOQUEUE" not in line.split(b": ")[1]}
    assert found_ids == expected_ids
    # NOQUEUE refusals from smtpd and from postscreen come back too
    assert sum(1 for line in found if b"NOQUEUE: reject" in line) == sum(
        1 for line in lines if b"NOQUEUE: reject" in line and needle in line.lower()
    )


def test_a_small_host_is_answered_in_one_pass_as_the_two_passes_answer(tmp_path):
    """Under its threshold (by default 2 MB of text, 0.5 MB more per file after the first) the
    script reads every file in one awk instead of its two passes and cache: the same bytes out, on
    rotated, compressed, empty, unterminated and corrupt files, for an address in any case, an
    unknown one, a queue id."""
    lines = gzip.decompress(PIXELPARK.read_bytes()).splitlines(keepends=True)
    base = tmp_path / "mail.log"
    needle = b"<user01.test@uhu-banane.net>"
    last = max(at for at in range(45000, 50000) if needle in lines[at].lower())  # the newest file ends with it
    parts = {
        tmp_path / "mail.log.4.gz": b"not gzip at all",
        tmp_path / "mail.log.3": b"",
        tmp_path / "mail.log.2.gz": gzip.compress(b"".join(lines[:30000])),
        tmp_path / "mail.log.1": b"".join(lines[30000:45000]) + SILVENGA.read_bytes(),
        base: b"".join(lines[45000 : last + 1]).rstrip(b"\n"),  # a log whose last line has no newline yet
    }
    for age, (path, data) in enumerate(parts.items()):
        path.write_bytes(data)
        os.utime(path, (1_700_000_000 + age * 1000, 1_700_000_000 + age * 1000))
    commands = [
        trace_logs(parse_address(address), 0, (str(base),))
        for address in ("USER01.test@uhu-banane.net", "test@example.not.exists", "never@nowhere.example")
    ]
    commands.append(message_logs(parse_queue_id("4PcV4H6fDlz3tG5"), (str(base),)))
    for command in commands:
        one_pass, two_passes = run_command(command, small=1 << 30), run_command(command, small=0)
        assert one_pass[1:] == two_passes[1:], command.argv[5]  # all but the host's clock
    output = run_command(commands[0], small=1 << 30)
    assert f"#mailbot warning partial {tmp_path / 'mail.log.4.gz'}".encode() in output
    assert output[-1] == lines[last].rstrip(b"\n")  # that line, whole
    assert output.count(b"#mailbot line ") == 2  # the empty file and the corrupt one have no first line
    by_queue_id = log_lines(run_command(commands[-1], small=1 << 30))
    assert [line for line in by_queue_id if b"4PcV4H6fDlz3tG5" in line] == [
        line.rstrip(b"\n") for line in lines if b"4PcV4H6fDlz3tG5" in line
    ]


def test_invalid_utf8_lines_are_not_dropped(tmp_path):
    log = tmp_path / "mail.log"
    log.write_bytes(
        b"Nov 28 10:00:00 mx postfix/smtpd[1]: ABCDEF12345: client=bad[192.0.2.1]\n"
        b"Nov 28 10:00:00 mx postfix/cleanup[2]: ABCDEF12345: message-id=<caf\xe9\xff@x>\n"
        b"Nov 28 10:00:01 mx postfix/qmgr[3]: ABCDEF12345: from=<b\xe9b@example.org>, size=10, nrcpt=1 (queue active)\n"
        b"Nov 28 10:00:01 mx postfix/smtpd[1]: warning: non-SMTP command from bad[192.0.2.1]: "
        b"\xff\xfe <john@lab.test>\n"
        b"Nov 28 10:00:02 mx postfix/lmtp[4]: ABCDEF12345: to=<John@Lab.Test>, relay=l[127.0.0.1]:2400, delay=1, "
        b"delays=0/0/0/1, dsn=2.1.5, status=sent (250 2.1.5 Ok)\n"
    )
    lines = log_lines(run_script("john@lab.test", [log]))
    assert len([line for line in lines if b"ABCDEF12345" in line]) == 3 + 1
    reader = _TraceReader("mx")
    flow = assemble(reader.read(run_script("john@lab.test", [log])), "mx")
    (message,) = flow.messages
    assert message.message_id == "caf\ufffd\ufffd@x"
    assert message.deliveries[0].recipient == "John@Lab.Test"


def test_since_skips_files_last_written_before_it(tmp_path):
    old, new = tmp_path / "mail.log.1", tmp_path / "mail.log"
    old.write_bytes(SILVENGA.read_bytes())
    new.write_bytes(b"")
    os.utime(old, (1_000_000_000, 1_000_000_000))
    assert log_lines(run_script("test@example.not.exists", [new], since=0))
    output = run_script("test@example.not.exists", [new], since=1_500_000_000)
    assert log_lines(output) == []
    assert not any(b"mail.log.1" in line for line in output)


def test_a_missing_log_is_reported_not_fatal(tmp_path):
    output = run_script("john@lab.test", [tmp_path / "nowhere.log"])
    assert f"#mailbot missing {tmp_path / 'nowhere.log'}".encode() in output
    host_line = output[0].decode()
    assert host_line.startswith("#mailbot host now=")
    assert abs(int(host_line.split("now=")[1].split()[0]) - datetime.now().timestamp()) < 60


def test_no_temporary_files_are_left_behind(tmp_path):
    log = tmp_path / "mail.log"
    log.write_bytes(SILVENGA.read_bytes())
    before = set(Path("/tmp").glob("mailbot-trace.*"))
    run_script("test@example.not.exists", [log])
    assert set(Path("/tmp").glob("mailbot-trace.*")) == before


EDGE_LINES = [
    "Nov  8 10:00:00 mx postfix/smtpd[1]: ABCDEF12345: client=x[192.0.2.1]",
    "Nov 8 10:00:00 mx postfix/smtpd[1]: ABCDEF12345: client=x[192.0.2.1]",
    "Nov 08 10:00:00 mx postfix/smtpd[1]: ABCDEF12345: client=x[192.0.2.1]",
    "Feb 30 10:00:00 mx postfix/smtpd[1]: ABCDEF12345: client=x[192.0.2.1]",
    "Feb 29 10:00:00 mx postfix/qmgr[2]: ABCDEF12345: removed",
    "Dec 31 23:59:59 mx postfix/qmgr[2]: ABCDEF12345: removed",
    "Jan  1 00:00:01 mx postfix/qmgr[2]: ABCDEF12345: removed",
    "Nov  3 10:00:00 mx postfix/smtpd[1]: ABCDEF12345: client=x[192.0.2.1]",
    "Nov   3 10:00:00 mx postfix/smtpd[1]: ABCDEF12345: client=x[192.0.2.1]",
    "Nov  3 10:00:00 mx  postfix/smtpd[1]: ABCDEF12345: client=x[192.0.2.1]",
    "Xyz 28 10:00:00 mx postfix/qmgr[2]: ABCDEF12345: removed",
    "Nov 28 10:00:00.123456 mx postfix/qmgr[2]: ABCDEF12345: removed",
    "2023-03-14T00:00:31.185246+01:00 mx postfix/smtpd[1]: ABCDEF12345: client=x[192.0.2.1]",
    "Nov 28 10:00:00 mx postfix/smtpd: ABCDEF12345: client=x[192.0.2.1]",
    "Nov 28 10:00:00  mx postfix/smtpd[1]: ABCDEF12345: client=x[192.0.2.1]",
    "Nov 28 10:00:00 mx postfix/smtpd[1]:\tABCDEF12345: client=x[192.0.2.1]",
    "Nov 28 10:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 550 5.1.1 <a@b.c>: no; "
    "from=<d@e.f> to=<a@b.c> proto=ESMTP helo=<x>",
    "Nov 28 10:00:00 mx postfix/smtpd[1]: warning: hostname x does not resolve to address 192.0.2.1",
    "Nov 28 10:00:00 mx postfix/anvil[1]: statistics: max connection rate 1/60s for (smtp:192.0.2.1)",
    "Nov 28 10:00:00 mx postfix/smtpd[1]: 4PcV4K5FPLz3tBr: client=x[192.0.2.1]",
    "Nov 28 10:00:00 mx postfix/smtpd[1]: ABCDE: short",
    "Nov 28 10:00:00 mx postfix/smtpd[1]: ",
    "Nov 28 10:00:00 mx postfix/smtpd[1]: ABCDEF12345:",
    "Nov 28 10:00:00 mx postfix/qmgr[2]: ABCDEF12345: removed\r",
    "Nov 28 10:00:00 mx postfix/smtpd[1]x: ABCDEF12345: client=x",
    "Nov 28 10:00:00 mx postfix/cleanup[2]: ABCDEF12345: message-id=<caf\ufffd\ufffd@x>",
    "Nov 28 10:00:00 m\tx postfix/smtpd[1]: ABCDEF12345: client=x[192.0.2.1]",
    "Nov 28 10:00:00 mx postfix/smtpd[1]:: ABCDEF12345: client=x",
    "Nov 28 10:00:00 mx : ABCDEF12345: client=x",
    "Nov 28 1:00:00 mx postfix/smtpd[1]: ABCDEF12345: client=x",
    "Nov 28 10:00:00 mx postfix/smtpd[]: ABCDEF12345: client=x",
    "Nov 123 10:00:00 mx postfix/smtpd[1]: ABCDEF12345: client=x",
    "Nov \u0663 10:00:00 mx postfix/smtpd[1]: ABCDEF12345: client=x",
    "Nov 28 10:00:00 mx postfix/smtpd[1]: ABCDEF12345: to=<a@b.c>, relay=x[192.0.2.1]:25, delay=1, delays=0/0/0/1, "
    "dsn=2.0.0, status=sent (250 ok)",
    "Nov 28 10:00:00 mx postfix/smtpd[1]: ABCDEF12345: to=<a@b.c>, relay=x, delay=x, delays=0/0/0/1, "
    "dsn=2.0.0, status=sent",
    "not a log line",
    "",
]


def test_the_fast_path_makes_the_records_the_general_pattern_makes(tmp_path):
    """The one parser reads the usual prefix by splitting it (and each second's stamp once), the
    rest with its general pattern: on every corpus line and on the odd ones, the records of the
    trace reader (markers, caches across lines) must be exactly the general pattern's."""
    from bench import gen_logs  # a few hundred generated lines of every shape

    folder = tmp_path / "generated"
    gen_logs.ensure(256 << 10, seed=5, folder=folder, end=1_795_835_340, quiet=True)
    corpus = [
        *SILVENGA.read_text(errors="replace").splitlines(),
        *gzip.decompress(PIXELPARK.read_bytes()).decode(errors="replace").splitlines(),
        *(FIXTURES / "lab" / "maillog.txt").read_text(errors="replace").splitlines(),
        *(folder / "mail.log").read_bytes().decode(errors="replace").splitlines(),
        *BUSYBOX.read_text().splitlines(),
        *(solaris(line) for line in LAB_LOG.read_text().splitlines()),
        *EDGE_LINES,
    ]
    usual = [text for text in corpus if (parts := text.split(" ", 5)) and len(parts) == 6 and parts[1]]
    assert len(usual) > len(corpus) / 2  # the fast path is what is mostly compared
    for host_marker, mtime in (("now=1795835340 tz=+0000", 1_795_835_340), ("now=1767225601 tz=-0530", 1_767_225_601)):
        reader = _TraceReader("mx")
        list(reader.read([f"#mailbot {host_marker}".encode(), f"#mailbot file mtime={mtime} path=/x".encode()]))
        assert reader.reference == datetime.fromtimestamp(mtime, reader.tz)
        general = LineParser(reader.reference, reader.tz)
        for text in corpus:
            assert reader.parser.parse(text) == general._general(text.rstrip("\r\n")), text


def test_the_trace_reader_of_blocks_makes_the_flow_of_lines(tmp_path):
    """`assemble_blocks` (the trace's reader: blocks of text, `LineParser.collect`) against
    `assemble` of `LogLine`s, line by line: the same messages and refusals, whatever the block
    boundaries, markers, carriage returns and odd lines."""
    import random

    from bench import gen_logs
    from bot.mailhost.mail_flow import assemble_blocks

    folder = tmp_path / "generated"
    gen_logs.ensure(512 << 10, seed=7, folder=folder, end=1_795_835_340, quiet=True)
    corpus = [
        *SILVENGA.read_text(errors="replace").splitlines(),
        *gzip.decompress(PIXELPARK.read_bytes()).decode(errors="replace").splitlines(),
        *(FIXTURES / "lab" / "maillog.txt").read_text(errors="replace").splitlines(),
        *BUSYBOX.read_text().splitlines(),
        *(solaris(line) for line in LAB_LOG.read_text().splitlines()),
        *EDGE_LINES,
        *(folder / "mail.log").read_bytes().decode(errors="replace").splitlines(),
    ]
    text = "\n".join(
        [
            "#mailbot host now=1795835340 tz=+0100",
            "#mailbot file mtime=1767225601 path=/a",
            *corpus[: len(corpus) // 2],
            "#mailbot file mtime=1795835340 path=/b",
            *corpus[len(corpus) // 2 :],
            "Nov 28 10:00:00 mx postfix/qmgr[2]: ABCDEF12345: removed\r",
            "#mailbot warning The logs were rotated",
        ]
    )
    reader = _TraceReader("mx")
    expected = assemble(reader.read(line.encode() for line in text.split("\n")), "mx", keep_lines=False)
    assert len(expected.messages) > 500 and expected.rejections
    cuts = sorted(random.Random(3).sample(range(len(text)), 200))
    for bounds in ([0, len(text)], [0, *cuts, len(text)]):
        # blocks of whole lines, as RemoteStream.blocks makes them
        blocks, start = [], 0
        for end in bounds[1:]:
            end = text.rfind("\n", start, end) + 1 if end < len(text) else end
            if end > start:
                blocks.append(text[start:end])
                start = end
        reader = _TraceReader("mx")
        assert assemble_blocks(reader.blocks(blocks), reader.parser, "mx") == expected
        assert reader.warnings == ["On mx: The logs were rotated"]


def test_logs_of_busybox_and_solaris_syslogd_trace_as_the_usual_log(tmp_path):
    """BusyBox's syslogd writes the level before the daemon, Solaris's a message id and the level
    after it. The script finds the same lines in either log as in the usual one (in one pass, in
    two, then from the cache it builds), and the bot reads the same messages from them. Over 1 MB
    of other traffic comes first, so that the cache is built."""
    from bench import gen_logs

    gen_logs.ensure(5 << 20, seed=11, folder=tmp_path / "generated", end=1_764_300_000, quiet=True)
    other = (tmp_path / "generated" / "mail.log").read_text(errors="replace").splitlines()
    usual = LAB_LOG.read_text().splitlines()
    logs = {
        "usual": other + usual,
        "busybox": [re.sub(r"^(.{15} \S+) ", r"\1 mail.info ", line) for line in other]
        + BUSYBOX.read_text().splitlines(),
        "solaris": [solaris(line) for line in other + usual],
    }
    back = {
        "usual": lambda line: line,
        "busybox": lambda line: re.sub(r"^(.{15}) vm mail\.[a-z]+ ", r"\1 mail ", line),
        "solaris": lambda line: re.sub(r"\]: \[ID \d+ mail\.info\] ", "]: ", line),
    }
    assert len(logs["busybox"]) == len(logs["usual"]) + 2  # and BusyBox's own `syslogd started`, `exiting`
    for lines in logs.values():  # a first line without the tag (its cache builder must look further)
        lines.insert(0, "Nov 27 03:20:00 mail newsyslog[9]: logfile turned over")
    answers: dict[tuple[str, str], list[str]] = {}
    flows = {}
    for name, lines in logs.items():
        log = tmp_path / name / "mail.log"
        log.parent.mkdir()
        log.write_text("\n".join(lines) + "\n")
        os.utime(log, (1_764_300_000, 1_764_300_000))
        for address in ("full@lab.test", "john@lab.test", "nosuchuser@lab.test"):
            home = tmp_path / name / address
            home.mkdir()
            command = trace_logs(parse_address(address), 0, (str(log),)).shell_line()
            runs = [run_in(command, home, small) for small in (1 << 30, 0, 0)]  # one pass, two, cached
            assert list((home / ".cache" / "mailbot" / "trace").glob("*/state")), "no cache was built"
            seen = [[back[name](line.decode()) for line in log_lines(output)] for output in runs]
            assert seen[0] == seen[1], (name, address)
            assert sorted(seen[2]) == sorted(seen[0]), (name, address)  # the cache gives whole messages
            answers[name, address] = seen[0]
            flows[name, address] = [assemble(_TraceReader("lab").read(out), "lab", keep_lines=False) for out in runs]
    for (name, address), found in answers.items():
        assert found == answers["usual", address], (name, address)
        assert found  # every address has lines in the lab's log
        assert flows[name, address] == 3 * [flows["usual", address][0]], (name, address)
    assert len(flows["usual", "full@lab.test"][0].messages) >= 9


def test_busybox_solaris_and_rfc3339_lines_are_read_at_the_usual_cost(monkeypatch):
    """Their level, tag or stamp (rsyslog's RFC 3339 one, Debian 12's default) does not send a line
    down the general pattern (three times the cost): as many lines of each log leave the split as of
    the usual one (a new daemon's first line, a line without a queue id), and BusyBox's own two."""
    slow: list[str] = []
    collect_line = LineParser._collect_line

    def counted(parser: LineParser, line: str, groups: dict, loose: list, ended: Callable[[str], None]) -> None:
        slow.append(line)
        collect_line(parser, line, groups, loose, ended)

    monkeypatch.setattr(LineParser, "_collect_line", counted)
    usual = LAB_LOG.read_text().splitlines()
    counts = {}
    busybox = BUSYBOX.read_text().splitlines()
    rfc3339 = [f"2026-11-28T{line[7:15]}.{n:06d}+01:00 {line[16:]}" for n, line in enumerate(usual)]
    logs = (("usual", usual), ("busybox", busybox), ("solaris", map(solaris, usual)), ("rfc3339", rfc3339))
    for name, lines in logs:
        slow.clear()
        LineParser(datetime(2025, 11, 28, 12, 0).astimezone()).collect("\n".join(lines), {}, [], lambda queue_id: None)
        counts[name] = len(slow)
    assert counts["usual"] < len(usual) / 2
    usual_count = counts["usual"]
    assert counts == {"usual": usual_count, "busybox": usual_count + 2, "solaris": usual_count, "rfc3339": usual_count}


def run_in(command: str, home: Path, small: int) -> list[bytes]:
    """The script with a home of its own (its cache), waiting for the builder it leaves behind."""
    env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(home), "MAILBOT_TRACE_SMALL": str(small)}
    output = subprocess.run(["/bin/sh", "-c", command], capture_output=True, env=env, check=True).stdout
    cache = home / ".cache" / "mailbot" / "trace"
    deadline = time.monotonic() + 30
    while (cache / ".lock").exists() or list(cache.glob(".build.*")):
        assert time.monotonic() < deadline, "the cache builder did not finish"
        time.sleep(0.05)
    return output.splitlines()


def test_mailscanner_s_requeues_come_back_with_the_mail_they_end(tmp_path):
    """MailScanner's `Requeue: HELD.SUFFIX to NEW` names no queue id where Postfix puts one: the
    script still sends it with the held mail's lines (in one pass, in two, from the cache it builds,
    and for the `message` of either queue id), so the bot tells one story, not a held mail."""
    from bench import gen_logs
    from bot.mailhost.verdicts import DELIVERED, UNKNOWN, read_verdicts
    from tests.mailhost.filters import MAILSCANNER

    gen_logs.ensure(5 << 20, seed=11, folder=tmp_path / "generated", end=1_764_300_000, quiet=True)
    other = (tmp_path / "generated" / "mail.log").read_text(errors="replace").splitlines()
    scanned = MAILSCANNER.replace("Dec  1 ", "Nov 28 ").splitlines()
    log = tmp_path / "logs" / "mail.log"
    log.parent.mkdir()
    log.write_text("\n".join(other + scanned) + "\n")
    os.utime(log, (1_764_300_000, 1_764_300_000))
    requeues = [line for line in scanned if "Requeue: " in line]
    for address, kinds in (("ana@lab.test", [DELIVERED]), ("bo@lab.test", [UNKNOWN])):
        home = tmp_path / address
        home.mkdir()
        command = trace_logs(parse_address(address), 0, (str(log),)).shell_line()
        runs = [run_in(command, home, small) for small in (1 << 30, 0, 0)]  # one pass, two, cached
        assert list((home / ".cache" / "mailbot" / "trace").glob("*/state")), "no cache was built"
        for output in runs:
            lines = [line.decode() for line in log_lines(output)]
            assert [line for line in lines if "Requeue: " in line] == [
                line for line in requeues if (address == "bo@lab.test") == ("4B1C2261C9E" in line)
            ]
            flow = assemble(_TraceReader("mx").read(output), "mx", keep_lines=False)
            assert [verdict.kind for verdict in read_verdicts(flow.messages)] == kinds
    home = tmp_path / "message"
    home.mkdir()
    for queue_id in ("31A0F261C9D", "CD2FE261CA1"):  # the held file, and the one MailScanner wrote
        output = run_in(message_logs(parse_queue_id(queue_id), (str(log),)).shell_line(), home, 0)
        assert requeues[0].encode() in log_lines(output), queue_id


def test_a_proxmox_filter_session_comes_back_with_the_recipients_it_names(tmp_path):
    """Proxmox's session lines name the recipient (`moved mail for <r> ...`, `accept mail to <r>
    (QUEUEID)`): a trace of either recipient gets them, in one pass and in two, and tells the
    quarantine and the hop."""
    from bot.mailhost.verdicts import DELIVERED, REFUSED, read_verdicts
    from tests.mailhost.filters import PROXMOX

    log = tmp_path / "mail.log"
    log.write_text(PROXMOX.replace("Dec  1 ", "Nov 28 ").replace(", orig_queue_id=4B1C2261C9E", ""))
    os.utime(log, (1_764_300_000, 1_764_300_000))
    for address, expected in (("bo@lab.test", [REFUSED]), ("ana@lab.test", [DELIVERED])):
        for small in (1 << 30, 0):
            output = run_script(address, [log], small=small)
            flow = assemble(_TraceReader("mx").read(output), "mx", keep_lines=False)
            mine = [m for m in flow.messages if m.involves(address)]
            assert [x.kind for x in read_verdicts(mine) if x.recipient == address] == expected, (address, small)
