"""The fake Slack, checked with the real clients: slack_sdk's WebClient and slack-bolt (HTTP and Socket Mode)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler

from . import FakeSlack, fake_slack, send_slash_command

__all__ = ["fake_slack"]  # the fixture, used by name below


@pytest.fixture(autouse=True)
def no_fakeslack_thread_left() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 2
    while any(t.name.startswith("fakeslack") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [t.name for t in threading.enumerate() if t.name.startswith("fakeslack")] == []


@pytest.fixture
def client(fake_slack: FakeSlack) -> WebClient:
    return WebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)


def approval_blocks() -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*restore* alice@lab.test uid 42"}},
        {
            "type": "actions",
            "block_id": "approval",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "style": "primary",
                    "value": "req-1",
                    "text": {"type": "plain_text", "text": "Approve"},
                },
                {
                    "type": "button",
                    "action_id": "reject",
                    "style": "danger",
                    "value": "req-1",
                    "text": {"type": "plain_text", "text": "Reject"},
                },
            ],
        },
    ]


# ------------------------------------------------------------------------------------------- Web API
def test_post_message_returns_a_slack_like_ts_and_is_recorded(fake_slack: FakeSlack, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C123", text="one")
    second = client.chat_postMessage(channel="#mail-support", text="two", blocks=approval_blocks())

    assert first["ok"] and first["channel"] == "C123"
    assert second["channel"] == "C123"  # a channel name resolves to its id, as on Slack
    for ts in (first["ts"], second["ts"]):
        secs, _, micros = ts.partition(".")
        assert len(secs) == 10 and len(micros) == 6 and ts.replace(".", "").isdigit()
    assert float(second["ts"]) > float(first["ts"])
    assert second["message"]["bot_id"] == fake_slack.bot_id
    assert second["message"]["blocks"][1]["elements"][0]["action_id"] == "approve"
    assert second["message"]["blocks"][0]["block_id"]  # Slack names every block

    calls = fake_slack.calls("chat.postMessage")
    assert [c.args["text"] for c in calls] == ["one", "two"]
    assert calls[1].args["blocks"][1]["block_id"] == "approval"  # blocks decoded, whatever the encoding
    assert calls[0].headers["Authorization"] == "(redacted)"
    assert fake_slack.bot_token not in json.dumps(calls[0].headers)
    assert calls[0].token_kind == "bot"
    assert [m.text for m in fake_slack.messages("C123")] == ["one", "two"]


def test_form_encoded_and_json_bodies_are_read_alike(fake_slack: FakeSlack, client: WebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}]
    client.api_call("chat.postMessage", data={"channel": "C123", "text": "form", "blocks": json.dumps(blocks)})
    client.api_call("chat.postMessage", json={"channel": "C123", "text": "json", "blocks": blocks})
    client.api_call("chat.postMessage", params={"channel": "C123", "text": "query", "blocks": json.dumps(blocks)})

    client.api_call("chat.postMessage", data={"channel": "C123", "text": "multipart"}, files={"file": b"\x00raw"})

    calls = fake_slack.calls("chat.postMessage")
    assert [c.args["text"] for c in calls] == ["form", "json", "query", "multipart"]
    assert all(c.args["blocks"] == blocks and c.ok for c in calls[:3])
    assert calls[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert calls[1].headers["Content-Type"].startswith("application/json")
    assert calls[3].headers["Content-Type"].startswith("multipart/form-data")
    assert calls[3].args["file"] == b"\x00raw"


def test_update_and_delete_change_the_message(fake_slack: FakeSlack, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="C123", text="pending", blocks=approval_blocks())
    updated = client.chat_update(channel="C123", ts=posted["ts"], text="approved by bob", blocks=[])

    assert updated["ts"] == posted["ts"] and updated["text"] == "approved by bob"
    msg = fake_slack.message("C123", posted["ts"])
    assert (msg.text, msg.blocks, msg.edits) == ("approved by bob", [], 1)

    client.chat_delete(channel="C123", ts=posted["ts"])
    assert fake_slack.messages("C123") == []
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="C123", ts=posted["ts"], text="again")
    assert err.value.response["error"] == "message_not_found"

    human = fake_slack.seed_message("C123", "my mail never arrived", user="U123")
    with pytest.raises(SlackApiError) as err:
        client.chat_update(channel="C123", ts=human.ts, text="edited by the bot")
    assert err.value.response["error"] == "cant_update_message"


@pytest.mark.parametrize(("token", "error"), [("xoxb-not-the-right-one", "invalid_auth"), ("", "not_authed")])
def test_bad_or_missing_token_is_refused(fake_slack: FakeSlack, token: str, error: str) -> None:
    bad = WebClient(token=token or None, base_url=fake_slack.api_url)
    with pytest.raises(SlackApiError) as err:
        bad.chat_postMessage(channel="C123", text="hi")
    assert err.value.response["error"] == error
    assert fake_slack.messages() == []
    assert fake_slack.calls()[-1].token_kind == ("invalid" if token else "missing")


def test_app_token_and_bot_token_each_open_only_their_methods(fake_slack: FakeSlack, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.apps_connections_open(app_token=fake_slack.bot_token)
    assert err.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as err:
        WebClient(token=fake_slack.app_token, base_url=fake_slack.api_url).chat_postMessage(channel="C1", text="x")
    assert err.value.response["error"] == "not_allowed_token_type"

    url = client.apps_connections_open(app_token=fake_slack.app_token)["url"]
    assert url.startswith(f"ws://127.0.0.1:{fake_slack.socket.port}/link/?ticket=")


def test_files_upload_v2_stores_the_bytes_in_the_thread(fake_slack: FakeSlack, client: WebClient) -> None:
    thread = client.chat_postMessage(channel="C123", text="trace of john@lab.test")["ts"]
    content = "queue id  status\n4XyZ1  deferred (over quota)\n" * 50

    result = client.files_upload_v2(
        channel="C123", content=content, filename="trace.txt", title="trace john", thread_ts=thread
    )

    stored = fake_slack.files[result["file"]["id"]]
    assert stored.content == content.encode()
    assert (stored.filename, stored.title, stored.channel, stored.thread_ts) == (
        "trace.txt",
        "trace john",
        "C123",
        thread,
    )
    assert result["file"]["size"] == len(content.encode())
    assert result["file"]["shares"]["public"]["C123"][0]["thread_ts"] == thread
    methods = [c.method for c in fake_slack.calls()]
    assert methods[-3:] == ["files.getUploadURLExternal", "file_upload", "files.completeUploadExternal"]


def test_complete_upload_without_bytes_is_refused(client: WebClient) -> None:
    got = client.files_getUploadURLExternal(filename="a.txt", length=3)
    with pytest.raises(SlackApiError) as err:
        client.files_completeUploadExternal(files=[{"id": got["file_id"], "title": "a"}], channel_id="C123")
    assert err.value.response["error"] == "file_not_found"


def test_rate_limit_is_retried_after_retry_after(fake_slack: FakeSlack) -> None:
    patient = WebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)
    patient.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)

    start = time.monotonic()
    result = patient.chat_postMessage(channel="C123", text="after the storm")

    assert result["ok"] and time.monotonic() - start >= 1.0
    calls = fake_slack.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].response == {"ok": False, "error": "ratelimited"}


def test_rate_limit_without_retry_handler_reaches_the_caller(fake_slack: FakeSlack, client: WebClient) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C123", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert client.chat_postMessage(channel="C123", text="x")["ok"]  # only the next call failed


def test_server_errors_count_down_and_are_retried(fake_slack: FakeSlack) -> None:
    retrying = WebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)
    retrying.retry_handlers.append(ServerErrorRetryHandler(max_retry_count=2))
    fake_slack.fail_next("chat.update", status=500, count=1)
    fake_slack.fail_next("chat.postMessage", status=200, error="channel_not_found")

    with pytest.raises(SlackApiError) as err:
        retrying.chat_postMessage(channel="C123", text="x")
    assert err.value.response["error"] == "channel_not_found"
    ts = retrying.chat_postMessage(channel="C123", text="x")["ts"]
    assert retrying.chat_update(channel="C123", ts=ts, text="y")["ok"]
    assert [c.status for c in fake_slack.calls("chat.update")] == [500, 200]


def test_block_kit_limits_are_enforced(client: WebClient) -> None:
    too_long = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel="C123", text="fallback", blocks=too_long)
    assert err.value.response["error"] == "invalid_blocks"
    assert "/blocks/0/text/text" in err.value.response["errors"][0]
    with pytest.raises(SlackApiError) as err, pytest.warns(UserWarning, match="`text` argument is missing"):
        client.chat_postMessage(channel="C123")
    assert err.value.response["error"] == "no_text"


def test_directory_and_channel_membership(fake_slack: FakeSlack, client: WebClient) -> None:
    fake_slack.add_channel("C0PRIVATE1", "mail-admins", is_private=True, is_member=False)

    assert client.users_info(user="U456")["user"]["profile"]["email"] == "bob@lab.test"
    assert client.usergroups_users_list(usergroup="S0ADMINS01")["users"] == ["U456"]
    info = client.conversations_info(channel="C0PRIVATE1")["channel"]
    assert (info["name"], info["is_private"], info["is_member"]) == ("mail-admins", True, False)
    for call, error in [
        (lambda: client.users_info(user="U0NOBODY1"), "user_not_found"),
        (lambda: client.usergroups_users_list(usergroup="S0NONE0001"), "no_such_subteam"),
        (lambda: client.chat_postMessage(channel="C0PRIVATE1", text="x"), "not_in_channel"),
        (lambda: client.chat_postMessage(channel="#no-such-channel", text="x"), "channel_not_found"),
    ]:
        with pytest.raises(SlackApiError) as err:
            call()
        assert err.value.response["error"] == error
    dm = client.chat_postMessage(channel="U123", text="your restore is done")
    assert dm["channel"].startswith("D")


def test_response_url_records_posts_and_refuses_unknown_urls(fake_slack: FakeSlack) -> None:
    url = fake_slack.new_response_url()
    body = json.dumps({"text": "done", "response_type": "in_channel", "replace_original": False}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200

    call = fake_slack.wait_for("response_url", lambda c: c.url == url)
    assert (call.args["text"], call.args["response_type"], call.args["replace_original"]) == (
        "done",
        "in_channel",
        False,
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(urllib.request.Request(url + "x", data=body), timeout=5)
    assert err.value.code == 404


def test_latency_slows_one_method(fake_slack: FakeSlack, client: WebClient) -> None:
    fake_slack.set_latency("chat.postMessage", 0.3)
    start = time.monotonic()
    client.chat_postMessage(channel="C123", text="slow")
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    client.auth_test()
    assert time.monotonic() - start < 0.3


def test_wait_for_times_out_with_what_was_seen(fake_slack: FakeSlack, client: WebClient) -> None:
    client.auth_test()
    with pytest.raises(AssertionError, match=r"chat.postMessage.*auth.test\(200\)"):
        fake_slack.wait_for("chat.postMessage", timeout=0.2)


def test_servers_stop_without_leaving_threads() -> None:
    with FakeSlack() as fake:
        WebClient(token=fake.bot_token, base_url=fake.api_url).auth_test()
    time.sleep(0.1)
    assert [t.name for t in threading.enumerate() if t.name.startswith("fakeslack")] == []


# ------------------------------------------------------------------------------------------- bolt apps
def make_app(fake: FakeSlack, *, socket_mode: bool = False) -> App:
    app = App(
        client=WebClient(token=fake.bot_token, base_url=fake.api_url),
        signing_secret=fake.signing_secret,
        request_verification_enabled=not socket_mode,
    )

    @app.command("/mail")
    def mail(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack(f"working on `{command['text']}`…")
        respond(text=f"trace for {command['text']}: 2 messages", response_type="in_channel")

    @app.action("approve")
    def approve(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.chat_update(
            channel=body["channel"]["id"],
            ts=body["message"]["ts"],
            text=f"approved by <@{body['user']['id']}> ({body['actions'][0]['value']})",
            blocks=[],
        )

    return app


@pytest.fixture
def http_app(fake_slack: FakeSlack) -> Iterator[str]:
    """The bolt app on bolt's own HTTP server (app.start), its events URL."""
    app = make_app(fake_slack)
    runner = threading.Thread(target=app.start, kwargs={"port": 0, "http_server_logger_enabled": False})
    runner.start()
    deadline = time.monotonic() + 5
    while getattr(app, "_development_server", None) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    server = app._development_server._server  # bolt keeps its http.server here
    yield f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    server.shutdown()
    runner.join(timeout=5)


