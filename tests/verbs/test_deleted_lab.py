"""`deleted`, `restore`, `history`, `search`, `locate` against the lab, over real SSH.

The oracles are independent of the bot's parsers: `unexpunge -l` run locally as the cyrus user
and read with two regexes, IMAP (lab/bin/imap_admin.py) for what a user sees. Stories come from
lab/traffic.sh (john@lab.test); restores work on mails each test makes and deletes itself, in
mailboxes the stories do not use.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.config import load_config
from bot.core.registry import Context
from bot.errors import MailbotError
from bot.mailhost.ssh import HostPool
from bot.mailhost.values import INBOX, parse_address, parse_uids
from bot.verbs import restore
from tests.conftest import ADMIN_KEY, ROOT, run_mailbot
from tests.labconfig import write_lab_config

BOB = parse_address("bob.martin@lab.test")
IMAP_ADMIN = [sys.executable, str(ROOT / "lab" / "bin" / "imap_admin.py")]
UNREAD = "received, still unread in INBOX"
TRASHED = re.compile(r"read, then moved to Trash \(new UID \d+\) and removed from INBOX")
MAILSHARE = re.compile(r"moved to the shared mailbox `projet` \(UID \d+\); not a deletion, so not in the Trash")


def lab_config_file(tmp_path: Path, **host: object) -> Path:
    """The lab's config (its edge relay too), the backend changed; a new file at each call."""
    name = f"mailbot-{len(list(tmp_path.glob('mailbot-*.yaml')))}.yaml"
    return write_lab_config(tmp_path, ("lab", "edge"), host, name)


@pytest.fixture
def config(lab_config, tmp_path) -> Path:
    return lab_config_file(tmp_path)


def mailbot(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_mailbot("--config", str(config), *args)


def as_json(config: Path, *args: str) -> dict:
    run = mailbot(config, *args, "--json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def imap(*args: str) -> str:
    return subprocess.run([*IMAP_ADMIN, *args], capture_output=True, text=True, check=True).stdout.strip()


def unexpunge_l(mailbox: str) -> dict[int, tuple[int, str]]:
    """What Cyrus lists, read with regexes: UID -> (size, raw Subj value)."""
    out = subprocess.run(
        ["runuser", "-u", "cyrus", "--", "/usr/lib/cyrus/bin/unexpunge", "-l", mailbox],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for block in re.split(r"\n(?=UID: )", out):
        uid = re.search(r"^UID: (\d+)", block, re.M)
        if uid:
            size = re.search(r"Size: (\d+)", block)
            subject = re.search(r"Subj: (.*)\n?(.*)", block)
            raw = subject.group(1) if subject else ""
            text = subject.group(2) if raw.startswith("{") and subject else raw.strip('"')
            found[int(uid.group(1))] = (int(size.group(1)) if size else 0, text)
    return found


def scratch(user: str, *subjects: str, folder: str = "INBOX") -> list[int]:
    """New mails appended over IMAP as the user; their UIDs."""
    return [int(imap("append", user, folder, subject)) for subject in subjects]


def listed(user: str, folder: str = "INBOX") -> dict[int, str]:
    """UID -> subject, as the user sees the folder over IMAP."""
    lines = imap("list", user, folder).splitlines()
    return {int(m[1]): m[2] for line in lines if (m := re.match(r"UID\s+(\d+)\s.*subject=(.*)$", line))}


# --- deleted ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["john@lab.test", "jdoe@lab.test", "JOHN@lab-alias.test"])
def test_deleted_lists_exactly_what_unexpunge_shows(config, typed):
    answer = as_json(config, "deleted", typed)
    truth = unexpunge_l("user/john@lab.test")
    assert answer["mailbox"] == "user/john@lab.test" and answer["login"] == "john"
    assert answer["address"] == typed.lower() and answer["bluemind"] == 4
    assert len(truth) >= 7
    assert {m["uid"]: (m["size"], m["subject"]) for m in answer["mails"]} == truth
    for mail in answer["mails"]:
        assert mail["expunged_at"] and mail["received"] and mail["sender"]
        assert 0 < mail["days_left"] <= 7


def test_deleted_in_another_folder(config):
    answer = as_json(config, "deleted", "john@lab.test", "--folder", "Trash")
    assert answer["folder"] == "Trash"
    assert {m["uid"] for m in answer["mails"]} == set(unexpunge_l("user/john/Trash@lab.test"))
    assert "Votre ticket est clos" in {m["subject"] for m in answer["mails"]}


def test_moved_mails_are_told_apart_from_deleted_ones(config):
    mails = as_json(config, "deleted", "john@lab.test")["mails"]

    def latest(subject: str) -> dict:
        return max((m for m in mails if m["subject"] == subject), key=lambda m: m["uid"])

    assert [p["folder"] for p in latest("Rappel: facture impayee")["still_in"]] == ["Trash"]
    assert [p["folder"] for p in latest("Rappel: projet Apollon")["still_in"]] == ["shared mailbox projet"]
    assert [p["folder"] for p in latest("Compte rendu reunion")["still_in"]] == ["Archives"]
    for subject in ("Promotions de printemps", "Alerte disque /var 91%", "Échéance TVA – relance"):
        assert latest(subject)["still_in"] == []
    text = mailbot(config, "deleted", "john@lab.test").stdout
    assert "was moved, not deleted: it is still in Trash" in text and "user/john@lab.test" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["deleted", "nobody@lab.test"], "nobody@lab.test does not resolve to a mailbox: there is no mailbox "
         "user/nobody@lab.test on lab, and bm-cli on lab says: No mailbox matches nobody@lab.test."),
        (["deleted", "john@nowhere.test"], "bm-cli on lab says: Invalid or unknown domain : nowhere.test."),
        (["deleted", "john@lab.test", "--folder", "Nope"], "There is no mailbox user/john/Nope@lab.test on lab"),
        (["history", "jdoe@lab.test", "999999"], "No mail with UID 999999 in INBOX of user/john@lab.test"),
        (["restore", "john@lab.test", "999999", "--yes"], "UID 999999 is not among the deleted mails of "
         "user/john@lab.test on lab (restorable: "),
        (["locate", "john@lab.test", "999999"], "no mail with UID 999999 in INBOX of user/john@lab.test"),
        (["restore", "john@lab.test"], "Give at least one UID"),
        (["restore", "john@lab.test", "3", "--all"], "Give UIDs or --all, not both."),
        (["history", "john@lab.test", "x1"], "is not a mail UID"),
        (["search", "john@lab.test", "Rappel", "a*"], "is not a search word this bot accepts"),
    ],
)  # fmt: skip
def test_what_does_not_exist_gets_one_clear_sentence(config, args, expected):
    run = mailbot(config, *args)
    assert run.returncode == 2, run.stderr
    assert run.stdout == "" and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert expected in run.stderr


