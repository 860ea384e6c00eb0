"""The bot's configuration: one YAML file, read once, validated into frozen dataclasses.

Where the file is: `--config`, else `$MAILBOT_CONFIG`, else `./mailbot.yaml`, else the
lab's `lab/mailbot-lab.yaml` beside the package (the embedded default target, so a fresh
checkout answers with the lab as soon as `lab/up.sh` has run). Relative paths inside the
file are resolved against the file's own folder. Secrets never live here: Slack tokens
come from the environment.

One dataclass per mapping of the file, its fields named as the file's keys, each field's
metadata saying how its key is read (`_reads`), so that the types say what each key allows.
Any other key is refused (`aprovers:` silently meant no approvers). A mistake reaches the user
as one sentence naming the file and the key (`mailbot.yaml: hosts[1]: port 70000 is not a TCP
port.`), in their language: the readers raise a code of `_SENTENCES`, every problem of the file
is noted with its place, and `_refusal` makes the first of them (an unknown key before any
other) that sentence, never showing the value a secret could be in.

The reading is this module's own, not pydantic's: pydantic's import and its schemas cost a
command 85-100 ms of a lab trace's 350 (`python -X importtime`, 5 Dec 2026), for a file of a
dozen mappings.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, NoReturn, get_args

from bot import startup
from bot.errors import ConfigError
from bot.i18n import ENGLISH, LANGUAGES, N_, _, normalise

LAB_CONFIG = Path(__file__).resolve().parent.parent / "lab" / "mailbot-lab.yaml"
Role = Literal["mta", "store", "bmcli"]
Policy = Literal["read", "confirm", "approve"]
HOST_ROLES: frozenset[str] = frozenset(get_args(Role))
POLICIES: frozenset[str] = frozenset(get_args(Policy))
DEFAULT_ROLES: frozenset[Role] = frozenset({"mta", "store"})
DEFAULT_MAX_OUTPUT_BYTES = 256 * 1024 * 1024
DEFAULT_BM_CLI = "/usr/bin/bm-cli"  # where BlueMind's package links it
# A Postfix instance's config directory (`postfix_config`): an absolute path of plain names
# (none starting with a dot, so no `..`), as `postqueue -c` and `postconf -c` take it.
_CONFIG_DIR = re.compile(r"(/[A-Za-z0-9_][A-Za-z0-9._+-]*)+/?")
_CONFIG_DURATION = re.compile(r"(?P<count>\d{1,9})(?P<unit>[smhdw]?)")
_CONFIG_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

# What the user reads for each code: the readers' own (`_refuse`) and those of `_read_section`
# (missing, model_type, extra_forbidden, invalid_key). `{where}` is the file and the mapping
# (`mailbot.yaml: hosts[0]`), `{key}` the key in it.
_SENTENCES = {
    "missing": N_("{where}: `{key}` is required."),
    "string": N_("{where}: `{key}` must be a string."),
    "number": N_("{where}: `{key}` must be a positive number."),
    "strings": N_("{where}: `{key}` must be a list of strings."),
    "list": N_("{where}: `{key}` must be a list."),
    "mapping": N_("{where}: `{key}` must be a mapping."),
    "names": N_("{where}: `{key}` must map names to strings."),
    "model_type": N_("{where} must be a mapping of keys to values."),
    "duration": N_("{where}: `{key}` must be a duration like 30s, 5m, 2h or 1d."),
    "a_second": N_("{where}: `{key}` must be at least 1s."),
    "no_host": N_("{where}: `hosts` lists no host; add at least one mail host."),
    "duplicate_hosts": N_("{where}: host names must be unique; {names} appears twice."),
    "policy": N_("{where}: policy of {verb} is {policy}; use one of read, confirm, approve."),
    "role": N_("{where}: unknown role {role}; roles are mta, store, bmcli."),
    "maillog": N_("{where}: maillog {value} must be an absolute path on the mail host."),
    "port": N_("{where}: port {port} is not a TCP port."),
    "bluemind": N_("{where}: `bluemind` is {value}; use 4 (Cyrus) or 5, or leave it out."),
    "bm_cli": N_("{where}: bm_cli {value} must be an absolute path on the host, without spaces."),
    "retention_days": N_("{where}: retention_days must be between 1 and 3650."),
    "bm_authn": N_("{where}: bm_authn {value} must be the address of a BlueMind user (like admin@example.com)."),
    "postfix_config": N_(
        "{where}: postfix_config {value} must be the absolute path of a Postfix instance's config directory "
        "on the host (like /etc/postfix-edge), without spaces or `..`."
    ),
    "commands": N_("{where}: `{key}` must be a list of commands, each a list of words."),
    "command_path": N_("{where}: each command of `{key}` must start with an absolute path (or sudo)."),
    "language": N_("{where}: language {value} has no catalogue; use one of {languages}."),
    "rate": N_("{where}: `{key}` must look like 20/60s."),
    "rate_window": N_("{where}: `{key}` must allow at least 1 command in a positive window."),
    "watch_window": N_("{where}: `default_for` must be positive and at most `max_for`."),
    "state_both": N_("{where}: give `path` (SQLite) or `url` (PostgreSQL), not both."),
    "postgresql": N_("{where}: `url` must start with postgresql:// (like postgresql://mailbot@db/mailbot)."),
    "password": N_(
        "{where}: `url` holds a password; remove it and set MAILBOT_STATE_PASSWORD "
        "(or use a libpq passfile or service) instead."
    ),
    "invalid": N_("{where}: `{key}` is not valid here."),
}
# The codes raised by a whole mapping (its `{where}` names it), not by one of its keys.
_SECTION_ERRORS = frozenset({"model_type", "watch_window", "state_both"})
# A key the mapping does not have (`invalid_key`: one YAML did not read as a string, like `3:`).
_UNKNOWN_KEYS = frozenset({"extra_forbidden", "invalid_key"})


Place = tuple[int | str, ...]  # where a value is in the file: ("hosts", 1, "port")


class _Refused(Exception):
    """A value refused: the code of its sentence and what fills it (never a secret)."""

    def __init__(self, code: str, values: Mapping[str, str]) -> None:
        super().__init__(code)
        self.code = code
        self.values = values


class _Noted(Exception):
    """A mapping or a list whose problems are noted already."""


@dataclass(frozen=True)
class _Problem:
    code: str
    place: Place
    values: Mapping[str, str]


def _refuse(code: str, **values: str) -> NoReturn:
    """Stop reading this value with the sentence `code`; `values` fill it (never a secret)."""
    raise _Refused(code, values)


# The folder of the file being read, for the relative paths in it.
_BASE: ContextVar[Path | None] = ContextVar("config_base", default=None)


# --- the values a key may hold ------------------------------------------------------------------


def _text(value: Any) -> str:
    """A string; a number (`user: 1000`) is read as its digits."""
    if value is None:
        _refuse("missing")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        _refuse("string")
    return str(value)


def _positive(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        _refuse("number")
    return value


def _count(value: Any) -> int:
    return int(_positive(value))


def _at_least_one(value: Any) -> int:
    return max(1, _count(value))


def _duration(value: Any) -> float:
    """Seconds as a number, or `30s`, `5m`, `2h`, `1d`, `1w`."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _CONFIG_DURATION.fullmatch(str(value).strip())
    if not match:
        _refuse("duration")
    return float(int(match["count"]) * _CONFIG_UNITS[match["unit"]])


