"""`trace` by any key (`--client`, `--message-id`, `--from`, `--to`) and `--status`, on third-party logs.

The verb runs whole, as on a host: the real trace script (scripts/trace.sh) is run here by a real
/bin/sh on a copy of the corpus's logs, in place of the SSH connection; the queue is empty. The
oracle is plain text search over the same log.
"""

from __future__ import annotations

import argparse
import gzip
import re
import subprocess
import time
from pathlib import Path

import pytest

from bot import i18n
from bot.config import parse_config
from bot.core import render
from bot.core.registry import Context
from bot.errors import BadInput
from bot.mailhost.commands import RemoteCommand
from bot.mailhost.ssh import CommandResult
from bot.verbs.trace import TRACE, TraceReport, run_trace, validate_trace
from tests.conftest import FIXTURES

PIXELPARK = FIXTURES / "corpus" / "pixelpark-postfix-logsums_mail.log.gz"
SILVENGA = FIXTURES / "corpus" / "silvenga-MailTrace_mail-snip.log"


class _Stream:
    def __init__(self, done: subprocess.CompletedProcess[bytes]) -> None:
        self.done = done
        self.exit_status = done.returncode
        self.stderr = done.stderr

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def lines(self) -> list[bytes]:
        return self.done.stdout.splitlines()

    def blocks(self) -> list[str]:
        """As the SSH stream gives them: text of whole lines, here in blocks of 64 kB at most."""
        text = self.done.stdout.decode("utf-8", "replace")
        blocks, start = [], 0
        while start < len(text):
            end = text.rfind("\n", start, start + 65536) + 1 or len(text)
            blocks.append(text[start:end])
            start = end
        return blocks


class LocalConnection:
    """Runs the trace script here; the queue is empty and maximal_queue_lifetime is 5 days."""

    def __init__(self, home: Path) -> None:
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}

    def open(self, command: RemoteCommand, timeout: float | None = None) -> _Stream:
        assert command.template == "search_logs", command
        done = subprocess.run(["/bin/sh", "-c", command.shell_line()], capture_output=True, env=self.env, check=False)
        return _Stream(done)

    def run(self, command: RemoteCommand, timeout: float | None = None) -> CommandResult:
        answer = b"5d\n" if command.template == "queue_lifetime" else b""
        return CommandResult(0, answer, b"", 0.0)


class LocalPool:
    def __init__(self, home: Path) -> None:
        self.home = home

    def connection(self, host: object, for_change: bool = False) -> LocalConnection:
        return LocalConnection(self.home)

    def close(self) -> None:
        return None


def corpus_log(tmp_path: Path, source: Path) -> Path:
    data = gzip.decompress(source.read_bytes()) if source.suffix == ".gz" else source.read_bytes()
    log = tmp_path / "mail.log"
    log.write_bytes(data)
    return log


def trace(tmp_path: Path, log: Path, *args: str) -> TraceReport:
    config = parse_config(
        {
            "hosts": [
                {
                    "name": "mx",
                    "address": "192.0.2.1",
                    "user": "u",
                    "key_file": "/k",
                    "known_hosts": "/kh",
                    "maillog": str(log),
                }
            ],
            "state": {"path": str(tmp_path / "state.db")},
        },
        tmp_path / "mailbot.yaml",
    )
    parser = argparse.ArgumentParser()
    TRACE.configure(parser)
    request = validate_trace(parser.parse_args(list(args)))
    context = Context(config, LocalPool(tmp_path), "tester")  # type: ignore[arg-type]
    return run_trace(request, context)


def lines_of(log: Path) -> list[str]:
    return log.read_text("utf-8", "replace").splitlines()