def test_http_mode_slash_command_is_acked_then_answered_on_response_url(fake_slack: FakeSlack, http_app: str) -> None:
    reply = fake_slack.send_slash_command(http_app, text="trace john@lab.test")

    assert reply.status == 200 and reply.elapsed < 3  # Slack gives up after 3 s
    assert reply.body == "working on `trace john@lab.test`…"
    answer = fake_slack.wait_for("response_url", lambda c: c.url == fake_slack.last_response_url)
    assert answer.args == {"text": "trace for trace john@lab.test: 2 messages", "response_type": "in_channel"}
    assert fake_slack.calls("auth.test")  # bolt checked its token at start


def test_http_mode_refuses_a_bad_signature_or_a_stale_request(fake_slack: FakeSlack, http_app: str) -> None:
    forged = send_slash_command(http_app, "not-the-secret", response_url=fake_slack.new_response_url(), text="x")
    stale = fake_slack.send_slash_command(http_app, text="x", timestamp=int(time.time()) - 600)

    assert (forged.status, stale.status) == (401, 401)
    assert fake_slack.calls("response_url") == []


def test_http_mode_button_click_updates_the_card(fake_slack: FakeSlack, http_app: str, client: WebClient) -> None:
    card = client.chat_postMessage(channel="C123", text="restore?", blocks=approval_blocks())

    reply = fake_slack.send_block_action(http_app, action_id="approve", user_id="U456", message_ts=card["ts"])

    assert reply.status == 200
    update = fake_slack.wait_for("chat.update", lambda c: c.ok)
    assert update.args["ts"] == card["ts"]
    assert fake_slack.message("C123", card["ts"]).text == "approved by <@U456> (req-1)"
    with pytest.raises(AssertionError, match="no element with action_id"):
        fake_slack.send_block_action(http_app, action_id="no-such-button", message_ts=card["ts"])