def _a_second_or_more(seconds: float) -> float:
    if seconds < 1:
        _refuse("a_second")
    return seconds


def _names(value: Any) -> tuple[str, ...]:
    """A list of strings; one string alone is a list of one."""
    value = value or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple, frozenset)) or not all(isinstance(v, str) for v in value):
        _refuse("strings")
    return tuple(value)


def _lower(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name.lower() for name in names)


def _name_map(value: Any) -> dict[str, str]:
    value = value or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        _refuse("names")
    return dict(value)


def _lower_map(names: dict[str, str]) -> dict[str, str]:
    return {key.lower(): value.lower() for key, value in names.items()}


def _mapping(value: Any) -> dict[str, Any]:
    """Names mapped to mappings (`verbs:`): each name a string (YAML reads `3:` as a number)."""
    value = value or {}
    if not isinstance(value, dict) or not all(isinstance(name, str) for name in value):
        _refuse("mapping")
    return value


def _number(value: Any) -> float:
    return float(_positive(value))


def _beside_the_config(value: Any) -> Path:
    """A path on this machine; a relative one is in the config file's folder."""
    path = (value if isinstance(value, Path) else Path(_text(value))).expanduser()
    base = _BASE.get()
    return base / path if base is not None and not path.is_absolute() else path


def _optional_path(value: Any) -> Path | None:
    return _beside_the_config(value) if value else None


