"""`scopes:` on the lab, on the CLI: `message`, `queue` and `trace --client` show a scoped agent only
the mail from or to their domains and say how many others were hidden; a queue id of only other
customers' mail is refused in one sentence; an alias the host alone knows is judged by the mailbox
it resolves to."""

from __future__ import annotations

import getpass
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import lab_queue, run_mailbot
from tests.labconfig import write_lab_config
from tests.test_i18n import OVER_QUOTA, fill_over_quota

PARTNER = "partner.example"


def scoped_lab(tmp_path: Path, domains: list[str], aliases: dict[str, str] | None = None) -> str:
    """The lab's config, its caller (this Unix user) scoped to `domains`; `aliases`: config `domains`."""
    return str(
        write_lab_config(
            tmp_path,
            ("lab", "edge"),
            domains={"lab-alias.test": "lab.test"} if aliases is None else aliases,
            scopes=[{"unix": [getpass.getuser()], "domains": domains}],
        )
    )


def queued_from(sender: str) -> str:
    """A mail from `sender` waiting in the queue: lab/traffic.sh's, or (when another test of the run
    flushed those) a new one to pleine@lab.test, kept over quota for such tests."""
    found = newest_first(sender)
    if not found:
        fill_over_quota()
        body = "Bonjour,\n" + "0123456789" * 300
        subprocess.run(
            ["swaks", "--silent", "2", "--server", "127.0.0.1", "--port", "2525", "--from", sender,
             "--to", OVER_QUOTA, "--header", "Subject: Facture en attente", "--body", body],
            check=True,
            capture_output=True,
            timeout=30,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not found and time.monotonic() < deadline:
            time.sleep(0.3)
            found = newest_first(sender)
    assert found, f"no mail from {sender} waits in the lab's queue"
    return str(found[0])


def newest_first(sender: str) -> list[str]:
    """The queue ids of the mails from `sender` in the queue, the newest first: an older one, of an
    earlier traffic run on the same lab, may have had its log lines rotated away (deferred mail
    waits 3 days; the lab keeps four rotations)."""
    waiting = [e for e in lab_queue() if e["sender"] == sender]
    return [e["queue_id"] for e in sorted(waiting, key=lambda e: e["arrival_time"], reverse=True)]


def test_message_shows_a_scoped_agent_their_mail_and_refuses_another_s_queue_id(lab_config, tmp_path: Path):
    config = scoped_lab(tmp_path, [PARTNER])
    theirs, other = queued_from("alice@partner.example"), queued_from("bob@fournisseur.fr")
    shown = run_mailbot("--config", config, "message", theirs)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"Message {theirs} (lab:{theirs})") and "hidden" not in shown.stdout
    # a queue id of bob@fournisseur.fr's mail to full@lab.test: one sentence, as for an address
    sentence = f"{other} is mail outside your access (partner.example); ask a mail admin if you need it."
    for args in (("message", other), ("message", other, "--json"), ("flush", other, "--yes")):
        refused = run_mailbot("--config", config, *args)
        assert refused.returncode == 2, refused.stdout
        assert refused.stderr.strip() == f"mailbot: {sentence}" and refused.stdout == ""
    french = run_mailbot("--config", config, "--lang", "fr", "message", other)
    assert french.returncode == 2
    assert french.stderr.strip() == (
        f"mailbot: {other} est un courrier hors de votre accès (partner.example) ; demandez à un administrateur de"
        " la messagerie si vous en avez besoin."
    )
    records = json.loads(run_mailbot("--config", scoped_lab(tmp_path, ["*"]), "audit", "--json").stdout)["records"]
    assert [(r["event"], r["verb"], r["detail"]) for r in records] == [
        ("refused", "message", sentence),
        ("refused", "message", sentence),
        ("refused", "flush", sentence),
        ("refused", "message", sentence),  # in English
    ]
    assert other in lab_queue_ids()  # nothing was flushed (it waits, over quota)


def lab_queue_ids() -> set[str]:
    return {e["queue_id"] for e in lab_queue()}


