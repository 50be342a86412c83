"""The things the fake world is made of: users, chats, messages, files and transcript events.

They are plain dataclasses so that tests can read them directly in assertions
(``fake.last_message(chat).text``) and so that ``to_api`` can render exactly the JSON
Telegram would send for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: One inline keyboard row as tests see it: (button text, callback_data or None).
ButtonRows = list[list[tuple[str, str | None]]]


@dataclass
class User:
    """A Telegram account: a simulated resident, or the bot itself."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False
    blocked_bot: bool = False
    deactivated: bool = False

    def to_api(self) -> dict[str, Any]:
        """The ``User`` object."""
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data


@dataclass
class Chat:
    """A chat the bot knows: private (id == user id), group, supergroup or channel."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    next_message_id: int = 1
    bot_is_member: bool = True
    bot_is_admin: bool = False
    #: transcript length at the last thing a simulated person did here (for wait_for_reply)
    user_mark: int = 0

    def to_api(self) -> dict[str, Any]:
        """The ``Chat`` object as embedded in messages."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value:
                data[key] = value
        return data


@dataclass
class StoredFile:
    """A file the bot uploaded (or a person sent): bytes kept so tests can read exports."""

    file_id: str
    file_unique_id: str
    filename: str | None
    mime_type: str | None
    content: bytes | None
    url: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        """Size in bytes (0 for a file sent by URL)."""
        return len(self.content or b"")

    @property
    def text(self) -> str:
        """The content decoded as UTF-8 (a BOM is dropped), e.g. an exported CSV."""
        return (self.content or b"").decode("utf-8-sig")

    def document_api(self) -> dict[str, Any]:
        """The ``Document`` object."""
        data: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.filename:
            data["file_name"] = self.filename
        if self.mime_type:
            data["mime_type"] = self.mime_type
        if self.content is not None:
            data["file_size"] = self.size
        return data

    def photo_api(self) -> list[dict[str, Any]]:
        """The ``PhotoSize`` list: a thumbnail and the full size, as Telegram makes them."""
        width, height = self.width or 1, self.height or 1
        sizes = []
        scale = min(1.0, 90 / max(width, height))
        if scale < 1.0:
            sizes.append(
                {
                    "file_id": self.file_id + "_s",
                    "file_unique_id": self.file_unique_id + "_s",
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                    "file_size": max(1, self.size // 20),
                }
            )
        sizes.append(
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": width,
                "height": height,
                "file_size": self.size,
            }
        )
        return sizes


@dataclass
class StoredMessage:
    """A message in a chat, with its current state after edits."""

    chat: Chat
    message_id: int
    sender: User | None
    date: int
    from_bot: bool
    text: str | None = None
    entities: list[dict] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[dict] = field(default_factory=list)
    reply_markup: dict | None = None
    file: StoredFile | None = None
    #: "text", "document", "photo", or any other key of ``extra`` (sticker, voice, ...)
    kind: str = "text"
    extra: dict[str, Any] = field(default_factory=dict)
    reply_to: StoredMessage | None = None
    edit_date: int | None = None
    deleted: bool = False
    sender_chat: Chat | None = None
    #: the request parameters the bot sent (link_preview_options, protect_content, ...)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def chat_id(self) -> int:
        """The chat's id."""
        return self.chat.id

    @property
    def buttons(self) -> ButtonRows:
        """Inline keyboard rows as (text, callback_data) pairs; [] when there is none."""
        return inline_buttons(self.reply_markup)

    @property
    def reply_keyboard(self) -> list[list[str]]:
        """Reply keyboard rows as button texts; [] when there is none."""
        rows = (self.reply_markup or {}).get("keyboard") or []
        return [[b if isinstance(b, str) else b["text"] for b in row] for row in rows]

    @property
    def link_preview_disabled(self) -> bool:
        """Whether the bot asked for no link preview (either way the API allows)."""
        options = self.params.get("link_preview_options")
        if isinstance(options, dict) and options.get("is_disabled"):
            return True
        return str(self.params.get("disable_web_page_preview", "")).lower() in {"true", "1"}

    def to_api(self, *, with_reply: bool = True) -> dict[str, Any]:
        """The ``Message`` object Telegram returns and puts in updates."""
        data: dict[str, Any] = {
            "message_id": self.message_id,
            "date": self.date,
            "chat": self.chat.to_api(),
        }
        if self.sender is not None:
            data["from"] = self.sender.to_api()
        if self.sender_chat is not None:
            data["sender_chat"] = self.sender_chat.to_api()
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.reply_to is not None and with_reply:
            data["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.kind == "document" and self.file is not None:
            data["document"] = self.file.document_api()
        if self.kind == "photo" and self.file is not None:
            data["photo"] = self.file.photo_api()
        data.update(self.extra)
        if self.caption:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = self.caption_entities
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup
        return data


@dataclass
class Event:
    """One thing the bot did in a chat (or, with actor="user", a simulated person did)."""

    seq: int
    chat_id: int
    kind: str  # message, document, photo, edit, edit_markup, edit_caption, delete, answer
    message_id: int | None = None
    text: str | None = None
    reply_markup: dict | None = None
    file: StoredFile | None = None
    show_alert: bool = False
    callback_query_id: str | None = None
    actor: str = "bot"
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def buttons(self) -> ButtonRows:
        """Inline keyboard rows attached by this event (message or edit)."""
        return inline_buttons(self.reply_markup)

    def describe(self) -> str:
        """A one-line, human readable form, used in timeout messages."""
        parts = [f"#{self.seq} {self.actor} {self.kind.removeprefix('user_')}"]
        if self.message_id is not None:
            parts.append(f"msg={self.message_id}")
        if self.text is not None:
            parts.append(repr(self.text if len(self.text) < 120 else self.text[:117] + "..."))
        if self.buttons:
            parts.append(f"buttons={self.buttons}")
        if self.file is not None:
            parts.append(f"file={self.file.filename!r} ({self.file.size} bytes)")
        return " ".join(parts)


@dataclass
class CallbackQuery:
    """A button press waiting for (or having had) its answerCallbackQuery."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str | None
    created: float
    answered: bool = False
    answer_text: str | None = None
    show_alert: bool = False


@dataclass
class ApiCall:
    """One request the bot made, kept for assertions and for ``assert_no_errors``."""

    method: str
    params: dict[str, Any]
    status: int
    result: Any = None
    description: str | None = None
    injected: bool = False


def inline_buttons(markup: dict | None) -> ButtonRows:
    """Rows of (text, callback_data) for an inline keyboard markup dict."""
    rows = (markup or {}).get("inline_keyboard") or []
    return [[(b["text"], b.get("callback_data")) for b in row] for row in rows]