# --- how a key is read ---------------------------------------------------------------------------

Step = Callable[[Any], Any]


def _reads(
    *steps: Step,
    optional: bool = False,
    section: type[_Section] | None = None,
    shape: Literal["one", "each", "each_value"] = "one",
    then: tuple[Step, ...] = (),
    check_default: bool = False,
) -> dict[str, Any]:
    """A field's metadata: the steps its key's value goes through, in order (each may refuse it);
    `optional`: None is kept as None, before the steps and after them; `section`: the value is
    that mapping (`shape` one), a list of them (`each`) or names mapped to them (`each_value`),
    read after the steps and before `then`; `check_default`: a missing key is its default read."""
    return {
        "steps": steps,
        "optional": optional,
        "section": section,
        "shape": shape,
        "then": then,
        "check_default": check_default,
    }


Text = _reads(_text)
OptionalText = _reads(_text, optional=True)
Count = _reads(_count)
AtLeastOne = _reads(_at_least_one)  # 0 means the least there can be: 1
Number = _reads(_number)
Duration = _reads(_duration)
Names = _reads(_names)
LowerNames = _reads(_names, _lower)
LocalPath = _reads(_beside_the_config)


def _one(section: type[_Section]) -> dict[str, Any]:
    return _reads(section=section)


@dataclass(frozen=True, kw_only=True)
class _Section:
    """One mapping of the file: frozen, an empty one is all defaults, an unknown key an error.
    Made from keywords, a section takes its values as they are (the tests, the benchmarks); from
    the file, through `_read_section`, each key is read as its field's metadata says."""

    @classmethod
    def _prepare(cls, data: Any) -> Any:
        """The mapping as the file gave it, before its keys are read."""
        return data

    def _check(self) -> None:
        """The keys read, what they must say together."""


def _keys_of(section: type[_Section]) -> dict[str, Field[Any]]:
    return {key.name: key for key in fields(section) if "steps" in key.metadata}


def _read_section(section: type[_Section], data: Any, place: Place, problems: list[_Problem]) -> Any:
    """`data` read as `section`; every problem met is noted with its place (then _Noted)."""
    noted = len(problems)
    try:
        data = section._prepare({} if data is None else data)
    except _Refused as refused:
        problems.append(_Problem(refused.code, place, refused.values))
        raise _Noted from None
    if not isinstance(data, dict):
        problems.append(_Problem("model_type", place, {}))
        raise _Noted
    keys = _keys_of(section)
    values: dict[str, Any] = {}
    for name, key in keys.items():
        if name in data:
            value = data[name]
        elif key.metadata["check_default"]:
            value = key.default
        elif key.default is MISSING and key.default_factory is MISSING:
            problems.append(_Problem("missing", (*place, name), {}))
            continue
        else:
            continue
        try:
            values[name] = _read_key(key.metadata, value, (*place, name), problems)
        except _Refused as refused:
            problems.append(_Problem(refused.code, (*place, name), refused.values))
        except _Noted:
            pass
    for name in data:
        if not isinstance(name, str):
            problems.append(_Problem("invalid_key", (*place, name), {}))
        elif name not in keys:
            problems.append(_Problem("extra_forbidden", (*place, name), {}))
    if len(problems) > noted:
        raise _Noted
    read = section(**values)
    try:
        read._check()
    except _Refused as refused:
        problems.append(_Problem(refused.code, place, refused.values))
        raise _Noted from None
    return read


