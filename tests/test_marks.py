"""The `lab` mark, given by tests/conftest.py from the fixtures a test uses."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def collected(mark: str, *paths: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--co", "-q", "-m", mark, *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_tests_on_the_lab_are_marked_and_pure_ones_are_not():
    files = ("tests/mailhost/test_values.py", "tests/mailhost/test_ssh_lab.py", "tests/test_cli.py")
    pure, lab = collected("not lab", *files), collected("lab", *files)
    assert pure and lab
    assert all(t.startswith("tests/mailhost/test_ssh_lab.py") or "test_cli" in t for t in lab)
    assert not any(t.startswith("tests/mailhost/test_ssh_lab.py") for t in pure)
    assert any(t.startswith("tests/mailhost/test_values.py") for t in pure)
    # a CLI test that traces on the lab (through the lab_config fixture), and one that needs none
    assert "tests/test_cli.py::test_trace_json_is_one_object_with_one_message_per_line" in lab
    assert "tests/test_cli.py::test_version_is_the_packages" in pure
