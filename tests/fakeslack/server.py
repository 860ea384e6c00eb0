"""A local fake of the Slack platform: Web API, response URLs, file uploads and Socket Mode.

``FakeSlack`` runs a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 (random port) serving

* ``POST|GET /api/<method>``: the Web API (form, JSON or multipart bodies, token in the
  ``Authorization: Bearer`` header or a ``token`` field), answering like Slack for the methods the
  bot uses and ``{"ok": true}`` for the others;
* ``POST /upload/v1/<id>``: the upload URLs that ``files.getUploadURLExternal`` hands out;
* ``POST /response/<id>``: the ``response_url`` of slash commands and button clicks;

and a Socket Mode WebSocket server (``socket_mode.SocketModeServer``). Every request is recorded as
a :class:`Call`. Nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.secretwatch import WATCH

from . import limits, payloads
from .payloads import Reply
from .socket_mode import Ack, SocketModeServer

INSTANCES: list[FakeSlack] = []
DEFAULT_BOT_TOKEN = "xoxb-0000000001-fakeslack-bot-token"
DEFAULT_APP_TOKEN = "xapp-1-A0MAILBOT1-0000000001-fakeslack-app-token"
DEFAULT_SIGNING_SECRET = "fakeslack-signing-secret-0123456789abcdef"
BOT_SCOPES = "chat:write,commands,files:write,users:read,users:read.email,usergroups:read,channels:read,groups:read"

_ID_RE = re.compile(r"^[A-Z0-9]{2,}$")
_JSON_ARGS = ("blocks", "attachments", "files", "metadata", "unfurls", "user_auth_blocks", "view")


@dataclass(frozen=True)
class Call:
    """One request the fake received."""

    method: str  # Web API method, "response_url" or "file_upload"
    args: dict[str, Any]  # query + body fields; JSON-encoded blocks/attachments/files are decoded
    headers: dict[str, str]  # the request headers, Authorization value redacted
    token_kind: str  # "bot", "app", "missing" or "invalid"
    path: str  # the request path (a response_url call: /response/<id>)
    url: str  # the full URL the client posted to
    body: bytes  # the raw request body
    at: float  # time.monotonic() when received
    wall: float  # time.time() when received
    status: int  # HTTP status answered
    response: Any  # the JSON answered (or text)

    @property
    def ok(self) -> bool:
        return self.status == 200 and isinstance(self.response, dict) and self.response.get("ok") is True


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    email: str = ""
    is_admin: bool = False
    is_bot: bool = False
    deleted: bool = False
    tz: str = "Europe/Paris"
    locale: str = "en-US"  # users.info gives it only with include_locale=true, as Slack does


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_member: bool = True
    is_archived: bool = False
    is_im: bool = False
    user: str = ""  # for an IM: the other user


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    user: str
    blocks: list[Any] = field(default_factory=list)
    attachments: list[Any] = field(default_factory=list)
    thread_ts: str | None = None
    bot_id: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    edits: int = 0

    def as_slack(self, team_id: str, app_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "user": self.user, "ts": self.ts, "text": self.text, "team": team_id}
        if self.bot_id:
            out["bot_id"] = self.bot_id
            out["app_id"] = app_id
        if self.blocks:
            out["blocks"] = self.blocks
        if self.attachments:
            out["attachments"] = self.attachments
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.files:
            out["files"] = self.files
            out["upload"] = False
        if self.edits:
            out["edited"] = {"user": self.user, "ts": self.ts}
        return out


@dataclass
class UploadedFile:
    id: str
    filename: str
    declared_length: int
    content: bytes | None = None  # None until the bytes are POSTed to the upload URL
    title: str = ""
    completed: bool = False
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    share_ts: str | None = None  # ts of the message that shares the file


@dataclass
class _Fault:
    status: int
    retry_after: int | None
    error: str | None
    remaining: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.server.fake._serve(self)

    def do_GET(self) -> None:
        self.server.fake._serve(self)

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass


class SlackApiError(Exception):
    """Raised inside a method handler: becomes ``{"ok": false, "error": ...}`` (HTTP 200, as Slack)."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