def _read_key(how: Mapping[str, Any], value: Any, place: Place, problems: list[_Problem]) -> Any:
    if value is None and how["optional"]:
        return None
    for step in how["steps"]:
        value = step(value)
    if value is None and how["optional"]:
        return None
    section = how["section"]
    if section is not None:
        value = _read_sections(section, how["shape"], value, place, problems)
    for step in how["then"]:
        value = step(value)
    return value


def _read_sections(section: type[_Section], shape: str, value: Any, place: Place, problems: list[_Problem]) -> Any:
    if shape == "one":
        return _read_section(section, value, place, problems)
    noted = len(problems)
    read: dict[int | str, Any] = {}
    for key, item in enumerate(value) if shape == "each" else value.items():
        with suppress(_Noted):
            read[key] = _read_section(section, item, (*place, key), problems)
    if len(problems) > noted:
        raise _Noted
    return tuple(read.values()) if shape == "each" else read


# --- hosts ------------------------------------------------------------------------------------------


def _roles(value: Any) -> frozenset[str]:
    roles = frozenset(_names(value) or DEFAULT_ROLES)
    unknown = roles - HOST_ROLES
    if unknown:
        _refuse("role", role=repr(sorted(unknown)[0]))
    return roles


def _maillog(value: Any) -> tuple[str, ...]:
    logs = (value,) if isinstance(value, str) else _names(value)
    for log_path in logs:
        if not log_path.startswith("/"):
            _refuse("maillog", value=repr(log_path))
    return logs


def _tcp_port(port: int) -> int:
    if not 0 < port < 65536:
        _refuse("port", port=str(port))
    return port


def _bluemind(value: Any) -> int | None:
    if value is not None and value not in (4, 5):
        _refuse("bluemind", value=repr(value))
    return None if value is None else int(value)


def _bm_cli(path: str) -> str:
    if not path.startswith("/") or any(c.isspace() for c in path):
        _refuse("bm_cli", value=repr(path))
    return path


_AUTHN = re.compile(r"[A-Za-z0-9._%+=~'-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")


def _bm_authn(value: Any) -> str | None:
    if value is None:
        return None
    address = _text(value)
    if not _AUTHN.fullmatch(address):
        _refuse("bm_authn", value=repr(address[:80]))
    return address.lower()


def _retention_days(days: int) -> int:
    if not 1 <= days <= 3650:
        _refuse("retention_days")
    return days


def _postfix_config(value: Any) -> str | None:
    if value is None:
        return None
    directory = _text(value)
    if not _CONFIG_DIR.fullmatch(directory):
        _refuse("postfix_config", value=repr(directory))
    return directory.rstrip("/")


def _commands(value: Any) -> tuple[tuple[str, ...], ...]:
    """A list of commands, each a list of words (never one string: no shell parses them here)."""
    commands = value or []
    if not isinstance(commands, (list, tuple)) or not all(
        isinstance(command, (list, tuple)) and command and all(isinstance(word, str) and word for word in command)
        for command in commands
    ):
        _refuse("commands")
    if any(not command[0].startswith("/") and command[0] not in ("sudo", "bm-cli") for command in commands):
        _refuse("command_path")
    return tuple(tuple(command) for command in commands)


