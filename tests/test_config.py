import copy
import json
import os
import re
import subprocess
import sys
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
import yaml

from bot.config import LAB_CONFIG, find_config_path, load_config, parse_config
from bot.core.registry import check_verb_names
from bot.errors import ConfigError
from bot.verbs import VERBS
from tests.conftest import ROOT, run_mailbot

HOST = {
    "name": "bm1",
    "address": "10.0.0.5",
    "user": "bmsupport",
    "key_file": "keys/bot",
    "known_hosts": "/etc/mailbot/known_hosts",
    "maillog": ["/var/log/mail.log", "/var/log/mail.err"],
}


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    config = parse_config({"hosts": [HOST]}, tmp_path / "mailbot.yaml")
    host = config.hosts[0]
    assert host.key_file == tmp_path.resolve() / "keys/bot"
    assert host.known_hosts == Path("/etc/mailbot/known_hosts")
    assert host.maillog == ("/var/log/mail.log", "/var/log/mail.err")
    assert host.port == 22
    assert host.roles == frozenset({"mta", "store"})
    assert config.state_path == Path("mailbot.db").resolve()  # the working folder by default
    with_state = parse_config({"hosts": [HOST], "state": {"path": "state/bot.db"}}, tmp_path / "mailbot.yaml")
    assert with_state.state_path == tmp_path.resolve() / "state/bot.db"


def test_one_log_path_may_be_a_plain_string(tmp_path):
    config = parse_config({"hosts": [{**HOST, "maillog": "/var/log/maillog"}]}, tmp_path / "c.yaml")
    assert config.hosts[0].maillog == ("/var/log/maillog",)


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({}, "`hosts` must be a list"),
        ({"hosts": []}, "lists no host"),
        ({"hosts": [{**HOST, "address": None}]}, "`address` is required"),
        ({"hosts": [{**HOST, "port": 70000}]}, "not a TCP port"),
        ({"hosts": [{**HOST, "port": "ssh"}]}, "`port` must be a positive number"),
        ({"hosts": [{**HOST, "maillog": "mail.log"}]}, "absolute path"),
        ({"hosts": [{**HOST, "roles": ["mx"]}]}, "unknown role 'mx'"),
        ({"hosts": [HOST, HOST]}, "bm1 appears twice"),
        ({"hosts": [HOST], "policies": {"restore": "yolo"}}, "use one of read, confirm, approve"),
        ({"hosts": [{**HOST, "postfix_config": "etc/postfix-edge"}]}, "postfix_config 'etc/postfix-edge' must be"),
        ({"hosts": [{**HOST, "postfix_config": "/etc/postfix edge"}]}, "without spaces or `..`"),
        ({"hosts": [{**HOST, "postfix_config": "/etc/../tmp/evil"}]}, "without spaces or `..`"),
        ({"hosts": [{**HOST, "postfix_config": "/etc/postfix-edge;id"}]}, "must be the absolute path"),
        ({"hosts": [{**HOST, "postfix_config": "-c/tmp"}]}, "must be the absolute path"),
        (["not", "a", "mapping"], "must be a mapping"),
    ],
)
def test_mistakes_are_named(tmp_path, document, says):
    with pytest.raises(ConfigError) as error:
        parse_config(document, tmp_path / "mailbot.yaml")
    assert says in error.value.message


