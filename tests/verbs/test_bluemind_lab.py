"""Every BlueMind verb on each bm-cli build the lab emulates (lab/bin/bm-cli: BlueMind 4 before
2022-02, BlueMind 4 after, BlueMind 5), over real SSH, on the lab's real Cyrus data.

The stories come from lab/traffic.sh (john@lab.test); the oracles are IMAP (lab/bin/imap_admin.py)
and Cyrus's own `unexpunge -l`, independent of the bot's parsers.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import load_config
from bot.core.registry import Context, ReadVerb, verb_parser
from bot.mailhost.ssh import HostPool
from bot.mailhost.tools import bmcli
from bot.verbs import VERBS
from tests.conftest import ADMIN_KEY, GUARD_LOG, guard_log_since
from tests.verbs.test_deleted_lab import as_json, imap, lab_config_file, listed, mailbot, scratch, unexpunge_l

EMULATOR_CONF = Path("/etc/mailbot-lab/bm-cli.conf")
BUILDS = ("bm4-2021", "bm4-2022", "bm5")
UNREAD = "received, still unread in INBOX"
TRASHED = re.compile(r"read, then moved to Trash \(new UID \d+\) and removed from INBOX")
MAILSHARE = re.compile(r"moved to the shared mailbox `projet` \(UID \d+\); not a deletion, so not in the Trash")
TWO_RECIPIENTS = re.compile(
    r"read, then moved to Trash \(new UID \d+\) and removed from INBOX; "
    r"also delivered to Marie Durand's `INBOX` \(UID \d+\)"
)
MAPS = Path("/etc/postfix/lab_virtual_mailboxes")


def emulate(build: str, **settings: object) -> None:
    EMULATOR_CONF.parent.mkdir(exist_ok=True)
    lines = [f"emulate = {build}", *(f"{key} = {value}" for key, value in settings.items())]
    EMULATOR_CONF.write_text("\n".join(lines) + "\n")


@pytest.fixture
def emulator() -> Iterator[None]:
    """The emulator's settings as they were, back after the test."""
    before = EMULATOR_CONF.read_text() if EMULATOR_CONF.exists() else None
    try:
        yield
    finally:
        if before is None:
            EMULATOR_CONF.unlink(missing_ok=True)
        else:
            EMULATOR_CONF.write_text(before)


@pytest.fixture(params=BUILDS)
def build(request: pytest.FixtureRequest, lab_config, emulator) -> str:
    emulate(request.param)
    return str(request.param)


@pytest.fixture
def config(build: str, tmp_path: Path) -> Path:
    """The lab's host entry, told the BlueMind version the emulated build is."""
    return lab_config_file(tmp_path, bluemind=5 if build == "bm5" else 4, bm_authn="john@lab.test")


def latest(config: Path, address: str, words: str) -> dict:
    answer = as_json(config, "search", address, *words.split())
    assert answer["mails"], f"nothing matches {words!r} for {address}"
    return max(answer["mails"], key=lambda mail: max(e["at"] for e in mail["events"]))


# --- history and search ---------------------------------------------------------------------


def test_search_tells_each_story_for_the_asked_mailbox(config):
    assert latest(config, "john@lab.test", "convocation CSE")["reading"] == UNREAD
    assert TRASHED.fullmatch(latest(config, "john@lab.test", "facture impayee")["reading"])
    # BlueMind's search reads live mail only: john moved Apollon to the share, which still holds it
    shared = latest(config, "projet@lab.test", "Apollon")
    assert shared["reading"].startswith("received, still unread in projet")
    old = next(e["uid"] for e in shared["events"] if e["owner"] == "John Doe")
    (mail,) = as_json(config, "history", "john@lab.test", str(old))["mails"]
    assert MAILSHARE.fullmatch(mail["reading"]), mail["reading"]


def test_a_mail_to_two_colleagues_is_told_per_owner(config):
    mail = latest(config, "jdoe@lab.test", "Invitation seminaire")
    assert TWO_RECIPIENTS.fullmatch(mail["reading"]), mail["reading"]
    owners = {e["owner"] for e in mail["events"]}
    assert owners == {"John Doe", "Marie Durand"}
    marie = latest(config, "marie.durand@lab.test", "Invitation seminaire")
    assert marie["reading"].startswith("received, still unread in INBOX; also delivered to John Doe's `INBOX`")


