"""``FakeTelegram``: the whole fake Bot API in one object.

The class is assembled from small parts so each stays readable: ``World`` (state and
notification), ``Api`` (dispatch, faults, long polling), ``People`` (simulated users),
``Observe`` (assertions and waiting) and ``Serving`` (httpx transport and HTTP server).
"""

from __future__ import annotations

from .observe import Observe
from .people import People
from .server import Serving


class FakeTelegram(People, Observe, Serving):
    """A strict, in-memory Telegram Bot API for tests of a python-telegram-bot bot.

    Typical use (in-process)::

        fake = FakeTelegram()
        app = fake.application_builder().build()   # add handlers, then start polling
        fake.user_sends(1, "/start")
        reply = await fake.wait_for_message(1)

    or over HTTP (for a bot subprocess)::

        async with fake.running() as base_url:
            env["TELEGRAM_API_BASE_URL"] = base_url
            env["TELEGRAM_BOT_TOKEN"] = fake.token
    """