def test_a_postfix_instance_is_named_by_its_config_directory(tmp_path):
    plain, edge = parse_config(
        {"hosts": [HOST, {**HOST, "name": "edge", "postfix_config": "/etc/postfix-edge/"}]}, tmp_path / "c.yaml"
    ).hosts
    assert plain.postfix_config is None  # the default instance
    assert edge.postfix_config == "/etc/postfix-edge"


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "mailbot.yaml"
    path.write_text("hosts:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(str(path))


def test_missing_file_is_a_sentence(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read the configuration file"):
        load_config(str(tmp_path / "nope.yaml"))


def test_lookup_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MAILBOT_CONFIG", "/from/env.yaml")
    assert find_config_path("/explicit.yaml") == Path("/explicit.yaml")
    assert find_config_path(None) == Path("/from/env.yaml")
    monkeypatch.delenv("MAILBOT_CONFIG")
    (tmp_path / "mailbot.yaml").write_text("hosts: []\n")
    assert find_config_path(None) == Path("mailbot.yaml")
    (tmp_path / "mailbot.yaml").unlink()
    if LAB_CONFIG.exists():
        assert find_config_path(None) == LAB_CONFIG
    else:
        with pytest.raises(ConfigError, match="No configuration found"):
            find_config_path(None)


def test_a_change_key_is_resolved_and_used_for_changes_only(tmp_path):
    config = parse_config({"hosts": [{**HOST, "change_key_file": "keys/change"}]}, tmp_path / "c.yaml")
    host = config.hosts[0]
    assert host.change_key_file == tmp_path / "keys" / "change"
    assert host.for_changes().key_file == tmp_path / "keys" / "change"
    assert host.for_changes().known_hosts == host.known_hosts
    without = parse_config({"hosts": [HOST]}, tmp_path / "c.yaml").hosts[0]
    assert without.change_key_file is None and without.for_changes() == without


def test_alerts_and_watch_sections_with_their_defaults(tmp_path):
    plain = parse_config({"hosts": [HOST]}, tmp_path / "c.yaml")
    assert plain.alerts is None  # no `alerts:`: the bot never speaks first
    assert (plain.watch.max_per_user, plain.watch.default_for, plain.watch.max_for) == (5, 7200.0, 86400.0)
    config = parse_config(
        {
            "hosts": [HOST],
            "alerts": {"channel": "C0ALERTS", "every": "1m", "min_age": "10m", "queue_size": 500},
            "watch": {"max_per_user": 2, "default_for": "30m", "max_for": "4h"},
        },
        tmp_path / "c.yaml",
    )
    assert config.alerts is not None
    assert (config.alerts.channel, config.alerts.every, config.alerts.min_messages) == ("C0ALERTS", 60.0, 1)
    assert (config.alerts.min_age, config.alerts.queue_size, config.alerts.growth_per_hour) == (600.0, 500, None)
    assert (config.watch.max_per_user, config.watch.default_for, config.watch.max_for) == (2, 1800.0, 14400.0)


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"alerts": {"every": "5m"}}, "`channel` is required"),
        ({"alerts": {"channel": "C1", "every": "5 minutes"}}, "`every` must be a duration like 30s"),
        ({"alerts": {"channel": "C1", "every": 0}}, "`every` must be at least 1s"),
        ({"watch": {"default_for": "2d", "max_for": "1d"}}, "`default_for` must be positive and at most `max_for`"),
    ],
)
def test_bad_alerts_and_watch_sections_say_what_is_wrong(tmp_path, document, says):
    with pytest.raises(ConfigError, match=says):
        parse_config({"hosts": [HOST], **document}, tmp_path / "c.yaml")


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"hosts": [HOST], "aprovals": {}}, "aprovals: unknown key; did you mean approvals?"),
        (
            {"hosts": [HOST, {**HOST, "name": "bm2", "maxlog": "/l"}]},
            "hosts[1].maxlog: unknown key; did you mean maillog?",
        ),
        (
            {"hosts": [HOST], "slack": {"alowed_users": ["U1"]}},
            "slack.alowed_users: unknown key; did you mean allowed_users?",
        ),
        (
            {"hosts": [HOST], "slack": {"rate_limits": {"per_usr": "5/60s"}}},
            "slack.rate_limits.per_usr: unknown key; did you mean per_user?",
        ),
        (
            {"hosts": [HOST], "slack": {"verbs": {"flush": {"allowed_group": ["S1"]}}}},
            "slack.verbs.flush.allowed_group: unknown key; did you mean allowed_groups?",
        ),
        (
            {"hosts": [HOST], "approvals": {"aprovers": ["U1"]}},
            "approvals.aprovers: unknown key; did you mean approvers?",
        ),
        ({"hosts": [HOST], "state": {"pth": "x.db"}}, "state.pth: unknown key; did you mean path?"),
        ({"hosts": [HOST], "alerts": {"channel": "C1", "evry": "5m"}}, "alerts.evry: unknown key; did you mean every?"),
        ({"hosts": [HOST], "watch": {"max_per_usr": 2}}, "watch.max_per_usr: unknown key; did you mean max_per_user?"),
    ],
)
def test_an_unknown_key_is_named_with_what_it_likely_meant(tmp_path, document, says):
    with pytest.raises(ConfigError) as error:
        parse_config(document, tmp_path / "c.yaml")
    assert error.value.message == f"{tmp_path / 'c.yaml'}: {says}"