def test_history_of_one_uid_in_inbox_and_in_another_folder(config):
    trashed = latest(config, "john@lab.test", "facture impayee")
    inbox_uid = next(e["uid"] for e in trashed["events"] if e["folder"] == "INBOX")
    trash_uid = next(e["uid"] for e in trashed["events"] if e["folder"] == "Trash")
    (mail,) = as_json(config, "history", "jdoe@lab.test", str(inbox_uid))["mails"]
    assert TRASHED.fullmatch(mail["reading"])
    assert f"new UID {trash_uid}" in mail["reading"]
    assert trash_uid in listed("john@lab.test", "INBOX/Trash")  # the Trash copy, seen over IMAP
    text = mailbot(config, "history", "john@lab.test", str(inbox_uid)).stdout
    assert text.startswith(f"UID {inbox_uid} in INBOX of user/john@lab.test on lab: read, then moved to Trash")
    (same,) = as_json(config, "history", "john@lab.test", str(trash_uid), "--folder", "Trash")["mails"]
    assert same["reading"] == mail["reading"]


def test_unknown_uid_folder_user_and_domain_are_answers(config):
    missing = mailbot(config, "history", "john@lab.test", "4000000000")
    assert missing.returncode == 2
    assert "No mail with UID 4000000000 in INBOX of user/john@lab.test" in missing.stderr
    folder = mailbot(config, "history", "john@lab.test", "1", "--folder", "Nope")
    assert folder.returncode == 2
    assert "john@lab.test has no folder `Nope` on lab; its folders are:" in folder.stderr
    assert "Trash" in folder.stderr and "Traceback" not in folder.stderr
    user = mailbot(config, "history", "nobody@lab.test", "1")
    assert user.returncode == 2 and "nobody@lab.test does not resolve to a mailbox" in user.stderr
    domain = mailbot(config, "search", "john@nowhere.example", "x")
    assert domain.returncode == 2 and "does not resolve to a mailbox" in domain.stderr
    for run in (missing, folder, user, domain):
        assert len(run.stderr.strip().splitlines()) == 1


# --- BlueMind 5: item ids, restores that say where the mail went, mailshares ------------------


@pytest.fixture
def bm5(lab_config, emulator, tmp_path: Path) -> Path:
    emulate("bm5")
    return lab_config_file(tmp_path, bluemind=5, bm_authn="john@lab.test")


def test_bm5_deleted_shows_item_ids_and_restore_reports_the_new_uid(bm5):
    stamp = time.strftime("%H%M%S")
    subjects = [f"BM5 ids {stamp} a", f"BM5 ids {stamp} b"]
    uids = scratch("rh@lab.test", *subjects)
    imap("expunge", "rh@lab.test", *map(str, uids))
    listing = as_json(bm5, "deleted", "rh@lab.test")
    mine = {m["subject"]: m for m in listing["mails"] if m["subject"] in subjects}
    assert {m["uid"] for m in mine.values()} == set(uids)  # the old IMAP UIDs, from bm-cli's lines
    assert not {m["id"] for m in mine.values()} & set(uids)  # item ids are other numbers
    text = mailbot(bm5, "deleted", "rh@lab.test").stdout
    assert "Item id" in text and "Old UID" in text and "ITEM_ID" in text
    by_uid = mailbot(bm5, "restore", "rh@lab.test", str(uids[0]), "--yes")
    assert by_uid.returncode == 2 and "BlueMind 5 restores by the item ids" in by_uid.stderr
    item = mine[subjects[0]]["id"]
    answer = as_json(bm5, "restore", "rh@lab.test", str(item), "--yes", "--reason", "T-5")
    assert answer["exit_status"] == 0
    (restored,) = answer["restored"]
    assert restored["id"] == item and restored["old_uid"] == uids[0] and restored["folder"] == "INBOX"
    assert listed("rh@lab.test")[restored["new_uid"]] == subjects[0]  # back over IMAP, under that UID
    assert restored["new_uid"] != uids[0]
    table = next(s["body"] for s in answer["report"] if s["title"] == "Restored")
    assert re.search(rf"^{item}\s+{uids[0]}\s+{restored['new_uid']}\s+INBOX\s+{subjects[0]}$", table, re.M)


