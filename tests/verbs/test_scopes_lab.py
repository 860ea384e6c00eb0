"""`scopes:` on the lab, on the CLI: `message` and `queue` show a scoped agent only the mail from or
to their domains and say how many others were hidden; an alias the host alone knows is judged by
the mailbox it resolves to."""

from __future__ import annotations

import getpass
import json
import re
from pathlib import Path

from tests.conftest import lab_queue, run_mailbot
from tests.labconfig import write_lab_config

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
    return next(e["queue_id"] for e in lab_queue() if e["sender"] == sender)


def test_message_shows_a_scoped_agent_their_mail_and_hides_the_rest(lab_config, tmp_path: Path):
    config = scoped_lab(tmp_path, [PARTNER])
    theirs, other = queued_from("alice@partner.example"), queued_from("bob@fournisseur.fr")
    shown = run_mailbot("--config", config, "message", theirs)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"Message {theirs} (lab:{theirs})") and "hidden" not in shown.stdout
    hidden = run_mailbot("--config", config, "message", other)
    assert hidden.returncode == 0, hidden.stderr
    # nothing of it shown (a short queue id comes back in older logs: one hop, or a few)
    hidden_words = r"(1 message outside your access was|\d+ messages outside your access were) hidden\."
    assert re.fullmatch(hidden_words, hidden.stdout.strip())
    answer = json.loads(run_mailbot("--config", config, "message", other, "--json").stdout)
    assert answer["hops"] == [] and answer["timeline"] == [] and answer["hidden"] >= 1
    french = run_mailbot("--config", config, "--lang", "fr", "message", other)
    assert re.fullmatch(r"\d+ messages? hors de votre accès (a été masqué|ont été masqués)\.", french.stdout.strip())


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
