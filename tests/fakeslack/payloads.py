"""What Slack sends to an app: slash commands and interactivity payloads, signed as Slack signs them.

The builders return the exact fields Slack puts in those requests; the ``send_*`` helpers POST them,
signed with Slack's v0 scheme, to an app in HTTP mode. The same payloads travel in Socket Mode
envelopes (see ``socket_mode.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, NamedTuple

# The fake workspace: every builder defaults to it, FakeSlack uses the same values.
TEAM_ID = "T0LAB00001"
TEAM_DOMAIN = "mailbot-lab"
APP_ID = "A0MAILBOT1"
BOT_USER_ID = "U0MAILBOT1"
BOT_ID = "B0MAILBOT1"
VERIFICATION_TOKEN = "fake-verification-token"  # the deprecated `token` field Slack still sends

SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"

_trigger_counter = itertools.count(1)


class Reply(NamedTuple):
    """The app's HTTP answer to a request sent like Slack sends it."""

    status: int
    body: str
    elapsed: float  # seconds from sending the request to reading the whole answer

    def json(self) -> Any:
        return json.loads(self.body)


def new_trigger_id() -> str:
    """A trigger id shaped like Slack's (``13345224609.738474920.8088930838d88f008e0``)."""
    return f"{int(time.time() * 1000)}.{next(_trigger_counter)}.{secrets.token_hex(10)}"


def action_ts() -> str:
    now = time.time()
    return f"{now:.6f}"


def signature_headers(signing_secret: str, body: str | bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds to every request it sends to an app (v0 signing scheme)."""
    ts = int(time.time()) if timestamp is None else timestamp
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = f"v0:{ts}:".encode() + raw
    digest = hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def slash_command_payload(
    *,
    response_url: str,
    command: str = "/mail",
    text: str = "",
    user_id: str = "U123",
    user_name: str = "alice",
    channel_id: str = "C123",
    channel_name: str = "mail-support",
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    trigger_id: str | None = None,
    token: str = VERIFICATION_TOKEN,
) -> dict[str, str]:
    """The fields of a slash command invocation, in the order Slack sends them."""
    return {
        "token": token,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def block_action_payload(
    *,
    response_url: str,
    action_id: str,
    value: str | None = None,
    user_id: str = "U123",
    user_name: str = "alice",
    channel_id: str = "C123",
    channel_name: str = "mail-support",
    message_ts: str = "1732760000.000100",
    message: dict[str, Any] | None = None,
    element: dict[str, Any] | None = None,
    block_id: str | None = None,
    is_ephemeral: bool = False,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    trigger_id: str | None = None,
    token: str = VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """A ``block_actions`` payload for a click on a button of a message.

    ``element`` is the button as it is in the message's blocks (its ``type``, ``text``, ``style``,
    ``value``); ``message`` the message as Slack shows it to the app. Both get plain defaults.
    """
    action = element_action(element, action_id, block_id, value)
    msg = dict(message) if message else {}
    msg.setdefault("type", "message")
    msg.setdefault("user", BOT_USER_ID)
    msg.setdefault("ts", message_ts)
    msg.setdefault("bot_id", BOT_ID)
    msg.setdefault("app_id", api_app_id)
    msg.setdefault("text", "")
    msg.setdefault("team", team_id)
    msg.setdefault("blocks", [])
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": token,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if not is_ephemeral:
        payload["message"] = msg
    return payload


def element_action(
    element: dict[str, Any] | None, action_id: str, block_id: str | None, value: str | None
) -> dict[str, Any]:
    """The `actions[0]` Slack sends for a click on ``element``: a button's text, value and style; an
    overflow menu's or a select's chosen option (``value`` names it) as ``selected_option``."""
    button: dict[str, Any] = dict(element) if element else {"type": "button"}
    kind = button.get("type", "button")
    if kind in ("overflow", "static_select"):
        options = button.get("options") or []
        chosen = next((o for o in options if o.get("value") == value), None)
        if chosen is None:
            raise AssertionError(f"{kind} {action_id!r} has no option with the value {value!r}")
        option = {"text": {**chosen["text"], "emoji": True}, "value": chosen["value"]}
        if "description" in chosen:
            option["description"] = {**chosen["description"], "emoji": True}
        return {
            "type": kind,
            "action_id": action_id,
            "block_id": block_id or "fakeslack-block",
            "selected_option": option,
            "action_ts": action_ts(),
        }
    button.setdefault("text", {"type": "plain_text", "text": action_id, "emoji": True})
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id or "fakeslack-block",
        "text": button["text"],
        "type": kind,
        "action_ts": action_ts(),
    }
    if value is not None:
        action["value"] = value
    elif "value" in button:
        action["value"] = button["value"]
    if "style" in button:
        action["style"] = button["style"]
    return action


def view_state(view: dict[str, Any], chosen: dict[str, Any]) -> dict[str, Any]:
    """``view.state`` as Slack sends it on a submission: every input block's value, by block_id and
    action_id. ``chosen`` maps a block_id to what the person typed (a str) or picked (a list of option
    values); a block left out keeps its initial value or options, as in Slack's form."""
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block["element"]
        block_id, action_id, kind = block["block_id"], element["action_id"], element["type"]
        given = chosen.get(block_id)
        if kind == "plain_text_input":
            text = given if block_id in chosen else element.get("initial_value")
            values[block_id] = {action_id: {"type": kind, "value": text or None}}
        elif kind in ("multi_static_select", "checkboxes"):
            options = element.get("options") or []
            if block_id in chosen:
                wanted = [str(v) for v in given or []]
                known = {o["value"] for o in options}
                missing = [v for v in wanted if v not in known]
                if missing:
                    raise AssertionError(f"block {block_id!r} has no option with the values {missing}")
                picked = [o for o in options if o["value"] in wanted]
            else:
                picked = list(element.get("initial_options") or [])
            selected = [{"text": {**o["text"], "emoji": True}, "value": o["value"]} for o in picked]
            values[block_id] = {action_id: {"type": kind, "selected_options": selected}}
        else:
            values[block_id] = {action_id: {"type": kind, "value": given}}
    return {"values": values}


