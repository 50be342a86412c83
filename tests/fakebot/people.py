"""Simulated people: residents typing, pressing buttons, blocking the bot; groups; channels.

Each action builds the update Telegram would send (with the ``bot_command`` entity the
official apps add, so PTB's CommandHandler sees commands) and queues it for getUpdates.
Users and chats are created on first use. A private chat exists only once the person has
written to the bot - before that, the bot gets "chat not found", as in Telegram.
"""

from __future__ import annotations

import re
import time
from typing import Any

from .html_check import utf16_len
from .state import CallbackQuery, Chat, StoredFile, StoredMessage, User
from .world import World

_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_MENTION_RE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{4,32}")


class People(World):
    """What tests make people (and chats) do."""

    # ---------------------------------------------------------------- who and where

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        started: bool = True,
    ) -> User:
        """Create or update a person; ``started`` also opens their private chat with the
        bot, as if they had pressed Start earlier (e.g. an organiser from a past run)."""
        with self._lock:
            user = self._user(user_id, first_name, last_name, username, language_code)
            if started:
                self._private_chat(user)
            return user

    def _user(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> User:
        user = self.users.get(user_id)
        if user is None:
            user = User(id=user_id, first_name=first_name or f"Resident{user_id}")
            self.users[user_id] = user
        if first_name is not None:
            user.first_name = first_name
        if last_name is not None:
            user.last_name = last_name
        if username is not None:
            user.username = username
        if language_code is not None:
            user.language_code = language_code
        return user

    def _private_chat(self, user: User) -> Chat:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(id=user.id, type="private")
            self.chats[user.id] = chat
        chat.first_name, chat.last_name, chat.username = (
            user.first_name,
            user.last_name,
            user.username,
        )
        return chat

    def _group_chat(self, chat_id: int | None, chat_type: str, title: str | None) -> Chat:
        if chat_id is None:
            chat_id = -1001000000001 if chat_type in {"supergroup", "channel"} else -4000000001
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = Chat(id=chat_id, type=chat_type, title=title or f"Test {chat_type}")
            self.chats[chat_id] = chat
        elif title:
            chat.title = title
        return chat

    def _where(self, user: User, chat_type: str, chat_id: int | None, title: str | None) -> Chat:
        if chat_type == "private":
            if chat_id not in (None, user.id):
                raise ValueError("a private chat's id is the user's id")
            return self._private_chat(user)
        if chat_type not in {"group", "supergroup"}:
            raise ValueError(f"people write in private, group or supergroup chats, not {chat_type}")
        return self._group_chat(chat_id, chat_type, title)

    # --------------------------------------------------------------- messages

    def user_sends(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_type: str = "private",
        chat_id: int | None = None,
        chat_title: str | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A person sends a text message; returns the update (queued unless privacy mode
        hides it from the bot in a group). Text starting with "/" gets a bot_command entity.
        """
        with self._lock:
            user = self._user(user_id, first_name, last_name, username, language_code)
            chat = self._where(user, chat_type, chat_id, chat_title)
            return self._deliver(self._user_message(user, chat, reply_to, text=text, entities=_entities(text)))

    def user_sends_command(self, user_id: int, command: str, args: str = "", **where: Any) -> dict[str, Any]:
        """``/command args`` - e.g. ``user_sends_command(1, "start", "millbrook")``."""
        text = "/" + command.removeprefix("/")
        if args:
            text += " " + args
        return self.user_sends(user_id, text, **where)

    def user_sends_sticker(
        self,
        user_id: int,
        *,
        emoji: str = "👍",
        chat_type: str = "private",
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A sticker (no text: handlers filtering on TEXT must ignore it)."""
        with self._lock:
            file_id, unique_id = self._new_file_ids("CAAC")
            sticker = {
                "file_id": file_id,
                "file_unique_id": unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
                "set_name": "consultbot_test_stickers",
            }
            return self._send_media(user_id, chat_type, chat_id, "sticker", {"sticker": sticker})

    def user_sends_voice(
        self,
        user_id: int,
        *,
        duration: int = 3,
        chat_type: str = "private",
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A voice note."""
        with self._lock:
            file_id, unique_id = self._new_file_ids("AwAC")
            voice = {
                "file_id": file_id,
                "file_unique_id": unique_id,
                "duration": duration,
                "mime_type": "audio/ogg",
                "file_size": 4000 * duration,
            }
            return self._send_media(user_id, chat_type, chat_id, "voice", {"voice": voice})

    def user_sends_photo(
        self,
        user_id: int,
        *,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
        content: bytes = b"",
        chat_type: str = "private",
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A photo, optionally captioned."""
        with self._lock:
            file_id, unique_id = self._new_file_ids("AgAC")
            stored = StoredFile(file_id, unique_id, None, "image/jpeg", content, None, width, height)
            self.files[file_id] = stored
            extra: dict[str, Any] = {"photo": stored.photo_api()}
            if caption:
                extra["caption"] = caption
            return self._send_media(user_id, chat_type, chat_id, "photo", extra)

    def user_sends_document(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        *,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        chat_type: str = "private",
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A file."""
        with self._lock:
            file_id, unique_id = self._new_file_ids("BQAC")
            stored = StoredFile(file_id, unique_id, filename, mime_type, content)
            self.files[file_id] = stored
            extra: dict[str, Any] = {"document": stored.document_api()}
            if caption:
                extra["caption"] = caption
            return self._send_media(user_id, chat_type, chat_id, "document", extra)

    def user_sends_contact(self, user_id: int, phone_number: str = "+447700900123") -> dict[str, Any]:
        """A shared contact card (their own), as from a request_contact button."""
        with self._lock:
            user = self._user(user_id)
            contact = {
                "phone_number": phone_number,
                "first_name": user.first_name,
                "user_id": user_id,
            }
            return self._send_media(user_id, "private", None, "contact", {"contact": contact})

    def _send_media(
        self, user_id: int, chat_type: str, chat_id: int | None, kind: str, extra: dict[str, Any]
    ) -> dict[str, Any]:
        user = self._user(user_id)
        chat = self._where(user, chat_type, chat_id, None)
        message = self._user_message(user, chat, None, kind=kind, extra=extra)
        return self._deliver(message)

    def _user_message(self, user: User, chat: Chat, reply_to: int | None, **fields: Any) -> StoredMessage:
        replied = None
        if reply_to is not None:
            replied = self._message(chat.id, reply_to)
            if replied is None:
                raise LookupError(f"no message {reply_to} in chat {chat.id} to reply to")
        if user.blocked_bot and chat.type == "private":
            # Writing to a bot you blocked unblocks it (the app restarts the bot).
            self._set_blocked(user, False)
        return self._store_message(chat, sender=user, from_bot=False, reply_to=replied, **fields)

    def _deliver(self, message: StoredMessage, key: str = "message") -> dict[str, Any]:
        """Queue the update unless privacy mode hides the message from the bot."""
        chat = message.chat
        payload = {key: message.to_api()}
        visible = self._bot_sees(message)
        update = self._enqueue(payload) if visible else {"update_id": None, **payload}
        chat.user_mark = len(self._bot_events(chat.id))
        self._record(
            chat.id,
            "user_" + ("message" if message.kind == "text" else message.kind),
            actor="user",
            message_id=message.message_id,
            text=message.text if message.text is not None else message.caption,
            params={"delivered": visible},
        )
        return update

    def _bot_sees(self, message: StoredMessage) -> bool:
        if message.chat.type not in {"group", "supergroup"} or not self.privacy_mode:
            return True
        if message.chat.bot_is_admin or not message.chat.bot_is_member:
            return message.chat.bot_is_member
        if message.reply_to is not None and message.reply_to.from_bot:
            return True
        text = message.text or ""
        bot_name = (self.bot.username or "").lower()
        command = _COMMAND_RE.match(text)
        if command:
            target = command.group(0).partition("@")[2].lower()
            return target in ("", bot_name)
        return f"@{bot_name}" in text.lower()

    def user_edits(self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None) -> dict[str, Any]:
        """A person edits a text message they sent earlier (an ``edited_message`` update)."""
        with self._lock:
            chat_key = user_id if chat_id is None else chat_id
            message = self._message(chat_key, message_id)
            if message is None or message.sender is None or message.sender.id != user_id:
                raise LookupError(f"user {user_id} has no message {message_id} in chat {chat_key}")
            message.text, message.entities = text, _entities(text)
            message.edit_date = self._date()
            return self._deliver(message, "edited_message")

    def channel_posts(
        self,
        chat_id: int,
        text: str,
        *,
        title: str = "Test channel",
        username: str | None = None,
    ) -> dict[str, Any]:
        """A post in a channel where the bot is an administrator (``channel_post``)."""
        with self._lock:
            chat = self._group_chat(chat_id, "channel", title)
            chat.bot_is_admin = True
            if username:
                chat.username = username
            message = self._store_message(
                chat,
                sender=None,
                sender_chat=chat,
                from_bot=False,
                text=text,
                entities=_entities(text),
            )
            return self._deliver(message, "channel_post")

    # ----------------------------------------------------------------- buttons

    def user_presses(
        self,
        user_id: int,
        message_id: int,
        callback_data: str,
        *,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """A person presses an inline button of a bot message, with any data at all -
        including data that was never on a button, as a modified client could send."""
        with self._lock:
            chat_key = user_id if chat_id is None else chat_id
            message = self._message(chat_key, message_id)
            if message is None:
                raise LookupError(f"no message {message_id} in chat {chat_key} to press on")
            if not message.from_bot:
                raise ValueError("only the bot's messages carry inline buttons")
            user = self._user(user_id)
            if message.chat.type == "private":
                self._private_chat(user)
            query_id = str(4_000_000_000_000_000_000 + self._next_query_id)
            self._next_query_id += 1
            self.callback_queries[query_id] = CallbackQuery(
                id=query_id,
                user_id=user_id,
                chat_id=message.chat.id,
                message_id=message_id,
                data=callback_data,
                created=time.monotonic(),
            )
            payload = {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_api(),
                    "message": message.to_api(),
                    "chat_instance": str(abs(hash((self.bot.id, message.chat.id)))),
                    "data": callback_data,
                }
            }
            update = self._enqueue(payload)
            message.chat.user_mark = len(self._bot_events(message.chat.id))
            self._record(
                message.chat.id,
                "user_press",
                actor="user",
                message_id=message_id,
                text=callback_data,
                callback_query_id=query_id,
            )
            return update

    def user_presses_button(
        self,
        user_id: int,
        message: StoredMessage | int,
        button_text: str,
        *,
        chat_id: int | None = None,
    ) -> dict[str, Any]:
        """Press the button labelled ``button_text`` on the message's current keyboard."""
        with self._lock:
            if isinstance(message, StoredMessage):
                chat_id, message_id = message.chat.id, message.message_id
            else:
                message_id = message
            chat_key = user_id if chat_id is None else chat_id
            current = self._message(chat_key, message_id)
            rows = current.buttons if current is not None else []
            for row in rows:
                for text, data in row:
                    if text == button_text:
                        if data is None:
                            raise ValueError(f"button {text!r} has no callback_data")
                        return self.user_presses(user_id, message_id, data, chat_id=chat_key)
            raise LookupError(f"no button {button_text!r} on message {message_id}; has {rows}")

    # ------------------------------------------------------- membership changes

    def user_blocks_bot(self, user_id: int) -> dict[str, Any]:
        """The person blocks the bot: later sends to them fail with 403."""
        with self._lock:
            return self._set_blocked(self._user(user_id), True)

    def user_unblocks_bot(self, user_id: int) -> dict[str, Any]:
        """The person unblocks the bot (without writing to it)."""
        with self._lock:
            return self._set_blocked(self._user(user_id), False)

    def user_deletes_account(self, user_id: int) -> None:
        """Later sends fail with 403 "user is deactivated"."""
        with self._lock:
            self._user(user_id).deactivated = True

    def _set_blocked(self, user: User, blocked: bool) -> dict[str, Any]:
        user.blocked_bot = blocked
        chat = self._private_chat(user)
        old, new = ("member", "kicked") if blocked else ("kicked", "member")
        return self._member_update(chat, user, old, new)

    def bot_added_to_group(
        self,
        chat_id: int,
        *,
        by_user_id: int,
        title: str | None = None,
        chat_type: str = "group",
        admin: bool = False,
    ) -> dict[str, Any]:
        """Someone adds the bot to a group (a ``my_chat_member`` update)."""
        with self._lock:
            chat = self._group_chat(chat_id, chat_type, title)
            chat.bot_is_member, chat.bot_is_admin = True, admin
            new = "administrator" if admin else "member"
            return self._member_update(chat, self._user(by_user_id), "left", new)

    def bot_removed_from_group(self, chat_id: int, *, by_user_id: int) -> dict[str, Any]:
        """Someone removes the bot: later sends there fail with 403."""
        with self._lock:
            chat = self._group_chat(chat_id, "group", None)
            chat.bot_is_member = chat.bot_is_admin = False
            return self._member_update(chat, self._user(by_user_id), "member", "kicked")

    def _member_update(self, chat: Chat, by: User, old: str, new: str) -> dict[str, Any]:
        def member(status: str) -> dict[str, Any]:
            data: dict[str, Any] = {"status": status, "user": self.bot.to_api()}
            if status == "kicked":
                data["until_date"] = 0
            if status == "administrator":
                data.update(_ADMIN_RIGHTS)
            return data

        return self._enqueue(
            {
                "my_chat_member": {
                    "chat": chat.to_api(),
                    "from": by.to_api(),
                    "date": self._date(),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    # --------------------------------------------------------------------- raw

    def push_raw_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any update as given (update_id is assigned when missing)."""
        return self._enqueue(dict(update))


_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": False,
    "can_restrict_members": False,
    "can_promote_members": False,
    "can_change_info": False,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}


def _entities(text: str) -> list[dict[str, Any]]:
    """The entities Telegram's apps attach: a leading bot command and @mentions."""
    entities: list[dict[str, Any]] = []
    command = _COMMAND_RE.match(text)
    if command:
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command.group())})
    for mention in _MENTION_RE.finditer(text):
        if command and mention.start() < command.end():
            continue
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: mention.start()]),
                "length": utf16_len(mention.group()),
            }
        )
    return entities
