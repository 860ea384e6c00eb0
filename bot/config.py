"""The bot's configuration: one YAML file, read once, turned into frozen records.

Where the file is: `--config`, else `$MAILBOT_CONFIG`, else `./mailbot.yaml`, else the
lab's `lab/mailbot-lab.yaml` beside the package (the embedded default target, so a fresh
checkout answers with the lab as soon as `lab/up.sh` has run). Relative paths inside the
file are resolved against the file's own folder. Secrets never live here: Slack tokens
come from the environment.
"""

from __future__ import annotations

import difflib
import os
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from bot.errors import ConfigError
from bot.i18n import LANGUAGES, _, normalise

LAB_CONFIG = Path(__file__).resolve().parent.parent / "lab" / "mailbot-lab.yaml"
HOST_ROLES = frozenset({"mta", "store", "bmcli"})
POLICIES = frozenset({"read", "confirm", "approve"})
DEFAULT_MAX_OUTPUT_BYTES = 256 * 1024 * 1024
DEFAULT_BM_CLI = "/usr/bin/bm-cli"  # where BlueMind's package links it
# A Postfix instance's config directory (`postfix_config`): an absolute path of plain names
# (none starting with a dot, so no `..`), as `postqueue -c` and `postconf -c` take it.
_CONFIG_DIR = re.compile(r"(/[A-Za-z0-9_][A-Za-z0-9._+-]*)+/?")
_Number = TypeVar("_Number", int, float)

# The keys each part of the file may hold: anything else is a typo the reader is told about
# (`aprovers:` silently meant no approvers).
ACCESS_KEYS = frozenset({"allowed_channels", "allowed_users", "allowed_groups"})
KNOWN_KEYS: dict[str, frozenset[str]] = {
    "": frozenset({"hosts", "slack", "approvals", "policies", "state", "domains", "alerts", "watch"}),
    "hosts": frozenset(
        {
            "name",
            "address",
            "user",
            "key_file",
            "known_hosts",
            "maillog",
            "port",
            "roles",
            "connect_timeout",
            "command_timeout",
            "max_output_bytes",
            "max_sessions",
            "key_passphrase_env",
            "bluemind",
            "bm_cli",
            "retention_days",
            "regen_maps",
            "postfix_config",
            "change_key_file",
        }
    ),
    "slack": ACCESS_KEYS | {"api_url", "verbs", "workers", "max_pending", "rate_limits", "language"},
    "slack.rate_limits": frozenset({"per_user", "per_channel"}),
    "slack.verbs.VERB": ACCESS_KEYS,
    "approvals": frozenset({"approvers", "approver_group", "expiry_minutes", "require_reason"}),
    "state": frozenset({"path", "url"}),
    "alerts": frozenset(
        {"channel", "every", "min_messages", "min_age", "queue_size", "growth_per_hour", "local_domains"}
    ),
    "watch": frozenset({"max_per_user", "default_for", "max_for", "every"}),
}


@dataclass(frozen=True)
class HostConfig:
    name: str
    address: str
    user: str
    key_file: Path
    known_hosts: Path
    maillog: tuple[str, ...]
    port: int = 22
    roles: frozenset[str] = frozenset({"mta", "store"})
    connect_timeout: float = 10.0
    command_timeout: float = 120.0
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    max_sessions: int = 8
    key_passphrase_env: str | None = None
    bluemind: int | None = None  # 4 (Cyrus) or 5; None: detected on the host
    bm_cli: str = DEFAULT_BM_CLI
    retention_days: int = 7  # how long the host keeps expunged mails (cyr_expire -X)
    regen_maps: tuple[tuple[str, ...], ...] = ()  # commands that rebuild the Postfix maps, in order
    postfix_config: str | None = None  # a Postfix instance's config directory (postqueue/postconf -c); None: default
    # A second key for the approved changes only (flush, restore, regen-maps): with the guard, the
    # everyday key can then be read-only and this one change-only. None: key_file does both.
    change_key_file: Path | None = None

    def for_changes(self) -> HostConfig:
        """This host as the approved changes reach it: through the change key, if there is one."""
        return replace(self, key_file=self.change_key_file) if self.change_key_file else self


