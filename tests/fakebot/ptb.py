"""Helpers for running a python-telegram-bot Application against the fake in a test.

``Application.run_polling`` blocks and installs signal handlers, which a test cannot use;
this is the documented manual equivalent (initialize, start polling, start; then stop in
reverse order), as an async context manager.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telegram.ext import Application

    AnyApplication = Application[Any, Any, Any, Any, Any, Any]


@asynccontextmanager
async def polling(app: AnyApplication, **polling_kwargs: Any) -> AsyncIterator[AnyApplication]:
    """``async with polling(app):`` - the Application long-polls for the block's duration.

    ``polling_kwargs`` go to ``Updater.start_polling`` (e.g. ``drop_pending_updates``,
    ``allowed_updates``); ``poll_interval`` defaults to 0.
    """
    polling_kwargs.setdefault("poll_interval", 0)
    async with app:
        if app.updater is None:
            raise RuntimeError("the Application was built without an Updater")
        await app.updater.start_polling(**polling_kwargs)
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()