def view_submission_payload(
    view: dict[str, Any],
    chosen: dict[str, Any],
    *,
    user_id: str = "U123",
    user_name: str = "alice",
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """A ``view_submission``: the modal as Slack holds it, with ``state.values`` filled in."""
    submitted = dict(view)
    submitted["state"] = view_state(view, chosen)
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_domain},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": token,
        "trigger_id": new_trigger_id(),
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_closed_payload(
    view: dict[str, Any],
    *,
    user_id: str = "U123",
    user_name: str = "alice",
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """A ``view_closed`` (sent only for a view opened with ``notify_on_close``)."""
    return {
        "type": "view_closed",
        "team": {"id": team_id, "domain": team_domain},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": token,
        "view": view,
        "is_cleared": False,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_action_payload(
    view: dict[str, Any],
    *,
    action_id: str,
    block_id: str | None,
    element: dict[str, Any] | None,
    value: str | None = None,
    user_id: str = "U123",
    user_name: str = "alice",
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = APP_ID,
    token: str = VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """A ``block_actions`` from a view (a Home tab or a modal): no channel, message or response_url."""
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": api_app_id,
        "token": token,
        "container": {"type": "view", "view_id": view["id"]},
        "trigger_id": new_trigger_id(),
        "team": {"id": team_id, "domain": team_domain},
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view,
        "actions": [element_action(element, action_id, block_id, value)],
    }


def event_callback(event: dict[str, Any], *, team_id: str = TEAM_ID, api_app_id: str = APP_ID) -> dict[str, Any]:
    """An Events API envelope, as Slack POSTs it (HTTP) or wraps it (Socket Mode)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{secrets.token_hex(5).upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def send_event(url: str, signing_secret: str, payload: dict[str, Any], *, timeout: float = 10.0) -> Reply:
    """POST an Events API envelope to an app in HTTP mode, as Slack does (JSON, signed)."""
    body = json.dumps(payload, separators=(",", ":"))
    return post_signed(url, signing_secret, body, content_type="application/json", timeout=timeout)


def post_signed(
    url: str,
    signing_secret: str,
    body: str,
    *,
    content_type: str = "application/x-www-form-urlencoded",
    timestamp: int | None = None,
    extra_headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    """POST ``body`` to the app at ``url`` with the headers Slack sends, and time the answer."""
    headers = {"Content-Type": content_type, "User-Agent": SLACK_USER_AGENT}
    headers.update(signature_headers(signing_secret, body, timestamp))
    headers.update(extra_headers or {})
    req = urllib.request.Request(url, data=body.encode("utf-8"), headers=headers, method="POST")
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read().decode("utf-8", "replace")
            status = int(resp.status)
    except urllib.error.HTTPError as err:
        text = err.read().decode("utf-8", "replace")
        status = err.code
    return Reply(status, text, time.perf_counter() - start)


def send_slash_command(
    url: str,
    signing_secret: str,
    *,
    response_url: str,
    command: str = "/mail",
    text: str = "",
    user_id: str = "U123",
    user_name: str = "alice",
    channel_id: str = "C123",
    channel_name: str = "mail-support",
    timestamp: int | None = None,
    timeout: float = 10.0,
    **fields: str,
) -> Reply:
    """Send a slash command to an app in HTTP mode, as Slack does; ``fields`` override any other form field."""
    payload = slash_command_payload(
        response_url=response_url,
        command=command,
        text=text,
        user_id=user_id,
        user_name=user_name,
        channel_id=channel_id,
        channel_name=channel_name,
    )
    payload.update(fields)
    body = urllib.parse.urlencode(payload)
    return post_signed(url, signing_secret, body, timestamp=timestamp, timeout=timeout)


def send_interactivity(
    url: str,
    signing_secret: str,
    payload: dict[str, Any],
    *,
    timestamp: int | None = None,
    timeout: float = 10.0,
) -> Reply:
    """Send any interactivity payload (``payload=<json>`` form field), as Slack does."""
    body = urllib.parse.urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    return post_signed(url, signing_secret, body, timestamp=timestamp, timeout=timeout)


def send_block_action(
    url: str,
    signing_secret: str,
    *,
    response_url: str,
    action_id: str,
    value: str | None = None,
    user_id: str = "U123",
    timestamp: int | None = None,
    timeout: float = 10.0,
    **payload_fields: Any,
) -> Reply:
    """Send a button click (``block_actions``) to an app in HTTP mode.

    ``payload_fields`` go to :func:`block_action_payload` (``channel_id``, ``message_ts``, ``message``...).
    """
    payload = block_action_payload(
        response_url=response_url, action_id=action_id, value=value, user_id=user_id, **payload_fields
    )
    return send_interactivity(url, signing_secret, payload, timestamp=timestamp, timeout=timeout)
