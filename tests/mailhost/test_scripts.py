"""The programs sent to the mail hosts are files of the package (bot/mailhost/scripts/), not strings.

What a wheel (and so `pip install .` and the Docker image) holds must carry them, and what the bot
sends must be the file's program, without the comments kept for its readers and linters.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from bot.mailhost import grammar, guard
from bot.mailhost.tools import postfix
from tests.mailhost.test_guard import SHAPES

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "bot" / "mailhost" / "scripts"


def test_a_wheel_of_the_project_carries_the_scripts_and_the_bot_loads_them_from_it(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path / "wheel")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheel").glob("mailbot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    for script in SCRIPTS.iterdir():
        assert f"bot/mailhost/scripts/{script.name}" in names
    # The unpacked wheel, first on the path: its own files, not this tree's.
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); from bot.mailhost.tools import postfix; "
        "print(postfix.__file__); sys.stdout.write(postfix.TRACE_SCRIPT)"
    )
    loaded = subprocess.run(
        [sys.executable, "-I", "-c", probe, str(tmp_path / "site")], capture_output=True, text=True, check=True
    )
    where, _, trace = loaded.stdout.partition("\n")
    assert where.startswith(str(tmp_path / "site"))
    assert trace == postfix.TRACE_SCRIPT


def test_the_trace_sent_is_the_file_without_its_opening_comments_and_lint_directives():
    text = (SCRIPTS / "trace.sh").read_text()
    assert "# shellcheck" in text
    sent = postfix.TRACE_SCRIPT
    assert sent.startswith("set -u\n")
    assert "shellcheck" not in sent
    kept = "\n".join(line for line in text.splitlines() if "# shellcheck" not in line)
    assert "@QID_LONG_CHARS@" in kept  # the awk's queue-id tests are the grammar's, filled in
    for key, value in grammar.TRACE_AWK_FILL.items():
        kept = kept.replace(f"@{key}@", value)
    assert sent in kept  # every other line, as written
    assert "# Pass 1: the needle in the cached segments" in sent  # comments inside the program stay


def test_the_guard_program_is_the_file_with_the_shapes_filled_in():
    program = guard.program(SHAPES)
    assert program.startswith("#!/usr/bin/python3 -IS\n")
    assert "@SHAPES@" not in program and "@MAX_REPEATED@" not in program
    compile(program, "mailbot-guard", "exec")
    template = (SCRIPTS / "guard_program.py").read_text()
    assert program.splitlines()[:8] == template.splitlines()[:8]
