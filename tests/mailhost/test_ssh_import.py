"""How the bot loads paramiko (`bot.mailhost.ssh._import_paramiko`): without invoke nor
`importlib.metadata`, and with the same version and banner as a plain `import paramiko` gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PROBE = """
import json, sys
from bot.mailhost import ssh
paramiko = ssh._import_paramiko()
loaded = sorted(m for m in ("invoke", "importlib.metadata") if sys.modules.get(m) is not None)
stand_in = ssh._Metadata("importlib.metadata")
answer = {
    "loaded": loaded,
    "version": paramiko.__version__,
    "banner": paramiko.Transport._CLIENT_ID,
    "ssh_paramiko": ssh.paramiko is paramiko,
    "stand_in_other": stand_in.distribution("paramiko").version,  # anything else: the real module's
}
import importlib.metadata
answer["real"] = importlib.metadata.version("paramiko")
answer["real_is_module"] = type(importlib.metadata).__name__ == "module"
print(json.dumps(answer))
"""


def test_paramiko_loads_without_invoke_nor_metadata_and_says_its_own_version() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True
    )
    answer = json.loads(run.stdout)
    assert answer["loaded"] == []
    assert answer["version"] == answer["real"] == answer["stand_in_other"]
    assert answer["banner"] == f"paramiko_{answer['real']}"
    assert answer["ssh_paramiko"] and answer["real_is_module"]


def test_the_stand_in_reads_the_version_as_the_real_module_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.mailhost import ssh

    (tmp_path / "Some_Tool-2.4.1.dist-info").mkdir()
    (tmp_path / "some_tool").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path / "absent"), str(tmp_path)])
    assert ssh._Metadata("importlib.metadata").version("some-tool") == "2.4.1"
