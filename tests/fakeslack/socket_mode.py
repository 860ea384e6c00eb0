"""The Socket Mode side of the fake: a real WebSocket server speaking Slack's envelope protocol.

Flow, as with Slack: the app calls ``apps.connections.open`` with its app-level token and gets a
one-use URL (``ws://127.0.0.1:PORT/link/?ticket=...&app_id=...``); it connects; the server sends
``hello``; then each event arrives as an envelope ``{"envelope_id", "type", "payload",
"accepts_response_payload"}`` that the app acknowledges with ``{"envelope_id", "payload"?}``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve


@dataclass(frozen=True)
class Envelope:
    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    pushed_at: float  # time.monotonic()
    raw: dict[str, Any]


@dataclass(frozen=True)
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None  # what the app answered with, if anything (slash command text/blocks)
    received_at: float  # time.monotonic()
    elapsed: float | None  # seconds from the push of the envelope to this ack; None for an unknown envelope
    raw: dict[str, Any]


@dataclass
class _Conn:
    ws: ServerConnection
    ticket: str
    opened_at: float
    received: list[dict[str, Any]] = field(default_factory=list)


class SocketModeServer:
    """A WebSocket server that behaves like Slack's Socket Mode endpoint."""

    def __init__(self, app_id: str, host: str = "127.0.0.1", ping_interval: float | None = 0.25) -> None:
        self.app_id = app_id
        self.ping_interval = ping_interval
        self.host = host
        self.port = 0
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._tickets: dict[str, bool] = {}  # ticket -> used
        self._conns: list[_Conn] = []  # open connections, oldest first
        self.connections_opened = 0
        self.rejected_handshakes = 0
        self._envelopes: dict[str, Envelope] = {}
        self._acks: list[Ack] = []
        self._messages: list[dict[str, Any]] = []  # every JSON message received from the app
        # Slack spreads envelopes over an app's open connections (several replicas); False: the newest only.
        self.spread = False
        self._pushed = 0
        self.delivered_to: dict[str, str] = {}  # envelope_id -> ticket of the connection it went to

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._server = serve(
            self._handle,
            self.host,
            0,
            process_request=self._check_ticket,
            compression=None,
            close_timeout=1,
            ping_interval=self.ping_interval,
            ping_timeout=5,
            open_timeout=5,
            server_header=None,
        )
        self.port = int(self._server.socket.getsockname()[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="fakeslack-ws-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    # ---------------------------------------------------------------- URLs
    def issue_url(self) -> str:
        """A fresh one-use connection URL, as ``apps.connections.open`` returns."""
        ticket = uuid.uuid4().hex
        with self._cond:
            self._tickets[ticket] = False
        query = urllib.parse.urlencode({"ticket": ticket, "app_id": self.app_id})
        return f"ws://{self.host}:{self.port}/link/?{query}"

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        parsed = urllib.parse.urlsplit(request.path)
        ticket = urllib.parse.parse_qs(parsed.query).get("ticket", [""])[0]
        with self._cond:
            ok = parsed.path == "/link/" and self._tickets.get(ticket) is False
            if ok:
                self._tickets[ticket] = True
            else:
                self.rejected_handshakes += 1
        if not ok:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")
        return None

    # ---------------------------------------------------------------- connection handler
    def _handle(self, ws: ServerConnection) -> None:
        threading.current_thread().name = "fakeslack-ws-conn"
        query = urllib.parse.urlsplit(ws.request.path).query if ws.request else ""
        ticket = urllib.parse.parse_qs(query).get("ticket", [""])[0]
        conn = _Conn(ws=ws, ticket=ticket, opened_at=time.monotonic())
        with self._cond:
            self._conns.append(conn)
            self.connections_opened += 1
            num = len(self._conns)
            self._cond.notify_all()
        try:
            ws.send(
                json.dumps(
                    {
                        "type": "hello",
                        "num_connections": num,
                        "debug_info": {
                            "host": "applink-fakeslack-1",
                            "build_number": 1,
                            "approximate_connection_time": 18060,
                        },
                        "connection_info": {"app_id": self.app_id},
                    }
                )
            )
            for raw in ws:
                self._on_message(conn, raw)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                if conn in self._conns:
                    self._conns.remove(conn)
                self._cond.notify_all()

    def _on_message(self, conn: _Conn, raw: str | bytes) -> None:
        now = time.monotonic()
        try:
            msg = json.loads(raw)
        except ValueError:
            msg = {"unparsable": raw if isinstance(raw, str) else raw.decode("utf-8", "replace")}
        if not isinstance(msg, dict):
            msg = {"unparsable": msg}
        with self._cond:
            conn.received.append(msg)
            self._messages.append(msg)
            env_id = msg.get("envelope_id")
            if isinstance(env_id, str):
                env = self._envelopes.get(env_id)
                payload = msg.get("payload")
                self._acks.append(
                    Ack(
                        envelope_id=env_id,
                        payload=payload if isinstance(payload, dict) else None,
                        received_at=now,
                        elapsed=(now - env.pushed_at) if env else None,
                        raw=msg,
                    )
                )
            self._cond.notify_all()

    # ---------------------------------------------------------------- test API
    @property
    def connected(self) -> int:
        with self._cond:
            return len(self._conns)

    def wait_connected(self, timeout: float = 5.0, opened: int = 1) -> None:
        """Block until a connection is open and at least ``opened`` were opened since the start
        (``opened=2``: the app has come back after a disconnect)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._conns and self.connections_opened >= opened, timeout):
                raise AssertionError(
                    f"no Socket Mode connection within {timeout}s "
                    f"(opened so far: {self.connections_opened}, rejected: {self.rejected_handshakes})"
                )

    def push(
        self,
        type_: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        timeout: float = 5.0,
        **extra: Any,
    ) -> str:
        """Send an envelope to the newest open connection, or in turn to each open one with `spread`
        (waits for one); returns its envelope_id."""
        self.wait_connected(timeout)
        env_id = str(uuid.uuid4())
        raw: dict[str, Any] = {
            "envelope_id": env_id,
            "payload": payload,
            "type": type_,
            "accepts_response_payload": accepts_response_payload,
        }
        raw.update(extra)
        with self._cond:
            conn = self._conns[self._pushed % len(self._conns)] if self.spread else self._conns[-1]
            self._pushed += 1
            self.delivered_to[env_id] = conn.ticket
            env = Envelope(env_id, type_, payload, accepts_response_payload, time.monotonic(), raw)
            self._envelopes[env_id] = env
        conn.ws.send(json.dumps(raw))
        return env_id

    def disconnect(self, reason: str = "refresh_requested", close: bool = True) -> None:
        """Ask every open connection to reconnect, as Slack does before it rotates its servers."""
        with self._cond:
            conns = list(self._conns)
        msg = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fakeslack-1"}})
        for conn in conns:
            with contextlib.suppress(ConnectionClosed):
                conn.ws.send(msg)
            if close:
                conn.ws.close()

    def envelope(self, envelope_id: str) -> Envelope:
        with self._cond:
            return self._envelopes[envelope_id]

    def acks(self) -> list[Ack]:
        with self._cond:
            return list(self._acks)

    def messages(self) -> list[dict[str, Any]]:
        """Every JSON message the app sent over any connection (acks included)."""
        with self._cond:
            return list(self._messages)

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        def find() -> Ack | None:
            return next((a for a in self._acks if a.envelope_id == envelope_id), None)

        with self._cond:
            found = self._cond.wait_for(find, timeout)
            if found is None:
                raise AssertionError(f"no ack for envelope {envelope_id} within {timeout}s (acks: {self._acks})")
            return found
