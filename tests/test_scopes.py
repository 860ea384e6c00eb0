"""`scopes:`: an agent scoped to partner.example gets one refusal sentence for anything else, audited."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import yaml

from tests.conftest import run_mailbot
from tests.verbs.test_audit_export import HOST


def scoped(tmp_path: Path, domains: list[str]) -> Path:
    path = tmp_path / "mailbot.yaml"
    document = {
        "hosts": [HOST],  # nowhere: a refusal comes before any SSH
        "state": {"path": str(tmp_path / "state.db")},
        "domains": {"lab-alias.test": "lab.test"},
        "scopes": [{"unix": [getpass.getuser()], "users": ["U0PARTNER"], "domains": domains}],
    }
    path.write_text(yaml.safe_dump(document))
    return path


def test_out_of_scope_addresses_queue_ids_and_whole_queues_are_refused_in_one_sentence(tmp_path: Path):
    config = str(scoped(tmp_path, ["partner.example"]))
    for args, sentence in (
        (("trace", "john@lab.test"), "john@lab.test is outside your access (partner.example); ask a mail admin"),
        (("trace", "jdoe@lab-alias.test"), "jdoe@lab-alias.test is outside your access (partner.example)"),
        (("message", "C5BF3135FAF"), "Your access is limited to partner.example: `message` needs an address"),
        (("queue",), "Your access is limited to partner.example: `queue` needs an address"),
        (("queue", "lab.test"), "lab.test is outside your access"),
    ):
        run = run_mailbot("--config", config, *args)
        assert run.returncode == 2, run.stderr
        assert sentence in run.stderr and len(run.stderr.strip().splitlines()) == 1
    french = run_mailbot("--config", config, "--lang", "fr", "trace", "john@lab.test")
    assert "john@lab.test est hors de votre accès (partner.example)" in french.stderr
    assert "needs an address" in run_mailbot("--config", config, "audit").stderr  # the audit is not scoped
    refused = json.loads(run_mailbot("--config", str(scoped(tmp_path, ["*"])), "audit", "--json").stdout)["records"]
    assert [r["event"] for r in refused] == ["refused"] * 7
    assert refused[0]["verb"] == "trace" and "john@lab.test is outside" in refused[0]["detail"]
    assert "hors de" not in refused[5]["detail"]  # the audit stays English


def test_an_alias_domain_is_in_its_technical_domain_s_scope(tmp_path: Path):
    config = str(scoped(tmp_path, ["lab.test"]))
    run = run_mailbot("--config", config, "trace", "jdoe@lab-alias.test")
    assert "outside your access" not in run.stderr  # it went on to the (unreachable) host
    assert run.returncode == 1


def test_no_scope_means_nothing(tmp_path: Path):
    path = tmp_path / "other.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "hosts": [HOST],
                "state": {"path": str(tmp_path / "state.db")},
                "scopes": [{"unix": ["someone-else"], "domains": ["partner.example"]}],
            }
        )
    )
    run = run_mailbot("--config", str(path), "trace", "alice@partner.example")
    assert run.returncode == 2 and "You are in no scope of this bot" in run.stderr