def test_a_client_s_mail_and_its_refusals(tmp_path):
    log = corpus_log(tmp_path, PIXELPARK)
    text = lines_of(log)
    ip = "82.165.159.41"
    ids = {line.split(": ")[1] for line in text if f"client=mout-xforward.gmx.net[{ip}]" in line}
    report = trace(tmp_path, log, "--client", ip)
    assert {m.queue_id for m in report.messages} == ids and len(ids) == 11
    assert report.verdicts and all(v.client and f"[{ip}]" in v.client for v in report.verdicts)
    assert report.headline().startswith(f"Trace of client {ip} on mx: ")
    # postscreen's refusals of another client: `[IP]:port`, no queue id
    refused = trace(tmp_path, log, "--client", f"[{ip[:-1]}0]")
    expected = sum(1 for line in text if "NOQUEUE: reject" in line and f"[{ip[:-1]}0]:" in line)
    assert expected >= 5 and len(refused.rejected) == expected and not refused.messages
    assert {v.kind for v in refused.verdicts} == {"refused"}
    assert sum(v.attempts for v in refused.verdicts) == expected
    shown = render.as_text(refused)
    assert "blocklist" in shown and "<> → user01.test@uhu-banane" in shown


def test_a_message_id_finds_its_message(tmp_path):
    log = corpus_log(tmp_path, PIXELPARK)
    text = lines_of(log)
    found = [m for line in text if (m := re.search(r": ([0-9A-Za-z]+): message-id=<([^>]+)>", line))]
    queue_id, message_id = found[len(found) // 2].groups()
    report = trace(tmp_path, log, "--message-id", f"<{message_id}>")
    assert queue_id in {m.queue_id for m in report.messages}
    assert all(v.message_id == message_id for v in report.verdicts) and report.verdicts
    assert report.to_json()["key"]["message_id"] == message_id
    assert report.to_json()["address"] is None


def test_status_keeps_one_kind_of_verdict(tmp_path):
    log = corpus_log(tmp_path, PIXELPARK)
    address = "user01.test@uhu-banane.net"
    everything = trace(tmp_path, log, "--to", address)
    assert {v.kind for v in everything.verdicts} >= {"delivered", "refused"}
    refused = trace(tmp_path, log, "--to", address, "--status", "refused")
    assert refused.verdicts and {v.kind for v in refused.verdicts} == {"refused"}
    assert len(refused.rejected) == len(everything.rejected)
    # and the one mail amavis took and dropped (`dsn=2.7.0, status=sent (250 2.7.0 Ok, discarded, ...)`)
    assert [m.queue_id for m in refused.messages] == ["4Pc3ZX1jFxz3tBr"]
    (discarded,) = [v for v in refused.verdicts if v.hops]
    assert (discarded.reason or "").startswith("250 2.7.0 Ok, discarded, id=351462-17 - BANNED")
    delivered_ids = {hop.queue_id for v in everything.verdicts if v.kind == "delivered" for hop in v.hops}
    assert "4Pc3ZX1jFxz3tBr" not in delivered_ids
    delivered = trace(tmp_path, log, "--to", address, "--status", "delivered")
    assert delivered.rejected == [] and {v.kind for v in delivered.verdicts} == {"delivered"}
    nothing = trace(tmp_path, log, "--to", address, "--status", "deferred")
    assert nothing.verdicts == [] and nothing.messages == [] and nothing.rejected == []
    assert any(hint.startswith(f"Nothing for mail to {address}, status deferred between ") for hint in nothing.hints)
    # the one bounce of the log: a mail reinjected by the content filter (amavis) on 127.0.0.1
    bounced = trace(tmp_path, log, "--client", "127.0.0.1", "--status", "bounced")
    assert [v.kind for v in bounced.verdicts] == ["bounced"]
    assert [hop.queue_id for hop in bounced.verdicts[0].hops] == ["4PcV4H6fDlz3tG5", "4PcV4K5FPLz3tBr"]
    assert {m.queue_id for m in bounced.messages} == {"4PcV4H6fDlz3tG5", "4PcV4K5FPLz3tBr"}
    assert bounced.headline().startswith("Trace of client 127.0.0.1, status bounced on mx: 2 messages")


def test_from_and_to_keep_one_direction(tmp_path):
    log = corpus_log(tmp_path, PIXELPARK)
    address = "user01.test@uhu-banane.net"
    both = trace(tmp_path, log, address)
    received = trace(tmp_path, log, "--to", address)
    sent = trace(tmp_path, log, "--from", address)
    assert received.verdicts and all(address in (v.recipient, v.orig_recipient) for v in received.verdicts)
    assert all((v.sender or "").lower() == address for v in sent.verdicts)
    assert len(received.verdicts) + len(sent.verdicts) >= len(both.verdicts)
    # the refusals of mail to the address (postscreen, smtpd) are kept by --to, not by --from
    assert received.rejected and not any((r.recipient or "").lower() != address for r in received.rejected)
    assert all((r.sender or "").lower() == address for r in sent.rejected)
    text = render.as_text(received)
    assert text.startswith(f"Trace of mail to {address} on mx: ")


def test_the_silvenga_bounce_by_client_and_status(tmp_path):
    log = corpus_log(tmp_path, SILVENGA)
    client = next(m[1] for line in lines_of(log) if (m := re.search(r"client=[^\[]*\[([^\]]+)\]", line)))
    report = trace(tmp_path, log, "--client", client, "--status", "bounced")
    assert report.verdicts and {v.kind for v in report.verdicts} == {"bounced"}


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--client", "999.1.1.1"],
        ["--client", "1.2.3.4; id"],
        ["--client", "fe80::1%eth0"],
        ["--message-id", "a b@c"],
        ["--from", "not an address"],
        ["--to", "$(id)@x.example"],
        ["john@lab.test", "--status", "lost"],
    ],
)
def test_bad_keys_get_one_sentence(args):
    parser = argparse.ArgumentParser()
    TRACE.configure(parser)
    with pytest.raises(BadInput) as refused:
        validate_trace(parser.parse_args(args))
    assert str(refused.value).count(".") >= 1 and "\n" not in str(refused.value)


