"""`mailbot serve`: run the Slack bot, in Socket Mode (default) or HTTP mode.

Socket Mode needs no public URL: the bot opens a WebSocket to Slack with the app-level
token. HTTP mode receives signed requests at `/slack/events`. Both answer `GET /health`
(HTTP mode on its own port, Socket Mode on `--health-port`) for a container's health
check: 200 while Slack is connected and the state answers. The same port answers `GET /ready`
(200 when the state answers and a mail host was reached in the last period, else 503 naming the
check that failed: for a load balancer or an orchestrator's readiness probe) and `GET /metrics`
(Prometheus). SIGTERM stops taking new work, lets work in flight finish and post, then exits.
"""

from __future__ import annotations

import logging
import os
import signal
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from bot import observe, startup
from bot.config import Config
from bot.errors import ConfigError, HostError, MailbotError
from bot.i18n import _
from bot.slack.app import MailBot
from bot.slack.outbox import retry_handlers
from bot.state.audit import audit_key
from bot.state.replicas import ALIVE_SECONDS
from bot.verbs import VERBS

log = logging.getLogger("mailbot.serve")

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/health"
READY_PATH = "/ready"
METRICS_PATH = "/metrics"
PROBE_AGAIN_SECONDS = 30  # after a failed readiness probe of the hosts, its answer is kept this long


@dataclass(frozen=True)
class SlackSecrets:
    bot_token: str
    app_token: str | None
    signing_secret: str | None


def secrets_from_env(http: bool) -> SlackSecrets:
    def need(name: str) -> str:
        value = os.environ.get(name, "").strip()
        if not value:
            mode = "HTTP mode" if http else "Socket Mode"
            raise ConfigError(
                _("{name} is not set; {mode} needs it in the environment (see the README).").format(
                    name=name, mode=mode
                )
            )
        return value

    bot_token = need("SLACK_BOT_TOKEN")
    if http:
        return SlackSecrets(bot_token, None, need("SLACK_SIGNING_SECRET"))
    return SlackSecrets(bot_token, need("SLACK_APP_TOKEN"), None)


def web_client(config: Config, token: str) -> WebClient:
    """The bot's Web API client: bounded retries of 429s (after Retry-After), dropped connections, 5xx."""
    handlers = [*retry_handlers(), ServerErrorRetryHandler(max_retry_count=2)]
    return WebClient(token=token, base_url=config.slack.api_url, timeout=15, retry_handlers=handlers)


def build_app(config: Config, secrets: SlackSecrets, mailbot: MailBot | None = None) -> tuple[App, MailBot]:
    client = web_client(config, secrets.bot_token)
    try:
        app = App(
            client=client,
            signing_secret=secrets.signing_secret,
            request_verification_enabled=secrets.signing_secret is not None,
            process_before_response=False,
            logger=logging.getLogger("mailbot.bolt"),
        )
    except SlackApiError as exc:
        raise ConfigError(
            _("Slack refused the bot token ({get}); check SLACK_BOT_TOKEN.").format(get=exc.response.get("error"))
        ) from None
    except Exception as exc:
        raise ConfigError(
            _("Cannot reach the Slack API at {api_url} ({name__}).").format(
                api_url=config.slack.api_url, name__=type(exc).__name__
            )
        ) from None
    bot = mailbot or MailBot(config, client)
    bot.register(app)
    return app, bot


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's default backlog of 5 resets a burst of slash commands


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s", format % args)


class Readiness:
    """GET /ready: None when the bot can do its work, else the check that failed, in a sentence.

    Ready means the state answers and at least one mail host answered in the last period (the alert
    period, else the watches'). A replica whose commands and period reached no host lately logs in to
    the hosts itself (`HostConnection.reach`); a failed probe is kept 30 s, so a probe every few
    seconds does not become a login storm.
    """

    def __init__(self, mailbot: MailBot) -> None:
        self._bot = mailbot
        self._failed: tuple[float, str] | None = None
        self._lock = threading.Lock()

    @property
    def period(self) -> float:
        return 2 * self._bot.alerts.every + max(h.connect_timeout for h in self._bot.config.hosts)

    def __call__(self) -> str | None:
        if not self._bot.state.database.answers():
            return "the state database does not answer"
        if observe.reached_within(self.period):
            return None
        with self._lock:
            now = time.monotonic()
            if self._failed is not None and now - self._failed[0] < PROBE_AGAIN_SECONDS:
                return self._failed[1]
            reasons = []
            for host in self._bot.config.hosts:
                try:
                    self._bot.pool.connection(host).reach()
                    self._failed = None
                    return None
                except HostError as failure:
                    reasons.append(f"{host.name}: {type(failure).__name__}")
            why = f"no mail host was reached in the last {self.period:.0f} s ({', '.join(reasons)})"
            self._failed = (now, why)
            return why


