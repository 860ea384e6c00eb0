"""The bot's configuration: one YAML file, read once, validated into frozen pydantic models.

Where the file is: `--config`, else `$MAILBOT_CONFIG`, else `./mailbot.yaml`, else the
lab's `lab/mailbot-lab.yaml` beside the package (the embedded default target, so a fresh
checkout answers with the lab as soon as `lab/up.sh` has run). Relative paths inside the
file are resolved against the file's own folder. Secrets never live here: Slack tokens
come from the environment.

One model per mapping of the file, its fields named as the file's keys, so that the types say
what each key allows. Any other key is refused (`aprovers:` silently meant no approvers). A
mistake reaches the user as one sentence naming the file and the key (`mailbot.yaml: hosts[1]:
port 70000 is not a TCP port.`), in their language: the validators raise a code of `_SENTENCES`,
and `_refusal` turns pydantic's first error into that sentence, never showing the value a
secret could be in.
"""

from __future__ import annotations

import difflib
import os
import re
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

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

# What the user reads for each error code: the validators' own (`_refuse`) and pydantic's that can
# still arise. `{where}` is the file and the mapping (`mailbot.yaml: hosts[0]`), `{key}` the key in it.
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


def _refuse(code: str, **values: str) -> NoReturn:
    """Stop the validation with the sentence `code`; `values` fill it (never a secret)."""
    raise PydanticCustomError(code, code, values)


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
    value = value or {}
    if not isinstance(value, dict):
        _refuse("mapping")
    return value


def _beside_the_config(value: Any, info: ValidationInfo) -> Path:
    """A path on this machine; a relative one is in the config file's folder."""
    path = (value if isinstance(value, Path) else Path(_text(value))).expanduser()
    base = (info.context or {}).get("base")
    return base / path if base is not None and not path.is_absolute() else path


def _optional_path(value: Any, info: ValidationInfo) -> Path | None:
    return _beside_the_config(value, info) if value else None


Text = Annotated[str, BeforeValidator(_text)]
Count = Annotated[int, BeforeValidator(_count)]
AtLeastOne = Annotated[int, BeforeValidator(_at_least_one)]  # 0 means the least there can be: 1
Number = Annotated[float, BeforeValidator(_positive)]
Duration = Annotated[float, BeforeValidator(_duration)]
Names = Annotated[tuple[str, ...], BeforeValidator(_names)]
LowerNames = Annotated[tuple[str, ...], BeforeValidator(_names), AfterValidator(_lower)]
LocalPath = Annotated[Path, BeforeValidator(_beside_the_config)]