def test_an_unknown_key_like_no_other_lists_the_keys_there(tmp_path):
    with pytest.raises(ConfigError) as error:
        parse_config({"hosts": [HOST], "state": {"colour": "red"}}, tmp_path / "c.yaml")
    assert error.value.message == f"{tmp_path / 'c.yaml'}: state.colour: unknown key; the keys there are path, url."


def test_a_typo_beats_the_missing_key_it_hides(tmp_path):
    """`adress:` is reported as the typo it is, not as a missing `address`."""
    host = {key: value for key, value in HOST.items() if key != "address"}
    with pytest.raises(ConfigError, match=re.escape("hosts[0].adress: unknown key; did you mean address?")):
        parse_config({"hosts": [{**host, "adress": "10.0.0.5"}]}, tmp_path / "c.yaml")


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"policies": {"trace": "approve"}}, "policies.trace: trace only reads, so there is nothing to approve"),
        ({"policies": {"queue": "confirm"}}, "policies.queue: queue only reads, so there is nothing to confirm"),
        ({"policies": {"restore": "read"}}, "policies.restore: restore changes things, so it needs confirm or approve"),
        ({"policies": {"flsuh": "confirm"}}, "policies.flsuh: unknown verb; did you mean flush?"),
        ({"policies": {"zz": "confirm"}}, "policies.zz: unknown verb; the verbs are audit, check, deleted, flush"),
        (
            {"approvals": {"require_reason": ["flush", "restor"]}},
            "approvals.require_reason[1]: unknown verb; did you mean restore?",
        ),
        (
            {"slack": {"verbs": {"regen_maps": {"allowed_users": ["U1"]}}}},
            "slack.verbs.regen_maps: unknown verb; did you mean regen-maps?",
        ),
    ],
)
def test_meaningless_verb_settings_are_named(tmp_path, document, says):
    config = parse_config({"hosts": [HOST], **document}, tmp_path / "c.yaml")
    with pytest.raises(ConfigError) as error:
        check_verb_names(config, VERBS)
    assert error.value.message.startswith(f"{tmp_path / 'c.yaml'}: {says}")


def test_meaningful_policies_pass(tmp_path):
    document = {"policies": {"flush": "approve", "regen-maps": "confirm", "trace": "read"}}
    config = parse_config({"hosts": [HOST], **document}, tmp_path / "c.yaml")
    assert check_verb_names(config, VERBS).policies == {"flush": "approve", "regen-maps": "confirm", "trace": "read"}


def test_the_readme_example_loads_and_passes_the_verb_check(tmp_path):
    """Every key the README shows is one the parser knows: the documentation cannot drift into typos."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("## Configuration", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    config = check_verb_names(parse_config(yaml.safe_load(example), tmp_path / "mailbot.yaml"), VERBS)
    assert (config.hosts[0].name, config.policies, config.approvals.require_reason) == (
        "bm1",
        {"flush": "approve"},
        ("restore",),
    )
    assert config.alerts is not None and config.alerts.channel == "C0MAILALERTS"


def test_the_lab_config_passes_the_verb_check(lab_config):
    assert check_verb_names(lab_config, VERBS).hosts[0].name == "lab"


def test_the_cli_refuses_a_meaningless_policy_in_one_sentence(tmp_path):
    path = tmp_path / "mailbot.yaml"
    path.write_text(yaml.safe_dump({"hosts": [HOST], "policies": {"trace": "approve"}}), encoding="utf-8")
    run = run_mailbot("--config", str(path), "trace", "john@lab.test")
    assert run.returncode == 1
    assert run.stderr.strip() == (
        f"mailbot: {path}: policies.trace: trace only reads, so there is nothing to approve; remove the line."
    )
    assert run.stdout == ""


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (
            {"slack": {"verbs": {"flush": {"allowed_users": 5}}}},
            "slack.verbs.flush: `allowed_users` must be a list of strings.",
        ),
        ({"slack": {"rate_limits": {"per_user": "x/60s"}}}, "slack.rate_limits: `per_user` must look like 20/60s."),
        ({"slack": {"language": "de"}}, "slack: language 'de' has no catalogue; use one of en, fr."),
        ({"hosts": [HOST, {**HOST, "name": "bm2", "port": 70000}]}, "hosts[1]: port 70000 is not a TCP port."),
        ({"watch": {"every": "often"}}, "watch: `every` must be a duration like 30s, 5m, 2h or 1d."),
        (
            {"state": {"url": "postgresql://db/m", "path": "x.db"}},
            "state: give `path` (SQLite) or `url` (PostgreSQL), not both.",
        ),
        ({"alerts": 5}, "alerts must be a mapping of keys to values."),
        ({"slack": {"verbs": {3: {"allowed_users": ["U1"]}}}}, "slack: `verbs` must be a mapping."),
        (
            {"hosts": [HOST], 3: "x"},
            "3: unknown key; the keys there are alerts, approvals, audit, domains, hosts, policies, scopes, slack, "
            "state, watch.",
        ),
    ],
)
def test_a_mistake_deep_in_the_file_names_its_key_path(tmp_path, document, says):
    with pytest.raises(ConfigError) as error:
        parse_config({"hosts": [HOST], **document}, tmp_path / "c.yaml")
    assert error.value.message == f"{tmp_path / 'c.yaml'}: {says}"


@pytest.mark.parametrize(
    "document",
    [
        {"hosts": [{**HOST, "key_passphrase_env": ["hunter2-secret"]}]},
        {"hosts": [HOST], "state": {"url": "postgresql://bot:hunter2-secret@db/mailbot"}},
        {"hosts": [HOST], "approvals": {"expiry_minutes": "hunter2-secret"}},
        {"hosts": [{**HOST, "user": {"hunter2-secret": 1}}]},
    ],
)
def test_a_refused_value_is_not_repeated_and_pydantic_stays_inside(tmp_path, document):
    """One sentence: no validation dump, no link to pydantic's pages, not the value (it may be a secret)."""
    with pytest.raises(ConfigError) as error:
        parse_config(document, tmp_path / "c.yaml")
    message = error.value.message
    assert "\n" not in message and "hunter2" not in message
    assert "pydantic" not in message.lower() and "validation error" not in message.lower()
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_the_records_are_frozen(tmp_path):
    config = parse_config({"hosts": [HOST]}, tmp_path / "c.yaml")
    with pytest.raises(FrozenInstanceError):
        config.hosts[0].port = 2222  # type: ignore[misc]


