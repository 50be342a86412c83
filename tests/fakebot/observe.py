"""What tests look at: transcripts, messages as they are now, calls, and waiting helpers.

The waiting helpers re-check on every change in the fake (no polling sleeps), so a test
waits exactly as long as the bot takes; on timeout they fail with the chat's transcript,
which is usually all one needs to see what the bot did instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar

from .state import ApiCall, ButtonRows, Event, StoredMessage, inline_buttons
from .world import World

T = TypeVar("T")

SENT_KINDS = ("message", "document", "photo")
RECHECK = 0.02  # seconds between checks of wait_for predicates when nothing changes


class WaitTimeout(AssertionError):
    """A wait_for* helper gave up; the message says what was awaited and what happened."""


class Observe(World):
    """Assertion helpers over the fake's state."""

    # ------------------------------------------------------------------ transcript

    def transcript(self, chat_id: int, *, include_users: bool = False) -> list[Event]:
        """What the bot did in a chat, in order (with include_users, people's actions too)."""
        with self._lock:
            source = self._chat_events if include_users else self._bot_chat_events
            return list(source.get(chat_id, []))

    def conversation(self, chat_id: int) -> str:
        """The chat as readable lines, people and bot interleaved (for failure messages)."""
        return "\n".join(e.describe() for e in self.transcript(chat_id, include_users=True))

    def mark(self, chat_id: int) -> int:
        """The current length of the bot's transcript in a chat, for ``after=``."""
        with self._lock:
            return len(self._bot_events(chat_id))

    # -------------------------------------------------------------------- messages

    def messages(self, chat_id: int) -> list[StoredMessage]:
        """The bot's messages in a chat as they are now (edits applied, deleted ones gone)."""
        with self._lock:
            return [m for m in self._chat_messages.get(chat_id, []) if m.from_bot and not m.deleted]

    def last_message(self, chat_id: int) -> StoredMessage:
        """The bot's latest (not deleted) message in a chat."""
        found = self.messages(chat_id)
        if not found:
            raise LookupError(f"the bot has no message in chat {chat_id}")
        return found[-1]

    def message(self, chat_id: int, message_id: int) -> StoredMessage:
        """Any message (the bot's or a person's, deleted ones too) by id."""
        with self._lock:
            message = self._messages.get((chat_id, message_id))
        if message is None:
            raise LookupError(f"no message {message_id} in chat {chat_id}")
        return message

    def current_text(self, chat_id: int, message_id: int) -> str | None:
        """A message's text (or caption) after all edits."""
        message = self.message(chat_id, message_id)
        return message.text if message.text is not None else message.caption

    @staticmethod
    def buttons(message: StoredMessage | Event | dict[str, Any]) -> ButtonRows:
        """Inline keyboard rows of (text, callback_data) of a message, event or JSON."""
        if isinstance(message, StoredMessage | Event):
            return message.buttons
        return inline_buttons(message.get("reply_markup"))

    def documents(self, chat_id: int) -> list[StoredMessage]:
        """Documents the bot sent to a chat (``.file.content`` holds the bytes)."""
        return [m for m in self.messages(chat_id) if m.kind == "document"]

    def photos(self, chat_id: int) -> list[StoredMessage]:
        """Photos the bot sent to a chat."""
        return [m for m in self.messages(chat_id) if m.kind == "photo"]

    def callback_answers(self, chat_id: int | None = None) -> list[Event]:
        """answerCallbackQuery events, in one chat or everywhere."""
        with self._lock:
            events = self._events if chat_id is None else self._bot_events(chat_id)
            return [e for e in events if e.kind == "answer"]

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by the bot."""
        with self._lock:
            return list(self._updates)

    # ----------------------------------------------------------------------- calls

    def reset_counts(self) -> None:
        """Zero ``calls`` and empty ``log`` (e.g. after the bot's start-up calls)."""
        with self._lock:
            self.calls.clear()
            self.log.clear()

    def api_errors(self, method: str | None = None, *, include_injected: bool = False) -> list[ApiCall]:
        """Calls Telegram refused (not counting long-poll conflicts or injected faults)."""
        with self._lock:
            return [
                c
                for c in self.log
                if c.status != 200
                and (include_injected or not c.injected)
                and (method is None or c.method == method)
                and not (c.method == "getUpdates" and c.status == 409)
            ]

    def assert_no_errors(self, *, ignore: Iterable[str] = ()) -> None:
        """Fail if the bot made any call Telegram would have refused.

        ``ignore``: substrings of descriptions that are expected in this test.
        """
        ignored = tuple(ignore)
        bad = [c for c in self.api_errors() if not any(s in (c.description or "") for s in ignored)]
        if bad:
            lines = [f"{c.method} -> {c.status} {c.description}: {c.params}" for c in bad]
            raise AssertionError("the bot made calls Telegram refuses:\n" + "\n".join(lines))

    # --------------------------------------------------------------------- waiting

    # The waiting helpers take ``timeout`` on purpose (ASYNC109): it bounds how long a
    # test waits for the bot and is reported in the failure, which asyncio.timeout can't.

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        message: str = "",
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value. It is re-checked on
        every change in the fake and every 20 ms, so it may also look at the bot's own
        state (its database, a list its error handler fills)."""
        value = await self._wait_until(predicate, timeout, RECHECK)
        if not value:
            raise WaitTimeout(message or f"condition still false after {timeout}s")
        return value

    def wait_for_sync(self, predicate: Callable[[], T], timeout: float = 5.0, *, message: str = "") -> T:
        """Blocking wait_for, for synchronous tests using ``serve_in_thread``."""
        value = self._wait_until_sync(predicate, timeout, RECHECK)
        if not value:
            raise WaitTimeout(message or f"condition still false after {timeout}s")
        return value

    async def wait_for_reply(
        self,
        chat_id: int,
        *,
        after: int | None = None,
        kinds: Collection[str] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Event:
        """The first thing the bot does in a chat after position ``after`` (default: after
        the last thing a simulated person did there), optionally only of some ``kinds``
        (message, document, photo, edit, edit_markup, edit_caption, delete, answer)."""
        with self._lock:
            chat = self.chats.get(chat_id)
            start = after if after is not None else (chat.user_mark if chat else 0)

        def check() -> Event | None:
            for event in self._bot_events(chat_id)[start:]:
                if kinds is None or event.kind in kinds:
                    return event
            return None

        found = await self._wait_until(check, timeout)
        if found is None:
            raise WaitTimeout(self._timeout_text(chat_id, f"a reply ({kinds or 'any'})", timeout))
        return found

    async def wait_for_message(
        self,
        chat_id: int,
        *,
        after: int | None = None,
        contains: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> StoredMessage:
        """The first new message (text, document or photo) the bot sends to a chat after
        ``after`` (default: the last action of a person there), optionally containing
        ``contains`` in its text or caption. Returns it as it is now."""
        with self._lock:
            chat = self.chats.get(chat_id)
            start = after if after is not None else (chat.user_mark if chat else 0)

        def check() -> StoredMessage | None:
            for event in self._bot_events(chat_id)[start:]:
                if event.kind in SENT_KINDS and (contains is None or contains in (event.text or "")):
                    return self._messages[(chat_id, event.message_id or 0)]
            return None

        found = await self._wait_until(check, timeout)
        if found is None:
            what = "a message" + (f" containing {contains!r}" if contains else "")
            raise WaitTimeout(self._timeout_text(chat_id, what, timeout))
        return found

    async def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until ``method`` has been called at least ``count`` times in all."""
        await self.wait_for(
            lambda: self.calls[method] >= count,
            timeout,
            message=f"{method} called {self.calls[method]} times, wanted {count}",
        )

    async def wait_until_idle(
        self,
        *,
        quiet: float = 0.1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until the bot fetched every update and made no call (other than
        getUpdates) for ``quiet`` seconds - for asserting that nothing *else* happens."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                idle_for = time.monotonic() - self._last_call_at
                pending = len(self._updates)
                version = self._version
            if not pending and idle_for >= quiet:
                return
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"bot not idle after {timeout}s: {pending} updates pending, last call {idle_for:.3f}s ago"
                )
            wait = quiet - idle_for if not pending else deadline - time.monotonic()
            await self._wait_change(version, max(min(wait, deadline - time.monotonic()), 0.001))
            await asyncio.sleep(0)

    def _timeout_text(self, chat_id: int, what: str, timeout: float) -> str:
        errors = "\n".join(f"  {c.method} -> {c.status} {c.description}" for c in self.api_errors()[-5:])
        return (
            f"no {what} in chat {chat_id} after {timeout}s. Chat so far:\n"
            f"{self.conversation(chat_id) or '  (nothing)'}" + (f"\nRecent API errors:\n{errors}" if errors else "")
        )
