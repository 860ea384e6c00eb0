"""French and English: the catalogue is complete, every answer reads wholly French for a French
reader (CLI and Slack, on lab data), English stays as it was, and `--json` never changes.

The leak detector: every message id of the catalogue, cut at its placeholders, must not appear in a
French answer, unless the French translation holds the same words (`UID`, `DSN`, `Messages`) or the
words are in ALLOWED (host output quoted as is, tool and option names).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot import i18n
from bot.i18n import _, ngettext
from bot.mailhost.values import TRACE_STATUSES
from bot.verbs import VERBS
from bot.verbs.trace import since_words as trace_since
from tests.conftest import ROOT, run_mailbot
from tests.test_cli import config_with

POT = ROOT / "bot" / "locale" / "messages.pot"
FRENCH_PO = ROOT / "bot" / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
# Words that are the same in French, or that the hosts print (quoted as is), or names of things.
ALLOWED = {"DSN", "Postfix", "UID", "INBOX", "Message-ID", "Over quota", "Trash", "bm-cli", "options", "Deleted"}
ALLOWED |= {"unknown", "refused"}  # hosts answer "User unknown", "Connection refused": quoted, not ours
ALLOWED |= set(VERBS)  # the verbs are commands: `restore jdoe@lab.test 14`
ALLOWED |= set(TRACE_STATUSES)  # and the values of `trace --status` are typed as they are
FIELD = re.compile(r"\{[^{}]*\}|%\(\w+\)[a-z]|%[a-z]")


def catalogue() -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(msgid and plural, translations) of every entry of the French catalogue."""
    with FRENCH_PO.open("rb") as source:
        french = read_po(source, locale="fr")
    entries: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for message in french:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        entries.append((tuple(str(i) for i in ids), tuple(str(s or "") for s in strings)))
    return entries


def fragments(entry: tuple[tuple[str, ...], tuple[str, ...]]) -> Iterator[str]:
    """The English words of a message id that a French answer must not show."""
    ids, strings = entry
    french = " ".join(strings)
    for text in ids:
        for piece in FIELD.split(text):
            piece = piece.strip(" \n:;,.()*`…-[]·'\"")
            # one short word (`To`, `ok`, `no`) is too ambiguous to look for in host output
            if len(piece) < 5 or not re.search(r"[A-Za-z]{3}", piece) or piece in ALLOWED or piece in french:
                continue
            yield piece


LEAK_WORDS = sorted({piece for entry in catalogue() for piece in fragments(entry)}, key=len, reverse=True)
LEAK = re.compile("|".join(rf"(?<![\w@.-]){re.escape(piece)}(?![\w@-])" for piece in LEAK_WORDS))


# English words no French sentence uses, looked for outside what is quoted (code, a server's reply):
# a literal that never went through the catalogue shows up here, where the msgid check cannot see it.
ENGLISH = re.compile(
    r"(?<![\w@.\-/])(the|and|was|were|been|has|have|will|would|could|should|this|these|those|which|"
    r"your|you|during|because|before|after|while|still|held|shared|answer|probe|exit|failed|"
    r"found|missing|waiting|queued|delivered|bounced|deferred|expired|hidden)"
    r"(?![\w@\-/])",
    re.IGNORECASE,
)
QUOTED = re.compile(
    r"```.*?```|`[^`\n]*`|\"[^\"\n]*\"|'[^'\n]*'|«[^»]*»|\([^()\n]*\b(?:said|reply|command)\b[^()\n]*\)"
    r"|<[^<>\s]+>|\S+@\S+|\b\d{3} \d\.\d{1,3}\.\d{1,3}\b.*$",
    re.DOTALL | re.MULTILINE,
)


def english_left(text: str) -> list[str]:
    """The catalogue's English that a French answer shows, and English words that never went through it."""
    found = {match.group(0) for match in LEAK.finditer(text)}
    unquoted = QUOTED.sub(" ", text)
    found |= {match.group(0) for match in ENGLISH.finditer(unquoted) if match.group(0) not in ALLOWED}
    return sorted(found)


OVER_QUOTA = "pleine@lab.test"  # lab/up.sh gives it a 10 KB quota; only these tests write to it


def queued_over_quota() -> list[str]:
    trace = json.loads(run_mailbot("trace", OVER_QUOTA, "--json").stdout)
    return [q["queue_id"] for q in trace["queued"] if "Over quota" in (q["reason"] or "")]