def test_keys_are_normalised():
    parser = argparse.ArgumentParser()
    TRACE.configure(parser)
    request = validate_trace(
        parser.parse_args(["--client", "[::FFFF:192.0.2.7]", "--to", "Bob@X.Example", "--status", "Queued"])
    )
    assert request.client is not None and request.client.value == "192.0.2.7"
    assert request.recipient is not None and request.recipient.value == "bob@x.example"
    assert request.status == "queued"
    assert request.search_key() == request.recipient
    assert validate_trace(parser.parse_args(["--client", "2001:DB8:0::1"])).client.value == "2001:db8::1"  # type: ignore[union-attr]


def test_the_trace_keeps_what_it_searched_fast(tmp_path):
    log = corpus_log(tmp_path, PIXELPARK)
    started = time.monotonic()
    trace(tmp_path, log, "--client", "127.0.0.1")
    assert time.monotonic() - started < 30


def test_in_french(tmp_path):
    log = corpus_log(tmp_path, PIXELPARK)
    with i18n.use_language("fr"):
        report = trace(tmp_path, log, "--to", "user01.test@uhu-banane.net", "--status", "refused")
        text = render.as_text(report)
        nothing = trace(tmp_path, log, "--client", "192.0.2.99")
        with pytest.raises(BadInput, match="n'est pas une adresse IP"):
            trace(tmp_path, log, "--client", "192.0.2.999")
    assert text.startswith("Trace de courrier pour user01.test@uhu-banane.net, état refusé sur mx : ")
    assert "le serveur d'envoi est sur une liste de blocage" in " ".join(text.split())
    assert any(hint.startswith("Rien pour client 192.0.2.99 entre le ") for hint in nothing.hints)


