"""What a start of `mailbot` loads (issue 24): only the verb that runs, no SSH or config library for
`--help` or a refused address, the French catalogue read compiled once it was compiled.

Times are not asserted here (`bench/startup.py` measures them against `python -c pass`); what is
imported is, since that is what the times follow from.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.startup import PROBE, modules_in
from bot import i18n
from bot.errors import ConfigError
from bot.verbs import LISTED, VERBS
from tests.conftest import ROOT

VERB_MODULES = {f"bot.verbs.{entry.module}" for entry in LISTED}


def probed(probe: str, words: tuple[str, ...], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`mailbot WORDS` run by `probe`, a program that starts the CLI and says what it saw on stderr."""
    return subprocess.run(
        [sys.executable, "-c", probe, *words],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def loaded(*words: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    run = probed(PROBE, words, env)
    modules = modules_in(run.stderr)
    assert modules is not None, run.stderr
    return run, modules


def test_the_table_summaries_are_the_verbs_own() -> None:
    """`--help` shows the table's summaries without importing the verbs: they must be the same words."""
    for entry in LISTED:
        verb = VERBS[entry.name]
        assert (verb.name, verb.summary) == (entry.name, entry.summary)
    assert list(VERBS) == [entry.name for entry in LISTED]


@pytest.mark.parametrize(
    ("words", "code"),
    [(("--version",), 0), (("--help",), 0), (("--lang", "fr", "--help"), 0), (("trce", "x@y.z"), 2)],
)
def test_version_and_help_import_no_verb_nor_ssh_nor_config(words: tuple[str, ...], code: int) -> None:
    run, modules = loaded(*words)
    assert run.returncode == code, run.stderr
    assert modules & VERB_MODULES == set()
    assert not {"paramiko", "bot.config", "yaml", "tabulate", "babel.messages.pofile"} & modules


def test_a_refused_address_imports_its_verb_alone_and_no_ssh() -> None:
    run, modules = loaded("trace", "not-an-address")
    assert run.returncode == 2 and "is not an email address" in run.stderr
    assert modules & VERB_MODULES == {"bot.verbs.trace"}
    assert not {"paramiko", "bot.config", "yaml", "tabulate"} & modules


def test_a_verb_help_imports_that_verb_alone() -> None:
    run, modules = loaded("restore", "--help")
    assert run.returncode == 0 and "--yes" in run.stdout
    assert modules & VERB_MODULES == {"bot.verbs.restore", "bot.verbs.deleted"}  # restore lists with deleted's


def test_the_french_catalogue_is_compiled_once_then_read(tmp_path: Path) -> None:
    env = {"MAILBOT_CACHE_DIR": str(tmp_path / "cache")}
    first, modules = loaded("--lang", "fr", "--help", env=env)
    assert "babel.messages.pofile" in modules and "Répond" in first.stdout
    compiled = list((tmp_path / "cache").glob("messages-fr-*.mo"))
    assert len(compiled) == 1 and compiled[0].stat().st_mode & 0o777 == 0o644
    second, modules = loaded("--lang", "fr", "--help", env=env)
    assert "babel.messages.pofile" not in modules
    assert second.stdout == first.stdout


def test_a_damaged_or_unwritable_cache_still_speaks_french(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    english = "the deleted mails of a mailbox that can still be restored"
    expected = i18n._compile(i18n.LOCALE_DIR.joinpath("fr/LC_MESSAGES/messages.po").read_bytes(), "fr")
    assert expected is not None
    cache = tmp_path / "cache"
    cache.mkdir()
    name = i18n._compiled_name("fr", i18n.LOCALE_DIR.joinpath("fr/LC_MESSAGES/messages.po").read_bytes())
    (cache / name).write_bytes(b"not a catalogue")
    (cache / "messages-fr-0000.mo").write_bytes(expected)  # an older version's: removed when rewritten
    monkeypatch.setenv("MAILBOT_CACHE_DIR", str(cache))
    i18n._translations.cache_clear()
    try:
        with i18n.use_language("fr"):
            french = i18n._(english)
        assert french != english
        assert (cache / name).read_bytes() == expected
        assert not (cache / "messages-fr-0000.mo").exists()
        # nowhere to write (a file where the folder should be): compiled in memory, the same words
        monkeypatch.setenv("MAILBOT_CACHE_DIR", str(tmp_path / "cache" / name / "below"))
        i18n._translations.cache_clear()
        with i18n.use_language("fr"):
            assert i18n._(english) == french
    finally:
        i18n._translations.cache_clear()


def test_compile_catalogues_writes_what_a_start_reads(tmp_path: Path) -> None:
    """The install step (the Dockerfile's): the compiled file a start looks for, by the .po's hash."""
    written = i18n.compile_catalogues(tmp_path)
    source = i18n.LOCALE_DIR.joinpath("fr/LC_MESSAGES/messages.po").read_bytes()
    assert written == [tmp_path / i18n._compiled_name("fr", source)]


# What the record classes' methods cost a start: compiled once, then read (bot/startup.py).
COMPILED = (
    "import sys\n"
    "from bot import startup\n"
    "from bot.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "sys.stderr.write(f'\\ncompiled: {startup._new}\\n')\n"
    "startup.keep()\n"
    "sys.exit(code)\n"
)


def compiled_at_start(cache: Path, *words: str) -> tuple[subprocess.CompletedProcess[str], int]:
    run = probed(COMPILED, words, {"MAILBOT_CACHE_DIR": str(cache)})
    counts = [line for line in run.stderr.splitlines() if line.startswith("compiled: ")]
    assert counts, run.stderr
    return run, int(counts[-1].split()[1])


def test_the_record_methods_are_compiled_once_then_read(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, compiled = compiled_at_start(cache, "trace", "not-an-address")
    assert first.returncode == 2 and compiled > 50  # every record class of the verb, the config, the parsers
    kept = list(cache.glob("record-methods-*.marshal"))
    assert len(kept) == 1 and kept[0].stat().st_mode & 0o777 == 0o600
    second, compiled = compiled_at_start(cache, "trace", "not-an-address")
    assert compiled == 0
    assert (second.returncode, second.stdout) == (first.returncode, first.stdout)
    # another verb's classes are added to the same file, the first ones kept
    _, compiled = compiled_at_start(cache, "deleted", "not-an-address")
    assert compiled > 0
    assert compiled_at_start(cache, "trace", "not-an-address")[1] == 0
    assert compiled_at_start(cache, "deleted", "not-an-address")[1] == 0


def test_a_damaged_or_foreign_file_is_not_read(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    compiled_at_start(cache, "trace", "not-an-address")
    [kept] = cache.glob("record-methods-*.marshal")
    kept.chmod(0o666)  # others could have written it: what it holds would run as this user
    run, compiled = compiled_at_start(cache, "trace", "not-an-address")
    assert compiled > 50 and run.returncode == 2 and "is not an email address" in run.stderr
    kept.write_bytes(kept.read_bytes()[:1000])  # cut short: compiled again, written whole again
    kept.chmod(0o600)
    run, compiled = compiled_at_start(cache, "trace", "not-an-address")
    assert compiled > 50 and run.returncode == 2
    assert compiled_at_start(cache, "trace", "not-an-address")[1] == 0


def test_a_record_made_from_kept_code_is_the_same_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kept code is what `dataclasses` compiled: equality, hashing, text and frozenness alike."""
    from dataclasses import FrozenInstanceError, dataclass, field

    from bot import startup

    def make() -> type:
        @dataclass(frozen=True, slots=True)
        class Delivered:
            queue_id: str
            relay: str = "local"
            hops: tuple[str, ...] = field(default=())

        return Delivered

    monkeypatch.setattr(startup, "_kept", {})
    monkeypatch.setattr(startup, "_used", {})
    fresh = make()
    monkeypatch.setattr(startup, "_kept", dict(startup._used))  # what a later start reads
    used_before = dict(startup._used)
    kept = make()
    assert all(startup._used[text] is code for text, code in used_before.items())  # the kept code ran
    a, b = fresh("4XyZ1", hops=("mx",)), kept("4XyZ1", hops=("mx",))
    assert repr(a) == repr(b) and repr(b).endswith(".Delivered(queue_id='4XyZ1', relay='local', hops=('mx',))")
    assert kept("4XyZ1", hops=("mx",)) == b and hash(kept("4XyZ1", hops=("mx",))) == hash(b)
    assert b != kept("4XyZ2")
    with pytest.raises(FrozenInstanceError):
        b.relay = "smtp"


# The configuration file as YAML read it: kept by its text once accepted (bot/startup.py).
def test_an_accepted_configuration_is_read_by_yaml_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from bot import startup
    from bot.config import load_config

    monkeypatch.setenv("MAILBOT_CACHE_DIR", str(tmp_path / "cache"))
    read: list[str] = []
    safe_load = yaml.safe_load

    def reading(text: str) -> object:
        read.append(text)
        return safe_load(text)

    monkeypatch.setattr(yaml, "safe_load", reading)
    file = tmp_path / "mailbot.yaml"
    text = "hosts:\n  - name: bm1\n    address: 10.0.0.5\n    user: bmsupport\n    key_file: keys/bot\n"
    text += "    known_hosts: /etc/mailbot/known_hosts\n    maillog: [/var/log/mail.log]\n"
    file.write_text(text)
    first = load_config(str(file))
    second = load_config(str(file))
    assert len(read) == 1 and second == first
    assert [p.stat().st_mode & 0o777 for p in (tmp_path / "cache").glob("parsed-*.marshal")] == [0o600]
    file.write_text(text.replace("10.0.0.5", "10.0.0.6"))  # another text: YAML reads it
    assert load_config(str(file)).hosts[0].address == "10.0.0.6" and len(read) == 2
    assert load_config(str(file)).hosts[0].address == "10.0.0.6" and len(read) == 2
    # refused: not kept, refused again with the same sentence
    file.write_text(text.replace("user:", "usr:"))
    for _ in range(2):
        with pytest.raises(ConfigError, match="usr"):
            load_config(str(file))
    assert len(read) == 4
    # a value marshal would not give back as YAML made it (a date): not kept, read by YAML each time
    dated = "when: 2026-12-07\n"
    startup.keep_parsed(dated, safe_load(dated))
    assert startup.parsed_before(dated) is None
    assert startup.parsed_before(text) == (safe_load(text),)


def test_a_kept_document_not_the_users_own_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot import startup

    monkeypatch.setenv("MAILBOT_CACHE_DIR", str(tmp_path / "cache"))
    text = "hosts: []\n"
    startup.keep_parsed(text, {"hosts": []})
    assert startup.parsed_before(text) == ({"hosts": []},)
    [kept] = (tmp_path / "cache").glob("parsed-*.marshal")
    kept.chmod(0o664)
    assert startup.parsed_before(text) is None
    kept.chmod(0o600)
    kept.write_bytes(kept.read_bytes()[:-3])
    assert startup.parsed_before(text) is None
    for n in range(12):  # only the last few files are kept
        startup.keep_parsed(f"hosts: [{n}]\n", {"hosts": [n]})
    assert len(list((tmp_path / "cache").glob("parsed-*.marshal"))) == startup._PARSED_KEPT
    assert startup.parsed_before("hosts: [11]\n") == ({"hosts": [11]},)