@dataclass(frozen=True, kw_only=True)
class HostConfig(_Section):
    name: str = field(metadata=Text)
    address: str = field(metadata=Text)
    user: str = field(metadata=Text)
    key_file: Path = field(metadata=LocalPath)
    known_hosts: Path = field(metadata=LocalPath)
    maillog: tuple[str, ...] = field(default=("/var/log/mail.log",), metadata=_reads(_maillog))
    port: int = field(default=22, metadata=_reads(_count, _tcp_port))
    roles: frozenset[Role] = field(default=DEFAULT_ROLES, metadata=_reads(_roles))
    connect_timeout: float = field(default=10.0, metadata=Number)
    command_timeout: float = field(default=120.0, metadata=Number)
    max_output_bytes: int = field(default=DEFAULT_MAX_OUTPUT_BYTES, metadata=Count)
    max_sessions: int = field(default=8, metadata=AtLeastOne)
    key_passphrase_env: str | None = field(default=None, metadata=OptionalText)
    # 4 (Cyrus) or 5; None: detected
    bluemind: Literal[4, 5] | None = field(default=None, metadata=_reads(_bluemind))
    bm_cli: str = field(default=DEFAULT_BM_CLI, metadata=_reads(_text, _bm_cli))
    # a user with rights on the mailshares: bm-cli's --authn, to list and restore their deleted mail
    bm_authn: str | None = field(default=None, metadata=_reads(_bm_authn))
    retention_days: int = field(default=7, metadata=_reads(_count, _retention_days))  # cyr_expire -X
    # commands that rebuild the Postfix maps, in order
    regen_maps: tuple[tuple[str, ...], ...] = field(default=(), metadata=_reads(_commands))
    # a Postfix instance's config directory (postqueue/postconf -c); None: the default instance
    postfix_config: str | None = field(default=None, metadata=_reads(_postfix_config))
    # A second key for the approved changes only (flush, restore, regen-maps): with the guard, the
    # everyday key can then be read-only and this one change-only. None: key_file does both.
    change_key_file: Path | None = field(default=None, metadata=_reads(_optional_path))

    def for_changes(self) -> HostConfig:
        """This host as the approved changes reach it: through the change key, if there is one."""
        return replace(self, key_file=self.change_key_file) if self.change_key_file else self


# --- Slack, approvals, alerts, watch, state -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AccessRule(_Section):
    """Who may ask, and where. An empty list means no restriction on that axis."""

    allowed_channels: tuple[str, ...] = field(default=(), metadata=Names)
    allowed_users: tuple[str, ...] = field(default=(), metadata=Names)
    allowed_groups: tuple[str, ...] = field(default=(), metadata=Names)


def _rate(value: Any) -> tuple[int, float]:
    """`per_user: 20/60s`: at most 20 commands in 60 seconds."""
    if isinstance(value, tuple):
        return value
    count, _slash, window = str(value).partition("/")
    try:
        limit = (int(count), float(window.rstrip("s") or "60"))
    except ValueError:
        _refuse("rate")
    if limit[0] < 1 or limit[1] <= 0:
        _refuse("rate_window")
    return limit


Rate = _reads(_rate)


@dataclass(frozen=True, kw_only=True)
class RateLimits(_Section):
    """Commands per user and per channel in a window of seconds."""

    per_user: tuple[int, float] = field(default=(20, 60.0), metadata=Rate)
    per_channel: tuple[int, float] = field(default=(120, 60.0), metadata=Rate)

    @classmethod
    def _prepare(cls, data: Any) -> Any:
        """An empty key is its default."""
        return {key: value for key, value in data.items() if value is not None} if isinstance(data, dict) else data


def _language(value: Any) -> str:
    text = _text(value)
    language = normalise(text)
    if language is None:
        _refuse("language", value=repr(text), languages=", ".join(LANGUAGES))
    return language


