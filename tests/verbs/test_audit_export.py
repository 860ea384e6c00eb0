"""`mailbot audit --since D --csv|--json` and `--prune`, as an operator runs them (no lab needed)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from bot.state import open_state
from bot.state.audit import FIELDS
from tests.conftest import run_mailbot

HOST = {
    "name": "nowhere",
    "address": "127.0.0.1",
    "port": 9,
    "user": "u",
    "key_file": "k",
    "known_hosts": "h",
    "maillog": "/var/log/mail.log",
}


def config(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "mailbot.yaml"
    path.write_text(yaml.safe_dump({"hosts": [HOST], "state": {"path": str(tmp_path / "state.db")}, **extra}))
    return path


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    state = open_state(tmp_path / "state.db")
    for index in range(3):
        state.audit.record("requested", f"U{index}", verb="flush", command="sudo -n /usr/sbin/postqueue -f")
    state.audit.record("ran", "U0", verb="flush", exit_status=0, detail='a "quoted", reason\nover two lines')
    state.database.close()
    return config(tmp_path)


def test_the_csv_export_has_every_field_and_says_it_verified(filled: Path):
    run = run_mailbot("--config", str(filled), "audit", "--since", "1d", "--csv")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert list(rows[0]) == [*FIELDS, "prev_hash", "hash", "verified"]
    assert [r["seq"] for r in rows] == ["1", "2", "3", "4"] and {r["verified"] for r in rows} == {"true"}
    assert rows[3]["detail"] == 'a "quoted", reason\nover two lines' and rows[3]["exit_status"] == "0"
    assert rows[1]["prev_hash"] == rows[0]["hash"]


def test_an_edited_record_makes_the_export_say_so_and_exit_1(filled: Path, tmp_path: Path):
    state = open_state(tmp_path / "state.db")
    with state.database.connect() as db:
        db.execute("UPDATE audit SET \"user\" = 'U9' WHERE seq = 2")
    state.database.close()
    run = run_mailbot("--config", str(filled), "audit", "--since", "1d", "--json")
    assert run.returncode == 1
    answer = json.loads(run.stdout)
    assert answer["verified"] is False and answer["chain"]["broken_at"] == 2
    assert [r["verified"] for r in answer["records"]] == [True, False, False, False]
    text = run_mailbot("--config", str(filled), "audit", "--since", "1d")
    assert "the chain did NOT verify: record 2 was edited or removed" in text.stdout
    french = run_mailbot("--config", str(filled), "--lang", "fr", "audit", "--since", "1d")
    assert "la chaîne n'est PAS vérifiée" in french.stdout


def test_prune_needs_a_retention_and_a_key_then_keeps_the_chain_verifiable(filled: Path, tmp_path: Path, monkeypatch):
    refused = run_mailbot("--config", str(filled), "audit", "--prune")
    assert refused.returncode == 1 and "audit.retention" in refused.stderr
    with_retention = config(tmp_path, audit={"retention": "1s"})
    refused = run_mailbot("--config", str(with_retention), "audit", "--prune")
    assert refused.returncode == 1 and "MAILBOT_AUDIT_KEY is not set" in refused.stderr
    monkeypatch.setenv("MAILBOT_AUDIT_KEY", "k3y-for-the-test")
    import time

    time.sleep(1.1)
    pruned = run_mailbot("--config", str(with_retention), "audit", "--prune", "--json")
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout)["pruned"] == 4
    export = run_mailbot("--config", str(with_retention), "audit", "--since", "1d", "--json")
    answer = json.loads(export.stdout)
    assert answer["verified"] is True and answer["chain"]["checkpoint"]["through_seq"] == 4
    assert [r["event"] for r in answer["records"]] == ["pruned"]
    monkeypatch.delenv("MAILBOT_AUDIT_KEY")
    unkeyed = run_mailbot("--config", str(with_retention), "audit", "--verify")
    assert unkeyed.returncode == 1 and "MAILBOT_AUDIT_KEY" in unkeyed.stderr


def test_csv_cells_a_spreadsheet_would_run_are_text_and_the_chain_still_checks_from_the_csv(tmp_path: Path):
    from bot.state.audit import GENESIS, record_hash

    state = open_state(tmp_path / "state.db")
    hostile = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "'=quoted"]
    for index, text in enumerate(hostile):
        state.audit.record("refused", f"@U{index}", verb="trace", detail=text)
    state.audit.record("ran", "U0", verb="flush", exit_status=-1, duration=0.0, detail="plain")
    state.database.close()
    path = config(tmp_path)
    run = run_mailbot("--config", str(path), "audit", "--since", "1d", "--csv")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert [r["detail"] for r in rows[:5]] == ["'" + text for text in hostile]  # shown as text, not run
    assert rows[0]["user"] == "'@U0" and rows[5]["exit_status"] == "-1" and rows[5]["detail"] == "plain"
    raw = json.loads(run_mailbot("--config", str(path), "audit", "--since", "1d", "--json").stdout)["records"]
    assert [r["detail"] for r in raw[:5]] == hostile and raw[0]["user"] == "@U0"  # the JSON stays raw
    # README's rule read back: drop one leading ' of a text cell; every hash then holds.
    prev = GENESIS
    for row in rows:
        fields = {k: (v[1:] if v.startswith("'") else v) or None for k, v in row.items()}
        fields |= {"seq": int(row["seq"]), "exit_status": int(row["exit_status"]) if row["exit_status"] else None}
        fields["duration"] = float(row["duration"]) if row["duration"] else None
        assert record_hash(prev, fields) == row["hash"] == fields["hash"]
        prev = row["hash"]