@dataclass(frozen=True)
class AccessRule:
    """Who may ask, and where. An empty list means no restriction on that axis."""

    channels: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlackConfig:
    api_url: str = "https://slack.com/api/"
    access: AccessRule = field(default_factory=AccessRule)
    verb_access: dict[str, AccessRule] = field(default_factory=dict)
    workers: int = 8
    max_pending: int = 64
    user_limit: tuple[int, float] = (20, 60.0)  # commands per user per window (seconds)
    channel_limit: tuple[int, float] = (120, 60.0)
    language: str = "en"  # of cards in a channel, and of users whose Slack locale has no catalogue


@dataclass(frozen=True)
class ApprovalsConfig:
    approvers: tuple[str, ...] = ()
    approver_group: str | None = None
    expiry_minutes: float = 15
    require_reason: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertsConfig:
    """`alerts:`: the bot reads the queues every `every` seconds and posts problems in `channel`."""

    channel: str
    every: float = 300.0
    min_messages: int = 1
    min_age: float = 0.0  # seconds a mail waits before it counts
    queue_size: int | None = None  # deferred messages on one host above which the host is a problem
    growth_per_hour: int | None = None  # deferred messages gained per hour above which too
    local_domains: tuple[str, ...] = ()  # besides `domains`: where "User unknown" means stale maps


@dataclass(frozen=True)
class WatchConfig:
    """`watch:`: `/mail watch` limits."""

    max_per_user: int = 5
    default_for: float = 7200.0
    max_for: float = 86400.0
    every: float = 60.0  # how often a terminal's `mailbot watch` looks (the bot: alerts.every, else this)


@dataclass(frozen=True)
class Config:
    path: Path
    hosts: tuple[HostConfig, ...]
    slack: SlackConfig = field(default_factory=SlackConfig)
    approvals: ApprovalsConfig = field(default_factory=ApprovalsConfig)
    policies: dict[str, str] = field(default_factory=dict)
    state_path: Path = Path("mailbot.db")
    state_url: str | None = None  # postgresql://user@host:port/db: the state shared by replicas
    domains: dict[str, str] = field(default_factory=dict)
    alerts: AlertsConfig | None = None
    watch: WatchConfig = field(default_factory=WatchConfig)

    def host(self, name: str) -> HostConfig:
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(h.name for h in self.hosts)
        raise ConfigError(f"There is no host named {name!r} in {self.path}; the configured hosts are: {known}.")

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
        "No configuration found: pass --config FILE, set MAILBOT_CONFIG, write ./mailbot.yaml, "
        "or start the lab with `sudo bash lab/up.sh`."
    )


def load_config(explicit: str | None = None) -> Config:
    path = find_config_path(explicit)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read the configuration file {path}: {exc.strerror or exc}.") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"The configuration file {path} is not valid YAML{where}.") from None
    return parse_config(document, path)