class _Section(BaseModel):
    """One mapping of the file: frozen, an empty one is all defaults, an unknown key an error."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_defaults(cls, data: Any) -> Any:
        return {} if data is None else data


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


class HostConfig(_Section):
    name: Text
    address: Text
    user: Text
    key_file: LocalPath
    known_hosts: LocalPath
    maillog: Annotated[tuple[str, ...], BeforeValidator(_maillog)] = ("/var/log/mail.log",)
    port: Annotated[int, BeforeValidator(_count), AfterValidator(_tcp_port)] = 22
    roles: Annotated[frozenset[Role], BeforeValidator(_roles)] = DEFAULT_ROLES
    connect_timeout: Number = 10.0
    command_timeout: Number = 120.0
    max_output_bytes: Count = DEFAULT_MAX_OUTPUT_BYTES
    max_sessions: AtLeastOne = 8
    key_passphrase_env: Text | None = None
    bluemind: Annotated[Literal[4, 5] | None, BeforeValidator(_bluemind)] = None  # 4 (Cyrus) or 5; None: detected
    bm_cli: Annotated[str, BeforeValidator(_text), AfterValidator(_bm_cli)] = DEFAULT_BM_CLI
    # a user with rights on the mailshares: bm-cli's --authn, to list and restore their deleted mail
    bm_authn: Annotated[str | None, BeforeValidator(_bm_authn)] = None
    retention_days: Annotated[int, BeforeValidator(_count), AfterValidator(_retention_days)] = 7  # cyr_expire -X
    # commands that rebuild the Postfix maps, in order
    regen_maps: Annotated[tuple[tuple[str, ...], ...], BeforeValidator(_commands)] = ()
    # a Postfix instance's config directory (postqueue/postconf -c); None: the default instance
    postfix_config: Annotated[str | None, BeforeValidator(_postfix_config)] = None
    # A second key for the approved changes only (flush, restore, regen-maps): with the guard, the
    # everyday key can then be read-only and this one change-only. None: key_file does both.
    change_key_file: Annotated[Path | None, BeforeValidator(_optional_path)] = None

    def for_changes(self) -> HostConfig:
        """This host as the approved changes reach it: through the change key, if there is one."""
        return self.model_copy(update={"key_file": self.change_key_file}) if self.change_key_file else self


# --- Slack, approvals, alerts, watch, state -----------------------------------------------------------


class AccessRule(_Section):
    """Who may ask, and where. An empty list means no restriction on that axis."""

    allowed_channels: Names = ()
    allowed_users: Names = ()
    allowed_groups: Names = ()


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


Rate = Annotated[tuple[int, float], BeforeValidator(_rate)]


class RateLimits(_Section):
    """Commands per user and per channel in a window of seconds."""

    per_user: Rate = (20, 60.0)
    per_channel: Rate = (120, 60.0)

    @model_validator(mode="before")
    @classmethod
    def _empty_means_the_default(cls, data: Any) -> Any:
        return {key: value for key, value in data.items() if value is not None} if isinstance(data, dict) else data


def _language(value: Any) -> str:
    text = _text(value)
    language = normalise(text)
    if language is None:
        _refuse("language", value=repr(text), languages=", ".join(LANGUAGES))
    return language


class SlackConfig(AccessRule):
    """`slack:`, itself the bot-wide access rule (its allowed_* keys); `verbs` adds one rule per verb."""

    api_url: Text = "https://slack.com/api/"
    verbs: Annotated[dict[str, AccessRule], BeforeValidator(_mapping)] = {}
    workers: AtLeastOne = 8
    max_pending: AtLeastOne = 64
    large_answers: AtLeastOne = 2  # answers past large_answer_mb of log lines built at once (the others wait)
    large_answer_mb: Number = 8.0
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    # of cards in a channel, and of users whose Slack locale has no catalogue
    language: Annotated[str, BeforeValidator(_language)] = ENGLISH


class ApprovalsConfig(_Section):
    approvers: Names = ()
    approver_group: Text | None = None
    expiry_minutes: Number = 15.0
    require_reason: Names = ()
    required: AtLeastOne = 1  # different approvers an `approve` request needs (never its requester)


class AlertsConfig(_Section):
    """`alerts:`: the bot reads the queues every `every` seconds and posts problems in `channel`."""

    channel: Text
    every: Annotated[float, BeforeValidator(_duration), AfterValidator(_a_second_or_more)] = 300.0
    min_messages: AtLeastOne = 1
    min_age: Duration = 0.0  # seconds a mail waits before it counts
    queue_size: Count | None = None  # deferred messages on one host above which the host is a problem
    growth_per_hour: Count | None = None  # deferred messages gained per hour above which too
    local_domains: LowerNames = ()  # besides `domains`: where "User unknown" means stale maps


def _at_least_a_second(seconds: float) -> float:
    return max(1.0, seconds)


class WatchConfig(_Section):
    """`watch:`: `/mail watch` limits."""

    max_per_user: Count = 5
    default_for: Duration = 7200.0
    max_for: Duration = 86400.0
    # how often a terminal's `mailbot watch` looks (the bot: alerts.every, else this); 1s at least
    every: Annotated[float, BeforeValidator(_duration), AfterValidator(_at_least_a_second)] = 60.0

    @model_validator(mode="after")
    def _default_within_the_most(self) -> WatchConfig:
        if self.default_for <= 0 or self.default_for > self.max_for:
            _refuse("watch_window")
        return self


def _state_file(value: Any, info: ValidationInfo) -> Path:
    # No path given: the working folder (a container's writable /var/lib/mailbot), not the
    # config's folder, which is often a read-only mount.
    return _optional_path(value, info) or Path("mailbot.db").resolve()


def _postgresql_url(url: str) -> str:
    """`url: postgresql://user@host:port/db`; the password never in the file."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        _refuse("postgresql")
    if parts.password is not None:
        _refuse("password")
    return url