def test_bm5_several_restores_and_what_bm5_cannot_do(bm5):
    missing = mailbot(bm5, "deleted", "john@lab.test", "--folder", "Nope")
    assert missing.returncode == 2 and "john@lab.test has no folder `Nope` on lab; its folders are:" in missing.stderr
    subjects = [f"BM5 restore {time.time()} a", f"BM5 restore {time.time()} b"]
    uids = scratch("rh@lab.test", *subjects)
    imap("expunge", "rh@lab.test", *map(str, uids))
    ids = [m["id"] for m in as_json(bm5, "deleted", "rh@lab.test")["mails"] if m["subject"] in subjects]
    run = as_json(bm5, "restore", "rh@lab.test", *map(str, ids), "--yes")
    assert run["exit_status"] == 0 and "mailbot-restore" in run["command"]
    assert run["stdout"].count("ack: ") == 2
    assert not set(uids) & set(unexpunge_l("user/rh@lab.test"))
    back = listed("rh@lab.test")
    assert sorted(back[r["new_uid"]] for r in run["restored"]) == sorted(subjects)
    assert "bm-cli acknowledged 2 restores. Out of the deleted list of INBOX: 2 of 2." in run["report"][1]["body"]
    locate = mailbot(bm5, "locate", "john@lab.test", "1")
    assert locate.returncode == 1 and "BlueMind 5, which keeps no mail files" in locate.stderr


def test_bm5_alias_and_mailshare(bm5):
    assert as_json(bm5, "history", "jdoe@lab.test", "1")["mailbox"] == "user/john@lab.test"
    alias = as_json(bm5, "deleted", "jdoe@lab.test")
    assert alias["mailbox"] == "user/john@lab.test" and alias["kind"] == "user"
    share = as_json(bm5, "search", "projet@lab.test", "Apollon")
    assert share["mailbox"] == "projet@lab.test" and share["kind"] == "mailshare"
    assert share["mails"] and share["owner"] == "projet"
    listing = as_json(bm5, "deleted", "projet@lab.test")
    assert listing["kind"] == "mailshare" and listing["folder"] == "INBOX"
    moved = next(e for e in share["mails"][-1]["events"] if e["owner_kind"] == "MAILSHARE")
    (mail,) = as_json(bm5, "history", "projet@lab.test", str(moved["uid"]))["mails"]
    assert mail["uid"] is not None


def test_bm5_mailshare_needs_bm_authn(lab_config, emulator, tmp_path):
    emulate("bm5")
    config = lab_config_file(tmp_path, bluemind=5)
    run = mailbot(config, "deleted", "projet@lab.test")
    assert run.returncode == 2 and "set `bm_authn`" in run.stderr


# --- regen-maps proves what it did -------------------------------------------------------------


@pytest.fixture
def maps() -> Iterator[None]:
    """The lab's mailbox map as up.sh wrote it, back after the test (the emulated repair rewrites it)."""
    saved = MAPS.read_text()
    try:
        yield
    finally:
        MAPS.write_text(saved)
        subprocess.run(["postmap", f"hash:{MAPS}"], check=True)


def drop_from_maps(address: str) -> None:
    MAPS.write_text("".join(line for line in MAPS.read_text().splitlines(True) if not line.startswith(address)))
    subprocess.run(["postmap", f"hash:{MAPS}"], check=True)
    assert subprocess.run(["postmap", "-q", address, f"hash:{MAPS}"], capture_output=True).returncode == 1


def bm5_regen(tmp_path: Path) -> Path:
    """BlueMind 5's rebuild, through the lab's own key (the guard holds the lab's BlueMind 4 rebuild)."""
    return lab_config_file(
        tmp_path,
        bluemind=5,
        key_file=str(ADMIN_KEY),
        change_key_file=None,
        regen_maps=[["bm-cli", "maintenance", "repair", "--ops", "mailboxPostfixMaps", "lab.test"]],
    )


def regen_sections(config: Path, *args: str) -> dict[str, str]:
    answer = as_json(config, "regen-maps", *args, "--yes")
    return {section["title"]: section["body"] for section in answer["report"]}