@pytest.fixture
def socket_app(fake_slack: FakeSlack) -> Iterator[SocketModeHandler]:
    handler = SocketModeHandler(make_app(fake_slack, socket_mode=True), app_token=fake_slack.app_token)
    handler.connect()
    fake_slack.socket.wait_connected()
    yield handler
    handler.close()


def test_socket_mode_slash_command_is_acked_with_its_payload(
    fake_slack: FakeSlack, socket_app: SocketModeHandler
) -> None:
    assert fake_slack.calls("apps.connections.open")[0].token_kind == "app"
    assert fake_slack.socket.messages() == []  # the app said nothing before it got an envelope

    envelope_id = fake_slack.push_slash_command(text="trace john@lab.test", user_id="U123")
    ack = fake_slack.wait_for_ack(envelope_id)

    assert ack.payload == {"text": "working on `trace john@lab.test`…"}
    assert ack.elapsed is not None and ack.elapsed < 3
    answer = fake_slack.wait_for("response_url")
    assert answer.args["text"] == "trace for trace john@lab.test: 2 messages"


def test_socket_mode_button_click(fake_slack: FakeSlack, socket_app: SocketModeHandler, client: WebClient) -> None:
    card = client.chat_postMessage(channel="C123", text="restore?", blocks=approval_blocks())

    envelope_id = fake_slack.push_block_action(action_id="approve", user_id="U456", message_ts=card["ts"])

    assert fake_slack.wait_for_ack(envelope_id).payload is None
    fake_slack.wait_for("chat.update", lambda c: c.ok)
    assert fake_slack.message("C123", card["ts"]).text == "approved by <@U456> (req-1)"


