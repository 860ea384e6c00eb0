"""The one direction of dependencies (DESIGN.md), read off the imports of every module of `bot/`.

Imports under `if TYPE_CHECKING:` count too: a type that crosses a layer upwards is the first step
of a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bot"
# beside every layer: the config, the errors, the language, what operators observe (metrics, logs, request id),
# what a start reuses from the ones before
BASE = {"bot", "bot.config", "bot.errors", "bot.i18n", "bot.observe", "bot.startup"}
# What each part of bot/ may import from bot/, besides itself and BASE.
ALLOWED = {
    "bot.mailhost": set(),
    "bot.state": set(),
    "bot.core": {"bot.mailhost", "bot.state"},
    "bot.verbs": {"bot.core", "bot.mailhost", "bot.state"},
    # what the bot does on its own each period (alerts, watches): beside the verbs, using them
    "bot.periods": {"bot.verbs", "bot.core", "bot.mailhost", "bot.state"},
    "bot.slack": {"bot.periods", "bot.verbs", "bot.core", "bot.mailhost", "bot.state"},
    "bot.cli": {
        "bot.slack",
        "bot.periods",
        "bot.verbs",
        "bot.core",
        "bot.mailhost",
        "bot.state",
    },  # `mailbot serve` starts the bot
    "bot.__main__": {"bot.cli"},
    "bot.config": set(),
    "bot.errors": set(),
    "bot.i18n": set(),
    "bot.observe": set(),
    "bot.startup": set(),
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


def module_graph(found: list[tuple[str, Path]]) -> dict[str, set[str]]:
    """Which modules of `found` each one imports (`from bot.core import render` names the module bot.core.render)."""
    names = {name for name, _ in found}
    graph: dict[str, set[str]] = {}
    for name, path in found:
        targets = set()
        for imported_name in imported(path):
            if imported_name in names:
                targets.add(imported_name)
            elif imported_name.rpartition(".")[0] in names:  # `from package import name` of a non-module
                targets.add(imported_name.rpartition(".")[0])
        targets.discard(name)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of the graph, each once, as the modules that import each other in turn."""
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 on the path being walked, 2 done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycle = path[path.index(target) :]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    found.append([*cycle, target])
            elif target not in state:
                walk(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node, [node])
    return found


def test_no_module_imports_itself_back() -> None:
    """The layers go one way; inside a layer too, no two modules lean on each other (the alert and the
    watch periods once did, with one of the two imports inside a function the layer check let pass)."""
    graph = module_graph(modules())
    # a package's __init__ may name what its modules define (bot.verbs lists the verbs, lazily)
    for package in [name for name, path in modules() if path.name == "__init__.py"]:
        graph[package] = set()
    assert cycles(graph) == []


def test_the_cycle_check_sees_a_planted_cycle(tmp_path: Path) -> None:
    package = tmp_path / "bot" / "periods"
    package.mkdir(parents=True)
    (package / "alerts.py").write_text("from bot.periods import watches\n")
    (package / "watches.py").write_text("def check():\n    from bot.periods.alerts import read_queues\n")
    (package / "queues.py").write_text("import bot.periods.alerts\n")
    found = [("bot.periods.alerts", package / "alerts.py"), ("bot.periods.watches", package / "watches.py")]
    found.append(("bot.periods.queues", package / "queues.py"))
    assert cycles(module_graph(found)) == [["bot.periods.alerts", "bot.periods.watches", "bot.periods.alerts"]]