class StateConfig(_Section):
    """`state:`: a SQLite file (`path`), or the PostgreSQL database shared by replicas (`url`)."""

    path: Annotated[Path, BeforeValidator(_state_file)] = Field(default_factory=lambda: Path("mailbot.db").resolve())
    url: Annotated[str, BeforeValidator(_text), AfterValidator(_postgresql_url)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_store(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("path") and data.get("url") is not None:
            _refuse("state_both")
        return data


class AuditConfig(_Section):
    """`audit:`: how long audit records are kept (None: forever). Pruning signs a checkpoint with
    MAILBOT_AUDIT_KEY and never drops a record that does not verify (bot.state.audit)."""

    retention: Annotated[float, BeforeValidator(_duration), AfterValidator(_a_second_or_more)] | None = None
    every: Annotated[float, BeforeValidator(_duration), AfterValidator(_a_second_or_more)] = 86400.0


class ScopeConfig(_Section):
    """One entry of `scopes:`: these Slack users, members of these user groups, and these CLI users
    (Unix names) may ask about these mail domains only (`*`: every domain)."""

    domains: LowerNames
    users: Names = ()
    groups: Names = ()
    unix: Names = ()


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


class Config(_Section):
    """The file: its `path` comes from the validation context, not from a key."""

    # A list is required (the validation of the default says so when `hosts` is missing).
    hosts: Annotated[tuple[HostConfig, ...], BeforeValidator(_host_list), AfterValidator(_unique_names)] = Field(
        default=(), validate_default=True
    )
    slack: SlackConfig = Field(default_factory=SlackConfig)
    approvals: ApprovalsConfig = Field(default_factory=ApprovalsConfig)
    policies: Annotated[dict[str, Policy], BeforeValidator(_policies)] = {}
    state: StateConfig = Field(default_factory=StateConfig)
    domains: Annotated[dict[str, str], BeforeValidator(_name_map), AfterValidator(_lower_map)] = {}
    alerts: Annotated[AlertsConfig | None, BeforeValidator(_no_alerts)] = None  # None: the bot never speaks first
    watch: WatchConfig = Field(default_factory=WatchConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    scopes: Annotated[tuple[ScopeConfig, ...], BeforeValidator(_scope_list)] = ()  # none: no limit by domain
    _path: Path = PrivateAttr(default=Path("mailbot.yaml"))

    def model_post_init(self, context: Any, /) -> None:
        if isinstance(context, dict) and "path" in context:
            self._path = context["path"]

    @property
    def path(self) -> Path:
        return self._path

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
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        if mark is None:
            raise ConfigError(_("The configuration file {path} is not valid YAML.").format(path=path)) from None
        raise ConfigError(
            _("The configuration file {path} is not valid YAML at line {line}.").format(path=path, line=mark.line + 1)
        ) from None
    return parse_config(document, path)


def parse_config(document: Any, path: Path) -> Config:
    try:
        return Config.model_validate(document, context={"path": path, "base": path.resolve().parent})
    except ValidationError as exc:
        raise _refusal(exc, path) from None


def _refusal(error: ValidationError, path: Path) -> ConfigError:
    """Pydantic's errors as the one sentence the user reads: an unknown key first (a typo explains
    the missing key it hides), else the first error, with the place from its `loc`."""
    errors = error.errors(include_url=False, include_input=False)
    first: ErrorDetails = next((e for e in errors if e["type"] in _UNKNOWN_KEYS), errors[0])
    loc = first["loc"]
    if first["type"] in _UNKNOWN_KEYS:
        return unknown_key_error(path, _key_path((*loc[:-1], str(loc[-1]))), str(loc[-1]), _keys_at(loc[:-1]))
    place = loc if first["type"] in _SECTION_ERRORS else loc[:-1]
    values = {
        **first.get("ctx", {}),
        "where": _("{file}: {place}").format(file=path, place=_key_path(place)) if place else str(path),
        "key": loc[-1] if loc else "",
    }
    return ConfigError(_(_SENTENCES.get(first["type"], _SENTENCES["invalid"])).format(**values))


def _key_path(loc: tuple[int | str, ...]) -> str:
    """`("hosts", 1, "maillog")` as a reader writes it: `hosts[1].maillog`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def _keys_at(loc: tuple[int | str, ...]) -> frozenset[str]:
    """The keys of the mapping at `loc` (list indexes and the names of a `verbs:` entry pass through)."""
    section: type[BaseModel] = Config
    for part in loc:
        field = section.model_fields.get(part) if isinstance(part, str) else None
        section = (_section_in(field.annotation) if field else None) or section
    return frozenset(section.model_fields)


def _section_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((found for inner in get_args(annotation) if (found := _section_in(inner))), None)


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The one name a typo most likely meant, if any is close enough."""
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
