"""The one direction of dependencies (DESIGN.md), read off the imports of every module of `bot/`.

Imports under `if TYPE_CHECKING:` count too: a type that crosses a layer upwards is the first step
of a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bot"
# beside every layer: the config, the errors, the language, what operators observe (metrics, logs, request id)
BASE = {"bot", "bot.config", "bot.errors", "bot.i18n", "bot.observe"}
# What each part of bot/ may import from bot/, besides itself and BASE.
ALLOWED = {
    "bot.mailhost": set(),
    "bot.state": set(),
    "bot.core": {"bot.mailhost", "bot.state"},
    "bot.verbs": {"bot.core", "bot.mailhost", "bot.state"},
    "bot.slack": {"bot.verbs", "bot.core", "bot.mailhost", "bot.state"},
    "bot.cli": {"bot.slack", "bot.verbs", "bot.core", "bot.mailhost", "bot.state"},  # `mailbot serve` starts the bot
    "bot.__main__": {"bot.cli"},
    "bot.config": set(),
    "bot.errors": set(),
    "bot.i18n": set(),
    "bot.observe": set(),
}


def part_of(module: str) -> str:
    """The layer a dotted module name belongs to: `bot.verbs.trace` is in `bot.verbs`."""
    return ".".join(module.split(".")[:2])


def imported(path: Path) -> set[str]:
    """Every `bot...` module (and imported name) that the file imports; the package uses no relative import."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: a relative import; write bot.… in full"
            names.add(node.module or "")
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "bot" or name.startswith("bot.")}


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "scripts" in parts:  # programs sent to the mail host, not part of the bot's import graph
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found.append((name, path))
    return found


def test_every_module_belongs_to_a_known_layer() -> None:
    unknown = sorted({part_of(name) for name, _ in modules()} - set(ALLOWED) - {"bot"})
    assert unknown == [], f"add these parts of bot/ to ALLOWED with their place: {unknown}"


@pytest.mark.parametrize(("module", "path"), modules(), ids=[name for name, _ in modules()])
def test_imports_go_one_way(module: str, path: Path) -> None:
    layer = part_of(module)
    allowed = {layer} | BASE | ALLOWED.get(layer, set())
    upward = sorted(name for name in imported(path) if part_of(name) not in allowed and name not in allowed)
    assert upward == [], f"{module} imports {upward}, which {layer} must not know"


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The walk finds imports anywhere in a file, TYPE_CHECKING blocks included."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.slack.app import SlackBot\n"
        "import bot.verbs\n"
    )
    assert imported(sample) == {"bot.slack.app", "bot.slack.app.SlackBot", "bot.verbs"}
