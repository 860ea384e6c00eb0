"""The one writer of a config for the lab: which of its hosts, in which order, changed how, and what
else the test needs (a state file of its own, Slack, scopes). Its key paths are made absolute, so the
file works from any directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import LAB_CONFIG

KEY_PATHS = ("key_file", "change_key_file", "known_hosts")


def lab_document(
    tmp_path: Path, hosts: Sequence[str] = ("lab",), host: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """The lab's config with `hosts` (by name, in this order; "lab" is the backend, "edge" the relay),
    the first one updated with `host`, a state of its own under `tmp_path`, then the top-level keys `extra`."""
    document: dict[str, Any] = yaml.safe_load(LAB_CONFIG.read_text())
    by_name = {entry["name"]: entry for entry in document["hosts"]}
    chosen = [by_name[name] for name in hosts]
    for entry in chosen:
        for key in KEY_PATHS:
            if key in entry:
                entry[key] = str((LAB_CONFIG.parent / entry[key]).resolve())
    chosen[0].update(host or {})
    document["hosts"] = chosen
    document["state"] = {"path": str(tmp_path / "mailbot.db")}
    document.update(extra)
    return document


def write_lab_config(
    tmp_path: Path,
    hosts: Sequence[str] = ("lab",),
    host: dict[str, Any] | None = None,
    name: str = "mailbot.yaml",
    **extra: Any,
) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(lab_document(tmp_path, hosts, host, **extra)))
    return path
