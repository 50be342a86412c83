"""The Bot API methods the fake implements, each checking what Telegram checks.

Each function takes the world and the request's Params and returns the ``result`` value,
or raises ApiError. They run with the world's lock held and never wait; long polling is
layered on top by the dispatcher (api.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from . import errors
from .errors import ApiError, bad_request
from .html_check import EntityParseError, parse_html, strip_text, utf16_len
from .markup import normalize_markup
from .media import check_upload, find_upload, stored_from_string
from .state import StoredFile, StoredMessage
from .wire import Params
from .world import DEFAULT_ALLOWED_UPDATES, World

Method = Callable[[World, Params], Any]

#: canonical name -> implementation; looked up case-insensitively, as Telegram does
METHODS: dict[str, Method] = {}

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_ANSWER_TEXT = 200
JSON_FIELDS = (
    "reply_markup",
    "reply_parameters",
    "link_preview_options",
    "entities",
    "caption_entities",
    "commands",
    "scope",
    "allowed_updates",
    "menu_button",
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


def method(name: str) -> Callable[[Method], Method]:
    """Register a Bot API method under its canonical (camelCase) name."""

    def register(func: Method) -> Method:
        METHODS[name] = func
        return func

    return register


def public_params(p: Params) -> dict[str, Any]:
    """The request parameters with JSON fields decoded and uploads summarised."""
    result: dict[str, Any] = {}
    for key, value in p.raw.items():
        if key in JSON_FIELDS and isinstance(value, str):
            try:
                result[key] = p.get_json(key)
            except ApiError:
                result[key] = value
        else:
            result[key] = value
    for key, upload in p.files.items():
        result.setdefault(key, f"<upload {upload.filename!r}, {len(upload.content)} bytes>")
    return result


# ------------------------------------------------------------------ text helpers


def formatted_text(world: World, p: Params, field: str, entities_field: str) -> tuple[str, list[dict]]:
    """Apply parse_mode (HTML or none) and trim, as Telegram does before length checks."""
    raw = p.get_str(field) or ""
    parse_mode = (p.get_str("parse_mode") or "").strip()
    if parse_mode:
        if parse_mode.lower() == "html":
            try:
                text, entities = parse_html(raw, strict_ampersand=world.strict_ampersand)
            except EntityParseError as exc:
                raise bad_request(errors.CANT_PARSE_ENTITIES + str(exc)) from exc
        elif parse_mode.lower() in {"markdown", "markdownv2"}:
            raise bad_request(f"Bad Request: the fake Telegram does not implement parse_mode {parse_mode}")
        else:
            raise bad_request("Bad Request: unsupported parse_mode")
    else:
        text = raw
        entities = p.get_json(entities_field) or []
        if not isinstance(entities, list):
            raise bad_request(f"Bad Request: can't parse {entities_field} JSON object")
    return strip_text(text, entities)


def _markup(p: Params, *, inline_only: bool) -> dict | None:
    return normalize_markup(p.get_json("reply_markup", error=errors.CANT_PARSE_MARKUP), inline_only=inline_only)


def _reply_to(world: World, chat_id: int, p: Params) -> StoredMessage | None:
    params = p.get_json("reply_parameters")
    if params is None and p.has("reply_to_message_id"):
        params = {
            "message_id": p.get_int("reply_to_message_id"),
            "allow_sending_without_reply": p.get_bool("allow_sending_without_reply"),
        }
    if params is None:
        return None
    if not isinstance(params, dict) or "message_id" not in params:
        raise bad_request("Bad Request: can't parse reply parameters JSON object")
    target = chat_id
    if params.get("chat_id") not in (None, ""):
        target = world._chat_for_bot(params["chat_id"], sending=False).id
    message = world._message(target, int(params["message_id"]))
    if message is None and not params.get("allow_sending_without_reply"):
        raise bad_request(errors.REPLY_NOT_FOUND)
    return message


def _send(world: World, p: Params, kind: str, **fields: Any) -> dict[str, Any]:
    """Store a bot message, record it in the transcript and return its JSON."""
    chat = fields.pop("chat")
    message = world._store_message(chat, sender=world.bot, from_bot=True, kind=kind, params=public_params(p), **fields)
    if chat.type == "channel":
        message.sender = None
        message.sender_chat = chat
    world._record(
        chat.id,
        kind if kind != "text" else "message",
        message_id=message.message_id,
        text=message.text if kind == "text" else message.caption,
        reply_markup=message.reply_markup,
        file=message.file,
        params=message.params,
    )
    return message.to_api()


# ---------------------------------------------------------------- bot identity


@method("getMe")
def get_me(world: World, p: Params) -> dict[str, Any]:
    """The bot's User object, with the capability flags Telegram adds."""
    return {
        **world.bot.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": not world.privacy_mode,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("logOut")
def log_out(world: World, p: Params) -> bool:
    """Accepted and ignored."""
    return True


@method("close")
def close(world: World, p: Params) -> bool:
    """Accepted and ignored."""
    return True


@method("setWebhook")
def set_webhook(world: World, p: Params) -> bool:
    """Remember the URL: while set, getUpdates answers 409 like Telegram."""
    world.webhook_url = p.get_str("url") or ""
    if p.get_bool("drop_pending_updates"):
        world._updates.clear()
    return True


@method("deleteWebhook")
def delete_webhook(world: World, p: Params) -> bool:
    """Forget the webhook; drop_pending_updates empties the queue (PTB's run_polling)."""
    world.webhook_url = ""
    if p.get_bool("drop_pending_updates"):
        world.dropped_updates.extend(world._updates)
        world._updates.clear()
    return True


@method("getWebhookInfo")
def get_webhook_info(world: World, p: Params) -> dict[str, Any]:
    """The webhook state and the number of pending updates."""
    return {
        "url": world.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(world._updates),
    }


@method("getUpdates")
def get_updates(world: World, p: Params) -> list[dict[str, Any]]:
    """Confirm (offset) and return pending updates without waiting; see api.py for timeout."""
    if world.webhook_url:
        raise ApiError(409, errors.CONFLICT_WEBHOOK)
    offset = p.get_int("offset")
    limit = p.get_int("limit") or 100
    limit = min(max(limit, 1), 100)
    allowed = p.get_json("allowed_updates")
    if allowed is not None:
        if not isinstance(allowed, list):
            raise bad_request("Bad Request: can't parse allowed_updates JSON object")
        world.allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
    return world._take_updates(offset, limit)


# ------------------------------------------------------------------- commands


def _scope_key(p: Params) -> tuple[str, str]:
    scope = p.get_json("scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("Bad Request: can't parse BotCommandScope JSON object")
    language = p.get_str("language_code") or ""
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("Bad Request: invalid language code specified")
    return _canonical(scope), language


def _canonical(value: dict[str, Any]) -> str:
    return ",".join(f"{key}={value[key]}" for key in sorted(value))


@method("setMyCommands")
def set_my_commands(world: World, p: Params) -> bool:
    """Commands are 1-32 of [a-z0-9_], descriptions 1-256 characters, at most 100."""
    commands = p.get_json("commands")
    if not isinstance(commands, list):
        raise bad_request("Bad Request: can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("Bad Request: BOT_COMMANDS_TOO_MUCH")
    checked = []
    for item in commands:
        if not isinstance(item, dict):
            raise bad_request("Bad Request: can't parse BotCommand JSON object")
        command = str(item.get("command", "")).removeprefix("/")
        description = str(item.get("description", "")).strip()
        if not _COMMAND_RE.fullmatch(command):
            raise bad_request(errors.BOT_COMMAND_INVALID)
        if not description:
            raise bad_request("Bad Request: command description is empty")
        if len(description) > 256:
            raise bad_request("Bad Request: command description is too long")
        checked.append({"command": command, "description": description})
    world.commands[_scope_key(p)] = checked
    return True


@method("getMyCommands")
def get_my_commands(world: World, p: Params) -> list[dict[str, str]]:
    """The commands for exactly that scope and language."""
    return world.commands.get(_scope_key(p), [])


@method("deleteMyCommands")
def delete_my_commands(world: World, p: Params) -> bool:
    """Remove the commands for that scope and language."""
    world.commands.pop(_scope_key(p), None)
    return True


def _set_text_setting(store: dict[str, str], p: Params, field: str, limit: int) -> bool:
    value = p.get_str(field) or ""
    if len(value) > limit:
        raise bad_request(f"Bad Request: {field.replace('_', ' ')} is too long")
    language = p.get_str("language_code") or ""
    if value:
        store[language] = value
    else:
        store.pop(language, None)
    return True


@method("setMyDescription")
def set_my_description(world: World, p: Params) -> bool:
    """Up to 512 characters; empty removes it."""
    return _set_text_setting(world.descriptions, p, "description", 512)


@method("getMyDescription")
def get_my_description(world: World, p: Params) -> dict[str, str]:
    """The description for a language, falling back to the default one."""
    language = p.get_str("language_code") or ""
    return {"description": world.descriptions.get(language, world.descriptions.get("", ""))}


@method("setMyShortDescription")
def set_my_short_description(world: World, p: Params) -> bool:
    """Up to 120 characters; empty removes it."""
    return _set_text_setting(world.short_descriptions, p, "short_description", 120)


@method("getMyShortDescription")
def get_my_short_description(world: World, p: Params) -> dict[str, str]:
    """The short description for a language, falling back to the default one."""
    language = p.get_str("language_code") or ""
    store = world.short_descriptions
    return {"short_description": store.get(language, store.get("", ""))}


@method("setMyName")
def set_my_name(world: World, p: Params) -> bool:
    """Up to 64 characters."""
    return _set_text_setting(world.names, p, "name", 64)


@method("getMyName")
def get_my_name(world: World, p: Params) -> dict[str, str]:
    """The name for a language, falling back to the bot's first name."""
    language = p.get_str("language_code") or ""
    return {"name": world.names.get(language, world.names.get("", world.bot.first_name))}


@method("setChatMenuButton")
def set_chat_menu_button(world: World, p: Params) -> bool:
    """Default menu button, or one private chat's."""
    button = p.get_json("menu_button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in {"commands", "web_app", "default"}:
        raise bad_request("Bad Request: can't parse menu button JSON object")
    chat_id = None
    if p.has("chat_id"):
        chat_id = world._chat_for_bot(p.raw["chat_id"], sending=False).id
    world.menu_buttons[chat_id] = button
    return True


@method("getChatMenuButton")
def get_chat_menu_button(world: World, p: Params) -> dict[str, Any]:
    """The chat's menu button, else the default one."""
    chat_id = None
    if p.has("chat_id"):
        chat_id = world._chat_for_bot(p.raw["chat_id"], sending=False).id
    return world.menu_buttons.get(chat_id) or world.menu_buttons.get(None) or {"type": "commands"}


# -------------------------------------------------------------------- sending


@method("sendMessage")
def send_message(world: World, p: Params) -> dict[str, Any]:
    """Text 1-4096 characters after entity parsing, valid markup, a reachable chat."""
    text, entities = formatted_text(world, p, "text", "entities")
    if not text:
        raise bad_request(errors.TEXT_EMPTY)
    chat = world._chat_for_bot(p.raw.get("chat_id"))
    markup = _markup(p, inline_only=chat.type == "channel")
    if utf16_len(text) > MAX_TEXT:
        raise bad_request(errors.TEXT_TOO_LONG)
    reply_to = _reply_to(world, chat.id, p)
    return _send(
        world,
        p,
        "text",
        chat=chat,
        text=text,
        entities=entities,
        reply_markup=markup,
        reply_to=reply_to,
    )


def _send_file(world: World, p: Params, field: str) -> dict[str, Any]:
    photo = field == "photo"
    caption, caption_entities = formatted_text(world, p, "caption", "caption_entities")
    chat = world._chat_for_bot(p.raw.get("chat_id"))
    markup = _markup(p, inline_only=chat.type == "channel")
    source = find_upload(p, field)
    if isinstance(source, str):
        stored = stored_from_string(world.files, source)
        if not stored.file_id:
            stored.file_id, stored.file_unique_id = world._new_file_ids("AgAC" if photo else "BQAC")
    else:
        size = check_upload(source, photo=photo)
        file_id, unique_id = world._new_file_ids("AgAC" if photo else "BQAC")
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=unique_id,
            filename=source.filename,
            mime_type=source.content_type,
            content=source.content,
            width=size[0] if size else None,
            height=size[1] if size else None,
        )
    if utf16_len(caption) > MAX_CAPTION:
        raise bad_request(errors.CAPTION_TOO_LONG)
    world.files[stored.file_id] = stored
    reply_to = _reply_to(world, chat.id, p)
    return _send(
        world,
        p,
        field,
        chat=chat,
        caption=caption or None,
        caption_entities=caption_entities,
        reply_markup=markup,
        file=stored,
        reply_to=reply_to,
    )


@method("sendDocument")
def send_document(world: World, p: Params) -> dict[str, Any]:
    """Upload (multipart), file_id or URL; caption up to 1024 characters."""
    return _send_file(world, p, "document")


@method("sendPhoto")
def send_photo(world: World, p: Params) -> dict[str, Any]:
    """Like sendDocument, and the bytes must be a decodable image of sane dimensions."""
    return _send_file(world, p, "photo")


@method("sendChatAction")
def send_chat_action(world: World, p: Params) -> bool:
    """Record the action (kept out of the transcript: it is not something users read)."""
    chat = world._chat_for_bot(p.raw.get("chat_id"))
    action = p.get_str("action") or ""
    if action not in CHAT_ACTIONS:
        raise bad_request(errors.WRONG_ACTION)
    world.chat_actions.setdefault(chat.id, []).append(action)
    world._changed()
    return True


# -------------------------------------------------------------------- editing


def _message_to_edit(world: World, p: Params) -> StoredMessage:
    if p.has("inline_message_id"):
        raise bad_request("Bad Request: MESSAGE_ID_INVALID")
    chat = world._chat_for_bot(p.raw.get("chat_id"))
    message_id = p.get_int("message_id", missing=errors.MESSAGE_ID_MISSING)
    assert message_id is not None
    message = world._message(chat.id, message_id)
    if message is None:
        raise bad_request(errors.MESSAGE_TO_EDIT_NOT_FOUND)
    if not message.from_bot:
        raise bad_request(errors.MESSAGE_CANT_BE_EDITED)
    if message.reply_markup is not None and "inline_keyboard" not in message.reply_markup:
        # Sent with a reply keyboard (or keyboard removal / force reply): Telegram refuses
        # every edit of such a message.
        raise bad_request(errors.MESSAGE_CANT_BE_EDITED)
    return message


def _edited(world: World, message: StoredMessage, kind: str, text: str | None) -> dict:
    message.edit_date = world._date()
    world._record(
        message.chat.id,
        kind,
        message_id=message.message_id,
        text=text,
        reply_markup=message.reply_markup,
    )
    return message.to_api()


@method("editMessageText")
def edit_message_text(world: World, p: Params) -> dict[str, Any]:
    """Without reply_markup the inline keyboard is removed, as in Telegram."""
    text, entities = formatted_text(world, p, "text", "entities")
    if not text:
        raise bad_request(errors.TEXT_EMPTY)
    markup = _markup(p, inline_only=True)
    message = _message_to_edit(world, p)
    if message.text is None:
        raise bad_request(errors.NO_TEXT_TO_EDIT)
    if utf16_len(text) > MAX_TEXT:
        raise bad_request(errors.EDITED_TEXT_TOO_LONG)
    if (message.text, message.entities, message.reply_markup) == (text, entities, markup):
        raise bad_request(errors.NOT_MODIFIED)
    message.text, message.entities, message.reply_markup = text, entities, markup
    return _edited(world, message, "edit", text)


@method("editMessageCaption")
def edit_message_caption(world: World, p: Params) -> dict[str, Any]:
    """Only for messages with media; an empty caption removes it."""
    caption, entities = formatted_text(world, p, "caption", "caption_entities")
    markup = _markup(p, inline_only=True)
    message = _message_to_edit(world, p)
    if message.text is not None:
        raise bad_request(errors.NO_CAPTION_TO_EDIT)
    if utf16_len(caption) > MAX_CAPTION:
        raise bad_request(errors.CAPTION_TOO_LONG)
    new = (caption or None, entities if caption else [], markup)
    if (message.caption, message.caption_entities, message.reply_markup) == new:
        raise bad_request(errors.NOT_MODIFIED)
    message.caption, message.caption_entities, message.reply_markup = new
    return _edited(world, message, "edit_caption", message.caption)


@method("editMessageReplyMarkup")
def edit_message_reply_markup(world: World, p: Params) -> dict[str, Any]:
    """Replace (or, without reply_markup, remove) the inline keyboard."""
    markup = _markup(p, inline_only=True)
    message = _message_to_edit(world, p)
    if message.reply_markup == markup:
        raise bad_request(errors.NOT_MODIFIED)
    message.reply_markup = markup
    return _edited(world, message, "edit_markup", None)


@method("deleteMessage")
def delete_message(world: World, p: Params) -> bool:
    """Bots may delete anything in private chats, only their own messages in groups."""
    chat = world._chat_for_bot(p.raw.get("chat_id"), sending=False)
    message_id = p.get_int("message_id", missing=errors.MESSAGE_ID_MISSING)
    assert message_id is not None
    _delete(world, chat.id, message_id)
    return True


@method("deleteMessages")
def delete_messages(world: World, p: Params) -> bool:
    """Delete several; fails only when none of them could be deleted."""
    chat = world._chat_for_bot(p.raw.get("chat_id"), sending=False)
    ids = p.get_json("message_ids")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("Bad Request: message_ids must be a non-empty Array of up to 100 ids")
    deleted = 0
    for message_id in ids:
        try:
            _delete(world, chat.id, int(message_id))
            deleted += 1
        except ApiError:
            pass
    if not deleted:
        raise bad_request(errors.MESSAGE_TO_DELETE_NOT_FOUND)
    return True


def _delete(world: World, chat_id: int, message_id: int) -> None:
    message = world._message(chat_id, message_id)
    if message is None:
        raise bad_request(errors.MESSAGE_TO_DELETE_NOT_FOUND)
    if message.chat.type != "private" and not message.from_bot and not message.chat.bot_is_admin:
        raise bad_request(errors.MESSAGE_CANT_BE_DELETED)
    message.deleted = True
    world._record(chat_id, "delete", message_id=message_id)


# ------------------------------------------------------------ callback queries


@method("answerCallbackQuery")
def answer_callback_query(world: World, p: Params) -> bool:
    """Each press is answered at most once, text up to 200 characters."""
    query_id = p.get_str("callback_query_id") or ""
    query = world.callback_queries.get(query_id)
    if query is None or query.answered:
        raise bad_request(errors.QUERY_TOO_OLD)
    timeout = world.callback_query_timeout
    if timeout is not None and time.monotonic() - query.created > timeout:
        raise bad_request(errors.QUERY_TOO_OLD)
    text = p.get_str("text") or ""
    if len(text) > MAX_ANSWER_TEXT:
        raise bad_request(errors.ANSWER_TOO_LONG)
    url = p.get_str("url")
    if url and not re.match(r"(https?://)?t\.me/", url):
        raise bad_request("Bad Request: URL_INVALID")
    query.answered = True
    query.answer_text = text or None
    query.show_alert = p.get_bool("show_alert")
    world._record(
        query.chat_id,
        "answer",
        message_id=query.message_id,
        text=query.answer_text,
        show_alert=query.show_alert,
        callback_query_id=query.id,
        params=public_params(p),
    )
    return True