def test_mail_the_content_filter_dropped_is_told_with_what_to_do(tmp_path):
    """pixelpark's amavis took a mail to user01.test@ and dropped it (`250 2.7.0 Ok, discarded, ...
    - BANNED: ...`): a refusal, and a hint that no one was told and where to look."""
    log = corpus_log(tmp_path, PIXELPARK)
    address = "user01.test@uhu-banane.net"
    report = trace(tmp_path, log, address)
    (hint,) = [h for h in report.hints if "content filter" in h]
    assert hint.startswith(f"1 message to {address} was taken by the content filter and dropped (250 2.7.0 Ok, ")
    assert "BANNED" in hint and hint.endswith("look in the filter's quarantine.")
    with i18n.use_language("fr"):
        french = trace(tmp_path, log, address)
    (hint,) = [h for h in french.hints if "filtre de contenu" in h]
    assert hint.startswith(f"1 message pour {address} a été pris par le filtre de contenu et supprimé (250 2.7.0")
    assert not [h for h in trace(tmp_path, log, "--from", address).hints if "content filter" in h]


def test_mail_that_went_to_another_mailbox_says_whose(tmp_path):
    """An alias (jdoe@ is john@) and a rule's REDIRECT (the lab's header check sends ceo@'s mail to
    compta@): traced by the address given, each verdict names the mailbox the mail went to, in the
    table and in Slack's inline list; traced by that mailbox, it is its own mail."""
    from tests.mailhost.test_verdicts import LAB_LOG, REDIRECTED

    aliased = [line for line in LAB_LOG.splitlines() if "09C3A162538" in line]
    assert any("orig_to=<jdoe@lab.test>" in line for line in aliased)
    log = tmp_path / "mail.log"
    log.write_text("\n".join(aliased) + "\n" + REDIRECTED)
    for address, whose in (("jdoe@lab.test", "john@lab.test"), ("ceo@lab.test", "compta@lab.test")):
        report = trace(tmp_path, log, address)
        (verdict,) = report.verdicts
        (row,) = [" ".join(piece.split()) for piece in report.verdicts_table()][2:]
        assert f"delivered for {whose}: to 127.0.0.1:2400" in row
        assert f"delivered: for {whose}: to 127.0.0.1:2400" in report.slack_inline().body
        with i18n.use_language("fr"):
            assert f"pour {whose} : vers 127.0.0.1:2400" in " ".join(render.as_text(report).split())
        own = trace(tmp_path, log, whose)
        assert [x.hops for x in own.verdicts] == [verdict.hops]
        assert "for " not in " ".join("".join(own.verdicts_table()).split()).split("delivered", 1)[1]


def test_the_hints_of_an_alias_name_the_mailbox_it_leads_to(tmp_path):
    """info@ is an alias of full@ (over quota), old@ one of ghost@ (in the maps, not in the store):
    traced by the alias, the hints say whose mailbox is full and which address the store does not
    know, not the alias's own (the lab's lines, each `to=` given an `orig_to=`)."""
    from tests.mailhost.test_verdicts import LAB_LOG

    lines = []
    for line in LAB_LOG.splitlines():
        if "A958B1624B7" in line or "45A00162538" in line:
            line = line.replace("to=<full@lab.test>, ", "to=<full@lab.test>, orig_to=<info@lab.test>, ")
            lines.append(line.replace("to=<ghost@lab.test>, ", "to=<ghost@lab.test>, orig_to=<old@lab.test>, "))
    assert sum("orig_to=<" in line for line in lines) >= 3
    log = tmp_path / "mail.log"
    log.write_text("\n".join(lines) + "\n")
    (over_quota,) = [h for h in trace(tmp_path, log, "info@lab.test").hints if "over quota" in h]
    assert over_quota.startswith("full@lab.test's mailbox is over quota: ")
    (stale,) = [h for h in trace(tmp_path, log, "old@lab.test").hints if "User unknown" in h]
    assert stale.startswith("Postfix accepted mail for ghost@lab.test, then the mailbox server answered")
    # traced by the mailbox itself, as before
    (own,) = [h for h in trace(tmp_path, log, "full@lab.test").hints if "over quota" in h]
    assert own.startswith("full@lab.test's mailbox is over quota: ")
