"""Slack's documented Block Kit limits, as a checker of the numbers (api.slack.com/reference/block-kit
and /surfaces/modals): what a message or a view may hold. The fake answers `invalid_blocks` /
`invalid_arguments` with these messages; the suite checks every payload the bot sent against them.

Each finding is "what is wrong [json-pointer:/where]", in the style of Slack's own errors.
"""

from __future__ import annotations

from typing import Any

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_TEXT = 40_000
SECTION_TEXT = 3000
FIELD_TEXT = 2000
FIELDS = 10
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
HEADER_TEXT = 150
INPUT_LABEL = 2000
INPUT_HINT = 2000
ID_LENGTH = 255  # block_id, action_id, callback_id, external_id
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
BUTTON_URL = 3000
PLACEHOLDER = 150
OPTION_TEXT = 75
OPTION_VALUE = 150
OPTION_DESCRIPTION = 75
SELECT_OPTIONS = 100
OVERFLOW_OPTIONS = (2, 5)
CHECKBOX_OPTIONS = 10
TEXT_INPUT_MAX = 3000
VIEW_TITLE = 24  # title, submit and close
PRIVATE_METADATA = 3000

SELECTS = {"static_select", "multi_static_select"}
KNOWN_BLOCKS = {
    "section",
    "divider",
    "header",
    "context",
    "actions",
    "image",
    "input",
    "rich_text",
    "file",
    "video",
    "markdown",
    "table",
    "context_actions",
}