def test_bm5_regen_maps_is_checked_in_the_maps(lab_config, emulator, maps, tmp_path):
    emulate("bm5", repair_delay=2)
    drop_from_maps("compta@lab.test")
    sections = regen_sections(bm5_regen(tmp_path), "compta@lab.test")
    assert "Rebuilt and checked" in sections, sections
    assert "compta@lab.test is in hash:/etc/postfix/lab_virtual_mailboxes now" in sections["Rebuilt and checked"]


def test_bm5_a_failed_repair_is_reported_failed_though_bm_cli_exits_0(lab_config, emulator, maps, tmp_path):
    emulate("bm5", repair="fail-task")
    drop_from_maps("compta@lab.test")
    sections = regen_sections(bm5_regen(tmp_path), "compta@lab.test")
    assert "Failed" in sections and "Failed to repair entry" in sections["Failed"], sections


def test_bm5_maps_not_rewritten_are_not_confirmed(lab_config, emulator, maps, tmp_path):
    emulate("bm5", repair="fail-maps", repair_delay=1)
    drop_from_maps("compta@lab.test")
    sections = regen_sections(bm5_regen(tmp_path), "compta@lab.test")
    body = sections["Requested, not confirmed"]
    assert body.startswith("Requested, not confirmed after 30 s: compta@lab.test is in none of")
    assert "Fail to update postfix maps" in body


def test_bm4_configured_rebuild_is_checked_too(lab_config, tmp_path):
    config = lab_config_file(tmp_path)
    sections = regen_sections(config, "john@lab.test")
    assert "john@lab.test is in hash:/etc/postfix/lab_virtual_mailboxes now" in sections["Rebuilt and checked"]
    unchecked = regen_sections(config)
    assert "was not checked" in unchecked["Requested"]


# --- check ------------------------------------------------------------------------------------


def test_check_names_the_build_and_what_it_accepts(config, build):
    run = mailbot(config, "check", "--json")  # the edge host entry is left out of this config's paths
    (lab,) = [h for h in json.loads(run.stdout)["hosts"] if h["host"] == "lab"]
    assert lab["ok"], lab["problems"]
    facts = " ".join(lab["facts"])
    version = "5" if build == "bm5" else "4"
    assert f"BlueMind {version}, bm-cli {version}." in facts
    if build == "bm4-2021":
        assert "history-imap without --folderPath" in facts
    else:
        assert "history-imap takes --folderPath" in facts


def test_a_refused_folder_path_is_asked_again_after_an_upgrade(lab_config, emulator, tmp_path):
    """A long-running bot learns once that a build refuses --folderPath; after BlueMind's upgrade the
    answer without the folder holds no copy in the asked folder: the folder is asked for again."""
    config = lab_config_file(tmp_path, bluemind=4)
    emulate("bm4-2022")
    trashed = latest(config, "john@lab.test", "facture impayee")
    trash_uid = str(next(e["uid"] for e in trashed["events"] if e["folder"] == "Trash"))
    history = VERBS["history"]
    assert isinstance(history, ReadVerb)
    words = ["john@lab.test", trash_uid, "--folder", "Trash"]
    request = history.validate(verb_parser(history, "history").parse_args(words))
    pool = HostPool()
    context = Context(load_config(str(config)), pool, "tester")  # one process throughout, as the Slack bot
    bmcli.forget_what_builds_refused()
    try:
        emulate("bm4-2021")  # the old build: refuses --folderPath, learned
        history.run(request, context)
        emulate("bm4-2022")  # upgraded while the bot runs
        before = GUARD_LOG.stat().st_size
        report = history.run(request, context)
        sent = [line for line in guard_log_since(before) if "history-imap" in line]
        assert "--folderPath" not in sent[0] and "--folderPath Trash" in sent[-1], sent
        assert report.headline().startswith(f"UID {trash_uid} in Trash of user/john@lab.test")
        before = GUARD_LOG.stat().st_size
        history.run(request, context)  # and from then on, at once
        sent = [line for line in guard_log_since(before) if "history-imap" in line]
        assert len(sent) == 1 and "--folderPath Trash" in sent[0], sent
    finally:
        bmcli.forget_what_builds_refused()
        pool.close()