# --- history and search: tests/verbs/test_bluemind_lab.py tells the stories on each bm-cli build ----


def test_search_without_match_is_an_answer(config):
    run = mailbot(config, "search", "john@lab.test", "zzzyyyxxx")
    assert run.returncode == 0
    assert "No mail of user/john@lab.test on lab matches “zzzyyyxxx”" in run.stdout


# --- locate -----------------------------------------------------------------------------------


def test_locate_a_deleted_mail_and_a_present_one(config):
    deleted = max(uid for uid, (_, subject) in unexpunge_l("user/john@lab.test").items() if "Promotions" in subject)
    answer = as_json(config, "locate", "john@lab.test", str(deleted))
    assert answer["deleted"] is True
    assert re.fullmatch(r"/var/spool/cyrus/mail/.*/user/john/\d+\.", answer["path"])
    assert Path(answer["path"]).exists()
    assert answer["headers"]["subject"] == "Promotions de printemps"
    assert answer["headers"]["from"] == "newsletter@shop.example"
    assert answer["headers"]["message_id"].startswith("<")
    present = max(listed("john@lab.test", "INBOX/Archives"))
    archived = as_json(config, "locate", "john@lab.test", str(present), "--folder", "Archives")
    assert archived["deleted"] is False and archived["headers"]["subject"] == "Compte rendu reunion"


# --- restore (the CLI's --yes is the operator's own confirmation) -----------------------------


