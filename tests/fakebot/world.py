"""The fake Telegram world: state, ids, the update queue and change notification.

Everything lives behind one re-entrant lock so that the fake can be driven from the test's
event loop while it serves HTTP from the same loop or from a background thread
(``serve_in_thread``, for synchronous tests that run a bot CLI as a subprocess). Every
change bumps a version and wakes whoever waits on it: long-polling getUpdates calls and
tests waiting for the bot to reply.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from . import errors
from .errors import ApiError, bad_request
from .faults import FaultPlan, FloodControl
from .state import ApiCall, CallbackQuery, Chat, Event, StoredFile, StoredMessage, User

T = TypeVar("T")

DEFAULT_BOT_ID = 7000000001
DEFAULT_TOKEN = f"{DEFAULT_BOT_ID}:AAE-fake-consultbot-test-token-0000"

#: What getUpdates delivers when the bot never said (Telegram's documented default).
DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


def update_type(update: dict[str, Any]) -> str:
    """The kind of an update: its one key besides update_id."""
    return next((key for key in update if key != "update_id"), "")


class World:
    """State of the fake Telegram and the low-level operations on it."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        username: str = "consultbot_test_bot",
        first_name: str = "Consultbot Test",
        privacy_mode: bool = True,
        strict_ampersand: bool = True,
        callback_query_timeout: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create an empty world.

        token: the only token accepted; the bot id is its numeric prefix, as in Telegram.
        privacy_mode: BotFather's default; in groups the bot then only gets commands,
            replies to its own messages and messages mentioning it.
        strict_ampersand: reject a bare "&" in HTML text (see html_check).
        callback_query_timeout: seconds after which a press can no longer be answered
            (Telegram's is short but undocumented; None never expires).
        clock: wall-clock time for message dates; tests of schedules may pass their own.
        """
        prefix = token.split(":", 1)[0]
        self.token = token
        self.bot = User(
            id=int(prefix) if prefix.isdigit() else DEFAULT_BOT_ID,
            first_name=first_name,
            username=username,
            is_bot=True,
            language_code=None,
        )
        self.privacy_mode = privacy_mode
        self.strict_ampersand = strict_ampersand
        self.callback_query_timeout = callback_query_timeout
        self.clock = clock

        self.users: dict[int, User] = {}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.callback_queries: dict[str, CallbackQuery] = {}
        self._messages: dict[tuple[int, int], StoredMessage] = {}
        self._chat_messages: dict[int, list[StoredMessage]] = {}  # per chat, by id
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 100_000_001
        self._next_query_id = 1
        self._next_file_id = 1
        self._events: list[Event] = []
        self._chat_events: dict[int, list[Event]] = {}  # everything that happened in a chat
        self._bot_chat_events: dict[int, list[Event]] = {}  # what the bot did there

        #: calls per Bot API method name (canonical spelling), including failed ones
        self.calls: Counter[str] = Counter()
        #: every request with its outcome, oldest first
        self.log: list[ApiCall] = []
        self.faults = FaultPlan()
        self.flood: FloodControl | None = None

        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.chat_actions: dict[int, list[str]] = {}
        self.webhook_url = ""
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self.dropped_updates: list[dict[str, Any]] = []

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._version = 0
        self._waiters: dict[asyncio.Future[None], asyncio.AbstractEventLoop] = {}
        self._poll_generation = 0
        self._last_activity = time.monotonic()
        self._last_call_at = time.monotonic()  # last call other than getUpdates

    # ----------------------------------------------------------- change notification

    def _changed(self) -> None:
        """Wake every waiter (long polls, wait_for). Call with the lock held."""
        self._version += 1
        self._last_activity = time.monotonic()
        self._cond.notify_all()
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for future, loop in list(self._waiters.items()):
            if future.done():
                continue
            if loop is current:
                future.set_result(None)
            else:
                try:
                    loop.call_soon_threadsafe(_resolve, future)
                except RuntimeError:  # that loop is closed
                    self._waiters.pop(future, None)

    async def _wait_change(self, version: int, within: float) -> None:
        """Return after the next change past ``version``, or after ``within`` seconds."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._version != version:
                return
            self._waiters[future] = loop
        try:
            async with asyncio.timeout(max(within, 0.0)):
                await future
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.pop(future, None)

    async def _wait_until(self, check: Callable[[], T], within: float, recheck: float | None = None) -> T:
        """Re-evaluate ``check`` (under the lock) on every change, and every ``recheck``
        seconds for conditions on state outside the fake, until truthy or ``within``
        seconds have passed. Returns the last value of ``check``."""
        deadline = time.monotonic() + within
        while True:
            with self._lock:
                value = check()
                version = self._version
            remaining = deadline - time.monotonic()
            if value or remaining <= 0:
                return value
            await self._wait_change(version, min(remaining, recheck or remaining))

    def _wait_until_sync(self, check: Callable[[], T], within: float, recheck: float | None = None) -> T:
        """The blocking twin of _wait_until, for tests that are not async."""
        deadline = time.monotonic() + within
        with self._cond:
            while True:
                value = check()
                remaining = deadline - time.monotonic()
                if value or remaining <= 0:
                    return value
                self._cond.wait(min(remaining, recheck or remaining))

    # ------------------------------------------------------------------- ids, time

    def _date(self) -> int:
        return int(self.clock())

    def _new_file_ids(self, prefix: str) -> tuple[str, str]:
        number = self._next_file_id
        self._next_file_id += 1
        return f"{prefix}{number:012d}fake", f"AQAD{number:08d}"

    # ---------------------------------------------------------------------- updates

    def _enqueue(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Add an update (its update_id is assigned here) and wake the long poll."""
        with self._lock:
            update = {"update_id": self._next_update_id, **payload}
            if "update_id" in payload:
                update["update_id"] = int(payload["update_id"])
            self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
            self._updates.append(update)
            self._changed()
            return update

    def _take_updates(self, offset: int | None, limit: int) -> list[dict[str, Any]]:
        """Confirm updates before ``offset`` and return up to ``limit`` pending ones."""
        if offset is not None:
            if offset < 0:  # "the last -offset updates"; everything earlier is forgotten
                self._updates = self._updates[offset:]
            else:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
        kept = []
        for update in self._updates:
            if update_type(update) in self.allowed_updates:
                kept.append(update)
            else:
                self.dropped_updates.append(update)
        if len(kept) != len(self._updates):
            self._updates = kept
            self._changed()
        return kept[:limit]

    # ------------------------------------------------------------------ lookups

    def _chat_for_bot(self, raw: Any, *, sending: bool = True) -> Chat:
        """The chat a bot request targets, failing as Telegram does."""
        if raw is None or raw == "":
            raise bad_request(errors.CHAT_ID_EMPTY)
        chat: Chat | None = None
        text = str(raw).strip()
        if text.startswith("@"):
            name = text[1:].lower()
            chat = next(
                (c for c in self.chats.values() if c.username and c.username.lower() == name),
                None,
            )
        elif text.lstrip("-").isdigit():
            chat = self.chats.get(int(text))
        if chat is None:
            raise bad_request(errors.CHAT_NOT_FOUND)
        if sending:
            self._check_can_send(chat)
        return chat

    def _check_can_send(self, chat: Chat) -> None:
        if chat.type == "private":
            user = self.users.get(chat.id)
            if user is not None and user.is_bot:
                raise ApiError(403, errors.BOT_TO_BOT)
            if user is not None and user.deactivated:
                raise ApiError(403, errors.DEACTIVATED)
            if user is not None and user.blocked_bot:
                raise ApiError(403, errors.BLOCKED)
        elif not chat.bot_is_member:
            raise ApiError(403, errors.KICKED)

    def _message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        message = self._messages.get((chat_id, message_id))
        return None if message is None or message.deleted else message

    # ---------------------------------------------------------------- messages

    def _store_message(self, chat: Chat, **fields: Any) -> StoredMessage:
        """Create the next message in ``chat`` (ids are per chat, as bots see them)."""
        message = StoredMessage(chat=chat, message_id=chat.next_message_id, date=self._date(), **fields)
        chat.next_message_id += 1
        self._messages[(chat.id, message.message_id)] = message
        self._chat_messages.setdefault(chat.id, []).append(message)
        return message

    def _bot_events(self, chat_id: int) -> list[Event]:
        return self._bot_chat_events.get(chat_id, [])

    def _record(self, chat_id: int, kind: str, *, actor: str = "bot", **fields: Any) -> Event:
        """Append to the chat's transcript and wake waiters."""
        event = Event(seq=len(self._events) + 1, chat_id=chat_id, kind=kind, actor=actor, **fields)
        self._events.append(event)
        self._chat_events.setdefault(chat_id, []).append(event)
        if actor == "bot":
            self._bot_chat_events.setdefault(chat_id, []).append(event)
        self._changed()
        return event


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