class FakeSlack:
    """A fake Slack workspace reachable on 127.0.0.1. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        signing_secret: str = DEFAULT_SIGNING_SECRET,
        team_id: str = payloads.TEAM_ID,
        team_domain: str = payloads.TEAM_DOMAIN,
        app_id: str = payloads.APP_ID,
        bot_user_id: str = payloads.BOT_USER_ID,
        bot_id: str = payloads.BOT_ID,
    ) -> None:
        INSTANCES.append(self)  # the suite's secret watch reads every call each one recorded
        WATCH.add("Slack bot token", bot_token)
        WATCH.add("Slack app token", app_token)
        WATCH.add("Slack signing secret", signing_secret)
        self.bot_tokens = {bot_token}
        self.app_tokens = {app_token}
        self.bot_token = bot_token
        self.app_token = app_token
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.app_id = app_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id

        self._lock = threading.Condition()
        self._calls: list[Call] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._latency: dict[str, float] = {}
        self._ts_last = 0
        self._ids = itertools.count(1)
        self._response_urls: dict[str, int] = {}  # id -> uses
        self.last_response_url: str | None = None

        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.usergroups: dict[str, tuple[str, list[str]]] = {}  # id -> (handle, user ids)
        self._messages: dict[tuple[str, str], Message] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.files: dict[str, UploadedFile] = {}
        self._upload_ids: dict[str, str] = {}  # upload URL id -> file id
        self.views: dict[str, dict[str, Any]] = {}  # view id -> the view as Slack holds it (modals, Home tabs)
        self.homes: dict[str, str] = {}  # user id -> the view id of their Home tab
        self.open_modals: dict[str, str] = {}  # view id -> the user it was opened for
        self._used_triggers: set[str] = set()

        self.add_user(bot_user_id, "mailbot", real_name="mailbot", is_bot=True)
        self.add_user("U123", "alice", real_name="Alice Martin", email="alice@lab.test")
        self.add_user("U456", "bob", real_name="Bob Durand", email="bob@lab.test", is_admin=True)
        self.add_user("U789", "carol", real_name="Carol Petit", email="carol@lab.test")
        self.add_channel("C123", "mail-support")
        self.add_usergroup("S0ADMINS01", "mail-admins", ["U456"])

        self._http: _Server | None = None
        self._http_thread: threading.Thread | None = None
        self.socket = SocketModeServer(app_id=app_id)

        self._methods: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "api.test": lambda args, _t: {"ok": True, "args": {k: v for k, v in args.items() if k != "token"}},
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.info": self._conversations_info,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "apps.connections.open": self._apps_connections_open,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }

    # ================================================================= lifecycle
    def start(self) -> FakeSlack:
        self._http = _Server(self)
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="fakeslack-http-server", daemon=True
        )
        self._http_thread.start()
        self.socket.start()
        return self

    def stop(self) -> None:
        self.socket.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)
        self._http = None
        self._http_thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._http is None:
            raise RuntimeError("FakeSlack is not started")
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What goes in ``slack.api_url`` / ``WebClient(base_url=...)``."""
        return f"{self.url}/api/"

    # ================================================================= directory
    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str = "",
        email: str = "",
        is_admin: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        locale: str = "en-US",
    ) -> User:
        user = User(user_id, name, real_name or name, email, is_admin, is_bot, deleted, locale=locale)
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_member: bool = True,
        is_archived: bool = False,
    ) -> Channel:
        chan = Channel(channel_id, name, is_private, is_member, is_archived)
        self.channels[channel_id] = chan
        return chan

    def add_usergroup(self, group_id: str, handle: str, user_ids: Iterable[str]) -> None:
        self.usergroups[group_id] = (handle, list(user_ids))

    # ================================================================= ids, time
    def new_ts(self) -> str:
        """A message ts like Slack's ("1732760000.000100"), strictly increasing."""
        with self._lock:
            us = max(int(time.time() * 1_000_000), self._ts_last + 1)
            self._ts_last = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):08X}"

    def new_response_url(self) -> str:
        rid = f"{self.team_id}/{next(self._ids)}/{time.time_ns():x}"
        with self._lock:
            self._response_urls[rid] = 0
        url = f"{self.url}/response/{rid}"
        self.last_response_url = url
        return url

    # ================================================================= calls
    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls, oldest first, optionally of one method ("chat.postMessage", "response_url"...)."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
        *,
        after: int = 0,
    ) -> Call:
        """Block until a call of ``method`` (matching ``predicate``) has been recorded; return the first.

        ``after`` skips calls recorded before that index of ``calls()`` (use ``len(fake.calls())``).
        """

        def find() -> Call | None:
            for c in self._calls[after:]:
                if c.method == method and (predicate is None or predicate(c)):
                    return c
            return None

        with self._lock:
            found = self._lock.wait_for(find, timeout)
            if found is None:
                seen = [f"{c.method}({c.status}){str(c.args.get('text', ''))[:80]!r}" for c in self._calls]
                raise AssertionError(f"no matching {method} call within {timeout}s; recorded: {seen}")
            return found

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int | None = 1,
        count: int = 1,
        error: str | None = None,
    ) -> None:
        """Make the next ``count`` calls of ``method`` fail.

        429 answers ``{"ok": false, "error": "ratelimited"}`` with ``Retry-After``; 5xx an HTTP error;
        200 with ``error`` a normal Slack error (``{"ok": false, "error": error}``).
        ``method`` may be "response_url" or "file_upload" too.
        """
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(status, retry_after, error, count))

    def set_latency(self, method: str, seconds: float) -> None:
        """Answer every call of ``method`` only after ``seconds`` (0 to undo)."""
        with self._lock:
            self._latency[method] = seconds

    # ================================================================= messages, files
    def messages(self, channel: str | None = None, *, include_deleted: bool = False) -> list[Message]:
        """Messages in the fake's channels (posted by the bot or seeded), oldest first."""
        with self._lock:
            out = [
                m
                for m in self._messages.values()
                if (channel is None or m.channel == channel) and (include_deleted or not m.deleted)
            ]
        return sorted(out, key=lambda m: m.ts)

    def message(self, channel: str, ts: str) -> Message:
        with self._lock:
            return self._messages[(channel, ts)]

    def seed_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "U123",
        blocks: list[Any] | None = None,
        thread_ts: str | None = None,
    ) -> Message:
        """Put a message in a channel as if a person had written it."""
        msg = Message(channel, self.new_ts(), text, user, blocks or [], thread_ts=thread_ts)
        with self._lock:
            self._messages[(channel, msg.ts)] = msg
        return msg

    # ================================================================= driving the bot (HTTP mode)
    def send_slash_command(
        self,
        url: str,
        signing_secret: str | None = None,
        *,
        response_url: str | None = None,
        **kwargs: Any,
    ) -> Reply:
        """Send ``/mail ...`` to the bot at ``url`` as Slack does; see ``payloads.send_slash_command``."""
        return payloads.send_slash_command(
            url,
            signing_secret or self.signing_secret,
            response_url=response_url or self.new_response_url(),
            team_id=self.team_id,
            team_domain=self.team_domain,
            api_app_id=self.app_id,
            **kwargs,
        )

    def block_action_payload(
        self,
        *,
        action_id: str,
        value: str | None = None,
        user_id: str = "U123",
        channel_id: str = "C123",
        message_ts: str | None = None,
        response_url: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A click on button ``action_id``. If ``message_ts`` is a message the fake holds, the payload
        carries that message and the button as they are in it (and the button must exist)."""
        user = self.users.get(user_id)
        chan = self.channels.get(channel_id)
        kwargs.setdefault("user_name", user.name if user else user_id.lower())
        kwargs.setdefault("channel_name", chan.name if chan else channel_id.lower())
        ts = message_ts or "1732760000.000100"
        with self._lock:
            stored = self._messages.get((channel_id, ts))
        ephemeral = kwargs.pop("ephemeral", None)
        if stored is None and ephemeral is not None:  # a click on an ephemeral message the bot sent
            kwargs.setdefault("is_ephemeral", True)
            stored = Message(
                channel_id, ts, str(ephemeral.get("text", "")), self.bot_user_id, ephemeral.get("blocks") or []
            )
        if stored is not None:
            block_id, element = _find_action(stored.blocks, action_id, value)
            if element is None:
                raise AssertionError(f"message {channel_id}/{ts} has no element with action_id {action_id!r}")
            kwargs.setdefault("message", stored.as_slack(self.team_id, self.app_id))
            kwargs.setdefault("element", element)
            kwargs.setdefault("block_id", block_id)
        return payloads.block_action_payload(
            response_url=response_url or self.new_response_url(),
            action_id=action_id,
            value=value,
            user_id=user_id,
            channel_id=channel_id,
            message_ts=ts,
            team_id=self.team_id,
            team_domain=self.team_domain,
            api_app_id=self.app_id,
            **kwargs,
        )

    def send_block_action(
        self,
        url: str,
        signing_secret: str | None = None,
        *,
        action_id: str,
        value: str | None = None,
        user_id: str = "U123",
        timestamp: int | None = None,
        **kwargs: Any,
    ) -> Reply:
        """Send a button click to the bot at ``url`` as Slack does (see :meth:`block_action_payload`)."""
        payload = self.block_action_payload(action_id=action_id, value=value, user_id=user_id, **kwargs)
        return payloads.send_interactivity(url, signing_secret or self.signing_secret, payload, timestamp=timestamp)

    # ================================================================= driving the bot (Socket Mode)
    def push_slash_command(self, *, response_url: str | None = None, **kwargs: Any) -> str:
        """Deliver a slash command over Socket Mode; returns the envelope_id (see ``wait_for_ack``)."""
        payload = payloads.slash_command_payload(
            response_url=response_url or self.new_response_url(),
            team_id=self.team_id,
            team_domain=self.team_domain,
            api_app_id=self.app_id,
            **kwargs,
        )
        return self.socket.push("slash_commands", dict(payload), accepts_response_payload=True)

    def push_block_action(self, **kwargs: Any) -> str:
        """Deliver a button click over Socket Mode (arguments of :meth:`block_action_payload`)."""
        return self.socket.push("interactive", self.block_action_payload(**kwargs), accepts_response_payload=False)

    def push_event(self, event: dict[str, Any]) -> str:
        """Deliver an Events API event (``{"type": "app_mention", ...}``) over Socket Mode."""
        payload = {
            "token": payloads.VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(self._ids):010X}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        return self.socket.push("events_api", payload, retry_attempt=0, retry_reason="")

    # ================================================================= views: modals and the Home tab
    def view(self, view_id: str) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self.views[view_id]))

    def home_of(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab the bot last published for ``user_id``."""
        with self._lock:
            view_id = self.homes.get(user_id)
        return self.view(view_id) if view_id else None

    def view_submission_payload(self, view_id: str, chosen: dict[str, Any], user_id: str = "U123") -> dict[str, Any]:
        """The submission of an open modal, with what the person typed or picked (see ``payloads.view_state``)."""
        user = self.users.get(user_id)
        return payloads.view_submission_payload(
            self.view(view_id),
            chosen,
            user_id=user_id,
            user_name=user.name if user else user_id.lower(),
            team_id=self.team_id,
            team_domain=self.team_domain,
            api_app_id=self.app_id,
        )

    def submit_view(self, url: str, view_id: str, chosen: dict[str, Any], user_id: str = "U123") -> Reply:
        """Submit an open modal to the bot in HTTP mode; ``Reply.json()`` is its ``response_action``, if any.
        A submission the bot accepted (an empty answer) closes the modal, as in Slack."""
        payload = self.view_submission_payload(view_id, chosen, user_id)
        reply = payloads.send_interactivity(url, self.signing_secret, payload)
        if reply.status == 200 and not reply.body.strip():
            with self._lock:
                self.open_modals.pop(view_id, None)
        return reply

    def push_view_submission(self, view_id: str, chosen: dict[str, Any], user_id: str = "U123") -> str:
        """The same over Socket Mode; returns the envelope id (its ack's payload holds a response_action)."""
        payload = self.view_submission_payload(view_id, chosen, user_id)
        return self.socket.push("interactive", payload, accepts_response_payload=True)

    def close_view(self, url: str, view_id: str, user_id: str = "U123") -> Reply | None:
        """The person closes a modal: Slack tells the app only when it was opened with ``notify_on_close``."""
        view = self.view(view_id)
        with self._lock:
            self.open_modals.pop(view_id, None)
        if not view.get("notify_on_close"):
            return None
        payload = payloads.view_closed_payload(
            view, user_id=user_id, team_id=self.team_id, team_domain=self.team_domain, api_app_id=self.app_id
        )
        return payloads.send_interactivity(url, self.signing_secret, payload)

    def view_action_payload(
        self, view_id: str, action_id: str, value: str | None = None, user_id: str = "U123"
    ) -> dict[str, Any]:
        """A click on an element of a view (a Home tab's button); ``value`` picks a button among those
        sharing ``action_id`` (Slack sends the one clicked), or an overflow's option."""
        view = self.view(view_id)
        block_id, element = _find_action(view.get("blocks") or [], action_id, value)
        if element is None:
            raise AssertionError(f"view {view_id} has no element {action_id!r} with value {value!r}")
        user = self.users.get(user_id)
        return payloads.view_action_payload(
            view,
            action_id=action_id,
            block_id=block_id,
            element=element,
            value=value,
            user_id=user_id,
            user_name=user.name if user else user_id.lower(),
            team_id=self.team_id,
            team_domain=self.team_domain,
            api_app_id=self.app_id,
        )

    def send_view_action(
        self, url: str, view_id: str, action_id: str, value: str | None = None, user_id: str = "U123"
    ) -> Reply:
        payload = self.view_action_payload(view_id, action_id, value, user_id)
        return payloads.send_interactivity(url, self.signing_secret, payload)

    def app_home_opened(self, user_id: str) -> dict[str, Any]:
        """The ``app_home_opened`` event of ``user_id`` opening the app's Home tab."""
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": f"D{user_id[1:]}",
            "tab": "home",
            "event_ts": payloads.action_ts(),
        }
        home = self.home_of(user_id)
        if home is not None:
            event["view"] = home
        return event

    def send_event(self, url: str, event: dict[str, Any]) -> Reply:
        """An Events API event to the bot in HTTP mode (Socket Mode: ``push_event``)."""
        payload = payloads.event_callback(event, team_id=self.team_id, api_app_id=self.app_id)
        return payloads.send_event(url, self.signing_secret, payload)

    def _trigger(self, trigger_id: Any) -> None:
        """A trigger_id works once, within 3 s of the click that made it (Slack's rule)."""
        parts = str(trigger_id or "").split(".")
        if len(parts) != 3 or not parts[0].isdigit():
            raise SlackApiError("invalid_trigger_id")
        if time.time() - int(parts[0]) / 1000 > 3:
            raise SlackApiError("expired_trigger_id")
        with self._lock:
            if trigger_id in self._used_triggers:
                raise SlackApiError("exchanged_trigger_id")
            self._used_triggers.add(str(trigger_id))

    def _checked_view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        errors = limits.view_violations(view)
        if errors:
            raise SlackApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})
        assert isinstance(view, dict)
        return view

    def _view_object(self, view_id: str, view: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": _with_generated_ids(list(view.get("blocks") or [])),
            "private_metadata": str(view.get("private_metadata") or ""),
            "callback_id": str(view.get("callback_id") or ""),
            "state": {"values": {}},
            "hash": f"{time.time():.6f}.{secrets.token_hex(4)}",
            "title": view.get("title") or {"type": "plain_text", "text": "mailbot"},
            "clear_on_close": bool(view.get("clear_on_close")),
            "notify_on_close": bool(view.get("notify_on_close")),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": (previous or {}).get("root_view_id", view_id),
            "app_id": self.app_id,
            "external_id": str(view.get("external_id") or ""),
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }

    def _views_open(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        self._trigger(args.get("trigger_id"))
        view = self._checked_view(args)
        if view.get("type") != "modal":
            raise SlackApiError("invalid_arguments")
        view_id = self._new_id("V")
        stored = self._view_object(view_id, view, None)
        with self._lock:
            self.views[view_id] = stored
            self.open_modals[view_id] = ""
        return {"ok": True, "view": stored}

    def _views_update(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        view = self._checked_view(args)
        with self._lock:
            view_id = args.get("view_id") or next(
                (k for k, v in self.views.items() if v["external_id"] and v["external_id"] == args.get("external_id")),
                None,
            )
            previous = self.views.get(str(view_id)) if view_id else None
        if previous is None:
            raise SlackApiError("not_found")
        if args.get("hash") and args["hash"] != previous["hash"]:
            raise SlackApiError("hash_conflict")
        stored = self._view_object(str(view_id), view, previous)
        with self._lock:
            self.views[str(view_id)] = stored
        return {"ok": True, "view": stored}

    def _views_publish(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        user_id = str(args.get("user_id") or "")
        if user_id not in self.users:
            raise SlackApiError("user_not_found")
        view = self._checked_view(args)
        if view.get("type") != "home":
            raise SlackApiError("invalid_arguments")
        with self._lock:
            view_id = self.homes.get(user_id) or self._new_id("V")
            previous = self.views.get(view_id)
        if args.get("hash") and previous is not None and args["hash"] != previous["hash"]:
            raise SlackApiError("hash_conflict")
        stored = self._view_object(view_id, view, previous)
        with self._lock:
            self.views[view_id] = stored
            self.homes[user_id] = view_id
        return {"ok": True, "view": stored}

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        return self.socket.wait_for_ack(envelope_id, timeout)

    # ================================================================= HTTP plumbing
    def _serve(self, req: _Handler) -> None:
        threading.current_thread().name = "fakeslack-http-request"
        at, wall = time.monotonic(), time.time()
        split = urllib.parse.urlsplit(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        headers = {k: ("(redacted)" if k.lower() == "authorization" else v) for k, v in req.headers.items()}
        full_url = f"{self.url}{req.path}"

        path = split.path
        token_kind = "missing"
        args: dict[str, Any] = {}
        if path.startswith("/api/"):
            method = path[len("/api/") :]
            args = _parse_args(split.query, body, req.headers.get("Content-Type", ""))
            token = _bearer(req.headers.get("Authorization")) or args.get("token")
            token_kind = self._token_kind(token)
            status, resp_headers, response = self._api(method, args, token_kind)
        elif path.startswith("/response/"):
            method = "response_url"
            args = _parse_args("", body, req.headers.get("Content-Type", ""))
            status, resp_headers, response = self._response_url(path[len("/response/") :], args)
        elif path.startswith("/upload/v1/"):
            method = "file_upload"
            args = {"size": len(body)}
            status, resp_headers, response = self._upload(path[len("/upload/v1/") :], body)
        else:
            method = "unknown"
            status, resp_headers, response = 404, {}, "not found"

        delay = self._latency.get(method, 0.0)
        if delay:
            time.sleep(delay)

        with self._lock:
            self._calls.append(
                Call(method, args, headers, token_kind, path, full_url, body, at, wall, status, response)
            )
            self._lock.notify_all()

        if isinstance(response, str):
            data = response.encode("utf-8")
            ctype = "text/plain; charset=utf-8"
        else:
            data = json.dumps(response).encode("utf-8")
            ctype = "application/json; charset=utf-8"
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(data)))
        req.send_header("Connection", "close")
        for k, v in resp_headers.items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(data)
        req.close_connection = True

    def _token_kind(self, token: str | None) -> str:
        if not token:
            return "missing"
        if token in self.bot_tokens:
            return "bot"
        if token in self.app_tokens:
            return "app"
        return "invalid"

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault

    @staticmethod
    def _fault_answer(fault: _Fault) -> tuple[int, dict[str, str], Any]:
        if fault.status == 429:
            hdrs = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return 429, hdrs, {"ok": False, "error": fault.error or "ratelimited"}
        if fault.status >= 400:
            return fault.status, {}, {"ok": False, "error": fault.error or "internal_error"}
        return fault.status, {}, {"ok": False, "error": fault.error or "fatal_error"}

    def _api(self, method: str, args: dict[str, Any], token_kind: str) -> tuple[int, dict[str, str], Any]:
        if token_kind == "missing":
            return 200, {}, {"ok": False, "error": "not_authed"}
        if token_kind == "invalid":
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        # apps.connections.open takes the app-level token, every other method the bot token.
        if (method == "apps.connections.open") != (token_kind == "app"):
            return 200, {}, {"ok": False, "error": "not_allowed_token_type"}
        fault = self._take_fault(method)
        if fault is not None:
            return self._fault_answer(fault)
        handler = self._methods.get(method)
        headers = {"X-OAuth-Scopes": BOT_SCOPES, "X-Accepted-OAuth-Scopes": ""}
        if handler is None:
            return 200, headers, {"ok": True}
        try:
            return 200, headers, handler(args, token_kind)
        except SlackApiError as err:
            return 200, headers, {"ok": False, "error": err.error, **err.extra}

    # ================================================================= response_url, uploads
    def _response_url(self, rid: str, args: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        fault = self._take_fault("response_url")
        if fault is not None:
            return self._fault_answer(fault)
        with self._lock:
            uses = self._response_urls.get(rid)
            if uses is None:
                return 404, {}, "no_service"
            if uses >= 5:  # Slack: up to 5 times within 30 minutes
                return 404, {}, "used_url"
            self._response_urls[rid] = uses + 1
        if not any(args.get(k) for k in ("text", "blocks", "attachments", "delete_original")):
            return 400, {}, "no_text"
        errors = _validate_blocks(args.get("blocks"))
        if errors:
            return 400, {}, "invalid_blocks"
        return 200, {}, {"ok": True}

    def _upload(self, upload_id: str, body: bytes) -> tuple[int, dict[str, str], Any]:
        fault = self._take_fault("file_upload")
        if fault is not None:
            return self._fault_answer(fault)
        with self._lock:
            file_id = self._upload_ids.get(upload_id)
            if file_id is None:
                return 404, {}, "not found"
            self.files[file_id].content = body
        return 200, {}, f"OK - {len(body)}"

    # ================================================================= Web API methods
    def _channel(self, value: Any, *, allow_name: bool = True) -> Channel:
        """Resolve a channel argument like Slack: an id, a user id (its DM), or (#)name."""
        if not isinstance(value, str) or not value:
            raise SlackApiError("channel_not_found")
        if value in self.channels:
            return self.channels[value]
        if value[0] in "UW" and value in self.users:
            dm_id = "D" + value[1:]
            chan = self.channels.get(dm_id) or Channel(dm_id, dm_id, is_private=True, is_im=True, user=value)
            self.channels.setdefault(dm_id, chan)
            return chan
        if value[0] in "CGD" and _ID_RE.match(value):
            # A well-formed id the test did not declare: a public channel the bot is in.
            return self.channels.setdefault(value, Channel(value, f"channel-{value.lower()}"))
        if allow_name:
            name = value.lstrip("#")
            for chan in self.channels.values():
                if chan.name == name and not chan.is_im:
                    return chan
        raise SlackApiError("channel_not_found")

    def _writable_channel(self, value: Any, *, allow_name: bool = True) -> Channel:
        chan = self._channel(value, allow_name=allow_name)
        if chan.is_archived:
            raise SlackApiError("is_archived")
        if not chan.is_member:
            raise SlackApiError("not_in_channel")
        return chan

    def _message_content(self, args: dict[str, Any], *, required: bool = True) -> tuple[str, list[Any], list[Any]]:
        text = args.get("text") or ""
        blocks = args.get("blocks") or []
        attachments = args.get("attachments") or []
        if not isinstance(text, str):
            text = str(text)
        if required and not text and not blocks and not attachments:
            raise SlackApiError("no_text")
        if len(text) > 40000:
            raise SlackApiError("msg_too_long")
        if blocks:
            errors = _validate_blocks(blocks)
            if errors:
                raise SlackApiError(
                    "invalid_blocks",
                    errors=errors,
                    response_metadata={"messages": [f"[ERROR] {e}" for e in errors]},
                )
        blocks = _with_generated_ids(blocks) if isinstance(blocks, list) else []
        return text, blocks, attachments if isinstance(attachments, list) else []

    def _auth_test(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_domain}.slack.com/",
            "team": "Mailbot Lab",
            "user": self.users[self.bot_user_id].name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        chan = self._writable_channel(args.get("channel"))
        text, blocks, attachments = self._message_content(args)
        thread_ts = args.get("thread_ts") or None
        msg = Message(
            chan.id,
            self.new_ts(),
            text,
            self.bot_user_id,
            blocks,
            attachments,
            thread_ts=thread_ts,
            bot_id=self.bot_id,
        )
        with self._lock:
            self._messages[(chan.id, msg.ts)] = msg
        return {"ok": True, "channel": chan.id, "ts": msg.ts, "message": msg.as_slack(self.team_id, self.app_id)}

    def _chat_post_ephemeral(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        chan = self._writable_channel(args.get("channel"))
        user = args.get("user")
        if not user:
            raise SlackApiError("user_not_found")
        if user not in self.users:
            raise SlackApiError("user_not_in_channel")
        text, blocks, attachments = self._message_content(args)
        ts = self.new_ts()
        with self._lock:
            self.ephemeral.append(
                {"channel": chan.id, "user": user, "ts": ts, "text": text, "blocks": blocks, "attachments": attachments}
            )
        return {"ok": True, "message_ts": ts}

    def _stored(self, args: dict[str, Any]) -> Message:
        chan = self._channel(args.get("channel"), allow_name=False)
        ts = args.get("ts")
        if not ts:
            raise SlackApiError("message_not_found")
        with self._lock:
            msg = self._messages.get((chan.id, str(ts)))
        if msg is None or msg.deleted:
            raise SlackApiError("message_not_found")
        return msg

    def _chat_update(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        msg = self._stored(args)
        if msg.user != self.bot_user_id:
            raise SlackApiError("cant_update_message")
        text, blocks, attachments = self._message_content(args, required=False)
        with self._lock:
            if "text" in args:
                msg.text = text
            if "blocks" in args:
                msg.blocks = blocks
            if "attachments" in args:
                msg.attachments = attachments
            msg.edits += 1
        return {
            "ok": True,
            "channel": msg.channel,
            "ts": msg.ts,
            "text": msg.text,
            "message": msg.as_slack(self.team_id, self.app_id),
        }

    def _chat_delete(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        msg = self._stored(args)
        if msg.user != self.bot_user_id:
            raise SlackApiError("cant_delete_message")
        with self._lock:
            msg.deleted = True
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def _chat_get_permalink(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        msg = self._stored({"channel": args.get("channel"), "ts": args.get("message_ts")})
        link = f"https://{self.team_domain}.slack.com/archives/{msg.channel}/p{msg.ts.replace('.', '')}"
        return {"ok": True, "channel": msg.channel, "permalink": link}

    def _conversations_open(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        """Slack's DM opening: `users=U...` (one user) gives that user's `D...` channel."""
        users = str(args.get("users", "")).split(",")
        if len(users) != 1 or not users[0]:
            return {"ok": False, "error": "users_list_not_supplied"}
        if users[0] not in self.users:
            return {"ok": False, "error": "user_not_found"}
        chan = self._channel(users[0], allow_name=False)
        return {"ok": True, "no_op": False, "already_open": False, "channel": {"id": chan.id}}

    def _conversations_info(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        chan = self._channel(args.get("channel"), allow_name=False)
        created = 1700000000
        info: dict[str, Any] = {
            "id": chan.id,
            "created": created,
            "is_archived": chan.is_archived,
            "is_im": chan.is_im,
            "is_org_shared": False,
            "context_team_id": self.team_id,
            "updated": created * 1000,
        }
        if chan.is_im:
            info.update({"user": chan.user, "is_user_deleted": False, "priority": 0})
        else:
            info.update(
                {
                    "name": chan.name,
                    "name_normalized": chan.name,
                    "is_channel": not chan.is_private,
                    "is_group": chan.is_private,
                    "is_private": chan.is_private,
                    "is_mpim": False,
                    "is_general": False,
                    "is_shared": False,
                    "is_ext_shared": False,
                    "is_pending_ext_shared": False,
                    "is_member": chan.is_member,
                    "creator": "U456",
                    "unlinked": 0,
                    "topic": {"value": "", "creator": "", "last_set": 0},
                    "purpose": {"value": "", "creator": "", "last_set": 0},
                    "previous_names": [],
                }
            )
        return {"ok": True, "channel": info}

    def _users_info(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        user = self.users.get(str(args.get("user") or ""))
        if user is None:
            raise SlackApiError("user_not_found")
        profile: dict[str, Any] = {
            "real_name": user.real_name,
            "real_name_normalized": user.real_name,
            "display_name": user.name,
            "display_name_normalized": user.name,
            "team": self.team_id,
            "image_48": f"https://avatars.slack-edge.com/fake/{user.id}_48.png",
        }
        if user.email:
            profile["email"] = user.email
        if user.is_bot:
            profile.update({"bot_id": self.bot_id, "api_app_id": self.app_id, "always_active": True})
        return {
            "ok": True,
            "user": {
                "id": user.id,
                "team_id": self.team_id,
                "name": user.name,
                "deleted": user.deleted,
                "color": "9f69e7",
                "real_name": user.real_name,
                "tz": user.tz,
                "tz_label": "Central European Time",
                "tz_offset": 3600,
                "profile": profile,
                "is_admin": user.is_admin,
                "is_owner": False,
                "is_primary_owner": False,
                "is_restricted": False,
                "is_ultra_restricted": False,
                "is_bot": user.is_bot,
                "is_app_user": False,
                "updated": 1700000000,
                "is_email_confirmed": bool(user.email),
            }
            | ({"locale": user.locale} if str(args.get("include_locale", "")).lower() in ("true", "1") else {}),
        }

    def _usergroups_users_list(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        group = self.usergroups.get(str(args.get("usergroup") or ""))
        if group is None:
            raise SlackApiError("no_such_subteam")
        return {"ok": True, "users": list(group[1])}

    def _files_get_upload_url_external(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        filename = args.get("filename")
        length = args.get("length")
        try:
            size = int(length) if length is not None else -1
        except (TypeError, ValueError):
            size = -1
        if not filename or size < 0:
            raise SlackApiError("invalid_arguments")
        file_id = self._new_id("F")
        upload_id = f"{self.team_id}-{file_id}-{time.time_ns():x}"
        with self._lock:
            self.files[file_id] = UploadedFile(file_id, str(filename), size)
            self._upload_ids[upload_id] = file_id
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{upload_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items:
            raise SlackApiError("invalid_arguments")
        channel_arg = args.get("channel_id") or args.get("channels")
        chan: Channel | None = None
        if channel_arg:
            chan = self._writable_channel(str(channel_arg).split(",")[0], allow_name=False)
        thread_ts = args.get("thread_ts") or None
        done: list[UploadedFile] = []
        with self._lock:
            for item in items:
                f = self.files.get(str(item.get("id"))) if isinstance(item, dict) else None
                if f is None or f.content is None:
                    raise SlackApiError("file_not_found")
                done.append(f)
        share_ts = self.new_ts() if chan else None
        out: list[dict[str, Any]] = []
        with self._lock:
            for f, item in zip(done, items, strict=True):
                f.title = str(item.get("title") or f.filename)
                f.completed = True
                f.channel = chan.id if chan else None
                f.thread_ts = thread_ts
                f.initial_comment = args.get("initial_comment") or None
                f.share_ts = share_ts
                out.append(self._file_object(f))
            if chan is not None and share_ts is not None:
                self._messages[(chan.id, share_ts)] = Message(
                    chan.id,
                    share_ts,
                    str(args.get("initial_comment") or ""),
                    self.bot_user_id,
                    thread_ts=thread_ts,
                    bot_id=self.bot_id,
                    files=out,
                )
        return {"ok": True, "files": out}

    def _file_object(self, f: UploadedFile) -> dict[str, Any]:
        ext = f.filename.rsplit(".", 1)[-1].lower() if "." in f.filename else "text"
        content = f.content or b""
        obj: dict[str, Any] = {
            "id": f.id,
            "created": int(time.time()),
            "timestamp": int(time.time()),
            "name": f.filename,
            "title": f.title,
            "mimetype": "text/plain" if ext in ("txt", "text", "log", "csv", "json") else "application/octet-stream",
            "filetype": ext,
            "pretty_type": ext.upper(),
            "user": self.bot_user_id,
            "user_team": self.team_id,
            "editable": ext in ("txt", "text"),
            "size": len(content),
            "mode": "snippet" if ext in ("txt", "text") else "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": f.channel is not None,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{f.id}/{f.filename}",
            "url_private_download": f"https://files.slack.com/files-pri/{self.team_id}-{f.id}/download/{f.filename}",
            "permalink": f"https://{self.team_domain}.slack.com/files/{self.bot_user_id}/{f.id}/{f.filename}",
            "comments_count": 0,
            "is_starred": False,
            "channels": [f.channel] if f.channel else [],
            "groups": [],
            "ims": [],
            "has_rich_preview": False,
            "file_access": "visible",
        }
        if f.channel and f.share_ts:
            share: dict[str, Any] = {"ts": f.share_ts, "reply_count": 0, "channel_name": self.channels[f.channel].name}
            if f.thread_ts:
                share["thread_ts"] = f.thread_ts
            obj["shares"] = {"public": {f.channel: [share]}}
        return obj

    def _apps_connections_open(self, args: dict[str, Any], token_kind: str) -> dict[str, Any]:
        return {"ok": True, "url": self.socket.issue_url()}


# ===================================================================== helpers
def _bearer(value: str | None) -> str | None:
    if value and value.lower().startswith("bearer "):
        return value[7:].strip()
    return None


def _parse_args(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Query string + body fields, as Slack reads them (form, JSON or multipart)."""
    args: dict[str, Any] = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    ctype = content_type.split(";")[0].strip().lower()
    if body:
        if ctype == "application/json":
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                args.update(parsed)
        elif ctype == "multipart/form-data":
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
            )
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if not isinstance(name, str):
                    continue
                data = part.get_payload(decode=True)
                raw = data if isinstance(data, bytes) else b""
                args[name] = raw if part.get_filename() else raw.decode("utf-8", "replace")
        else:
            args.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    for key in _JSON_ARGS:
        value = args.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):  # else left as sent; the method will refuse it
                args[key] = json.loads(value)
    for key in ("replace_original", "delete_original"):
        if isinstance(args.get(key), str):
            args[key] = args[key].lower() in ("1", "true")
    return args


def _validate_blocks(blocks: Any) -> list[str]:
    """Slack's Block Kit limits for messages, reported as Slack does ("... [json-pointer:/blocks/0/...]")."""
    return limits.blocks_violations(blocks, limits.MESSAGE_BLOCKS)


def _with_generated_ids(blocks: list[Any]) -> list[Any]:
    """Slack gives every block a ``block_id`` and every interactive element an ``action_id`` when the app
    sets none; the stored message (and the click payloads built from it) carry them."""
    out: list[Any] = json.loads(json.dumps(blocks))
    for block in out:
        if not isinstance(block, dict):
            continue
        block.setdefault("block_id", secrets.token_urlsafe(4)[:5])
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        if block.get("type") == "input" and isinstance(block.get("element"), dict):
            elements.append(block["element"])
        for el in elements:
            if isinstance(el, dict) and el.get("type") not in (None, "image"):
                el.setdefault("action_id", secrets.token_urlsafe(4)[:5])
    return out


def _find_action(
    blocks: list[Any], action_id: str, value: str | None = None
) -> tuple[str | None, dict[str, Any] | None]:
    """The block_id and the element (button, menu...) with ``action_id`` in a message's blocks; with
    ``value``, the button with that value or the menu with that option (several rows share an action_id)."""
    for block in blocks:
        if not isinstance(block, dict):
            continue
        candidates = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            candidates.append(block["accessory"])
        for el in candidates:
            if not isinstance(el, dict) or el.get("action_id") != action_id:
                continue
            if (
                value is None
                or el.get("value") == value
                or any(o.get("value") == value for o in el.get("options") or [])
            ):
                return block.get("block_id"), el
    return None, None