@pytest.mark.parametrize("language", [["--lang", "fr"], []], ids=["--lang fr", "LC_ALL=fr_FR"])
def test_a_french_user_reads_the_config_error_in_french(tmp_path, language):
    path = tmp_path / "mailbot.yaml"
    path.write_text(yaml.safe_dump({"hosts": [{**HOST, "port": 70000}]}), encoding="utf-8")
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump({"hosts": [HOST], "aprovals": {}}), encoding="utf-8")
    environment = {**os.environ, "LC_ALL": "fr_FR.UTF-8"} if not language else {**os.environ, "LC_ALL": "C"}
    runs = [
        subprocess.run(
            [sys.executable, "-m", "bot", *language, "--config", str(config), "trace", "john@lab.test"],
            capture_output=True,
            text=True,
            env=environment,
            check=False,
            timeout=60,
        )
        for config in (path, typo, tmp_path / "missing.yaml")
    ]
    assert [run.returncode for run in runs] == [1, 1, 1]
    assert [run.stderr.strip() for run in runs] == [
        f"mailbot: {path} : hosts[0] : le port 70000 n'est pas un port TCP.",
        f"mailbot: {typo} : aprovals : clé inconnue ; vouliez-vous dire approvals ?",
        # the system's own reason (strerror) stays as the C library says it
        f"mailbot: Impossible de lire le fichier de configuration {tmp_path / 'missing.yaml'} : "
        "No such file or directory.",
    ]


def test_every_mistake_reads_the_sentence_the_pydantic_config_gave(tmp_path):
    """250 sentences recorded from the pydantic config this reader replaced (the fixture says how
    they were made): a change of reader must not change what a user reads."""
    recorded = json.loads((ROOT / "tests" / "fixtures" / "config_mistakes.json").read_text(encoding="utf-8"))
    differ = []
    for case in recorded["cases"]:
        document = copy.deepcopy(recorded["base"])
        for change in case["changes"]:
            parent = document
            for key in change[1][:-1]:
                parent = parent[key]
            if change[0] == "set":
                parent[change[1][-1]] = change[2]
            else:
                del parent[change[1][-1]]
        with pytest.raises(ConfigError) as error:
            parse_config(document, Path("mailbot.yaml"))
        if error.value.message != case["says"]:
            differ.append((case["changes"], case["says"], error.value.message))
    assert len(recorded["cases"]) == 250 and differ == []
