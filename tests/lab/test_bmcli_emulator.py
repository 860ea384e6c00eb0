"""The lab's bm-cli stand-in (lab/bin/bm-cli), an emulator of BlueMind's bm-cli per version, against
the facts of reference/BMCLI.md: its pure parts (tables, dates, the switch, the command line, the
history's rules) without a lab, then the commands on the lab's real Cyrus data (run locally as root,
the version switched with BMCLI_LAB_CONF pointing at a file of the test's own)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from bot.config import Config

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "lab" / "bin" / "bm-cli"
IMAP_ADMIN = ROOT / "lab" / "bin" / "imap_admin.py"
HEADERS = ["Date", "Type", "Owner", "Folder-UID", "Folder", "Item/IMAP-UID", "Flags"]


def load() -> ModuleType:
    loader = SourceFileLoader("bm_cli_emulator", str(SCRIPT))
    spec = importlib.util.spec_from_loader("bm_cli_emulator", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


bm = load()


# --- AsciiTable -------------------------------------------------------------------------------


def test_table_borders_alignment_and_a_border_after_every_row():
    text = bm.ascii_table(["id", "subject"], [["1", "Bonjour"], ["22", "Re"]])
    assert text.splitlines() == [
        "+----+---------+",
        "| id | subject |",
        "+----+---------+",
        "|  1 | Bonjour |",
        "+----+---------+",
        "| 22 |      Re |",
        "+----+---------+",
    ]


def test_an_empty_table_is_its_header_its_border_and_the_bottom_border():
    assert bm.ascii_table(["Date", "Type"], []).splitlines() == [
        "+------+------+",
        "| Date | Type |",
        "+------+------+",
        "+------+------+",
    ]


def test_a_null_cell_prints_empty():
    assert bm.ascii_table(["id", "subject"], [["7", None]]).splitlines()[3] == "|  7 |         |"


def test_a_long_cell_wraps_at_its_last_space_within_78():
    words = " ".join(f"mot{n:02d}" for n in range(30))  # 179 characters
    lines = bm.ascii_table(["preview"], [[words]]).splitlines()
    assert lines[0] == "+" + "-" * 80 + "+"  # width min(80, longest + 2)
    body = [line[2:-2].strip() for line in lines[3:-1]]
    assert all(len(line) <= 78 for line in body) and len(body) == 3
    assert " ".join(body) == words
    assert len(body[0]) == len("mot00 " * 13) - 1  # 13 words fit in 78, the 14th does not


def test_a_cell_without_space_is_cut_in_the_middle_of_a_word_at_78():
    url = "https://intranet.lab.test/" + "x" * 100
    lines = bm.ascii_table(["preview"], [[url]]).splitlines()
    assert lines[3] == "| " + url[:78] + " |"
    assert lines[4] == "| " + url[78:].rjust(78) + " |"


def test_widths_count_utf16_units_an_emoji_counts_two():
    lines = bm.ascii_table(["subject"], [["Fête 🎉"]]).splitlines()
    border, row = lines[0], lines[3]
    assert border == "+---------+"  # "Fête 🎉" is 7 UTF-16 units: width 9
    assert row == "| Fête 🎉 |" and len(row) == len(border) - 1  # one char narrower on screen


# --- dates, the switch ------------------------------------------------------------------------


def test_dates_are_java_dates_in_gmt_in_english_whatever_the_locale(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Paris")
    monkeypatch.setenv("LC_ALL", "fr_FR.UTF-8")
    time.tzset()
    try:
        assert bm.java_date(1738591387) == "Mon Feb 03 14:03:07 GMT 2025"
        assert bm.java_date(1738591387.999) == "Mon Feb 03 14:03:07 GMT 2025"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_the_switch_absent_means_defaults(tmp_path):
    conf = bm.read_conf(str(tmp_path / "absent.conf"))
    assert (conf.emulate, conf.repair_delay, conf.repair) == ("bm4-2022", 3.0, "ok")
    assert conf.maps_file == "/etc/postfix/lab_virtual_mailboxes" and conf.core_log == "/var/log/bm/core.log"


def test_the_switch_is_read_and_bad_values_are_refused(tmp_path):
    path = tmp_path / "bm-cli.conf"
    path.write_text("emulate = bm5     # BlueMind 5\nrepair_delay = 0.5\nrepair = fail-maps\n")
    conf = bm.read_conf(str(path))
    assert (conf.emulate, conf.repair_delay, conf.repair) == ("bm5", 0.5, "fail-maps")
    path.write_text("emulate = bm6\n")
    with pytest.raises(bm.ConfError):
        bm.read_conf(str(path))


@pytest.mark.parametrize(
    ("emulate", "line"),
    [
        ("bm4-2021", "4.3.0.202111081234-labstandin"),
        ("bm4-2022", "4.8.0.202206141015-labstandin"),
        ("bm5", "5.0.0.202406031742-labstandin"),
    ],
)
def test_version_is_one_line_per_emulated_version(tmp_path, emulate, line):
    conf = tmp_path / "bm-cli.conf"
    conf.write_text(f"emulate = {emulate}\n")
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, "BMCLI_LAB_CONF": str(conf)},
        check=False,
    )
    assert (run.returncode, run.stdout, run.stderr) == (0, line + "\n", "")


# --- the command line (picocli) ---------------------------------------------------------------


def conf_of(emulate: str) -> object:
    return bm.LabConf(emulate=emulate)


def test_folder_path_is_unknown_before_2022():
    with pytest.raises(bm.UsageError) as refused:
        bm.parse(
            ["mail", "history-imap", "--email", "j@x.y", "--imapUid", "3", "--folderPath", "INBOX"], conf_of("bm4-2021")
        )
    assert (refused.value.message, refused.value.code) == ("Unknown option: '--folderPath'", 2)
    assert refused.value.usage.startswith("Usage: bm-cli mail history-imap")
    _, opts = bm.parse(["mail", "history-imap", "--email", "j@x.y", "--imapUid", "3"], conf_of("bm4-2022"))
    assert opts["folderPath"] == "INBOX" and opts["imapUid"] == 3


def test_no_progress_is_refused_by_bluemind_5_only():
    argv = ["user", "get", "john@lab.test", "--no-progress"]
    for emulate in ("bm4-2021", "bm4-2022"):
        assert bm.parse(argv, conf_of(emulate))[1]["no_progress"] is True
    with pytest.raises(bm.UsageError) as refused:
        bm.parse(argv, conf_of("bm5"))
    assert (refused.value.message, refused.value.code) == ("Unknown option: '--no-progress'", 2)
    assert bm.parse(["user", "get", "john@lab.test", "--progress"], conf_of("bm5"))[1]["progress"] is True


def test_commands_and_options_may_be_abbreviated():
    spec, opts = bm.parse(["mail", "history-q", "--em", "john@lab.test", "--qu=facture"], conf_of("bm5"))
    assert spec.path == ("mail", "history-query") and opts == {"email": "john@lab.test", "query": "facture"}
    spec, opts = bm.parse(["maint", "rep", "lab.test", "--op", "mailboxPostfixMaps", "--dry"], conf_of("bm5"))
    assert spec.path == ("maintenance", "repair") and opts["dry"] is True


def test_usage_errors_top_level_51_in_a_subcommand_2(capsys):
    assert bm.main(["mial", "history-imap"]) == 51
    assert "Unmatched argument at index 0: 'mial'" in capsys.readouterr().err
    assert bm.main(["mail", "unexpunge", "john@lab.test", "--x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Unknown option: '--x'\nUsage: bm-cli mail unexpunge")
    assert bm.main(["mail", "history-imap", "--email", "john@lab.test", "--imapUid", "abc"]) == 2
    assert "Invalid value for option '--imapUid': 'abc' is not a long" in capsys.readouterr().err


# --- the history's rules, on made-up records --------------------------------------------------


class Owners:
    def owner_of(self, folder: Any) -> Any:
        return bm.Entry(folder.kind, folder.owner, folder.domain)


def folder(owner: str, path: str, uniq: str, kind: str = "USER") -> Any:
    return bm.Folder(f"lab.test!user.{owner}", "lab.test", owner, kind, path, uniq, "/nonexistent")


def record(where: Any, uid: int, saved: int, updated: int, flags: int, guid: str = "ab" * 20) -> Any:
    modseq = 10 if updated > saved else 5
    return bm.Record(where, uid, saved, saved, updated, 100, flags, guid, modseq, 5)


def rows_of(text: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if line.startswith("|")][1:]


def test_history_one_row_per_changelog_entry_every_mailbox_leaf_names_flags_on_the_last_row():
    inbox, archive = folder("john", "INBOX", "u1"), folder("john", "Archives/2024", "u2")
    marie = folder("marie.durand", "INBOX", "u3")
    seen_deleted = bm.FLAG_SEEN | bm.FLAG_DELETED | bm.FLAG_EXPUNGED
    items = [record(inbox, 14, 1000, 1060, seen_deleted), record(archive, 3, 1060, 1060, bm.FLAG_SEEN)]
    items.append(record(marie, 9, 1000, 1000, 0))
    rows = rows_of(bm.history_table(Owners(), items))
    assert [r[1] for r in rows].count("Created") == 3 and [r[1] for r in rows].count("Updated") == 3
    assert {r[2] for r in rows} == {"John Doe (USER)", "Marie Durand (USER)"}
    assert {r[4] for r in rows} == {"INBOX", "2024"} and {r[3] for r in rows} >= {"mbox_records_u2"}
    john_inbox = [r for r in rows if r[5] == "14."]
    assert [r[6] for r in john_inbox] == ["", "", "", "Seen,Deleted"]  # flags on its last row only
    assert rows[-1][0].endswith("GMT 1970") and rows[0][0] == "Thu Jan 01 00:16:40 GMT 1970"
    assert next(r for r in rows if r[5] == "9.")[6] == ""  # no flags: empty, not blanked


def test_flags_are_blanked_on_a_row_whose_imap_uid_comes_again_even_in_another_folder():
    inbox, trash = folder("john", "INBOX", "u1"), folder("john", "Trash", "u2")
    rows = rows_of(bm.history_table(Owners(), [record(inbox, 5, 1000, 1000, 0), record(trash, 5, 2000, 2000, 16)]))
    assert [(r[4], r[5], r[6]) for r in rows] == [("INBOX", "5.", ""), ("Trash", "5.", "Seen")]


def test_two_entries_of_the_same_millisecond_collapse_the_later_item_wins(monkeypatch):
    inbox, trash = folder("john", "INBOX", "u1"), folder("marie.durand", "Trash", "u2")
    monkeypatch.setattr(bm, "changelog", lambda r: [(1_000_000, "Created" if r.uid == 1 else "Updated")])
    rows = rows_of(bm.history_table(Owners(), [record(inbox, 1, 1000, 1000, 0), record(trash, 2, 1000, 1000, 0)]))
    assert rows == [[bm.java_date(1000), "Created", "Marie Durand (USER)", "mbox_records_u2", "Trash", "2.", ""]]


def test_changelog_milliseconds_are_distinct_stable_and_in_order():
    inbox = folder("john", "INBOX", "u1")
    item = record(inbox, 14, 1000, 1000, bm.FLAG_SEEN | bm.FLAG_DELETED | bm.FLAG_EXPUNGED)
    log = bm.changelog(item)
    assert [kind for _, kind in log] == ["Created", "Updated", "Updated", "Updated"]
    stamps = [stamp for stamp, _ in log]
    assert stamps == sorted(set(stamps)) and stamps[0] // 1000 == 1000 and log == bm.changelog(item)


def test_display_names_and_owner_labels():
    assert bm.Entry("USER", "john", "lab.test").owner_label == "John Doe (USER)"
    assert bm.Entry("USER", "rh", "lab.test").owner_label == "Ressources Humaines (RH) (USER)"
    assert bm.Entry("USER", "bob.martin", "lab.test").display_name == "Bob Martin"
    assert bm.Entry("MAILSHARE", "projet", "lab.test").owner_label == "projet (MAILSHARE)"


def test_item_ids_are_not_imap_uids_and_are_stable():
    inbox = folder("john", "INBOX", "hv60dm33qc0rxz1l8w933kma")
    one, two = record(inbox, 14, 1000, 1000, 0), record(inbox, 15, 1000, 1000, 0)
    assert one.item_id != 14 and one.item_id > 10**6 and two.item_id == one.item_id + 1
    assert one.item_id == record(inbox, 14, 5, 5, 0).item_id
    assert record(folder("john", "Trash", "other"), 14, 1, 1, 0).item_id != one.item_id


def test_the_query_is_anded_accent_and_case_insensitive_with_phrases_and_exclusions():
    text = "Rappel: facture impayée, merci de régler"
    assert bm.query_matcher("FACTURE impayee")(text)
    assert not bm.query_matcher("facture apollon")(text)
    assert bm.query_matcher('"facture impayee"')(text) and not bm.query_matcher('"impayee facture"')(text)
    assert not bm.query_matcher("facture -regler")(text) and bm.query_matcher("fact*")(text)
    assert not bm.query_matcher("fact")(text)  # whole terms, as Elasticsearch's analyzer makes them


# --- on the lab -------------------------------------------------------------------------------

Run = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def bmcli(lab_config: Config, tmp_path: Path) -> Callable[[str], Run]:
    """`bmcli("bm5")(args...)`: the emulator run locally as root, as that version."""

    def version(emulate: str, **extra: str) -> Run:
        conf = tmp_path / f"{emulate}.conf"
        lines = [f"emulate = {emulate}", *(f"{k} = {v}" for k, v in extra.items())]
        conf.write_text("\n".join(lines) + "\n")

        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, str(SCRIPT), *args],
                capture_output=True,
                text=True,
                env={**os.environ, "BMCLI_LAB_CONF": str(conf)},
                timeout=60,
                check=False,
            )

        return run

    return version


def tables(text: str) -> list[list[list[str]]]:
    found: list[list[list[str]]] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("| Date ") and i and lines[i - 1].startswith("+"):
            found.append([])
        elif line.startswith("|") and found:
            found[-1].append([c.strip() for c in line.strip("|").split("|")])
    return found


def imap(*args: str) -> str:
    return subprocess.run(
        [sys.executable, str(IMAP_ADMIN), *args], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def test_installed_emulator_and_sudo_rights(lab_config: Config):
    assert Path("/usr/local/bin/bm-cli").read_bytes() == SCRIPT.read_bytes()
    assert Path("/etc/mailbot-lab").is_dir()
    rules = subprocess.run(["sudo", "-l", "-U", "bmsupport"], capture_output=True, text=True, check=True).stdout
    for shape in ("mail history-guid *", "maintenance list *", "maintenance repair *", "mail unexpunge *"):
        assert f"/usr/local/bin/bm-cli {shape}" in rules


def test_a_mail_to_two_colleagues_shows_both_inbox_copies_and_the_move_to_trash(bmcli):
    run = bmcli("bm4-2022")("mail", "history-query", "--email", "john@lab.test", "--query", "Invitation seminaire")
    assert run.returncode == 0 and run.stderr == ""
    found = tables(run.stdout)
    assert found, "traffic.sh's 'Invitation seminaire' is missing: run lab/traffic.sh"
    rows = found[-1]
    created = [(r[2], r[4]) for r in rows if r[1] == "Created"]
    assert ("John Doe (USER)", "INBOX") in created and ("Marie Durand (USER)", "INBOX") in created
    assert ("John Doe (USER)", "Trash") in created
    assert all(re.fullmatch(r"mbox_records_\S+", r[3]) and re.fullmatch(r"\d+\.", r[5]) for r in rows)
    assert re.fullmatch(r"\w{3} \w{3} \d\d \d\d:\d\d:\d\d GMT \d{4}", rows[0][0])
    john_inbox = [r for r in rows if r[2] == "John Doe (USER)" and r[4] == "INBOX"]
    assert john_inbox[-1][6] == "Seen,Deleted" and {r[1] for r in john_inbox} == {"Created", "Updated"}
    assert [r[6] for r in rows if r[4] == "Trash" and r[5] == john_inbox[0][5]] in ([], [""])


def test_history_imap_per_version(bmcli):
    query = bmcli("bm5")("mail", "history-query", "--email", "jdoe@lab.test", "--query", "Candidature spontanee")
    assert query.returncode == 0 and query.stdout == ""  # rh's mail, not john's: nothing
    rh = bmcli("bm5")("mail", "history-query", "--email", "rh@lab.test", "--query", "Candidature spontanee")
    rows = tables(rh.stdout)[0]
    assert rows[0][2] == "Ressources Humaines (RH) (USER)"
    uid = rows[0][5].rstrip(".")
    imap22 = bmcli("bm4-2022")("mail", "history-imap", "--email", "rh@lab.test", "--imapUid", uid)
    assert imap22.returncode == 0 and tables(imap22.stdout)[0][0][5] == f"{uid}."
    unknown22 = bmcli("bm4-2022")("mail", "history-imap", "--email", "rh@lab.test", "--imapUid", "999999")
    assert (unknown22.returncode, len(unknown22.stdout.splitlines())) == (0, 4)  # an empty table
    unknown21 = bmcli("bm4-2021")("mail", "history-imap", "--email", "rh@lab.test", "--imapUid", "999999")
    assert (unknown21.returncode, unknown21.stdout) == (0, "")
    refused = bmcli("bm4-2021")(
        "mail", "history-imap", "--email", "rh@lab.test", "--imapUid", uid, "--folderPath", "INBOX"
    )
    assert refused.returncode == 2 and refused.stderr.startswith("Unknown option: '--folderPath'\nUsage:")
    # bm4-2021 looks in every folder: UID 1 exists in john's INBOX, Archives and Trash
    every = bmcli("bm4-2021")("mail", "history-imap", "--email", "john@lab.test", "--imapUid", "1")
    assert len(tables(every.stdout)) >= 3


def test_history_imap_errors_are_bare_messages_or_a_java_stack_trace(bmcli):
    run = bmcli("bm5")
    npe = run("mail", "history-imap", "--email", "john@lab.test", "--imapUid", "1", "--folderPath", "Nope")
    assert npe.returncode == 1 and npe.stdout == ""
    assert npe.stderr.startswith("java.lang.NullPointerException")
    assert "\tat net.bluemind.cli.mail.MailHistoryByImapUIDCommand." in npe.stderr
    user = run("mail", "history-imap", "--email", "nobody@lab.test", "--imapUid", "1")
    assert (user.returncode, user.stderr) == (1, "user nobody@lab.test not found\n")
    domain = run("mail", "history-imap", "--email", "nobody@nowhere.example", "--imapUid", "1")
    assert (domain.returncode, domain.stderr) == (1, "Invalid or unknown domain : nowhere.example\n")


def test_history_of_a_mailshare_and_through_an_alias(bmcli):
    run = bmcli("bm4-2022")
    query = run("mail", "history-query", "--email", "projet@lab.test", "--query", "Apollon")
    assert query.returncode == 0
    rows = tables(query.stdout)[0]
    shared = next(r for r in rows if r[2] == "projet (MAILSHARE)")
    inbox = next(r for r in rows if r[2] == "John Doe (USER)" and r[4] == "INBOX")
    assert shared[4] == "projet"  # a mailshare's root folder: the share's name
    by_alias = run("mail", "history-imap", "--email", "jdoe@lab.test", "--imapUid", inbox[5][:-1])
    assert by_alias.returncode == 0 and any(r[2] == "projet (MAILSHARE)" for r in tables(by_alias.stdout)[0])
    share = run(
        "mail", "history-imap", "--email", "projet@lab.test", "--folderPath", "projet", "--imapUid", shared[5][:-1]
    )
    assert share.returncode == 0 and any(r[2] == "John Doe (USER)" for r in tables(share.stdout)[0])
    # the search index forgets expunged mail: john's own copies were all moved away
    assert run("mail", "history-query", "--email", "john@lab.test", "--query", "Apollon").stdout == ""
    none = run("mail", "history-query", "--email", "john@lab.test", "--query", "zzzqqqnothing")
    assert (none.returncode, none.stdout) == (0, "")


def skipping(text: str) -> list[tuple[str, str, str, str]]:
    pattern = (
        r"^Skipping action on ItemValue\{uid: (\d+)\., id: (\d+), .*value: \[rec imap: (\d+), body: ([0-9a-f]{40}), "
        r"flags: \[[^\]]*\\Deleted[^\]]*\]\]\} because dry mode is enabled\.$"
    )
    return re.findall(pattern, text, re.M)


def test_unexpunge_listing_per_version(bmcli):
    five = bmcli("bm5")("mail", "unexpunge", "john@lab.test", "--dry")
    assert five.returncode == 0
    lines = five.stdout.splitlines()
    assert lines[0] == "authN resolves to john@lab.test"
    assert re.fullmatch(r"Partition is .*, checked folder is 'INBOX'", lines[1])
    assert lines[2].startswith("Located folder is ItemValue{")
    counted = re.fullmatch(r"Folder has (\d+) deleted message\(s\)", lines[3])
    assert counted is not None
    count = int(counted[1])
    items = skipping(five.stdout)
    assert len(items) == count >= 7
    assert all(uid == imap_uid and int(item_id) != int(uid) for uid, item_id, imap_uid, _ in items)
    assert f"Checked {count} deleted item(s), will restore 0 item(s)" in lines
    table_ids = {line.split("|")[1].strip() for line in lines if re.match(r"^\| +\d+ \|", line)}
    assert table_ids == {item_id for _, item_id, _, _ in items}
    four = bmcli("bm4-2022")("mail", "unexpunge", "john@lab.test", "--dry")
    assert "Skipping action" not in four.stdout
    assert [line for line in four.stdout.splitlines() if line.startswith("Checked")] == [lines[-1]]
    unknown = bmcli("bm5")("mail", "unexpunge", "john@lab.test", "--folder", "Nope", "--dry")
    assert unknown.returncode == 0
    assert "Could not locate folder 'Nope', available folders are:\n * INBOX\n" in unknown.stdout
    assert " * Trash\n" in unknown.stdout and " * Archives\n" in unknown.stdout


def test_unexpunge_of_a_mailshare_needs_authn(bmcli):
    run = bmcli("bm5")
    refused = run("mail", "unexpunge", "projet@lab.test", "--dry")
    assert refused.returncode == 1 and refused.stderr.startswith("To recover from ItemValue{")
    assert refused.stderr.endswith(
        "you need to specify --authn with the alias of a user with write perms on the mailbox\n"
    )
    ok = run("mail", "unexpunge", "projet@lab.test", "--authn", "jdoe@lab.test", "--dry")
    assert ok.returncode == 0 and ok.stdout.splitlines()[:2][0] == "authN resolves to john@lab.test"
    assert "checked folder is 'projet'" in ok.stdout


@pytest.fixture
def scratch_folder(lab_config: Config) -> str:
    """bob.martin's folder Emulateur, with one fresh expunged mail (under lab/up.sh's lock)."""
    imap("ensure", "user/bob.martin/Emulateur@lab.test")
    return "Emulateur"


def expunge_one(subject: str, body: str) -> None:
    uid = imap("append", "bob.martin@lab.test", "INBOX/Emulateur", subject, "--body", body)
    imap("expunge", "bob.martin@lab.test", uid, "--folder", "INBOX/Emulateur")


def test_unexpunge_restores_by_id_with_a_new_uid_found_again_by_guid(bmcli, scratch_folder):
    run = bmcli("bm5")
    expunge_one("Emulateur: restore me", "Un courrier a rendre. " * 20)
    listing = run("mail", "unexpunge", "bob.martin@lab.test", "--folder", scratch_folder, "--dry")
    items = skipping(listing.stdout)
    uid, item_id, _, guid = items[-1]
    assert "Un courrier a rendre. Un courrier" in listing.stdout  # the preview, wrapped
    dry = run("mail", "unexpunge", "bob.martin@lab.test", "--folder", scratch_folder, "--id", item_id, "--dry")
    assert dry.stdout.splitlines()[-2:] == [f"Recover message with id {item_id}", "dry mode is ON."]
    done = run("mail", "unexpunge", "bob.martin@lab.test", "--folder", scratch_folder, "--id", item_id)
    assert done.returncode == 0 and re.fullmatch(r"ack: \d+", done.stdout.splitlines()[-1])
    history = run("mail", "history-guid", "--body-guid", guid)
    rows = tables(history.stdout)[0]
    live = [r for r in rows if r[5] != f"{uid}." and r[4] == scratch_folder]
    assert live and live[-1][2] == "Bob Martin (USER)"  # the restored copy, under a new UID
    assert (
        len(skipping(run("mail", "unexpunge", "bob.martin@lab.test", "--folder", scratch_folder, "--dry").stdout))
        == len(items) - 1
    )


def test_unexpunge_by_days_and_without_action(bmcli, scratch_folder):
    run = bmcli("bm4-2022")
    expunge_one("Emulateur: by days", "Par jours.")
    nothing = run("mail", "unexpunge", "bob.martin@lab.test", "--folder", scratch_folder)
    counted = re.search(r"Folder has (\d+) deleted", nothing.stdout)
    assert counted is not None
    before = int(counted[1])
    assert f"Checked {before} deleted item(s), will restore {before} item(s)" in nothing.stdout
    assert "ack" not in nothing.stdout  # neither --days nor --id: nothing restored
    days = run("mail", "unexpunge", "bob.martin@lab.test", "--folder", scratch_folder, "--days", "1")
    assert "Recovering messages less than 1 day(s)) old" in days.stdout
    assert len(re.findall(r"^ack received: \d+$", days.stdout, re.M)) >= 1
    after = run("mail", "unexpunge", "bob.martin@lab.test", "--folder", scratch_folder, "--dry")
    assert "Folder has 0 deleted message(s)" in after.stdout


def test_history_guid_of_an_unknown_guid_is_an_empty_table(bmcli):
    run = bmcli("bm5")("mail", "history-guid", "--body-guid", "0" * 40)
    assert run.returncode == 0 and len(run.stdout.splitlines()) == 4


def test_user_get_and_its_errors(bmcli):
    run = bmcli("bm4-2022")
    alias = run("user", "get", "jdoe@lab.test", "--display", "login email", "--no-progress")
    assert (alias.returncode, alias.stdout, alias.stderr) == (0, '{"email":"john@lab.test","login":"john"}\n', "")
    full = run("user", "get", "john@lab-alias.test", "--display", "uid email extId login aliases", "--no-progress")
    assert list(json.loads(full.stdout)) == ["uid", "email", "extId", "login", "aliases"]
    progress = run("user", "get", "john@lab.test", "--display", "login")
    assert progress.stderr == "Global progress 1/1 (100%)\n"
    for target, message in [
        ("nobody@lab.test", "No mailbox matches nobody@lab.test"),
        ("not an email@lab.test", "Target is not a valid email not an email@lab.test"),
        ("john@nowhere.example", "Invalid or unknown domain : nowhere.example"),
        ("projet@lab.test", "Your search for 'projet@lab.test' did not match anything"),
    ]:
        refused = run("user", "get", target, "--no-progress")
        assert (refused.returncode, refused.stdout, refused.stderr) == (1, "", message + "\n")
    five = bmcli("bm5")("user", "get", "john@lab.test", "--no-progress")
    assert five.returncode == 2 and five.stderr.startswith("Unknown option: '--no-progress'")


def test_maintenance_list_users_and_mailshares(bmcli):
    run = bmcli("bm5")
    john = json.loads(run("maintenance", "list", "jdoe@lab.test").stdout)
    assert john["kind"] == "USER" and john["email"] == "john@lab.test" and john["displayName"] == "John Doe"
    assert [e["address"] for e in john["emails"]] == ["john@lab.test", "jdoe@lab.test"]
    share = json.loads(run("maintenance", "list", "projet@lab.test").stdout)
    assert (share["kind"], share["email"], share["displayName"]) == ("MAILSHARE", "projet@lab.test", "projet")
    assert re.fullmatch(r"[0-9A-F-]{36}", share["entryUid"])
    unknown = run("maintenance", "list", "nobody@lab.test")
    assert (unknown.returncode, unknown.stdout, unknown.stderr) == (1, "", "No mailbox matches nobody@lab.test\n")


def wait_for(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.05)
    return False


def test_repair_rewrites_the_maps_later_in_the_background(bmcli, tmp_path):
    maps, log = tmp_path / "maps", tmp_path / "core.log"
    maps.write_text("ghost@lab.test OK\n")
    run = bmcli("bm5", repair_delay="1", maps_file=str(maps), core_log=str(log))
    started = time.monotonic()
    done = run("maintenance", "repair", "jdoe@lab.test", "--ops", "mailboxPostfixMaps")
    assert time.monotonic() - started < 1 and done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0] == "Selected ops: [mailboxPostfixMaps]"
    assert all(re.match(r"^\[john@lab\.test \([0-9A-F-]{36}\)\] ", line) for line in lines[1:])
    assert maps.read_text() == "ghost@lab.test OK\n"  # not yet: bm-core acts later
    assert wait_for(log, 10)
    assert re.fullmatch(r".* INFO - Postfix maps updated \(\d+ ms\)\n", log.read_text())
    text = maps.read_text()
    assert text.startswith("# ") and "john@lab.test OK\n" in text and "ghost@lab.test" not in text
    assert "projet@lab.test" not in text and Path(str(maps) + ".db").exists()


def test_repair_failures_and_dry_run_rewrite_nothing(bmcli, tmp_path):
    maps, log = tmp_path / "maps", tmp_path / "core.log"
    maps.write_text("ghost@lab.test OK\n")
    extra = {"repair_delay": "0.2", "maps_file": str(maps), "core_log": str(log)}
    task = bmcli("bm4-2022", repair="fail-task", **extra)(
        "maintenance", "repair", "john@lab.test", "--ops", "mailboxPostfixMaps"
    )
    assert task.returncode == 0 and task.stderr.startswith("Failed to repair entry ")
    dry = bmcli("bm4-2022", **extra)("maintenance", "repair", "john@lab.test", "--ops", "mailboxPostfixMaps", "--dry")
    assert dry.returncode == 0 and "Selected ops: [mailboxPostfixMaps]" in dry.stdout
    time.sleep(1)
    assert not log.exists() and maps.read_text() == "ghost@lab.test OK\n"
    fail = bmcli("bm5", repair="fail-maps", **extra)(
        "maintenance", "repair", "john@lab.test", "--ops", "mailboxPostfixMaps"
    )
    assert fail.returncode == 0 and fail.stdout.startswith("Selected ops: [mailboxPostfixMaps]\n")
    assert wait_for(log, 10)
    time.sleep(0.2)
    assert "ERROR - Fail to update postfix maps" in log.read_text() and maps.read_text() == "ghost@lab.test OK\n"
