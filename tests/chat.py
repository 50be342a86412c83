"""A test harness: the real bot Application against the fake Bot API, and residents to drive it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application
from telegram.request import HTTPXRequest

from bot.app import Backend
from bot.pseudonym import Pseudonymiser
from bot.settings import load_settings
from bot.store import Store
from bot.telegram.application import build_application
from models.survey import Survey
from tests.fakebot import FakeTelegram, StoredMessage
from tests.fakebot.ptb import polling

SECRET = "test-secret-" + "x" * 20


@dataclass
class Bot:
    """A running bot and the fake Telegram it talks to."""

    fake: FakeTelegram
    app: Application
    store: Store
    surveys: dict[str, Survey]
    pseudonymise: Pseudonymiser = field(default_factory=lambda: Pseudonymiser(SECRET.encode()))

    def resident(self, user_id: int, **profile: Any) -> Resident:
        return Resident(self, user_id, profile)

    @property
    def engine(self) -> Any:
        return self.app.bot_data["consultbot"].engine


@dataclass
class Resident:
    """Someone in a private chat with the bot."""

    bot: Bot
    user_id: int
    profile: dict[str, Any]

    @property
    def fake(self) -> FakeTelegram:
        return self.bot.fake

    async def settle(self, mark: int | None = None) -> None:
        """Wait for the bot's first reaction after `mark`, then until it has gone quiet."""
        if mark is not None:
            await self.fake.wait_for_reply(self.user_id, after=mark)
        await self.fake.wait_until_idle(quiet=0.03)

    async def says(self, text: str) -> list[Any]:
        """Send a message; return what the bot did in reply."""
        mark = self.fake.mark(self.user_id)
        self.fake.user_sends(self.user_id, text, **self.profile)
        await self.settle(mark)
        return self.fake.transcript(self.user_id)[mark:]

    async def taps(self, label: str, message: StoredMessage | None = None) -> list[Any]:
        """Tap the button with this label on a message (default: the last message with buttons)."""
        target = message or self.last_with_buttons()
        mark = self.fake.mark(self.user_id)
        self.fake.user_presses_button(self.user_id, target, label)
        await self.settle(mark)
        return self.fake.transcript(self.user_id)[mark:]

    async def presses(self, message_id: int, data: str) -> list[Any]:
        """Press a button with any data at all (old, doubled or forged)."""
        mark = self.fake.mark(self.user_id)
        self.fake.user_presses(self.user_id, message_id, data)
        await self.settle(mark)
        return self.fake.transcript(self.user_id)[mark:]

    def last_with_buttons(self) -> StoredMessage:
        for message in reversed(self.fake.messages(self.user_id)):
            if message.buttons:
                return message
        raise AssertionError("no message with buttons:\n" + self.fake.conversation(self.user_id))

    def last_text(self) -> str:
        message = self.fake.last_message(self.user_id)
        assert message is not None
        return message.text or ""

    def labels(self, message: StoredMessage | None = None) -> list[str]:
        target = message or self.last_with_buttons()
        return [text for row in target.buttons for text, _ in row]

    @property
    def pseudonym(self) -> str:
        return self.bot.pseudonymise(self.user_id)


def toasts(events: list[Any]) -> list[str | None]:
    return [e.text for e in events if e.kind == "answer"]


def sent(events: list[Any]) -> list[str]:
    return [e.text or "" for e in events if e.kind == "message"]


def edits(events: list[Any]) -> list[str]:
    return [e.text or "" for e in events if e.kind == "edit"]


@asynccontextmanager
async def running_bot(
    fake: FakeTelegram,
    db_url: str,
    surveys: Mapping[str, Survey],
    clock: Any,
    watch_folder: str | None = None,
    **settings: Any,
) -> AsyncIterator[Bot]:
    """The real Application, wired as `consultbot run` wires it, talking to `fake` in-process."""
    config = load_settings(
        TELEGRAM_BOT_TOKEN=fake.token,
        CONSULTBOT_DATABASE_URL=db_url,
        CONSULTBOT_SECRET=SECRET,
        CONSULTBOT_RATE_LIMIT=settings.pop("rate_limit", 0),
        **settings,
    )
    store = Store(db_url)
    backend = Backend(store=store, pseudonymise=Pseudonymiser(SECRET.encode()))

    def request() -> HTTPXRequest:
        return HTTPXRequest(httpx_kwargs={"transport": fake.httpx_transport()})

    app = build_application(
        config,
        backend,
        dict(surveys),
        request=request(),
        get_updates_request=request(),
        clock=clock,
        watch_folder=watch_folder,
    )
    try:
        async with polling(app):
            assert app.post_init is not None
            await app.post_init(app)  # run_polling does this in `consultbot run`
            # Tests drive digests and reloads themselves, with their own clock: no timers.
            assert app.job_queue is not None
            for job in app.job_queue.jobs():
                job.schedule_removal()
            # Short pauses between retries of a failed request: tests should not wait 30 s.
            app.bot.rate_limiter.pauses = (0.01, 0.02, 0.05)  # type: ignore[union-attr]
            yield Bot(fake, app, store, dict(surveys))
    finally:
        await store.aclose()


def at(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)