def _gauges(mailbot: MailBot) -> None:
    """The gauges read at each scrape: approval requests by state, open alert problems per kind,
    the job pool's busy and waiting slots, replicas seen (the state's, shared by every replica)."""
    state = mailbot.state

    def requests() -> Iterable[tuple[str, str, dict[str, str], float]]:
        counts = state.requests.counts()
        for name in ("pending", "approved", "rejected", "expired", "ran", "failed"):
            yield "mailbot_approval_requests", "Change requests by state.", {"state": name}, counts.get(name, 0)

    def problems() -> Iterable[tuple[str, str, dict[str, str], float]]:
        for kind, count in sorted(state.alerts.open_by_kind().items()):
            yield "mailbot_alert_problems_open", "Alert problems not resolved, per kind.", {"kind": kind}, count

    def jobs() -> Iterable[tuple[str, str, dict[str, str], float]]:
        busy, waiting = mailbot.jobs.load()
        yield "mailbot_jobs", "The job pool's slots: busy, waiting.", {"state": "busy"}, busy
        yield "mailbot_jobs", "The job pool's slots: busy, waiting.", {"state": "waiting"}, waiting
        yield "mailbot_job_workers", "The job pool's workers.", {}, mailbot.jobs.workers

    def replicas() -> Iterable[tuple[str, str, dict[str, str], float]]:
        yield "mailbot_replicas_seen", "Replicas that beat lately.", {}, state.replicas.count_seen(ALIVE_SECONDS)

    for reader in (jobs, requests, problems, replicas):
        observe.add_gauges(reader)


def _wsgi(
    app: App | None, healthy: Callable[[], bool], ready: Callable[[], str | None] | None = None
) -> WSGIApplication:
    handler = SlackRequestHandler(app) if app is not None else None

    def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == HEALTH_PATH:
            ok = healthy()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ok\n" if ok else b"not connected (Slack or the state)\n"]
        if path == READY_PATH and ready is not None:
            why = ready()
            start_response("200 OK" if why is None else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ready\n" if why is None else f"not ready: {why}\n".encode()]
        if path == METRICS_PATH:
            start_response("200 OK", [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")])
            return [observe.metrics_text()]
        if handler is not None and path == EVENTS_PATH:
            return handler(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    return application


def _prune_audit(mailbot: MailBot, stop: threading.Event) -> None:
    """Apply `audit.retention` at start and every `audit.every`; replicas may all do it (it is one
    transaction under the writers' lock, and a second pruning finds nothing old)."""
    from bot.verbs.audit import prune

    while not stop.is_set():
        try:
            done = prune(mailbot.state.audit, mailbot.context("mailbot"))
            log.info("audit retention: %s records pruned", done.pruned)
        except MailbotError as failure:
            log.warning("audit retention: %s", failure.message)
        stop.wait(mailbot.config.audit.every)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("mailbot")
    except metadata.PackageNotFoundError:
        return "unknown"


def serve(config: Config, http: bool, host: str, port: int, health_port: int | None) -> int:
    """Run until SIGTERM or SIGINT; returns the process exit code."""
    secrets = secrets_from_env(http)
    if config.audit.retention is not None and audit_key() is None:
        raise ConfigError(_("MAILBOT_AUDIT_KEY is not set; pruning needs it to sign the checkpoint of what it drops."))
    app, mailbot = build_app(config, secrets)
    observe.enable_metrics(_version(), VERBS)
    _gauges(mailbot)
    ready = Readiness(mailbot)
    mailbot.approvals.start_sweeper()
    mailbot.alerts.start()  # the alert period (with `alerts:`) and the watches
    stop = threading.Event()
    if config.audit.retention is not None:
        threading.Thread(target=_prune_audit, args=(mailbot, stop), name="audit-retention", daemon=True).start()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: finishing the work in flight", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    servers: list[WSGIServer] = []
    socket_mode: SocketModeHandler | None = None
    if http:
        healthy = mailbot.state.database.answers
        servers.append(make_server(host, port, _wsgi(app, healthy, ready), _ThreadingWSGIServer, _QuietHandler))
        log.info("HTTP mode: listening on %s:%s%s", host, port, EVENTS_PATH)
    else:
        socket_mode = SocketModeHandler(app, secrets.app_token)
        socket_mode.connect()  # type: ignore[no-untyped-call]
        log.info("Socket Mode: connected")
        if health_port:
            client = socket_mode.client

            def connected_and_state() -> bool:
                return bool(client.is_connected()) and mailbot.state.database.answers()

            servers.append(
                make_server(
                    host, health_port, _wsgi(None, connected_and_state, ready), _ThreadingWSGIServer, _QuietHandler
                )
            )
    threads = [threading.Thread(target=s.serve_forever, name="http", daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    startup.keep()  # the record classes compiled by this start, for the next one and the CLI's
    if os.environ.get(observe.LOG_FORMAT_ENV, "").strip().lower() == "json":  # stdout stays one object a line
        log.info("serving (%s)", "HTTP mode" if http else "Socket Mode", extra={"event": "serving"})
    else:
        print(
            f"mailbot: serving ({'HTTP mode on port ' + str(port) if http else 'Socket Mode'}); Ctrl-C to stop.",
            flush=True,
        )
    stop.wait()
    # Stop taking new requests first, then let the jobs already accepted post their answers.
    if socket_mode is not None:
        socket_mode.close()  # type: ignore[no-untyped-call]
    for server in servers:
        server.shutdown()
        server.server_close()
    mailbot.shutdown(wait=True)
    startup.keep()  # and the classes of the verbs first used since
    log.info("stopped")
    return 0
