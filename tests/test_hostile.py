"""Hostile input: generated updates never crash a handler, store junk, or break Telegram's HTML."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.loader import load_survey_file
from tests.chat import at, running_bot
from tests.conftest import Clock
from tests.fakebot import FakeTelegram

SURVEY = """\
id: elm-park
title: Elm Park
questions:
  - id: area
    type: choice
    text: Where do you live?
    options: [North, South]
  - id: priorities
    type: multi_choice
    text: What matters?
    options: [Parks, Buses]
  - id: idea
    type: text
    text: One idea?
    max_length: 500
  - id: years
    type: number
    text: Years here?
    integer: true
"""
RESIDENT = 5_550_123_987
TRIED = {"conversations": 0, "updates": 0}
NAME, USERNAME = "Zephyrine", "zephy_millbrook"

nasty_text = st.one_of(
    st.text(max_size=300),
    st.sampled_from(
        [
            "<b>bold</b> & <i>",
            "</b><script>alert(1)</script>",
            "'; DROP TABLE answer; --",
            "\u202eevil rtl\u202c",
            "zero\u200bwidth\u200d",
            "🏳️‍🌈👨‍👩‍👧‍👦" * 50,
            "&amp; &lt; &#x; &",
            "\x00\x01\x7f",
            "x" * 4096,
            "١٢",  # Arabic-Indic digits
            "/start ../../etc/passwd",
            "/start join_" + "A" * 50,
            "/results elm-park",
            "/export ' OR 1=1 --",
            "/leave <b>",
            "/back",
            "/skip",
            "/change",
            "/cancel",
            "12",
            "-3",
            "1e309",
        ]
    ),
)
callback_data = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["a|elm-park|zzzz|0|0", "t|elm-park|abcd|1|999", "d|elm-park|0000|9", "f|yes", "s|elm-park", "s|"]),
)

event = st.one_of(
    st.tuples(st.just("text"), nasty_text),
    st.tuples(st.just("press"), callback_data),
    st.tuples(st.just("tap"), st.integers(0, 5)),
    st.tuples(st.sampled_from(["sticker", "photo", "voice", "group", "channel", "edit", "raw"]), nasty_text),
)


async def play(db_url: str, survey: Any, events: list[tuple[str, Any]]) -> tuple[FakeTelegram, list[str]]:
    fake = FakeTelegram()
    errors: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                errors.append(record.getMessage() + repr(record.exc_info))

    catcher = Catch()
    logging.getLogger().addHandler(catcher)
    try:
        async with running_bot(fake, db_url, {survey.id: survey}, Clock(at(2027, 2, 1))) as bot:
            person = bot.resident(RESIDENT, first_name=NAME, username=USERNAME)
            await person.says("/start elm-park")
            for kind, value in events:
                if kind == "text":
                    fake.user_sends(RESIDENT, value, first_name=NAME, username=USERNAME)
                elif kind == "press":
                    message = fake.last_message(RESIDENT)
                    fake.user_presses(RESIDENT, message.message_id if message else 1, value)
                elif kind == "tap":
                    with_buttons = [m for m in fake.messages(RESIDENT) if m.buttons]
                    if not with_buttons:
                        continue
                    labels = [t for row in with_buttons[-1].buttons for t, _ in row]
                    fake.user_presses_button(RESIDENT, with_buttons[-1], labels[value % len(labels)])
                elif kind == "sticker":
                    fake.user_sends_sticker(RESIDENT)
                elif kind == "photo":
                    fake.user_sends_photo(RESIDENT)
                elif kind == "voice":
                    fake.user_sends_voice(RESIDENT)
                elif kind == "group":
                    fake.user_sends(RESIDENT, value or "hi", chat_type="group", chat_id=-4242)
                elif kind == "channel":
                    fake.channel_posts(-1009999, value or "news")
                elif kind == "edit":
                    sent_update = fake.user_sends(RESIDENT, "first thought", first_name=NAME, username=USERNAME)
                    fake.user_edits(RESIDENT, sent_update["message"]["message_id"], value or "second thought")
                else:
                    # An update kind the bot has no handler for: it was added to a group.
                    fake.bot_added_to_group(-7777, by_user_id=RESIDENT)
                await fake.wait_until_idle(quiet=0.02)
            await fake.wait_until_idle(quiet=0.05)
    finally:
        logging.getLogger().removeHandler(catcher)
    return fake, errors


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event, min_size=1, max_size=8))
def test_hostile_updates_never_break_the_bot(migrated_template: Path, events: list[tuple[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "elm-park.yaml"
        path.write_text(textwrap.dedent(SURVEY), encoding="utf-8")
        survey = load_survey_file(path)
        db = Path(folder) / "db.sqlite"
        shutil.copy(migrated_template, db)
        fake, errors = asyncio.run(play(f"sqlite:///{db}", survey, events))
        TRIED["conversations"] += 1
        TRIED["updates"] += len(events)
        print(f"hostile: {TRIED['conversations']} conversations, {TRIED['updates']} hostile updates so far")
        assert errors == [], errors  # no handler raised
        fake.assert_no_errors(ignore=["query is too old"])  # every message was valid for Telegram
        engine = sa.create_engine(f"sqlite:///{db}")
        with engine.connect() as c:
            rows = c.execute(sa.text("SELECT question_id, value FROM answer")).all()
        engine.dispose()
        for question_id, value in rows:
            assert question_id in {"area", "priorities", "idea", "years"}
            decoded = None if value is None else json.loads(value)
            if question_id == "area":
                assert decoded in ("north", "south")
            if question_id == "years":
                assert isinstance(decoded, int)
            if question_id == "idea":
                assert isinstance(decoded, str) and 0 < len(decoded) <= 500
        for suffix in ("", "-wal"):
            data = Path(str(db) + suffix).read_bytes() if Path(str(db) + suffix).exists() else b""
            for trace in (str(RESIDENT).encode(), NAME.encode(), USERNAME.encode()):
                assert trace not in data