@dataclass(frozen=True, kw_only=True)
class SlackConfig(AccessRule):
    """`slack:`, itself the bot-wide access rule (its allowed_* keys); `verbs` adds one rule per verb."""

    api_url: str = field(default="https://slack.com/api/", metadata=Text)
    verbs: dict[str, AccessRule] = field(
        default_factory=dict, metadata=_reads(_mapping, section=AccessRule, shape="each_value")
    )
    workers: int = field(default=8, metadata=AtLeastOne)
    max_pending: int = field(default=64, metadata=AtLeastOne)
    # answers past large_answer_mb of log lines built at once (the others wait)
    large_answers: int = field(default=2, metadata=AtLeastOne)
    large_answer_mb: float = field(default=8.0, metadata=Number)
    rate_limits: RateLimits = field(default_factory=RateLimits, metadata=_one(RateLimits))
    # of cards in a channel, and of users whose Slack locale has no catalogue
    language: str = field(default=ENGLISH, metadata=_reads(_language))


@dataclass(frozen=True, kw_only=True)
class ApprovalsConfig(_Section):
    approvers: tuple[str, ...] = field(default=(), metadata=Names)
    approver_group: str | None = field(default=None, metadata=OptionalText)
    expiry_minutes: float = field(default=15.0, metadata=Number)
    require_reason: tuple[str, ...] = field(default=(), metadata=Names)
    # different approvers an `approve` request needs (never its requester)
    required: int = field(default=1, metadata=AtLeastOne)


@dataclass(frozen=True, kw_only=True)
class AlertsConfig(_Section):
    """`alerts:`: the bot reads the queues every `every` seconds and posts problems in `channel`."""

    channel: str = field(metadata=Text)
    every: float = field(default=300.0, metadata=_reads(_duration, _a_second_or_more))
    min_messages: int = field(default=1, metadata=AtLeastOne)
    min_age: float = field(default=0.0, metadata=Duration)  # seconds a mail waits before it counts
    # deferred messages on one host above which the host is a problem
    queue_size: int | None = field(default=None, metadata=_reads(_count, optional=True))
    # deferred messages gained per hour above which too
    growth_per_hour: int | None = field(default=None, metadata=_reads(_count, optional=True))
    # besides `domains`: where "User unknown" means stale maps
    local_domains: tuple[str, ...] = field(default=(), metadata=LowerNames)


def _at_least_a_second(seconds: float) -> float:
    return max(1.0, seconds)


@dataclass(frozen=True, kw_only=True)
class WatchConfig(_Section):
    """`watch:`: `/mail watch` limits."""

    max_per_user: int = field(default=5, metadata=Count)
    default_for: float = field(default=7200.0, metadata=Duration)
    max_for: float = field(default=86400.0, metadata=Duration)
    # how often a terminal's `mailbot watch` looks (the bot: alerts.every, else this); 1s at least
    every: float = field(default=60.0, metadata=_reads(_duration, _at_least_a_second))

    def _check(self) -> None:
        if self.default_for <= 0 or self.default_for > self.max_for:
            _refuse("watch_window")


def _state_file(value: Any) -> Path:
    # No path given: the working folder (a container's writable /var/lib/mailbot), not the
    # config's folder, which is often a read-only mount.
    return _optional_path(value) or Path("mailbot.db").resolve()


