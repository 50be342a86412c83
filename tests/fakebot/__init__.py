"""A strict fake of the Telegram Bot API, for testing consultbot end to end.

``FakeTelegram`` holds the whole fake world and is everything a test needs::

    from tests.fakebot import FakeTelegram

    fake = FakeTelegram()                     # token: fake.token, bot: @consultbot_test_bot

    # In-process (no sockets): a real PTB Application over an httpx transport.
    app = fake.application_builder().build()  # = Application.builder().token(fake.token)
                                              #   .request(HTTPXRequest(httpx_kwargs=
                                              #   {"transport": fake.httpx_transport()}))
                                              #   .get_updates_request(...same...)

    # Over HTTP on 127.0.0.1 (bot in this process or in a subprocess).
    async with fake.running() as base_url:    # "http://127.0.0.1:PORT/bot"
        app = Application.builder().token(fake.token).base_url(base_url).build()
        # or: env TELEGRAM_API_BASE_URL=base_url, TELEGRAM_BOT_TOKEN=fake.token
    with fake.serve_in_thread() as base_url:  # for synchronous tests (subprocess.run)
        ...

    async with polling(app):                  # start_polling + start; stopped at the end
        fake.user_sends(1001, "/start millbrook-priorities")
        question = await fake.wait_for_message(1001)
        fake.user_presses_button(1001, question, "North estate")
        await fake.wait_for_reply(1001, kinds={"answer"})
        fake.assert_no_errors()

Strictness follows Telegram (see errors.py for the descriptions); where the fake is
stricter than Telegram on purpose (a bare "&" in HTML), the module says so.
"""

from .errors import ApiError
from .fake import FakeTelegram
from .html_check import EntityParseError, parse_html, utf16_len
from .observe import WaitTimeout
from .ptb import polling
from .state import ApiCall, CallbackQuery, Chat, Event, StoredFile, StoredMessage, User
from .wire import Upload, decode_body
from .world import DEFAULT_TOKEN

__all__ = [
    "DEFAULT_TOKEN",
    "ApiCall",
    "ApiError",
    "CallbackQuery",
    "Chat",
    "EntityParseError",
    "Event",
    "FakeTelegram",
    "StoredFile",
    "StoredMessage",
    "Upload",
    "User",
    "WaitTimeout",
    "decode_body",
    "parse_html",
    "polling",
    "utf16_len",
]