def parse_config(document: Any, path: Path) -> Config:
    reader = _Section(document, str(path), path).only("")
    base = path.resolve().parent
    hosts_raw = reader.require_list("hosts")
    if not hosts_raw:
        raise ConfigError(f"{path}: `hosts` lists no host; add at least one mail host.")
    hosts = tuple(
        _parse_host(_Section(item, f"{path}: hosts[{i}]", path, f"hosts[{i}]").only("hosts"), base)
        for i, item in enumerate(hosts_raw)
    )
    names = [h.name for h in hosts]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{path}: host names must be unique; {', '.join(duplicates)} appears twice.")

    slack = reader.section("slack").only("slack")
    slack.section("rate_limits").only("slack.rate_limits")
    approvals = reader.section("approvals").only("approvals")
    state = reader.section("state").only("state")
    policies = reader.mapping("policies")
    for verb, policy in policies.items():
        if policy not in POLICIES:
            raise ConfigError(f"{path}: policy of {verb!r} is {policy!r}; use one of read, confirm, approve.")
    return Config(
        path=path,
        hosts=hosts,
        slack=SlackConfig(
            api_url=slack.string("api_url", SlackConfig.api_url),
            access=_access_rule(slack),
            verb_access={
                verb: _access_rule(slack.section("verbs").section(verb).only("slack.verbs.VERB"))
                for verb in slack.mapping_keys("verbs")
            },
            workers=max(1, slack.number("workers", 8, int)),
            max_pending=max(1, slack.number("max_pending", 64, int)),
            user_limit=_rate(slack, "per_user", (20, 60.0)),
            channel_limit=_rate(slack, "per_channel", (120, 60.0)),
            language=_language(slack),
        ),
        approvals=ApprovalsConfig(
            approvers=approvals.strings("approvers"),
            approver_group=approvals.optional_string("approver_group"),
            expiry_minutes=approvals.number("expiry_minutes", 15.0, float),
            require_reason=approvals.strings("require_reason"),
        ),
        policies=policies,
        # No path given: the working folder (a container's writable /var/lib/mailbot), not the
        # config's folder, which is often a read-only mount.
        state_path=_resolve(base, state.string("path")) if state.raw.get("path") else Path("mailbot.db").resolve(),
        state_url=_state_url(state),
        domains={k.lower(): v.lower() for k, v in reader.mapping("domains").items()},
        alerts=_alerts(reader.section("alerts").only("alerts")) if reader.raw.get("alerts") else None,
        watch=_watch(reader.section("watch").only("watch")),
    )


def _alerts(alerts: _Section) -> AlertsConfig:
    every = _seconds(alerts, "every", 300.0)
    if every < 1:
        raise ConfigError(f"{alerts.where}: `every` must be at least 1s.")
    optional = {
        key: alerts.number(key, 0, int) if alerts.raw.get(key) is not None else None
        for key in ("queue_size", "growth_per_hour")
    }
    return AlertsConfig(
        channel=alerts.string("channel"),
        every=every,
        min_messages=max(1, alerts.number("min_messages", 1, int)),
        min_age=_seconds(alerts, "min_age", 0.0),
        queue_size=optional["queue_size"],
        growth_per_hour=optional["growth_per_hour"],
        local_domains=tuple(d.lower() for d in alerts.strings("local_domains")),
    )


def _watch(watch: _Section) -> WatchConfig:
    limits = WatchConfig(
        max_per_user=watch.number("max_per_user", 5, int),
        default_for=_seconds(watch, "default_for", 7200.0),
        max_for=_seconds(watch, "max_for", 86400.0),
        every=max(1.0, _seconds(watch, "every", 60.0)),
    )
    if limits.default_for <= 0 or limits.default_for > limits.max_for:
        raise ConfigError(f"{watch.where}: `default_for` must be positive and at most `max_for`.")
    return limits


_CONFIG_DURATION = re.compile(r"(?P<count>\d{1,9})(?P<unit>[smhdw]?)")
_CONFIG_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _seconds(section: _Section, key: str, default: float) -> float:
    """A duration: seconds as a number, or `30s`, `5m`, `2h`, `1d`, `1w`."""
    raw = section.raw.get(key, default)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw >= 0:
        return float(raw)
    match = _CONFIG_DURATION.fullmatch(str(raw).strip())
    if not match:
        raise ConfigError(f"{section.where}: `{key}` must be a duration like 30s, 5m, 2h or 1d.")
    return float(int(match["count"]) * _CONFIG_UNITS[match["unit"]])


