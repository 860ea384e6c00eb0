"""manifest.yaml: valid for Slack, and in step with the code.

The schema is a subset of Slack's app manifest schema (source in its `$comment`). The code side is
read from bot/ itself: the slash commands it registers, the buttons it handles, and every Web API
method it calls (directly, or inside slack_sdk helpers such as `files_upload_v2`), each of which must
be covered by a bot scope of the manifest.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from slack_sdk import WebClient

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "manifest.yaml"
SCHEMA = Path(__file__).resolve().parent / "fixtures" / "slack-manifest.schema.json"
BOT = ROOT / "bot"

# Web API method -> the bot scopes that allow it (any one will do; empty: no scope needed).
# From the "Required scopes" of each method's page in Slack's reference (docs.slack.dev/reference/methods).
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "chat.delete": {"chat:write"},
    "chat.getPermalink": set(),
    "chat.postEphemeral": {"chat:write"},
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "conversations.info": {"channels:read", "groups:read", "im:read", "mpim:read"},
    "conversations.open": {"im:write"},  # the bot opens a DM with one person
    "files.completeUploadExternal": {"files:write"},
    "files.getUploadURLExternal": {"files:write"},
    "usergroups.users.list": {"usergroups:read"},
    "users.info": {"users:read"},
    "views.open": set(),  # the restore and reject modals
    "views.publish": set(),  # the Home tab
    "views.update": set(),
}
# Scopes that no method call needs, and why they are asked for.
OTHER_SCOPES = {
    "commands": "the /mail slash command",
    "chat:write.public": "posting in a public channel the bot was not invited to (shared answers, approval cards)",
    "users:read": "users.info for requester and approver names (approvals, audit)",
}


def manifest() -> dict[str, Any]:
    document = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(document, dict)
    return document


def schema() -> dict[str, Any]:
    document = json.loads(SCHEMA.read_text())
    assert isinstance(document, dict)
    return document


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema())
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(document)]


def bot_scopes() -> set[str]:
    return set(manifest()["oauth_config"]["scopes"]["bot"])


def bot_calls() -> list[ast.Call]:
    calls: list[ast.Call] = []
    for path in sorted(BOT.rglob("*.py")):
        calls.extend(node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call))
    return calls


def string_arguments(method: str) -> set[str]:
    """The literal first arguments of every `<something>.<method>("...")` call in bot/."""
    found: set[str] = set()
    for call in bot_calls():
        if isinstance(call.func, ast.Attribute) and call.func.attr == method and call.args:
            first = call.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def handled_actions() -> int:
    return sum(
        1 for c in bot_calls() if isinstance(c.func, ast.Attribute) and c.func.attr in {"action", "block_action"}
    )


@cache
def api_methods_of(client_method: str) -> frozenset[str]:
    """The Web API methods a WebClient method calls, following the helpers it calls on itself."""
    source = inspect.getsource(getattr(WebClient, client_method))
    methods = set(re.findall(r'api_call\(\s*"([\w.]+)"', source))
    for helper in set(re.findall(r"self\.(\w+)\(", source)) - {client_method}:
        if helper in webclient_methods():
            methods |= api_methods_of(helper)
    return frozenset(methods)


@cache
def webclient_methods() -> frozenset[str]:
    return frozenset(
        name
        for name, member in vars(WebClient).items()
        if inspect.isfunction(member) and not name.startswith("_") and "_" in name
    )


def web_api_calls() -> set[str]:
    """Every Web API method the bot's code calls through a WebClient method (`client.chat_postMessage(...)`)."""
    methods: set[str] = set()
    for call in bot_calls():
        if isinstance(call.func, ast.Attribute) and call.func.attr in webclient_methods():
            methods |= api_methods_of(call.func.attr)
    methods |= string_arguments("api_call")
    return methods


def test_the_manifest_is_valid_against_slacks_schema():
    assert schema_errors(manifest()) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("features", "slash_commands", 0, "command"), "mail"),  # no leading slash
        (("display_information", "name"), "m" * 36),
        (("features", "slash_commands", 0, "sholud_escape"), False),  # a typo is an unknown key
        (("settings", "interactivity"), {"enabled": True}),
        (("settings", "socket_mode_enabled"), "yes"),
    ],
)
def test_the_schema_refuses_what_slack_refuses(path: tuple[str | int, ...], value: object):
    broken = copy.deepcopy(manifest())
    target: Any = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert schema_errors(broken) != []


def test_slash_command_is_the_one_the_code_registers():
    commands = [c["command"] for c in manifest()["features"]["slash_commands"]]
    assert commands == ["/mail"]
    assert string_arguments("command") == set(commands)
    slash = manifest()["features"]["slash_commands"][0]
    assert slash["should_escape"] is False  # the bot unwraps <mailto:...> itself
    assert "trace" in slash["usage_hint"]


def test_settings_match_how_the_bot_runs():
    settings = manifest()["settings"]
    assert settings["socket_mode_enabled"] is True  # `mailbot serve` defaults to Socket Mode
    assert settings["interactivity"]["is_enabled"] is True
    assert handled_actions() > 0  # ... because the bot has buttons (share, approve)
    assert settings["org_deploy_enabled"] is False
    assert settings["token_rotation_enabled"] is False  # the bot reads one long-lived SLACK_BOT_TOKEN
    assert "request_url" not in settings["interactivity"]  # Socket Mode: no public URL
    assert manifest()["features"]["bot_user"]["display_name"]


def test_every_web_api_method_the_bot_calls_is_covered_by_a_scope():
    called = web_api_calls()
    # The scan sees direct calls and the ones inside slack_sdk helpers (files_upload_v2).
    assert {"chat.postEphemeral", "chat.postMessage", "files.getUploadURLExternal"} <= called
    unknown = sorted(called - METHOD_SCOPES.keys())
    assert unknown == [], f"the bot now calls {unknown}: add their scopes to manifest.yaml and METHOD_SCOPES"
    scopes = bot_scopes()
    missing = {
        m: sorted(METHOD_SCOPES[m]) for m in sorted(called) if METHOD_SCOPES[m] and not METHOD_SCOPES[m] & scopes
    }
    assert missing == {}, f"manifest.yaml lacks a scope for {missing}"


def test_every_scope_is_needed():
    needed = set().union(*(METHOD_SCOPES[m] for m in web_api_calls() if m in METHOD_SCOPES))
    unexplained = sorted(bot_scopes() - needed - OTHER_SCOPES.keys())
    assert unexplained == [], f"scopes no code needs: {unexplained}"
    assert len(bot_scopes()) == len(manifest()["oauth_config"]["scopes"]["bot"])  # no duplicates