def send(subject: str, size: int) -> None:
    body = "Bonjour,\n" + ("0123456789" * 7 + "\n") * (size // 71)
    subprocess.run(
        [
            *("swaks", "--silent", "2", "--server", "127.0.0.1", "--port", "2525"),
            *("--from", "alice@partner.example", "--to", OVER_QUOTA, "--header", f"Subject: {subject}", "--body", body),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def over_quota(lab_config) -> str:
    return fill_over_quota()


def fill_over_quota() -> str:
    """pleine@lab.test over quota with mail waiting in the queue (the way full@lab.test is, but
    ours alone: the other suites flush full@lab.test's queue)."""
    if not queued_over_quota():
        send("Premier gros message", 15_000)  # accepted: the mailbox was under its quota
        deadline = time.monotonic() + 30
        while not queued_over_quota() and time.monotonic() < deadline:
            send("Message en trop", 2_000)  # deferred once the mailbox is over quota
            time.sleep(1)
    assert queued_over_quota(), "pleine@lab.test never went over quota"
    return OVER_QUOTA


def french(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_mailbot("--lang", "fr", *(["--config", str(config)] if config else []), *args)


# --- (a) the catalogue --------------------------------------------------------------------------


def test_every_message_id_has_a_french_entry_with_the_same_placeholders():
    with FRENCH_PO.open("rb") as source:
        french_po = read_po(source, locale="fr")
    fuzzy = [m.id for m in french_po if m.id and m.fuzzy]
    assert fuzzy == [], f"fuzzy entries: {fuzzy[:5]}"
    entries = catalogue()
    assert len(entries) > 400
    empty = [ids[0] for ids, strings in entries if not all(strings)]
    assert empty == [], f"{len(empty)} message ids without French: {empty[:5]}"
    for ids, strings in entries:
        for form, translated in enumerate(strings):
            wanted, got = set(FIELD.findall(ids[-1])), set(FIELD.findall(translated))
            # a singular may leave its count out ("Le dernier enregistrement"), never add a field
            assert got == wanted if form or len(ids) == 1 else got <= wanted, (ids, translated)


def test_the_catalogue_holds_every_string_the_code_marks():
    """`make messages` was run: the template and the French catalogue have every msgid of the code."""
    marked = {
        (message[2] if isinstance(message[2], str) else message[2][0])
        for message in extract_from_dir(str(ROOT / "bot"), method_map=[("**.py", "python")])
    }
    with POT.open("rb") as source:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(source) if m.id}
    assert marked - template == set(), "new strings: run `make messages` and translate them"
    translated = {ids[0] for ids, _strings in catalogue()}
    assert template - translated == set()


def test_english_is_the_code_and_french_follows_its_plural_rule():
    assert _("What to do") == "What to do"
    assert ngettext("{count} message", "{count} messages", 1) == "{count} message"
    with i18n.use_language("fr-FR"):
        assert _("What to do") == "Que faire"
        assert _("a text the catalogue lacks") == "a text the catalogue lacks"
        days = "the host keeps them {days} day after the deletion."
        plural = "the host keeps them {days} days after the deletion."
        assert ngettext(days, plural, 0).format(days=0) == "le serveur les garde 0 jour après la suppression."
        assert ngettext(days, plural, 1).format(days=1) == "le serveur les garde 1 jour après la suppression."
        assert ngettext(days, plural, 3).format(days=3) == "le serveur les garde 3 jours après la suppression."
    assert _("What to do") == "What to do"  # the block ended: back to English


def test_dates_sizes_and_durations_in_the_readers_conventions():
    stamp = datetime(2026, 12, 2, 14, 3, tzinfo=UTC)
    assert (i18n.short_time(stamp), i18n.size(1258291)) == ("12-02 14:03", "1.2 MB")
    assert (i18n.size(512), i18n.size(12 * 1024)) == ("512 B", "12 kB")
    assert (trace_since(timedelta(days=2)), trace_since(timedelta(hours=36))) == ("2d", "36h")
    with i18n.use_language("fr"):
        assert i18n.short_time(stamp) == "2 déc. 14:03"
        assert i18n.size(1258291).replace("\xa0", " ") == "1,2 Mo"
        assert i18n.size(12 * 1024).replace("\xa0", " ") == "12 ko"
        assert (trace_since(timedelta(days=2)), trace_since(timedelta(hours=36))) == ("2 jours", "1 jour 12 heures")
        assert i18n.decimal(1.5) == "1,5"


def test_the_language_is_per_thread_of_work():
    """A ContextVar: a French job and an English job at the same moment do not see each other's."""
    seen: dict[str, str] = {}
    both_inside = threading.Barrier(2, timeout=5)

    def job(language: str) -> None:
        with i18n.use_language(language):
            both_inside.wait()
            seen[language] = _("What to do")

    threads = [threading.Thread(target=job, args=(language,)) for language in ("fr", "en")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"fr": "Que faire", "en": "What to do"}


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"LC_ALL": "fr_FR.UTF-8", "LANG": "en_US.UTF-8"}, "fr"),
        ({"LC_ALL": "", "LC_MESSAGES": "fr_CA.UTF-8", "LANG": "C.UTF-8"}, "fr"),
        ({"LANG": "fr_BE.UTF-8"}, "fr"),
        ({"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, "en"),  # the first non-empty one decides
        ({"LANG": "de_DE.UTF-8"}, "en"),  # no German catalogue
        ({}, "en"),
    ],
)
def test_the_terminal_language(environment, expected):
    assert i18n.language_from_environment(environment) == expected


# --- (b), (c) every verb's answer in French, on lab data ------------------------------------------


def test_trace_is_wholly_french_with_its_hints(over_quota):
    full = french("trace", "full@lab.test")  # what `make run` shows, whatever its queue holds now
    assert full.returncode == 0, full.stderr
    assert full.stdout.startswith("Trace de full@lab.test sur lab, edge : ")
    assert "Ce que chaque message est devenu" in full.stdout and "différé" in full.stdout
    assert "boîte pleine ; toujours en file, renvoyé à l'expéditeur le" in " ".join(full.stdout.split())
    assert re.search(r"^\d{1,2} [a-zéû]{3,4}\.? \d\d:\d\d ", full.stdout, re.M), "verdicts dated in French"
    assert english_left(full.stdout) == []
    run = french("trace", over_quota, "--attempts")
    assert run.returncode == 0, run.stderr
    text = run.stdout
    assert text.startswith(f"Trace de {over_quota} sur lab, edge : ")
    assert "Que faire" in text and "Encore en file d'attente" in text
    assert f"La boîte aux lettres de {over_quota} a dépassé son quota" in " ".join(text.split())
    assert "relancez la file (postqueue -f)" in " ".join(text.split())
    assert re.search(r"^lab +\d{1,2} [a-zéû]{3,4}\.? \d\d:\d\d ", text, re.M), "dates as a French reader writes them"
    assert re.search(r"\d+\xa0?ko ", text), "sizes in ko"
    assert max(len(line) for line in text.splitlines()) <= 100  # French words are longer: still a laptop's width
    assert english_left(text) == []
    english = run_mailbot("--lang", "en", "trace", over_quota).stdout
    assert english.startswith(f"Trace of {over_quota} on lab, edge: ") and "What to do" in english
    assert "over quota" in english and english_left(english) != []


def test_the_terminal_locale_chooses_french_and_lang_overrides_it(lab_config):
    environment = {**os.environ, "LANG": "fr_FR.UTF-8", "LC_ALL": ""}
    command = [sys.executable, "-m", "bot", "trace", "nobody-i18n@lab.test"]
    by_locale = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    assert by_locale.stdout.startswith("Trace de nobody-i18n@lab.test")
    assert "Rien pour nobody-i18n@lab.test entre le " in by_locale.stdout
    forced = subprocess.run(
        [*command[:3], "--lang", "en", *command[3:]], capture_output=True, text=True, env=environment
    )
    assert forced.stdout.startswith("Trace of nobody-i18n@lab.test")


@pytest.mark.parametrize(
    "args",
    [
        ["queue"],
        ["queue", "lab.test"],
        ["deleted", "jdoe@lab.test"],
        ["search", "john@lab.test", "facture", "impayee"],
        ["message", "<nothing-i18n@lab.test>"],
        ["audit", "5"],
        ["check"],
    ],
    ids=lambda args: "-".join(args[:2]),
)
def test_every_verb_answers_in_french(lab_config, args):
    run = french(*args)
    assert run.returncode in (0, 1), run.stderr
    assert run.stdout.strip(), run.stderr
    assert english_left(run.stdout + run.stderr) == []


def test_history_reads_the_story_in_french(lab_config):
    found = json.loads(run_mailbot("search", "john@lab.test", "facture", "impayee", "--json").stdout)
    uid = found["mails"][-1]["uid"]
    run = french("history", "jdoe@lab.test", str(uid))
    assert run.returncode == 0, run.stderr
    assert f"UID {uid} dans INBOX de user/john@lab.test (jdoe@lab.test via bm-cli) sur lab : " in run.stdout
    assert "déplacé dans la Corbeille" in " ".join(run.stdout.split())
    assert english_left(run.stdout) == []


@pytest.mark.parametrize(
    ("args", "french_words"),
    [
        (["trace", "not an address"], "n'est pas une adresse e-mail"),
        (["trace", "john@lab.test", "--since", "soon"], "n'est pas une durée"),
        (["restore", "john@lab.test", "1"], "modifie le système de messagerie ; ajoutez --yes"),
        (["frobnicate"], "choix invalide"),
        (["trace"], "Dites quoi tracer : une adresse, ou --client IP"),
    ],
)
def test_bad_input_is_one_french_sentence(lab_config, args, french_words):
    run = french(*args)
    assert run.returncode == 2
    assert french_words in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert english_left(run.stderr) == []


def test_host_down_and_unknown_host_key_in_french(lab_config, tmp_path):
    with socket_closed() as port:
        down = french("trace", "john@lab.test", config=config_with(tmp_path, port=port, connect_timeout=2))
    assert down.returncode == 1
    assert "Connexion impossible à lab" in down.stderr or "n'a pas répondu en 2 s" in down.stderr
    assert english_left(down.stderr) == []
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("[127.0.0.1]:2222 " + " ".join(Path(f"{other}.pub").read_text().split()[:2]) + "\n")
    changed = french("trace", "john@lab.test", config=config_with(tmp_path, known_hosts=str(known_hosts)))
    assert changed.returncode == 1
    assert "ne correspond pas à la clé épinglée" in changed.stderr and "Rien n'a été exécuté" in changed.stderr
    assert english_left(changed.stderr) == []
    known_hosts.write_text("")
    unknown = french("trace", "john@lab.test", config=config_with(tmp_path, known_hosts=str(known_hosts)))
    assert unknown.returncode == 1
    assert "qui n'est pas dans" in unknown.stderr and "le bot n'ajoute jamais de clé" in unknown.stderr
    assert english_left(unknown.stderr) == []


def test_help_is_french():
    top = french("--help")
    assert top.returncode == 0
    assert top.stdout.startswith("usage : mailbot")
    assert "afficher ce message d'aide et quitter" in top.stdout
    assert "tous les messages vers ou depuis une adresse" in top.stdout
    trace_help = french("trace", "--help")
    assert "l'adresse e-mail à suivre" in trace_help.stdout and "arguments positionnels" in trace_help.stdout
    for text in (top.stdout, trace_help.stdout):
        assert english_left(text) == []


def test_json_is_the_same_in_both_languages(lab_config):
    """`--json` is for programs: keys, values and hints stay English whatever the reader's language."""
    for args in (["trace", "nobody-i18n@lab.test", "--json"], ["trace", "john@lab.test", "--since", "400d", "--json"]):
        documents = [json.loads(run_mailbot("--lang", language, *args).stdout) for language in ("en", "fr")]
        environment = {**os.environ, "LANG": "fr_FR.UTF-8"}
        by_locale = subprocess.run(
            [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=environment, check=True
        )
        documents.append(json.loads(by_locale.stdout))
        if args[1] == "nobody-i18n@lab.test":
            assert documents[0]["hints"][0].startswith("Nothing for nobody-i18n@lab.test between ")
            assert documents[0] == documents[1] == documents[2]
        else:  # john's log may grow between runs (the lab is shared): the same shape and English hints
            assert documents[0].keys() == documents[1].keys() == documents[2].keys()
            assert all(not english_left_words_are_french(d["hints"]) for d in documents)


def english_left_words_are_french(hints: list[str]) -> bool:
    return any(word in " ".join(hints) for word in ("boîte", "file d'attente", "message attend"))


class socket_closed:
    """A local TCP port that nothing listens on (bound, then closed)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None