def _state_url(state: _Section) -> str | None:
    """`state: {url: postgresql://user@host:port/db}`; the password never in the file."""
    url = state.optional_string("url")
    if url is None:
        return None
    if state.raw.get("path"):
        raise ConfigError(_("{where}: give `path` (SQLite) or `url` (PostgreSQL), not both.").format(where=state.where))
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            _("{where}: `url` must start with postgresql:// (like postgresql://mailbot@db/mailbot).").format(
                where=state.where
            )
        )
    if parts.password is not None:
        raise ConfigError(
            _(
                "{where}: `url` holds a password; remove it and set MAILBOT_STATE_PASSWORD "
                "(or use a libpq passfile or service) instead."
            ).format(where=state.where)
        )
    return url


def _parse_host(host: _Section, base: Path) -> HostConfig:
    roles = frozenset(host.strings("roles") or ("mta", "store"))
    unknown = roles - HOST_ROLES
    if unknown:
        raise ConfigError(f"{host.where}: unknown role {sorted(unknown)[0]!r}; roles are mta, store, bmcli.")
    maillog: tuple[str, ...]
    raw_log = host.raw.get("maillog", "/var/log/mail.log")
    maillog = (raw_log,) if isinstance(raw_log, str) else host.strings("maillog")
    for log_path in maillog:
        if not log_path.startswith("/"):
            raise ConfigError(f"{host.where}: maillog {log_path!r} must be an absolute path on the mail host.")
    port = host.number("port", 22, int)
    if not 0 < port < 65536:
        raise ConfigError(f"{host.where}: port {port} is not a TCP port.")
    bluemind = host.raw.get("bluemind")
    if bluemind is not None and bluemind not in (4, 5):
        raise ConfigError(f"{host.where}: `bluemind` is {bluemind!r}; use 4 (Cyrus) or 5, or leave it out.")
    bm_cli = host.string("bm_cli", DEFAULT_BM_CLI)
    if not bm_cli.startswith("/") or any(c.isspace() for c in bm_cli):
        raise ConfigError(f"{host.where}: bm_cli {bm_cli!r} must be an absolute path on the host, without spaces.")
    retention_days = host.number("retention_days", 7, int)
    if not 1 <= retention_days <= 3650:
        raise ConfigError(f"{host.where}: retention_days must be between 1 and 3650.")
    postfix_config = host.optional_string("postfix_config")
    if postfix_config is not None:
        if not _CONFIG_DIR.fullmatch(postfix_config):
            raise ConfigError(
                f"{host.where}: postfix_config {postfix_config!r} must be the absolute path of a Postfix "
                "instance's config directory on the host (like /etc/postfix-edge), without spaces or `..`."
            )
        postfix_config = postfix_config.rstrip("/")
    return HostConfig(
        name=host.string("name"),
        address=host.string("address"),
        port=port,
        user=host.string("user"),
        key_file=_resolve(base, host.string("key_file")),
        known_hosts=_resolve(base, host.string("known_hosts")),
        maillog=maillog,
        roles=roles,
        connect_timeout=host.number("connect_timeout", 10.0, float),
        command_timeout=host.number("command_timeout", 120.0, float),
        max_output_bytes=host.number("max_output_bytes", DEFAULT_MAX_OUTPUT_BYTES, int),
        max_sessions=max(1, host.number("max_sessions", 8, int)),
        key_passphrase_env=host.optional_string("key_passphrase_env"),
        regen_maps=_commands(host, "regen_maps"),
        bluemind=bluemind,
        bm_cli=bm_cli,
        retention_days=retention_days,
        postfix_config=postfix_config,
        change_key_file=_resolve(base, change_key) if (change_key := host.optional_string("change_key_file")) else None,
    )


