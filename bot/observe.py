"""What an operator runs the bot with: Prometheus metrics, structured logs, and the request id.

Beside every layer (like the config, the errors and the language): the Slack side, the verbs,
the SSH executor and the state all report here, and nothing here knows any of them.

- The request id (`R` and 12 hex digits) is set once per command where it arrives (a slash
  command, a CLI run) and carried by a context variable: the job pool copies it into the job's
  thread, every log line carries it, and a change request takes it as its id, so the same id is
  in the bot's logs, on each SSH command's log line and in the audit records.
- Logs: `MAILBOT_LOG_FORMAT=json` writes one JSON object per line (time, level, event, verb,
  request_id, host, duration, outcome, message); text mode writes the same fields as `key=value`
  after the message. Log calls pass them as `extra`; none holds an address or a secret.
- Metrics: `prometheus_client` is imported by `enable_metrics()` only (the bot does it; a CLI
  command pays nothing and records nothing). Labels are verbs, channel kinds, outcomes, host
  names from the config, alert kinds and request states: never an address, a user or user text.
- Which hosts answered lately (for GET /ready) is kept whether or not metrics are on.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

LOG_FORMAT_ENV = "MAILBOT_LOG_FORMAT"
FIELDS = ("event", "verb", "channel", "request_id", "host", "duration", "outcome")
# Answer latencies: from a slash command's 30 ms ack to a 2-minute search.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

_request_id: ContextVar[str | None] = ContextVar("mailbot_request_id", default=None)


# --- the request id -----------------------------------------------------------------------------


def new_request_id() -> str:
    return "R" + os.urandom(6).hex()  # what secrets.token_hex(6) is, without its imports (3 ms a command)


def request_id() -> str | None:
    """The id of the command being served in this context, if any."""
    return _request_id.get()


@contextmanager
def serving(rid: str | None = None) -> Iterator[str]:
    """Within the block (and the jobs it submits), log lines and audit records carry `rid` (a new id by default)."""
    rid = rid or new_request_id()
    token = _request_id.set(rid)
    try:
        yield rid
    finally:
        _request_id.reset(token)


# --- logs ---------------------------------------------------------------------------------------


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    found = {name: getattr(record, name, None) for name in FIELDS}
    if found["request_id"] is None:
        found["request_id"] = request_id()
    if isinstance(found["duration"], float):
        found["duration"] = round(found["duration"], 3)
    return {name: value for name, value in found.items() if value is not None}


class _FieldsInText(logging.Formatter):
    """The text line, then the fields as `key=value`."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        if not fields:
            return line
        head, _newline, tail = line.partition("\n")  # an exception's lines stay after the fields
        return f"{head} {fields}" + (f"\n{tail}" if tail else "")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; an exception as its type and message (its traceback only with MAILBOT_DEBUG=1)."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            **_fields(record),
            "message": record.getMessage(),
        }
        document.setdefault("event", "log")
        if record.exc_info and record.exc_info[0] is not None:
            document["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
            if os.environ.get("MAILBOT_DEBUG"):
                document["traceback"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)


def log_formatter(text: type[logging.Formatter] = logging.Formatter) -> logging.Formatter:
    """The formatter MAILBOT_LOG_FORMAT asks for: `json`, else `text` (the `text` class, with the fields added)."""
    wanted = os.environ.get(LOG_FORMAT_ENV, "text").strip().lower() or "text"
    if wanted == "json":
        return JsonFormatter()
    if wanted != "text":
        print(f"mailbot: {LOG_FORMAT_ENV}={wanted!r} is not a log format; using text (or use json).", file=sys.stderr)
    with_fields: type[logging.Formatter] = type("TextWithFields", (_FieldsInText, text), {})
    return with_fields(logging.BASIC_FORMAT)


# --- which hosts answered (for GET /ready) -------------------------------------------------------

_reached: dict[str, float] = {}
_reached_lock = threading.Lock()


def host_reached(host: str) -> None:
    with _reached_lock:
        _reached[host] = time.monotonic()


def reached_within(seconds: float) -> list[str]:
    """The hosts that answered in the last `seconds`."""
    since = time.monotonic() - seconds
    with _reached_lock:
        return sorted(host for host, at in _reached.items() if at >= since)


# --- metrics ------------------------------------------------------------------------------------

Gauges = Callable[[], Iterable[tuple[str, str, dict[str, str], float]]]


class _Metrics:
    def __init__(self, version: str, verbs: Iterable[str]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, Info

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.commands = Counter(
            "mailbot_commands",
            "Commands answered, by verb, channel kind and outcome.",
            ["verb", "channel", "outcome"],
            registry=r,
        )
        self.latency = Histogram(
            "mailbot_answer_seconds",
            "Time from a command's arrival to its ack, its first byte and its whole answer.",
            ["stage", "verb"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # Every verb's series exist at zero from the start: a first burst of commands between two
        # scrapes is otherwise a series born at its count, which rate() reads as no increase.
        for verb in verbs:
            for stage in ("ack", "first_byte", "done"):
                self.latency.labels(stage, verb)
        self.connections = Counter(
            "mailbot_ssh_connections", "SSH logins that succeeded, per host.", ["host"], registry=r
        )
        self.failures = Counter(
            "mailbot_ssh_connection_failures",
            "SSH logins that failed, per host and reason.",
            ["host", "reason"],
            registry=r,
        )
        self.ssh_seconds = Histogram(
            "mailbot_ssh_command_seconds",
            "Time each command took on a host, per host and outcome (ok, failed, broken).",
            ["host", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue: dict[str, int] = {}
        self.gauges: list[Gauges] = []
        Info("mailbot_build", "The bot's version and Python.", registry=r).info(
            {"version": version, "python": ".".join(map(str, sys.version_info[:3]))}
        )
        r.register(_Collector(self))


class _Collector:
    """The gauges read at scrape time: the queue sizes the last period saw, and each registered reader."""

    def __init__(self, metrics: _Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        queue = GaugeMetricFamily(
            "mailbot_queue_messages", "Messages in each host's queue at the last period.", labels=["host"]
        )
        for host, count in sorted(self._metrics.queue.items()):
            queue.add_metric([host], count)
        yield queue
        families: dict[str, GaugeMetricFamily] = {}
        for reader in self._metrics.gauges:
            try:
                samples = list(reader())
            except Exception as exc:  # the state is down: its gauges are missing from this scrape
                logging.getLogger("mailbot.metrics").warning("a gauge could not be read: %s", type(exc).__name__)
                continue
            for name, documentation, labels, value in samples:
                family = families.get(name)
                if family is None:
                    family = families[name] = GaugeMetricFamily(name, documentation, labels=list(labels))
                family.add_metric(list(labels.values()), value)
        yield from families.values()


_metrics: _Metrics | None = None


def enable_metrics(version: str, verbs: Iterable[str] = ()) -> Any:
    """Start counting (once per process), with `verbs`' latency series at zero; returns the registry for /metrics."""
    global _metrics
    if _metrics is None:
        _metrics = _Metrics(version, verbs)
    return _metrics.registry


def add_gauges(reader: Gauges) -> None:
    """`reader()` gives (name, help, labels, value) samples at each scrape."""
    if _metrics is not None:
        _metrics.gauges.append(reader)


def metrics_text() -> bytes:
    """The exposition text of the counters, for GET /metrics."""
    if _metrics is None:
        return b""
    from prometheus_client import generate_latest

    return bytes(generate_latest(_metrics.registry))


def answered(verb: str, channel: str, outcome: str, seconds: float, log: logging.Logger | None = None) -> None:
    """One command is done: counted, timed, and told in one log line."""
    (log or logging.getLogger("mailbot.commands")).info(
        "%s %s in %.3f s",
        verb,
        outcome,
        seconds,
        extra={"event": "command", "verb": verb, "outcome": outcome, "duration": seconds, "channel": channel},
    )
    if _metrics is not None:
        _metrics.commands.labels(verb, channel, outcome).inc()
        _metrics.latency.labels("done", verb).observe(seconds)


def latency(stage: str, verb: str, seconds: float) -> None:
    """`ack` or `first_byte` of a command's answer."""
    if _metrics is not None:
        _metrics.latency.labels(stage, verb).observe(seconds)


def ssh_connected(host: str, seconds: float) -> None:
    host_reached(host)
    logging.getLogger("mailbot.ssh").info(
        "logged in to %s", host, extra={"event": "ssh_login", "host": host, "duration": seconds, "outcome": "ok"}
    )
    if _metrics is not None:
        _metrics.connections.labels(host).inc()


def ssh_failed(host: str, reason: str) -> None:
    logging.getLogger("mailbot.ssh").info(
        "login to %s failed", host, extra={"event": "ssh_login", "host": host, "outcome": reason}
    )
    if _metrics is not None:
        _metrics.failures.labels(host, reason).inc()


def ssh_command(host: str, seconds: float, exit_status: int | None) -> None:
    outcome = "broken" if exit_status is None or exit_status < 0 else ("ok" if exit_status == 0 else "failed")
    if outcome != "broken":
        host_reached(host)
    logging.getLogger("mailbot.ssh").info(
        "command on %s exited %s",
        host,
        exit_status,
        extra={"event": "ssh_command", "host": host, "duration": seconds, "outcome": outcome},
    )
    if _metrics is not None:
        _metrics.ssh_seconds.labels(host, outcome).observe(seconds)


def queue_seen(host: str, messages: int) -> None:
    host_reached(host)
    if _metrics is not None:
        _metrics.queue[host] = messages