def test_socket_mode_reconnects_when_slack_asks(fake_slack: FakeSlack, socket_app: SocketModeHandler) -> None:
    seen = len(fake_slack.calls())
    fake_slack.socket.disconnect("refresh_requested")

    fake_slack.wait_for("apps.connections.open", after=seen, timeout=10)
    fake_slack.socket.wait_connected(timeout=10, opened=2)
    envelope_id = fake_slack.push_slash_command(text="queue")
    assert fake_slack.wait_for_ack(envelope_id, timeout=5).payload == {"text": "working on `queue`…"}


# --- views: modals and the Home tab ------------------------------------------------------------

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "pick",
    "title": {"type": "plain_text", "text": "Pick"},
    "submit": {"type": "plain_text", "text": "Go"},
    "notify_on_close": True,
    "private_metadata": '{"k":"v"}',
    "blocks": [
        {
            "type": "input",
            "block_id": "mails",
            "label": {"type": "plain_text", "text": "Mails"},
            "element": {
                "type": "multi_static_select",
                "action_id": "pick",
                "options": [
                    {"text": {"type": "plain_text", "text": "A"}, "value": "1"},
                    {"text": {"type": "plain_text", "text": "B"}, "value": "2"},
                ],
                "initial_options": [{"text": {"type": "plain_text", "text": "B"}, "value": "2"}],
            },
        },
        {
            "type": "input",
            "block_id": "reason",
            "optional": True,
            "label": {"type": "plain_text", "text": "Why"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        },
    ],
}


