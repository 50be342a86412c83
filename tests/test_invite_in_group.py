"""An organiser invite seen in a group is cancelled, and the admins are told."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable

import pytest

from bot import organisers
from bot.telegram import organiser_handlers, texts
from models.survey import Survey
from tests.chat import Bot, running_bot, sent
from tests.conftest import Clock
from tests.fakebot import FakeTelegram

SURVEY = """\
id: elm-park
title: Elm Park
questions:
  - id: idea
    type: text
    text: One idea?
"""
ORGANISER, ADMIN, POSTER = 7001, 7002, 7004
GROUP = -100555


@pytest.fixture
async def bot(db_url: str, make_survey: Callable[[str], Survey], clock: Clock) -> AsyncIterator[Bot]:
    clock.now = dt.datetime(2027, 2, 3, 12, 0, tzinfo=dt.UTC)
    survey = make_survey(SURVEY)
    fake = FakeTelegram()
    fake.add_user(ADMIN, started=True)
    async with running_bot(fake, db_url, {survey.id: survey}, clock, CONSULTBOT_ADMINS=str(ADMIN)) as running:
        yield running


def invite(bot: Bot) -> str:
    now = bot.engine.clock()
    return bot.store.write_now(lambda c: organisers.new_invite(c, "elm-park", now))


async def posted_in_group(bot: Bot, text: str) -> list[str]:
    group_mark, admin_mark = bot.fake.mark(GROUP), bot.fake.mark(ADMIN)
    bot.fake.user_sends(POSTER, text, chat_type="supergroup", chat_id=GROUP)
    await bot.fake.wait_for_reply(GROUP, after=group_mark)
    await bot.fake.wait_until_idle(quiet=0.05)
    assert sent(bot.fake.transcript(GROUP)[group_mark:]) == [texts.GROUP_CHAT]
    return sent(bot.fake.transcript(ADMIN)[admin_mark:])


CANCELLED = (
    "The invite for <b>elm-park</b> was posted in a group, so I cancelled it. "
    "Make a new one with: <code>consultbot invite elm-park</code>"
)


async def test_an_invite_started_in_a_group_is_cancelled_and_the_admin_told(bot: Bot) -> None:
    code = invite(bot)
    told = await posted_in_group(bot, f"/start {code}")
    assert [t.replace("\n", " ") for t in told] == [_plain(CANCELLED)]
    reply = await bot.resident(ORGANISER).says(f"/start {code}")
    assert sent(reply) == [organiser_handlers.INVITE_INVALID]
    bot.fake.assert_no_errors()


async def test_an_invite_link_pasted_in_a_group_is_cancelled(bot: Bot) -> None:
    bot.fake.privacy_mode = False  # the bot reads the whole group
    code = invite(bot)
    link = f"https://t.me/{bot.fake.bot.username}?start={code}"
    told = await posted_in_group(bot, f"Here is the link: {link} enjoy")
    assert len(told) == 1 and "elm-park" in told[0]
    assert sent(await bot.resident(ORGANISER).says(f"/start {code}")) == [organiser_handlers.INVITE_INVALID]
    # Posting it again tells nobody twice; other invites still work.
    assert await posted_in_group(bot, f"/start {code}") == []
    fresh = invite(bot)
    welcome = sent(await bot.resident(ORGANISER).says(f"/start {fresh}"))
    assert welcome[0].startswith("Welcome! You are now an organiser of Elm Park.")


def _plain(html: str) -> str:
    return html.replace("<b>", "").replace("</b>", "").replace("<code>", "").replace("</code>", "")
