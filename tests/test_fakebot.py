"""Tests of the fake Telegram Bot API in tests/fakebot.

Most tests drive a real python-telegram-bot Application (a tiny echo bot built here) against
the fake, in-process and over 127.0.0.1, so the fake is checked against the client the
project actually uses: PTB must accept every JSON the fake produces, and every Telegram
refusal must reach the bot as the exception PTB raises for the real one.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import os
import struct
import subprocess
import sys
import time
import warnings
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from tests.fakebot import FakeTelegram, WaitTimeout, decode_body, parse_html, polling, utf16_len

ROOT = Path(__file__).resolve().parent.parent

# PTB itself reads RetryAfter.retry_after when raising it, which warns about a future change.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")
ALICE, BOB = 1001, 1002


# ----------------------------------------------------------------------------- helpers


def build_echo_bot(builder: ApplicationBuilder) -> tuple[Application, list[BaseException]]:
    """A tiny bot: /start with two buttons, /long (too long a reply), echo, button presses."""
    app = builder.build()
    handler_errors: list[BaseException] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        name = " ".join(context.args or [])
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("Yes", callback_data="ans:yes"),
                    InlineKeyboardButton("No", callback_data="ans:no"),
                ]
            ]
        )
        await update.effective_message.reply_text(
            f"Hello <b>{name or 'there'}</b>", parse_mode=ParseMode.HTML, reply_markup=keyboard
        )

    async def too_long(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("x" * 4097)

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer(f"You chose {query.data}")
        await query.edit_message_text(f"Answered {query.data}")

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.error is not None
        handler_errors.append(context.error)

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("long", too_long))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_error_handler(on_error)
    return app, handler_errors


def retry_seconds(error: RetryAfter) -> float:
    """RetryAfter.retry_after as seconds (PTB 22 warns that it will become a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def png(width: int, height: int) -> bytes:
    """A valid PNG image, built by hand."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\x10\x80\xf0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def fake() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture(params=["in_process", "http"])
async def echo_bot(
    request: pytest.FixtureRequest, fake: FakeTelegram
) -> AsyncIterator[tuple[Application, list[BaseException]]]:
    """The echo bot polling the fake, through the httpx transport or over 127.0.0.1."""
    if request.param == "in_process":
        builder = fake.application_builder()
    else:
        base_url = await fake.serve()
        builder = Application.builder().token(fake.token).base_url(base_url)
    app, handler_errors = build_echo_bot(builder)
    try:
        async with polling(app):
            yield app, handler_errors
    finally:
        await fake.stop_serving()


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    """A PTB Bot talking to the fake in-process, for calling methods directly."""
    app = fake.application_builder().build()
    async with app:
        yield app.bot


# ------------------------------------------------------------- a real bot, both modes


async def test_conversation_round_trip(echo_bot: tuple[Application, list], fake: FakeTelegram):
    fake.user_sends(ALICE, "/start Alice", first_name="Alice")
    hello = await fake.wait_for_message(ALICE)
    assert hello.text == "Hello Alice"
    assert hello.entities == [{"type": "bold", "offset": 6, "length": 5}]
    assert fake.buttons(hello) == [[("Yes", "ans:yes"), ("No", "ans:no")]]

    fake.user_presses_button(ALICE, hello, "No")
    answer = await fake.wait_for_reply(ALICE, kinds={"answer"})
    assert answer.text == "You chose ans:no"
    edit = await fake.wait_for_reply(ALICE, kinds={"edit"})
    assert edit.message_id == hello.message_id
    assert fake.current_text(ALICE, hello.message_id) == "Answered ans:no"
    assert fake.buttons(fake.message(ALICE, hello.message_id)) == []  # the edit removed them
    assert [e.kind for e in fake.transcript(ALICE)] == ["message", "answer", "edit"]
    fake.assert_no_errors()


async def test_updates_arrive_in_order(echo_bot: tuple[Application, list], fake: FakeTelegram):
    for i in range(10):
        fake.user_sends(ALICE, f"a{i}")
        fake.user_sends(BOB, f"b{i}")
    await fake.wait_for(lambda: len(fake.messages(ALICE)) == 10 and len(fake.messages(BOB)) == 10)
    assert [m.text for m in fake.messages(ALICE)] == [f"echo: a{i}" for i in range(10)]
    assert [m.text for m in fake.messages(BOB)] == [f"echo: b{i}" for i in range(10)]
    await fake.wait_for(lambda: not fake.pending_updates())  # confirmed by the next poll


async def test_refusals_reach_the_bots_error_handler(echo_bot: tuple[Application, list], fake: FakeTelegram):
    _, handler_errors = echo_bot
    fake.user_sends(ALICE, "/long")
    await fake.wait_for(lambda: handler_errors)
    assert isinstance(handler_errors[0], BadRequest)
    assert handler_errors[0].message == "Message is too long"
    assert fake.api_errors("sendMessage")[0].description == "Bad Request: message is too long"
    with pytest.raises(AssertionError, match=r"message is too long"):
        fake.assert_no_errors()


async def test_a_press_can_be_answered_only_once(echo_bot: tuple[Application, list], fake: FakeTelegram):
    app, _ = echo_bot
    fake.user_sends(ALICE, "/start")
    hello = await fake.wait_for_message(ALICE)
    update = fake.user_presses(ALICE, hello.message_id, "forged:data-never-on-a-button")
    await fake.wait_for_reply(ALICE, kinds={"answer"})
    query_id = update["callback_query"]["id"]
    with pytest.raises(BadRequest, match=r"Query is too old"):
        await app.bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"Query is too old"):
        await app.bot.answer_callback_query("12345")


# ------------------------------------------------------------------- strictness


@pytest.fixture
def alice(fake: FakeTelegram) -> int:
    """Alice has started the bot, so it may write to her."""
    fake.add_user(ALICE, first_name="Alice")
    return ALICE


async def test_text_length_is_counted_after_parsing(bot: Bot, fake: FakeTelegram, alice: int):
    await bot.send_message(alice, "x" * 4096)
    await bot.send_message(alice, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    await bot.send_message(alice, "&lt;" * 4096, parse_mode=ParseMode.HTML)
    await bot.send_message(alice, "😀" * 2048)  # 4096 UTF-16 code units
    for text in ("x" * 4097, "😀" * 2049):
        with pytest.raises(BadRequest, match=r"^Message is too long$"):
            await bot.send_message(alice, text)
    for text in ("", "   ", "<b> </b>"):
        with pytest.raises(BadRequest, match=r"^Message text is empty$"):
            await bot.send_message(alice, text, parse_mode=ParseMode.HTML)
    assert fake.last_message(alice).text == "😀" * 2048
    await bot.send_message(alice, "  https://example.org  ", link_preview_options=LinkPreviewOptions(is_disabled=True))
    assert fake.last_message(alice).text == "https://example.org"  # trimmed, as by Telegram
    assert fake.last_message(alice).link_preview_disabled


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("Fish & chips", 'Unescaped "&" at byte offset 5'),
        ("&nbsp;", 'Unescaped "&" at byte offset 0'),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
async def test_bad_html_is_refused(bot: Bot, fake: FakeTelegram, alice: int, html: str, error: str):
    with pytest.raises(BadRequest) as caught:
        await bot.send_message(alice, html, parse_mode=ParseMode.HTML)
    description = "Bad Request: can't parse entities: " + error
    assert fake.api_errors()[-1].description.startswith(description)
    # PTB drops "Bad Request: " and capitalize()s the rest, lower-casing it.
    assert caught.value.message.startswith(description.removeprefix("Bad Request: ").capitalize())


def test_html_entities_and_offsets():
    text, entities = parse_html(
        '<b>Hi</b> &amp; 😀 <a href="https://example.org/?a=1&amp;b=2">link</a> '
        '<tg-spoiler>s</tg-spoiler> <pre><code class="language-python">x</code></pre>'
        " &#128512;&#x41;&quot;&lt;&gt;"
    )
    assert text == 'Hi & 😀 link s x 😀A"<>'
    assert utf16_len("😀") == 2
    assert entities == [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "text_link", "offset": 8, "length": 4, "url": "https://example.org/?a=1&b=2"},
        {"type": "spoiler", "offset": 13, "length": 1},
        {"type": "pre", "offset": 15, "length": 1, "language": "python"},
    ]
    assert parse_html("Fish & chips", strict_ampersand=False)[0] == "Fish & chips"


async def test_keyboards_are_validated(bot: Bot, fake: FakeTelegram, alice: int):
    def keyboard(**button: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("Go", **button)]])

    await bot.send_message(alice, "ok", reply_markup=keyboard(callback_data="x" * 64))
    for data in ("x" * 65, "é" * 33):  # 65 and 66 bytes of UTF-8
        with pytest.raises(BadRequest, match=r"(?i)^button_data_invalid$"):
            await bot.send_message(alice, "no", reply_markup=keyboard(callback_data=data))
    with pytest.raises(BadRequest, match=r"(?i)text buttons are unallowed in the inline keyboard"):
        await bot.send_message(alice, "no", reply_markup={"inline_keyboard": [[{"text": "Just text"}]]})
    with pytest.raises(BadRequest, match=r"exactly one"):
        await bot.send_message(
            alice,
            "no",
            reply_markup={"inline_keyboard": [[{"text": "Both", "callback_data": "a", "url": "https://x.org"}]]},
        )
    with pytest.raises(BadRequest, match=r"(?i)button_url_invalid"):
        await bot.send_message(alice, "no", reply_markup=keyboard(url="not a url"))
    assert [m.text for m in fake.messages(alice)] == ["ok"]


async def test_reply_keyboards_and_inline_only_edits(bot: Bot, fake: FakeTelegram, alice: int):
    reply_keyboard = ReplyKeyboardMarkup([[KeyboardButton("Share", request_contact=True)]])
    sent = await bot.send_message(alice, "Share your number?", reply_markup=reply_keyboard)
    assert fake.last_message(alice).reply_keyboard == [["Share"]]
    assert sent.reply_markup is None  # Telegram returns only inline keyboards in messages
    with pytest.raises(BadRequest, match=r"^Message can't be edited$"):
        await bot.edit_message_text("Changed", chat_id=alice, message_id=sent.message_id)
    await bot.send_message(alice, "Thanks", reply_markup=ReplyKeyboardRemove())
    question = await bot.send_message(alice, "Question")
    with pytest.raises(BadRequest, match=r"Inline keyboard expected"):
        await bot.edit_message_text(
            "Edited",
            chat_id=alice,
            message_id=question.message_id,
            reply_markup=reply_keyboard,  # type: ignore[arg-type]
        )


async def test_edits_are_checked(bot: Bot, fake: FakeTelegram, alice: int):
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    sent = await bot.send_message(alice, "<b>Q</b>", parse_mode=ParseMode.HTML, reply_markup=markup)
    with pytest.raises(BadRequest, match=r"^Message is not modified: specified new message"):
        await bot.edit_message_text("<b>Q</b>", alice, sent.message_id, parse_mode=ParseMode.HTML, reply_markup=markup)
    # Same text without bold is a change; without reply_markup the keyboard goes.
    await bot.edit_message_text("Q", alice, sent.message_id)
    assert fake.message(alice, sent.message_id).reply_markup is None
    with pytest.raises(BadRequest, match=r"Message is not modified"):
        await bot.edit_message_reply_markup(alice, sent.message_id)
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("x", alice, 999)
    user_message = fake.user_sends(alice, "hello")["message"]["message_id"]
    with pytest.raises(BadRequest, match=r"^Message can't be edited$"):
        await bot.edit_message_text("x", alice, user_message)
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("x", alice, sent.message_id + 100)
    assert await bot.delete_message(alice, sent.message_id)
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("x", alice, sent.message_id)
    with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
        await bot.delete_message(alice, sent.message_id)
    kinds = [e.kind for e in fake.transcript(alice)]
    assert kinds == ["message", "edit", "delete"]


async def test_who_the_bot_can_write_to(bot: Bot, fake: FakeTelegram):
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(ALICE, "hi")  # never wrote to the bot
    fake.user_sends(ALICE, "/start")
    await bot.send_message(ALICE, "hi")
    fake.user_blocks_bot(ALICE)
    with pytest.raises(Forbidden, match=r"bot was blocked by the user"):
        await bot.send_message(ALICE, "still there?")
    fake.user_sends(ALICE, "/start")  # writing again unblocks
    await bot.send_message(ALICE, "welcome back")
    statuses = [
        u["my_chat_member"]["new_chat_member"]["status"] if "my_chat_member" in u else None
        for u in fake.pending_updates()
    ]
    assert statuses == [None, "kicked", "member", None]


async def test_files_are_kept_for_the_test(bot: Bot, fake: FakeTelegram, alice: int):
    csv = b"response_id,area\nr1,north\n"
    message = await bot.send_document(alice, csv, filename="export.csv", caption="Your export")
    assert message.document is not None and message.document.file_name == "export.csv"
    stored = fake.documents(alice)[0]
    assert stored.file is not None
    assert stored.file.filename == "export.csv"
    assert stored.file.text == "response_id,area\nr1,north\n"
    assert stored.caption == "Your export"

    photo = await bot.send_photo(alice, png(200, 100), caption="Chart")
    assert photo.photo[-1].width == 200 and photo.photo[-1].height == 100
    assert fake.photos(alice)[0].file.content == png(200, 100)  # type: ignore[union-attr]
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await bot.send_photo(alice, b"this is not an image")
    with pytest.raises(BadRequest, match=r"File must be non-empty"):
        await bot.send_document(alice, b"", filename="empty.csv")
    # A file_id from an earlier upload can be sent again.
    await bot.send_document(alice, message.document.file_id)
    assert [e.kind for e in fake.transcript(alice)] == ["document", "photo", "document"]


async def test_bot_settings(bot: Bot, fake: FakeTelegram):
    await bot.set_my_commands([("start", "Start a survey"), ("help", "How this works")])
    commands = await bot.get_my_commands()
    assert [(c.command, c.description) for c in commands] == [
        ("start", "Start a survey"),
        ("help", "How this works"),
    ]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([("Start-Now", "Bad name")])
    await bot.set_my_description("Answer local consultations.")
    assert (await bot.get_my_description()).description == "Answer local consultations."
    await bot.set_my_short_description("Local consultations")
    assert (await bot.get_my_short_description()).short_description == "Local consultations"
    assert await bot.set_chat_menu_button()
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    me = await bot.get_me()
    assert me.username == "consultbot_test_bot"


# ---------------------------------------------------------------------- faults


async def test_429_surfaces_as_retry_after(bot: Bot, fake: FakeTelegram, alice: int):
    fake.fail_next("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(alice, "hi")
    assert retry_seconds(caught.value) == 7
    await bot.send_message(alice, "hi")  # only the next call failed
    assert fake.calls["sendMessage"] == 2
    assert fake.api_errors() == []  # injected failures are not the bot's fault
    assert fake.api_errors(include_injected=True)[0].status == 429


async def test_outages_and_slow_answers(bot: Bot, fake: FakeTelegram, alice: int):
    with fake.outage(status=502):
        with pytest.raises(NetworkError, match=r"Bad Gateway"):
            await bot.send_message(alice, "hi")
        with pytest.raises(NetworkError):
            await bot.get_me()
    fake.fail_all(status=500, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match=r"Internal Server Error"):
            await bot.send_message(alice, "hi")
    await bot.send_message(alice, "hi")

    fake.set_delay(0.2, "sendMessage")
    started = time.monotonic()
    await bot.send_message(alice, "slow")
    assert time.monotonic() - started >= 0.2
    fake.clear_faults()


async def test_flood_control(bot: Bot, fake: FakeTelegram, alice: int):
    fake.enable_flood_control(per_chat_per_second=2)
    await bot.send_message(alice, "1")
    await bot.send_message(alice, "2")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(alice, "3")
    assert retry_seconds(caught.value) == 1


async def test_wrong_token_and_unknown_method(fake: FakeTelegram):
    request = HTTPXRequest(httpx_kwargs={"transport": fake.httpx_transport()})
    wrong = Bot("123:not-the-token", request=request)
    with pytest.raises(InvalidToken):
        await wrong.get_me()
    assert fake.handle("nonsense", "getMe", {}, {})[0] == 404
    status, body = fake.handle(fake.token, "sendSmokeSignal", {}, {})
    assert (status, body["description"]) == (404, "Not Found")
    assert fake.handle(fake.token, "GETME", {}, {})[0] == 200  # method names ignore case


# -------------------------------------------------------------- getUpdates itself


def test_get_updates_offsets_limits_and_allowed_updates(fake: FakeTelegram):
    def get(**params: object) -> list[dict]:
        status, body = fake.handle(fake.token, "getUpdates", dict(params), {})
        assert status == 200, body
        return body["result"]

    first = fake.user_sends(ALICE, "one")["update_id"]
    fake.user_sends(ALICE, "two")
    fake.user_sends(ALICE, "three")
    assert [u["message"]["text"] for u in get()] == ["one", "two", "three"]
    assert [u["update_id"] for u in get(limit="2")] == [first, first + 1]
    assert [u["message"]["text"] for u in get(offset=str(first + 1))] == ["two", "three"]
    assert [u["message"]["text"] for u in get()] == ["two", "three"]  # "one" is confirmed
    assert [u["message"]["text"] for u in get(offset="-1")] == ["three"]

    fake.push_raw_update({"message_reaction": {"chat": {"id": 1, "type": "private"}}})
    assert [u.keys() - {"update_id"} for u in get()] == [{"message"}]  # not by default
    assert len(fake.dropped_updates) == 1
    fake.user_sends(BOB, "hi")
    assert get(allowed_updates='["callback_query"]') == []  # the message is dropped
    fake.user_sends(BOB, "again")
    assert get() == []  # the setting is remembered, as in Telegram
    assert len(get(allowed_updates="[]")) == 0

    fake.user_sends(BOB, "before the restart")
    assert fake.handle(fake.token, "deleteWebhook", {"drop_pending_updates": "true"}, {})[0] == 200
    assert get() == []


def test_privacy_mode_hides_group_chatter(fake: FakeTelegram):
    group = -4001
    fake.user_sends(ALICE, "hello everyone", chat_type="group", chat_id=group)
    fake.user_sends(ALICE, "/start@other_bot", chat_type="group", chat_id=group)
    fake.user_sends(ALICE, "/start", chat_type="group", chat_id=group)
    fake.user_sends(ALICE, "hey @consultbot_test_bot", chat_type="group", chat_id=group)
    texts = [u["message"]["text"] for u in fake.pending_updates()]
    assert texts == ["/start", "hey @consultbot_test_bot"]
    assert FakeTelegram(privacy_mode=False).user_sends(1, "x", chat_type="group")["update_id"]


async def test_every_simulated_update_is_valid_for_ptb(bot: Bot, fake: FakeTelegram):
    sent = await bot.send_message(fake.add_user(ALICE).id, "Question")
    updates = [
        fake.user_sends(ALICE, "/start survey-1"),
        fake.user_sends_command(ALICE, "help"),
        fake.user_sends_sticker(ALICE),
        fake.user_sends_photo(ALICE, caption="pic"),
        fake.user_sends_voice(ALICE),
        fake.user_sends_document(ALICE, "a.txt", b"abc"),
        fake.user_sends_contact(ALICE),
        fake.user_sends(BOB, "/results@consultbot_test_bot x", chat_type="supergroup"),
        fake.user_presses(ALICE, sent.message_id, "x" * 100),
        fake.channel_posts(-100777, "news", username="millbrooknews"),
        fake.bot_added_to_group(-4002, by_user_id=BOB, title="Residents"),
        fake.user_blocks_bot(ALICE),
        fake.push_raw_update(
            {
                "message": {
                    "message_id": 999,
                    "date": 0,
                    "chat": {"id": BOB, "type": "private"},
                    "location": {"latitude": 52.6, "longitude": -1.1},
                }
            }
        ),
    ]
    edited = fake.user_edits(ALICE, updates[0]["message"]["message_id"], "/start survey-2")
    parsed = [Update.de_json(u, bot) for u in [*updates, edited]]
    ids = [u.update_id for u in parsed]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert parsed[0].message.text == "/start survey-1"  # type: ignore[union-attr]
    assert parsed[1].message.text == "/help"  # type: ignore[union-attr]
    assert parsed[0].message.entities[0].type == "bot_command"  # type: ignore[union-attr]
    assert parsed[2].message.sticker is not None  # type: ignore[union-attr]
    assert parsed[3].message.photo and parsed[3].message.caption == "pic"  # type: ignore[union-attr]
    assert parsed[4].message.voice is not None  # type: ignore[union-attr]
    assert parsed[8].callback_query.data == "x" * 100  # type: ignore[union-attr]
    assert parsed[9].channel_post.chat.username == "millbrooknews"  # type: ignore[union-attr]
    assert parsed[10].my_chat_member.new_chat_member.status == "member"  # type: ignore[union-attr]
    assert parsed[-1].edited_message.text == "/start survey-2"  # type: ignore[union-attr]
    await bot.send_message(-100777, "posted in the channel")
    await bot.send_message("@millbrooknews", "by username")


async def test_long_poll_returns_as_soon_as_an_update_arrives(fake: FakeTelegram):
    async def send_later() -> None:
        await asyncio.sleep(0.05)
        fake.user_sends(ALICE, "wake up")

    started = time.monotonic()
    task = asyncio.create_task(send_later())
    status, body = await fake.handle_async(fake.token, "getUpdates", {"timeout": "10"}, {})
    await task
    assert status == 200 and body["result"][0]["message"]["text"] == "wake up"
    assert time.monotonic() - started < 2

    started = time.monotonic()
    offset = str(body["result"][0]["update_id"] + 1)
    status, body = await fake.handle_async(fake.token, "getUpdates", {"timeout": "0.1", "offset": offset}, {})
    assert (status, body["result"]) == (200, [])
    assert time.monotonic() - started >= 0.09


async def test_a_second_poller_terminates_the_first(fake: FakeTelegram):
    first = asyncio.create_task(fake.handle_async(fake.token, "getUpdates", {"timeout": 10}, {}))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(fake.handle_async(fake.token, "getUpdates", {"timeout": 10}, {}))
    status, body = await asyncio.wait_for(first, 2)
    assert status == 409 and body["description"].startswith("Conflict: terminated by other")
    fake.user_sends(ALICE, "hi")
    assert (await asyncio.wait_for(second, 2))[0] == 200


async def test_wait_helpers_fail_with_the_transcript(fake: FakeTelegram):
    fake.user_sends(ALICE, "is anyone there?")
    with pytest.raises(WaitTimeout, match=r"is anyone there"):
        await fake.wait_for_reply(ALICE, timeout=0.05)
    mark = fake.mark(ALICE)
    fake.handle(fake.token, "sendMessage", {"chat_id": ALICE, "text": "first"}, {})
    fake.handle(fake.token, "sendMessage", {"chat_id": ALICE, "text": "second"}, {})
    assert (await fake.wait_for_reply(ALICE)).text == "first"  # after the person's message
    assert (await fake.wait_for_reply(ALICE, after=mark + 1)).text == "second"
    assert (await fake.wait_for_message(ALICE, contains="sec")).text == "second"
    with pytest.raises(WaitTimeout, match=r"still false"):
        await fake.wait_for(lambda: False, timeout=0.01)


# ------------------------------------------------------------------ the wire


def test_request_encodings_are_decoded():
    request = httpx.Request(
        "POST",
        "http://x/botT/sendDocument",
        data={"chat_id": "1", "reply_markup": '{"inline_keyboard": []}'},
        files={"document": ('na"me.csv', b"a,b\r\n1,2\r\n", "text/csv")},
    )
    request.read()
    params, files = decode_body(request.headers["content-type"], request.content)
    assert params == {"chat_id": "1", "reply_markup": '{"inline_keyboard": []}'}
    assert files["document"].filename == 'na"me.csv'
    assert files["document"].content == b"a,b\r\n1,2\r\n"
    assert files["document"].content_type == "text/csv"

    params, _ = decode_body("application/x-www-form-urlencoded", b"chat_id=1&text=a%26b")
    assert params == {"chat_id": "1", "text": "a&b"}
    params, _ = decode_body("application/json", json.dumps({"chat_id": 1}).encode(), "limit=5")
    assert params == {"chat_id": 1, "limit": "5"}


async def test_http_server_keep_alive_concurrency_and_paths(fake: FakeTelegram):
    async with fake.running() as base_url:
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/bot")
        url = f"{base_url}{fake.token}"
        fake.add_user(ALICE)
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(limits=limits, timeout=5) as client:
            poll = asyncio.create_task(client.post(f"{url}/getUpdates", json={"timeout": 5}))
            sends = [client.post(f"{url}/sendMessage", data={"chat_id": ALICE, "text": f"m{i}"}) for i in range(100)]
            replies = await asyncio.gather(*sends)
            assert {r.status_code for r in replies} == {200}
            assert not poll.done()  # a long poll holds its own connection meanwhile
            fake.user_sends(ALICE, "hi")
            assert (await poll).json()["result"][0]["message"]["text"] == "hi"

            async def chunks() -> AsyncIterator[bytes]:
                yield b'{"chat_id": 1001, '
                yield b'"text": "chunks"}'

            chunked = await client.post(
                f"{url}/sendMessage",
                content=chunks(),
                headers={"content-type": "application/json"},
            )
            assert chunked.json()["result"]["text"] == "chunks"
            assert (await client.get(f"{url}/getMe")).json()["result"]["is_bot"] is True
            assert (await client.get(f"{base_url.removesuffix('/bot')}/nowhere")).status_code == 404
        assert len(fake.messages(ALICE)) == 101


def test_serve_in_thread_for_synchronous_tests(fake: FakeTelegram):
    with fake.serve_in_thread() as base_url, httpx.Client() as client:
        fake.user_sends(ALICE, "hi")
        body = client.post(f"{base_url}{fake.token}/getUpdates").json()
        assert body["result"][0]["message"]["text"] == "hi"
        client.post(f"{base_url}{fake.token}/sendMessage", json={"chat_id": ALICE, "text": "yo"})
        assert fake.wait_for_sync(lambda: fake.messages(ALICE), timeout=2)[0].text == "yo"


def test_runs_as_a_separate_process():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakebot", "--port", "0", "--token", "42:TEST-token"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        with httpx.Client(timeout=5) as client:
            assert client.get(f"{base_url}42:TEST-token/getMe").json()["result"]["id"] == 42
            control = base_url.removesuffix("/bot") + "/_fake"
            sent = client.post(f"{control}/user_sends", json={"user_id": 5, "text": "/start"})
            assert sent.json()["result"]["message"]["text"] == "/start"
            reply = client.post(f"{base_url}42:TEST-token/sendMessage", json={"chat_id": 5, "text": "hello"})
            assert reply.json()["ok"] is True
            transcript = client.post(f"{control}/transcript", json={"chat_id": 5}).json()
            assert transcript["result"][0]["text"] == "hello"
    finally:
        process.terminate()
        process.wait(5)


async def test_ptb_errors_keep_their_types_over_http(fake: FakeTelegram):
    async with fake.running() as base_url:
        app = Application.builder().token(fake.token).base_url(base_url).build()
        async with app:
            with pytest.raises(BadRequest, match=r"Chat not found"):
                await app.bot.send_message(ALICE, "hi")
            fake.fail_next("getUpdates", status=409, description="Conflict: terminated by other")
            with pytest.raises(Conflict):
                await app.bot.get_updates()
            fake.fail_next("*", retry_after=3)
            with pytest.raises(RetryAfter):
                await app.bot.get_me()
            with pytest.raises(TelegramError):
                await app.bot.send_document(ALICE, b"x", filename="x.bin")