def test_views_open_takes_a_fresh_trigger_once_and_checks_the_limits(fake_slack: FakeSlack, client: WebClient) -> None:
    from .payloads import new_trigger_id

    trigger = new_trigger_id()
    opened = client.views_open(trigger_id=trigger, view=MODAL)
    view = opened["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "pick" and view["state"] == {"values": {}}
    assert view["private_metadata"] == '{"k":"v"}' and view["root_view_id"] == view["id"]
    for bad_trigger, error in (
        (trigger, "exchanged_trigger_id"),
        ("1000.1.ab", "expired_trigger_id"),
        ("x", "invalid_trigger_id"),
    ):
        with pytest.raises(SlackApiError) as refused:
            client.views_open(trigger_id=bad_trigger, view=MODAL)
        assert refused.value.response["error"] == error
    too_long = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    with pytest.raises(SlackApiError) as refused:
        client.views_open(trigger_id=new_trigger_id(), view=too_long)
    assert refused.value.response["error"] == "invalid_arguments"
    assert "[json-pointer:/view/title/text]" in str(refused.value.response["response_metadata"])
    # what Slack sends when the person submits: initial options kept unless changed, typed text
    payload = fake_slack.view_submission_payload(view["id"], {"reason": "INC-1"})
    assert payload["type"] == "view_submission" and payload["view"]["id"] == view["id"]
    values = payload["view"]["state"]["values"]
    assert [o["value"] for o in values["mails"]["pick"]["selected_options"]] == ["2"]
    assert values["reason"]["text"] == {"type": "plain_text_input", "value": "INC-1"}
    empty = fake_slack.view_submission_payload(view["id"], {"mails": [], "reason": ""})["view"]["state"]["values"]
    assert empty["mails"]["pick"]["selected_options"] == [] and empty["reason"]["text"]["value"] is None
    with pytest.raises(AssertionError):
        fake_slack.view_submission_payload(view["id"], {"mails": ["3"]})  # not an option: Slack cannot send it


def test_views_publish_and_update(fake_slack: FakeSlack, client: WebClient) -> None:
    section: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}
    home: dict[str, Any] = {"type": "home", "blocks": [section]}
    first = client.views_publish(user_id="U123", view=home)["view"]
    again = client.views_publish(user_id="U123", view=home)["view"]
    assert first["id"] == again["id"] and (fake_slack.home_of("U123") or {})["blocks"][0]["text"]["text"] == "hi"
    with pytest.raises(SlackApiError) as refused:
        client.views_publish(user_id="U0NOBODY", view=home)
    assert refused.value.response["error"] == "user_not_found"
    with pytest.raises(SlackApiError) as refused:
        client.views_publish(user_id="U123", view={**home, "blocks": [section] * 101})
    assert refused.value.response["error"] == "invalid_arguments"
    from .payloads import new_trigger_id

    modal = client.views_open(trigger_id=new_trigger_id(), view=MODAL)["view"]
    with pytest.raises(SlackApiError) as refused:
        client.views_update(view_id=modal["id"], hash="stale", view=MODAL)
    assert refused.value.response["error"] == "hash_conflict"
    updated = client.views_update(view_id=modal["id"], hash=modal["hash"], view={**MODAL, "private_metadata": "2"})
    assert updated["view"]["private_metadata"] == "2" and fake_slack.view(modal["id"])["private_metadata"] == "2"
    event = fake_slack.app_home_opened("U123")
    assert event["type"] == "app_home_opened" and event["tab"] == "home" and event["view"]["id"] == first["id"]