def _commands(host: _Section, key: str) -> tuple[tuple[str, ...], ...]:
    """A list of commands, each a list of words (never one string: no shell parses them here)."""
    raw = host.raw.get(key) or []
    if not isinstance(raw, list) or not all(
        isinstance(command, list) and command and all(isinstance(word, str) and word for word in command)
        for command in raw
    ):
        raise ConfigError(f"{host.where}: `{key}` must be a list of commands, each a list of words.")
    if any(not command[0].startswith("/") and command[0] not in ("sudo", "bm-cli") for command in raw):
        raise ConfigError(f"{host.where}: each command of `{key}` must start with an absolute path (or sudo).")
    return tuple(tuple(command) for command in raw)


def _language(slack: _Section) -> str:
    text = slack.string("language", "en")
    language = normalise(text)
    if language is None:
        raise ConfigError(f"{slack.where}: language {text!r} has no catalogue; use one of {', '.join(LANGUAGES)}.")
    return language


def _rate(slack: _Section, key: str, default: tuple[int, float]) -> tuple[int, float]:
    """`per_user: 20/60s`: at most 20 commands in 60 seconds."""
    raw = slack.section("rate_limits").raw.get(key)
    if raw is None:
        return default
    count, _, window = str(raw).partition("/")
    try:
        limit = (int(count), float(window.rstrip("s") or "60"))
    except ValueError:
        raise ConfigError(f"{slack.where}: rate_limits.{key} must look like 20/60s.") from None
    if limit[0] < 1 or limit[1] <= 0:
        raise ConfigError(f"{slack.where}: rate_limits.{key} must allow at least 1 command in a positive window.")
    return limit


def _access_rule(section: _Section) -> AccessRule:
    return AccessRule(
        channels=section.strings("allowed_channels"),
        users=section.strings("allowed_users"),
        groups=section.strings("allowed_groups"),
    )


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


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


class _Section:
    """Typed access to one mapping of the YAML document, with errors naming the key.

    `name` is the mapping's place in the document as a reader writes it (`hosts[1]`,
    `slack.verbs.trace`; empty at the top), for the unknown-key sentence.
    """

    def __init__(self, raw: Any, where: str, path: Path, name: str = "") -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a mapping of keys to values.")
        self.raw: dict[str, Any] = raw
        self.where = where
        self.path = path
        self.name = name

    def key_name(self, key: str) -> str:
        return f"{self.name}.{key}" if self.name else key

    def section(self, key: str) -> _Section:
        return _Section(self.raw.get(key), f"{self.where}: {key}", self.path, self.key_name(key))

    def only(self, kind: str) -> _Section:
        """Refuse any key this part of the file does not know (`kind`: its entry in KNOWN_KEYS)."""
        known = KNOWN_KEYS[kind]
        for key in map(str, self.raw):
            if key not in known:
                raise unknown_key_error(self.path, self.key_name(key), key, known)
        return self

    def string(self, key: str, default: str | None = None) -> str:
        value = self.raw.get(key, default)
        if value is None:
            raise ConfigError(f"{self.where}: `{key}` is required.")
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ConfigError(f"{self.where}: `{key}` must be a string.")
        return str(value)

    def optional_string(self, key: str) -> str | None:
        return self.string(key) if self.raw.get(key) is not None else None

    def number(self, key: str, default: _Number, kind: type[_Number]) -> _Number:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{self.where}: `{key}` must be a positive number.")
        return kind(value)

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.raw.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self.where}: `{key}` must be a list of strings.")
        return tuple(value)

    def require_list(self, key: str) -> list[Any]:
        value = self.raw.get(key)
        if not isinstance(value, list):
            raise ConfigError(f"{self.where}: `{key}` must be a list.")
        return value

    def mapping_keys(self, key: str) -> list[str]:
        value = self.raw.get(key) or {}
        if not isinstance(value, dict):
            raise ConfigError(f"{self.where}: `{key}` must be a mapping.")
        return [str(k) for k in value]

    def mapping(self, key: str) -> dict[str, str]:
        value = self.raw.get(key) or {}
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ConfigError(f"{self.where}: `{key}` must map names to strings.")
        return dict(value)