def _postgresql_url(url: str) -> str:
    """`url: postgresql://user@host:port/db`; the password never in the file."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        _refuse("postgresql")
    if parts.password is not None:
        _refuse("password")
    return url


@dataclass(frozen=True, kw_only=True)
class StateConfig(_Section):
    """`state:`: a SQLite file (`path`), or the PostgreSQL database shared by replicas (`url`)."""

    path: Path = field(default_factory=lambda: Path("mailbot.db").resolve(), metadata=_reads(_state_file))
    url: str | None = field(default=None, metadata=_reads(_text, _postgresql_url, optional=True))

    @classmethod
    def _prepare(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("path") and data.get("url") is not None:
            _refuse("state_both")
        return data


@dataclass(frozen=True, kw_only=True)
class AuditConfig(_Section):
    """`audit:`: how long audit records are kept (None: forever). Pruning signs a checkpoint with
    MAILBOT_AUDIT_KEY and never drops a record that does not verify (bot.state.audit)."""

    retention: float | None = field(default=None, metadata=_reads(_duration, _a_second_or_more, optional=True))
    every: float = field(default=86400.0, metadata=_reads(_duration, _a_second_or_more))


@dataclass(frozen=True, kw_only=True)
class ScopeConfig(_Section):
    """One entry of `scopes:`: these Slack users, members of these user groups, and these CLI users
    (Unix names) may ask about these mail domains only (`*`: every domain)."""

    domains: tuple[str, ...] = field(metadata=LowerNames)
    users: tuple[str, ...] = field(default=(), metadata=Names)
    groups: tuple[str, ...] = field(default=(), metadata=Names)
    unix: tuple[str, ...] = field(default=(), metadata=Names)


# --- the whole file ---------------------------------------------------------------------------------


def _host_list(value: Any) -> Any:
    if not isinstance(value, list):
        _refuse("list")
    if not value:
        _refuse("no_host")
    return value


def _unique_names(hosts: tuple[HostConfig, ...]) -> tuple[HostConfig, ...]:
    names = [host.name for host in hosts]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        _refuse("duplicate_hosts", names=", ".join(duplicates))
    return hosts


def _policies(value: Any) -> dict[str, str]:
    policies = _name_map(value)
    for verb, policy in policies.items():
        if policy not in POLICIES:
            _refuse("policy", verb=repr(verb), policy=repr(policy))
    return policies


def _scope_list(value: Any) -> Any:
    if value is None:
        return ()
    if not isinstance(value, list):
        _refuse("list")
    return value


def _no_alerts(value: Any) -> Any:
    return value or None


@dataclass(frozen=True, kw_only=True)
class Config(_Section):
    """The file; `path` is where it was read, not a key."""

    # A list is required (the reading of the default says so when `hosts` is missing).
    hosts: tuple[HostConfig, ...] = field(
        default=(),
        metadata=_reads(_host_list, section=HostConfig, shape="each", then=(_unique_names,), check_default=True),
    )
    slack: SlackConfig = field(default_factory=SlackConfig, metadata=_one(SlackConfig))
    approvals: ApprovalsConfig = field(default_factory=ApprovalsConfig, metadata=_one(ApprovalsConfig))
    policies: dict[str, Policy] = field(default_factory=dict, metadata=_reads(_policies))
    state: StateConfig = field(default_factory=StateConfig, metadata=_one(StateConfig))
    domains: dict[str, str] = field(default_factory=dict, metadata=_reads(_name_map, _lower_map))
    # None: the bot never speaks first
    alerts: AlertsConfig | None = field(default=None, metadata=_reads(_no_alerts, optional=True, section=AlertsConfig))
    watch: WatchConfig = field(default_factory=WatchConfig, metadata=_one(WatchConfig))
    audit: AuditConfig = field(default_factory=AuditConfig, metadata=_one(AuditConfig))
    # none: no limit by domain
    scopes: tuple[ScopeConfig, ...] = field(default=(), metadata=_reads(_scope_list, section=ScopeConfig, shape="each"))
    path: Path = field(default=Path("mailbot.yaml"), compare=False)

    @property
    def state_path(self) -> Path:
        return self.state.path

    @property
    def state_url(self) -> str | None:
        """postgresql://user@host:port/db: the state shared by replicas; None: SQLite at state_path."""
        return self.state.url

    def host(self, name: str) -> HostConfig:
        for host in self.hosts:
            if host.name == name:
                return host
        raise ConfigError(
            _("There is no host named {name} in {path}; the configured hosts are: {known}.").format(
                name=repr(name), path=self.path, known=", ".join(h.name for h in self.hosts)
            )
        )

    def hosts_with_role(self, role: str) -> tuple[HostConfig, ...]:
        return tuple(h for h in self.hosts if role in h.roles)


