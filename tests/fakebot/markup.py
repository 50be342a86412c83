"""Validation of ``reply_markup`` as Telegram does it.

Bad keyboards are a classic way for a bot to work in tests and fail in production: a
callback_data over 64 bytes, a button with no action, a reply keyboard passed to an
edit. The fake rejects all of them with Telegram's descriptions.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .errors import bad_request

#: An inline button carries exactly one of these.
INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)
MAX_BUTTONS = 100
MAX_CALLBACK_DATA_BYTES = 64


def normalize_markup(markup: Any, *, inline_only: bool = False) -> dict | None:
    """Check a decoded reply_markup and return what Telegram stores (None = no markup).

    An empty inline keyboard means "no keyboard", as in Telegram.
    """
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request(errors.CANT_PARSE_MARKUP)
    if "inline_keyboard" in markup:
        return _inline_keyboard(markup)
    if inline_only:
        raise bad_request(errors.INLINE_KEYBOARD_EXPECTED)
    if "keyboard" in markup:
        return _reply_keyboard(markup)
    if markup.get("remove_keyboard") is True:
        return {"remove_keyboard": True, **_selective(markup)}
    if markup.get("force_reply") is True:
        return dict(markup)
    raise bad_request(errors.CANT_PARSE_MARKUP)


def _selective(markup: dict) -> dict:
    return {"selective": True} if markup.get("selective") else {}


def _rows(markup: dict, key: str) -> list[list[Any]]:
    rows = markup[key]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        kind = "InlineKeyboardMarkup" if key == "inline_keyboard" else "ReplyKeyboardMarkup"
        raise bad_request(f'Bad Request: field "{key}" of the {kind} must be an Array of Arrays')
    rows = [row for row in rows if row]
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request(errors.MARKUP_TOO_LONG)
    return rows


def _inline_keyboard(markup: dict) -> dict | None:
    rows = _rows(markup, "inline_keyboard")
    if not rows:
        return None
    return {"inline_keyboard": [[_inline_button(button) for button in row] for row in rows]}


def _inline_button(button: Any) -> dict:
    if not isinstance(button, dict):
        raise bad_request(errors.CANT_PARSE_BUTTON + "InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise bad_request(errors.CANT_PARSE_BUTTON + 'Can\'t find field "text"')
    text = button["text"]
    if not isinstance(text, str):
        raise bad_request(errors.CANT_PARSE_BUTTON + 'Field "text" must be of type String')
    if not text.strip():
        raise bad_request(errors.CANT_PARSE_BUTTON + 'Field "text" must be non-empty')
    actions = [key for key in INLINE_ACTIONS if button.get(key) is not None]
    if not actions:
        raise bad_request(errors.CANT_PARSE_BUTTON + "Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request(
            errors.CANT_PARSE_BUTTON + f"exactly one of the optional fields must be used, got {', '.join(actions)}"
        )
    action = actions[0]
    if action == "callback_data":
        data = button["callback_data"]
        if not isinstance(data, str):
            raise bad_request(errors.CANT_PARSE_BUTTON + 'Field "callback_data" must be of type String')
        if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request(errors.BUTTON_DATA_INVALID)
    elif action == "url":
        _check_url(button["url"])
    return dict(button)


def _check_url(url: Any) -> None:
    if not isinstance(url, str) or not url or any(c.isspace() for c in url):
        raise bad_request(errors.BUTTON_URL_INVALID)
    scheme, sep, rest = url.partition("://")
    if sep and (scheme.lower() not in {"http", "https", "tg"} or not rest):
        raise bad_request(errors.BUTTON_URL_INVALID)
    if not sep and "." not in url:
        raise bad_request(errors.BUTTON_URL_INVALID)


def _reply_keyboard(markup: dict) -> dict:
    rows = _rows(markup, "keyboard")
    if not rows:
        raise bad_request("Bad Request: keyboard must be non-empty")
    checked = []
    for row in rows:
        out_row = []
        for button in row:
            if isinstance(button, str):
                button = {"text": button}
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request(errors.CANT_PARSE_KEYBOARD_BUTTON + 'Field "text" must be of type String')
            if not button["text"].strip():
                raise bad_request(errors.CANT_PARSE_KEYBOARD_BUTTON + 'Field "text" must be non-empty')
            out_row.append(dict(button))
        checked.append(out_row)
    return {**markup, "keyboard": checked}