def test_trace_by_client_or_message_id_shows_a_scoped_agent_their_mail_and_says_how_many_were_hidden(
    lab_config, tmp_path: Path
):
    config = scoped_lab(tmp_path, [PARTNER])
    answer = json.loads(run_mailbot("--config", config, "trace", "--client", "127.0.0.1", "--json").stdout)
    assert answer["verdicts"] and answer["hidden"] >= 1

    def hops(verdict: dict[str, Any]) -> set[tuple[str, str]]:
        return set(zip(verdict["hosts"], verdict["queue_ids"], strict=True))

    for verdict in answer["verdicts"]:  # each mail shown has a party of partner.example (a recipient's, or another's)
        parties = [
            v[key] or ""
            for v in answer["verdicts"]
            if hops(v) & hops(verdict) or v is verdict
            for key in ("sender", "recipient", "orig_recipient")
        ]
        assert any(p.endswith("@partner.example") for p in parties), verdict
    assert all("fournisseur" not in str(m["sender"]) for m in answer["messages"])
    text = run_mailbot("--config", config, "trace", "--client", "127.0.0.1", "--status", "deferred")
    assert text.returncode == 0, text.stderr
    assert re.search(r"\d+ messages? outside your access (was|were) hidden\.", text.stdout), text.stdout
    assert "bob@fournisseur.fr" not in text.stdout and "alice@partner.example" in text.stdout
    french = run_mailbot("--config", config, "--lang", "fr", "trace", "--client", "127.0.0.1", "--status", "deferred")
    assert re.search(r"\d+ messages? hors de votre accès (a été masqué|ont été masqués)\.", french.stdout)
    # bob's mail by its Message-ID: nothing shown, the sentence says it was there
    other = queued_from("bob@fournisseur.fr")
    everything = tmp_path / "everything"
    everything.mkdir()
    unscoped = json.loads(run_mailbot("--config", scoped_lab(everything, ["*"]), "message", other, "--json").stdout)
    message_id = next(h["message_id"] for h in unscoped["hops"] if h["message_id"])
    hidden = run_mailbot("--config", config, "trace", "--message-id", f"<{message_id}>")
    assert hidden.returncode == 0, hidden.stderr
    assert "1 message outside your access was hidden." in hidden.stdout
    assert "bob@fournisseur.fr" not in hidden.stdout and "Nothing for" not in hidden.stdout


def test_queue_counts_only_a_scoped_agent_s_mail_and_says_how_many_were_hidden(lab_config, tmp_path: Path):
    config = scoped_lab(tmp_path, [PARTNER])
    queue = lab_queue()
    answer = json.loads(run_mailbot("--config", config, "queue", "--json").stdout)
    assert answer["messages"] and all(
        m["sender"].endswith("@partner.example") or any(r.endswith("@partner.example") for r in m["recipients"])
        for m in answer["messages"]
    )
    others = sum(1 for e in queue if e["sender"] != "alice@partner.example")
    assert abs(answer["hidden"] - others) <= 2 and answer["total"] == len(answer["messages"])  # the lab is shared
    text = run_mailbot("--config", config, "queue")
    assert text.returncode == 0, text.stderr
    assert "messages outside your access were hidden." in text.stdout
    assert "fournisseur" not in text.stdout
    by_domain = run_mailbot("--config", config, "--lang", "fr", "queue", "lab.test")  # a domain: filtered, not refused
    assert by_domain.returncode == 0, by_domain.stderr
    assert "messages hors de votre accès ont été masqués." in by_domain.stdout
    assert "alice@partner.example" in by_domain.stdout and "bob@fournisseur.fr" not in by_domain.stdout


def test_an_alias_only_the_host_knows_is_judged_by_its_mailbox(lab_config, tmp_path: Path):
    # The config does not say that lab-alias.test is lab.test: only Postfix's virtual_alias_maps do,
    # through bm-cli. An agent scoped to lab-alias.test may not read john@lab.test's mailbox by it.
    config = scoped_lab(tmp_path, ["lab-alias.test"], aliases={})
    run = run_mailbot("--config", config, "deleted", "john@lab-alias.test")
    assert run.returncode == 2, run.stdout
    assert run.stderr.strip() == (
        "mailbot: john@lab-alias.test is the mailbox john@lab.test, which is outside your access (lab-alias.test);"
        " ask a mail admin if you need it."
    )
    french = run_mailbot("--config", config, "--lang", "fr", "deleted", "john@lab-alias.test")
    assert "est la boîte aux lettres john@lab.test, hors de votre accès (lab-alias.test)" in french.stderr
    records = json.loads(run_mailbot("--config", scoped_lab(tmp_path, ["*"]), "audit", "--json").stdout)["records"]
    assert [(r["event"], r["verb"]) for r in records] == [("refused", "deleted")] * 2
    assert "is the mailbox john@lab.test" in records[1]["detail"]  # in English
    # A user alias in scope (jdoe@ -> john@, both lab.test) reads on.
    allowed = run_mailbot("--config", scoped_lab(tmp_path, ["lab.test"]), "deleted", "jdoe@lab.test")
    assert allowed.returncode in (0, 1) and "outside your access" not in allowed.stdout + allowed.stderr