def find_config_path(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("MAILBOT_CONFIG")
    if from_env:
        return Path(from_env)
    local = Path("mailbot.yaml")
    if local.exists():
        return local
    if LAB_CONFIG.exists():
        return LAB_CONFIG
    raise ConfigError(
        _(
            "No configuration found: pass --config FILE, set MAILBOT_CONFIG, write ./mailbot.yaml, "
            "or start the lab with `sudo bash lab/up.sh`."
        )
    )


def load_config(explicit: str | None = None) -> Config:
    path = find_config_path(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            _("Cannot read the configuration file {path}: {reason}.").format(path=path, reason=exc.strerror or exc)
        ) from None
    kept = startup.parsed_before(text)
    if kept is not None:
        return parse_config(kept[0], path)
    import yaml  # here: a command whose file was read before takes what YAML made of it (bot/startup.py)

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is None:
            raise ConfigError(_("The configuration file {path} is not valid YAML.").format(path=path)) from None
        raise ConfigError(
            _("The configuration file {path} is not valid YAML at line {line}.").format(path=path, line=mark.line + 1)
        ) from None
    config = parse_config(document, path)
    startup.keep_parsed(text, document)  # accepted: the next command skips YAML
    return config


def parse_config(document: Any, path: Path) -> Config:
    problems: list[_Problem] = []
    base = _BASE.set(path.resolve().parent)
    try:
        config: Config = _read_section(Config, document, (), problems)
    except _Noted:
        raise _refusal(problems, path) from None
    finally:
        _BASE.reset(base)
    return replace(config, path=path)


def _refusal(problems: list[_Problem], path: Path) -> ConfigError:
    """The problems as the one sentence the user reads: an unknown key first (a typo explains the
    missing key it hides), else the first problem, with its place."""
    first = next((p for p in problems if p.code in _UNKNOWN_KEYS), problems[0])
    loc = first.place
    if first.code in _UNKNOWN_KEYS:
        return unknown_key_error(path, _key_path((*loc[:-1], str(loc[-1]))), str(loc[-1]), _keys_at(loc[:-1]))
    place = loc if first.code in _SECTION_ERRORS else loc[:-1]
    values = {
        **first.values,
        "where": _("{file}: {place}").format(file=path, place=_key_path(place)) if place else str(path),
        "key": loc[-1] if loc else "",
    }
    return ConfigError(_(_SENTENCES.get(first.code, _SENTENCES["invalid"])).format(**values))


def _key_path(loc: tuple[int | str, ...]) -> str:
    """`("hosts", 1, "maillog")` as a reader writes it: `hosts[1].maillog`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _keys_at(loc: Place) -> frozenset[str]:
    """The keys of the mapping at `loc` (list indexes and the names of a `verbs:` entry pass through)."""
    section: type[_Section] = Config
    for part in loc:
        key = _keys_of(section).get(part) if isinstance(part, str) else None
        section = (key.metadata["section"] if key else None) or section
    return frozenset(_keys_of(section))


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The one name a typo most likely meant, if any is close enough."""
    import difflib  # here: only a mistake in the file asks for a close match

    matches = difflib.get_close_matches(word, sorted(choices), n=1)
    return matches[0] if matches else None


def unknown_key_error(path: Path, key: str, word: str, known: Iterable[str]) -> ConfigError:
    """`hosts[1].maxlog: unknown key; did you mean maillog?`: the key, where it is, what it meant."""
    suggestion = close_match(word, known)
    if suggestion is not None:
        message = _("{file}: {key}: unknown key; did you mean {suggestion}?")
    else:
        message = _("{file}: {key}: unknown key; the keys there are {known}.")
    return ConfigError(message.format(file=path, key=key, suggestion=suggestion, known=", ".join(sorted(known))))