def _text(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return str(obj or "") if isinstance(obj, str) else ""


def message_violations(payload: dict[str, Any]) -> list[str]:
    """A message (chat.postMessage, chat.update, chat.postEphemeral, a response_url or an ack)."""
    found: list[str] = []
    text = payload.get("text")
    if isinstance(text, str) and len(text) > MESSAGE_TEXT:
        found.append(f"must be less than {MESSAGE_TEXT + 1} characters [json-pointer:/text]")
    found += blocks_violations(payload.get("blocks"), MESSAGE_BLOCKS)
    return found


def view_violations(view: Any) -> list[str]:
    """A view (views.open, views.update, views.publish): a modal or a Home tab."""
    if not isinstance(view, dict):
        return ["expected an object [json-pointer:/view]"]
    found: list[str] = []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        found.append("must be modal or home [json-pointer:/view/type]")
    for key in ("title", "submit", "close"):
        value = view.get(key)
        if value is None:
            if key == "title" and kind == "modal":
                found.append("is required [json-pointer:/view/title]")
            continue
        if not isinstance(value, dict) or value.get("type") != "plain_text":
            found.append(f"must be a plain_text object [json-pointer:/view/{key}]")
        elif len(_text(value)) > VIEW_TITLE:
            found.append(f"must be less than {VIEW_TITLE + 1} characters [json-pointer:/view/{key}/text]")
    metadata = view.get("private_metadata")
    if metadata is not None and len(str(metadata)) > PRIVATE_METADATA:
        found.append(f"must be less than {PRIVATE_METADATA + 1} characters [json-pointer:/view/private_metadata]")
    for key in ("callback_id", "external_id"):
        if len(str(view.get(key) or "")) > ID_LENGTH:
            found.append(f"must be less than {ID_LENGTH + 1} characters [json-pointer:/view/{key}]")
    blocks = view.get("blocks") or []
    if kind == "modal" and view.get("submit") is None and any(b.get("type") == "input" for b in blocks):
        found.append("a modal with input blocks needs submit [json-pointer:/view/submit]")
    found += [
        f.replace("[json-pointer:/blocks", "[json-pointer:/view/blocks") for f in blocks_violations(blocks, VIEW_BLOCKS)
    ]
    return found


def blocks_violations(blocks: Any, most: int) -> list[str]:
    if blocks is None or blocks == []:
        return []
    if not isinstance(blocks, list):
        return ["expected an array [json-pointer:/blocks]"]
    found: list[str] = []
    if len(blocks) > most:
        found.append(f"no more than {most} items allowed [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"/blocks/{i}"
        if not isinstance(block, dict) or block.get("type") not in KNOWN_BLOCKS:
            found.append(f"unsupported type [json-pointer:{at}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > ID_LENGTH:
                found.append(f"must be less than {ID_LENGTH + 1} characters [json-pointer:{at}/block_id]")
            if block_id in block_ids:
                found.append(f"duplicate block_id [json-pointer:{at}/block_id]")
            block_ids.add(str(block_id))
        kind = block["type"]
        if kind == "section":
            if "text" not in block and "fields" not in block:
                found.append(f"must provide text or fields [json-pointer:{at}]")
            if len(_text(block.get("text"))) > SECTION_TEXT:
                found.append(f"must be less than {SECTION_TEXT + 1} characters [json-pointer:{at}/text/text]")
            fields = block.get("fields") or []
            if len(fields) > FIELDS:
                found.append(f"no more than {FIELDS} items allowed [json-pointer:{at}/fields]")
            for j, field in enumerate(fields):
                if len(_text(field)) > FIELD_TEXT:
                    found.append(f"must be less than {FIELD_TEXT + 1} characters [json-pointer:{at}/fields/{j}/text]")
            if isinstance(block.get("accessory"), dict):
                found += element_violations(block["accessory"], f"{at}/accessory")
        elif kind == "header":
            if len(_text(block.get("text"))) > HEADER_TEXT:
                found.append(f"must be less than {HEADER_TEXT + 1} characters [json-pointer:{at}/text/text]")
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > CONTEXT_ELEMENTS:
                found.append(f"must have 1 to {CONTEXT_ELEMENTS} items [json-pointer:{at}/elements]")
        elif kind == "actions":
            elements = block.get("elements") or []
            if not elements or len(elements) > ACTIONS_ELEMENTS:
                found.append(f"must have 1 to {ACTIONS_ELEMENTS} items [json-pointer:{at}/elements]")
            action_ids: set[str] = set()
            for j, element in enumerate(elements):
                if not isinstance(element, dict):
                    found.append(f"expected an object [json-pointer:{at}/elements/{j}]")
                    continue
                action_id = element.get("action_id")
                if action_id is not None and action_id in action_ids:
                    found.append(f"duplicate action_id [json-pointer:{at}/elements/{j}/action_id]")
                action_ids.add(str(action_id))
                found += element_violations(element, f"{at}/elements/{j}")
        elif kind == "input":
            if len(_text(block.get("label"))) > INPUT_LABEL:
                found.append(f"must be less than {INPUT_LABEL + 1} characters [json-pointer:{at}/label/text]")
            if len(_text(block.get("hint"))) > INPUT_HINT:
                found.append(f"must be less than {INPUT_HINT + 1} characters [json-pointer:{at}/hint/text]")
            if not isinstance(block.get("element"), dict):
                found.append(f"is required [json-pointer:{at}/element]")
            else:
                found += element_violations(block["element"], f"{at}/element")
    return found


def element_violations(element: dict[str, Any], at: str) -> list[str]:
    found: list[str] = []
    kind = element.get("type")
    if len(str(element.get("action_id") or "")) > ID_LENGTH:
        found.append(f"must be less than {ID_LENGTH + 1} characters [json-pointer:{at}/action_id]")
    if len(_text(element.get("placeholder"))) > PLACEHOLDER:
        found.append(f"must be less than {PLACEHOLDER + 1} characters [json-pointer:{at}/placeholder/text]")
    if kind == "button":
        if len(_text(element.get("text"))) > BUTTON_TEXT:
            found.append(f"must be less than {BUTTON_TEXT + 1} characters [json-pointer:{at}/text/text]")
        if len(str(element.get("value", ""))) > BUTTON_VALUE:
            found.append(f"must be less than {BUTTON_VALUE + 1} characters [json-pointer:{at}/value]")
        if len(str(element.get("url", ""))) > BUTTON_URL:
            found.append(f"must be less than {BUTTON_URL + 1} characters [json-pointer:{at}/url]")
        if element.get("style") not in (None, "primary", "danger"):
            found.append(f"must be one of primary, danger [json-pointer:{at}/style]")
    elif kind == "overflow":
        options = element.get("options") or []
        low, high = OVERFLOW_OPTIONS
        if not low <= len(options) <= high:
            found.append(f"must have {low} to {high} items [json-pointer:{at}/options]")
        found += _options(options, f"{at}/options")
    elif kind in SELECTS:
        options = element.get("options") or []
        if not 1 <= len(options) <= SELECT_OPTIONS:
            found.append(f"must have 1 to {SELECT_OPTIONS} items [json-pointer:{at}/options]")
        found += _options(options, f"{at}/options")
        values = {str(o.get("value")) for o in options if isinstance(o, dict)}
        initial = element.get("initial_options") or (
            [element["initial_option"]] if element.get("initial_option") else []
        )
        for j, option in enumerate(initial):
            if not isinstance(option, dict) or str(option.get("value")) not in values:
                found.append(f"must be one of the options [json-pointer:{at}/initial_options/{j}]")
    elif kind in ("checkboxes", "radio_buttons"):
        options = element.get("options") or []
        if not 1 <= len(options) <= CHECKBOX_OPTIONS:
            found.append(f"must have 1 to {CHECKBOX_OPTIONS} items [json-pointer:{at}/options]")
        found += _options(options, f"{at}/options")
    elif kind == "plain_text_input":
        most = element.get("max_length")
        if most is not None and not 1 <= int(most) <= TEXT_INPUT_MAX:
            found.append(f"must be between 1 and {TEXT_INPUT_MAX} [json-pointer:{at}/max_length]")
    return found


def _options(options: list[Any], at: str) -> list[str]:
    found: list[str] = []
    for j, option in enumerate(options):
        if not isinstance(option, dict):
            found.append(f"expected an object [json-pointer:{at}/{j}]")
            continue
        if len(_text(option.get("text"))) > OPTION_TEXT:
            found.append(f"must be less than {OPTION_TEXT + 1} characters [json-pointer:{at}/{j}/text/text]")
        if len(str(option.get("value", ""))) > OPTION_VALUE:
            found.append(f"must be less than {OPTION_VALUE + 1} characters [json-pointer:{at}/{j}/value]")
        if len(_text(option.get("description"))) > OPTION_DESCRIPTION:
            found.append(
                f"must be less than {OPTION_DESCRIPTION + 1} characters [json-pointer:{at}/{j}/description/text]"
            )
    return found


def call_violations(method: str, args: dict[str, Any]) -> list[str]:
    """What one recorded call of the bot breaks (empty for a method that carries no Block Kit)."""
    if method in ("views.open", "views.update", "views.publish", "views.push"):
        return view_violations(args.get("view"))
    if method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"):
        return message_violations(args)
    return []