def test_restore_uids_brings_them_back_with_new_uids(config):
    stamp = time.strftime("%H%M%S")
    subjects = [f"Restore test {stamp} a", f"Restore test {stamp} b", f"Restore test {stamp} c"]
    uids = scratch("ceo@lab.test", *subjects)
    imap("expunge", "ceo@lab.test", *map(str, uids))
    assert set(uids) <= set(unexpunge_l("user/ceo@lab.test"))
    answer = as_json(config, "restore", "ceo@lab.test", str(uids[0]), str(uids[2]), "--yes", "--reason", "T-1")
    assert answer["exit_status"] == 0 and answer["verb"] == "restore"
    assert answer["command"] == (
        f"sudo -n -u cyrus /usr/lib/cyrus/bin/unexpunge -u -d -v user/ceo@lab.test {uids[0]} {uids[2]}"
    )
    pairs = dict(re.findall(r"Unexpunged user/ceo@lab\.test: (\d+) => (\d+)", answer["stdout"]))
    assert set(pairs) == {str(uids[0]), str(uids[2])}
    now = listed("ceo@lab.test")
    for old, subject in ((uids[0], subjects[0]), (uids[2], subjects[2])):
        new = int(pairs[str(old)])
        assert new > max(uids) and now[new] == subject  # back, visible over IMAP, under its new UID
    report = {section["title"]: section["body"] for section in answer["report"]}
    assert re.search(rf"^{uids[0]}\s+{pairs[str(uids[0])]}\s+INBOX\s+yes\s+{subjects[0]}$", report["Restored"], re.M)
    left = unexpunge_l("user/ceo@lab.test")
    assert uids[1] in left and uids[0] not in left and uids[2] not in left


def test_restore_json_has_the_restored_contract(config):
    (uid,) = scratch("ceo@lab.test", f"Restore contract {time.time()}")
    imap("expunge", "ceo@lab.test", str(uid))
    answer = as_json(config, "restore", "ceo@lab.test", str(uid), "--yes")
    assert answer["restored"][0]["old_uid"] == uid and answer["restored"][0]["new_uid"] > uid


def test_restore_all_warns_about_moved_mails_then_restores_everything(lab_config, config):
    imap("ensure", "user/bob.martin/Archives@lab.test")
    stamp = time.strftime("%H%M%S")
    deleted = scratch("bob.martin@lab.test", f"All {stamp} deleted 1", f"All {stamp} deleted 2")
    (moved,) = scratch("bob.martin@lab.test", f"All {stamp} moved")
    imap("move", "bob.martin@lab.test", str(moved), "INBOX/Archives")
    imap("expunge", "bob.martin@lab.test", *map(str, deleted))
    expected = unexpunge_l("user/bob.martin@lab.test")
    assert set(deleted) | {moved} <= set(expected)

    context = Context(load_config(str(config)), HostPool(), requester="tests")
    try:
        plan = restore.plan_restore(restore.RestoreRequest(BOB, (), True, INBOX, None), context)
        with pytest.raises(MailbotError, match="is not among the deleted mails"):
            restore.plan_restore(restore.RestoreRequest(BOB, parse_uids(["999999"]), False, INBOX, None), context)
    finally:
        context.pool.close()
    assert plan.command.argv[-4:] == ("-a", "-d", "-v", "user/bob.martin@lab.test")
    assert "--all also restores" in plan.preview and f"UID {moved} is still in Archives" in plan.preview
    assert f"All {stamp} deleted 1" in plan.preview and sorted(plan.arguments["uids"]) == sorted(expected)

    answer = as_json(config, "restore", "bob.martin@lab.test", "--all", "--yes")
    assert answer["exit_status"] == 0
    assert unexpunge_l("user/bob.martin@lab.test") == {}
    restored = re.findall(r"Unexpunged user/bob\.martin@lab\.test: (\d+) => (\d+)", answer["stdout"])
    assert {int(old) for old, _ in restored} == set(expected)
    subjects = listed("bob.martin@lab.test").values()
    assert f"All {stamp} deleted 1" in subjects and f"All {stamp} deleted 2" in subjects
    assert f"All {stamp} moved" in subjects  # back in INBOX, and still in Archives: twice, as warned
    assert f"All {stamp} moved" in listed("bob.martin@lab.test", "INBOX/Archives").values()


# --- BlueMind 5: tests/verbs/test_bluemind_lab.py, on each emulated build of bm-cli --------------


def test_the_bluemind_version_is_detected_when_the_host_entry_does_not_say(lab_config, tmp_path):
    config = lab_config_file(tmp_path, bluemind=None)
    assert as_json(config, "deleted", "john@lab.test")["bluemind"] == 4  # Cyrus's unexpunge is there
    # a bm-cli path the lab's guard does not hold: through the lab's own key
    wrong = lab_config_file(tmp_path, bluemind=None, bm_cli="/nonexistent/bm-cli", key_file=str(ADMIN_KEY))
    assert as_json(wrong, "deleted", "john@lab.test")["bluemind"] == 4
    alias = mailbot(wrong, "deleted", "jdoe@lab.test")  # an alias needs bm-cli, which is not there
    assert alias.returncode == 2 and "jdoe@lab.test does not resolve to a mailbox" in alias.stderr
    assert "bm-cli could not be asked" in alias.stderr
