"""`scopes:`: an agent scoped to partner.example gets one refusal sentence for anything else, audited."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
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


def test_out_of_scope_addresses_and_verbs_without_one_are_refused_in_one_sentence(tmp_path: Path):
    """(`message`, `queue`, `trace --client` are not refused: they show only the caller's mail, and a
    queue id is judged once the host says whose mail it is: tests/verbs/test_scopes_lab.py.)"""
    config = str(scoped(tmp_path, ["partner.example"]))
    for args, sentence in (
        (("trace", "john@lab.test"), "john@lab.test is outside your access (partner.example); ask a mail admin"),
        (("trace", "jdoe@lab-alias.test"), "jdoe@lab-alias.test is outside your access (partner.example)"),
        (("flush", "--yes"), "Your access is limited to partner.example: `flush` needs an address"),
        (("watch",), "Your access is limited to partner.example: `watch` needs an address"),
        (("deleted", "john@lab.test"), "john@lab.test is outside your access"),
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


def test_a_scoped_approver_cannot_run_a_change_outside_their_access(tmp_path: Path):
    """Just before the command runs (bot.core.changes.carry_out), the approver's scope is checked
    again: out of it, nothing reaches the host, the request fails, the refusal is audited."""
    from bot.config import load_config
    from bot.core import changes, scopes
    from bot.core.registry import Context
    from bot.errors import BadInput
    from bot.mailhost.ssh import HostPool
    from bot.state.requests import NewRequest
    from bot.verbs import VERBS

    config = load_config(str(scoped(tmp_path, ["partner.example"])))
    context = Context(config=config, pool=HostPool(), requester="U0APPROVER")
    change = context.state.requests.create(
        NewRequest(
            verb="restore",
            host="nowhere",
            template="t",
            argv=(),
            display="restore john",
            arguments={"address": "john@lab.test", "domain": "lab.test"},
            preview="",
            summary="restore 1 mail of john@lab.test",
            policy="approve",
            requester="U0REQUESTER",
            channel="C1",
            reason=None,
            lifetime_seconds=600,
        )
    )
    assert context.state.requests.decide(change.id, "U0APPROVER", approve=True)
    context.scope = scopes.Scope(frozenset({"partner.example"}), {}, "restore")
    with pytest.raises(BadInput) as refused:  # before any SSH: the host `nowhere` would have failed otherwise
        changes.carry_out(VERBS["restore"], change.id, "U0APPROVER", context)
    sentence = "john@lab.test is outside your access (partner.example), so you cannot approve this request."
    assert refused.value.message == sentence
    assert context.state.requests.get(change.id).state == "failed"  # type: ignore[union-attr]
    assert ("refused", "restore", sentence) in [(r.event, r.verb, r.detail) for r in context.state.audit.records(10)]
    in_scope = scopes.Scope(frozenset({"lab.test"}), {}, "restore")
    assert in_scope.change_refusal({"address": "jdoe@lab-alias.test", "domain": "lab.test"}) is not None
    assert (
        scopes.Scope(frozenset({"lab.test"}), {"lab-alias.test": "lab.test"}, "-").change_refusal(
            {"address": "jdoe@lab-alias.test", "domain": "lab.test"}
        )
        is None
    )
    assert "names no address" in str(in_scope.change_refusal({}))  # a whole-queue flush


def test_a_key_without_an_address_is_let_through_to_be_filtered_but_an_address_it_names_is_checked(tmp_path: Path):
    """`trace --client`, `--message-id`, `message QUEUE_ID`, `flush QUEUE_ID`: nothing to judge before
    the host answers (they reach the unreachable host: exit 1); an address named beside is judged."""
    config = str(scoped(tmp_path, ["partner.example"]))
    for args in (
        ("trace", "--client", "192.0.2.7"),
        ("trace", "--message-id", "<x.1@lab.test>"),
        ("trace", "--client", "192.0.2.7", "--from", "alice@partner.example"),
        ("message", "C5BF3135FAF"),
        ("flush", "C5BF3135FAF", "--yes"),
    ):
        run = run_mailbot("--config", config, *args)
        assert run.returncode == 1 and "outside your access" not in run.stderr, (args, run.stderr)
    run = run_mailbot("--config", config, "trace", "--client", "192.0.2.7", "--to", "john@lab.test")
    assert run.returncode == 2
    assert (
        run.stderr.strip()
        == "mailbot: john@lab.test is outside your access (partner.example); ask a mail admin if you need it."
    )
    french = run_mailbot("--config", config, "--lang", "fr", "queue", "john@lab.test")
    assert french.returncode == 2 and "john@lab.test est hors de votre accès (partner.example)" in french.stderr


def test_a_queue_id_of_other_customers_mail_and_an_alert_outside_the_scope_are_one_sentence(tmp_path: Path):
    from bot import i18n
    from bot.config import load_config
    from bot.core import scopes
    from bot.core.registry import Context
    from bot.errors import BadInput
    from bot.mailhost.ssh import HostPool

    config = load_config(str(scoped(tmp_path, ["partner.example"])))
    context = Context(config=config, pool=HostPool(), requester="U0PARTNER")
    scope = scopes.Scope(frozenset({"partner.example"}), {"lab-alias.test": "lab.test"}, "message")
    scope.check_queue_id(context, "C5BF3135FAF", hidden=2, shown=1)  # some of it is theirs: shown, not refused
    scope.check_queue_id(context, "C5BF3135FAF", hidden=0, shown=0)  # nothing found: "no trace", not refused
    with pytest.raises(BadInput) as refused:
        scope.check_queue_id(context, "C5BF3135FAF", hidden=1, shown=0)
    assert refused.value.message == (
        "C5BF3135FAF is mail outside your access (partner.example); ask a mail admin if you need it."
    )
    with i18n.use_language("fr"), pytest.raises(BadInput) as refused:
        scope.check_queue_id(context, "C5BF3135FAF", hidden=1, shown=0)
    assert refused.value.message.startswith("C5BF3135FAF est un courrier hors de votre accès (partner.example) ;")
    assert scope.alert_refusal(context, "alice@partner.example") is None
    assert scope.alert_refusal(context, "john@lab-alias.test") == (
        "This alert is about john@lab-alias.test, outside your access (partner.example); ask a mail admin."
    )
    with i18n.use_language("fr"):
        assert str(scope.alert_refusal(context, "lab")).startswith("Cette alerte concerne lab, hors de votre accès")
    records = [(r.event, r.verb, r.detail) for r in context.state.audit.records(10)]
    assert [event for event, _verb, _detail in records] == ["refused"] * 4
    assert all("outside your access" in str(detail) for _event, _verb, detail in records)  # in English
    # a flush of one queued message: the approver must see one of its parties
    parties = {"queue_id": "C5BF3135FAF", "parties": ["bob@fournisseur.fr", "john@lab.test"]}
    assert scope.change_refusal(parties) == (
        "C5BF3135FAF is mail outside your access (partner.example), so you cannot approve this request."
    )
    assert scope.change_refusal({**parties, "parties": ["bob@fournisseur.fr", "alice@partner.example"]}) is None
