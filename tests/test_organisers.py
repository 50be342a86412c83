"""Organisers: invites, who may see results, scheduled digests sent exactly once."""

from __future__ import annotations

import csv
import datetime as dt
import io
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bot import organisers
from bot.cli import main
from bot.telegram import organiser_handlers as texts
from bot.telegram.digests import DigestSender
from models.survey import Survey
from tests.chat import Bot, Resident, running_bot, sent
from tests.conftest import Clock
from tests.fakebot import FakeTelegram

SURVEY = """\
id: elm-park
title: Elm Park
timezone: Europe/London
digest:
  schedule: "0 8 * * mon"
  min_group_size: 2
questions:
  - id: area
    type: choice
    text: Where do you live?
    options: [North, South]
  - id: idea
    type: text
    text: One idea?
"""
ORGANISER, ADMIN, STRANGER = 7001, 7002, 7003


@pytest.fixture
def survey(make_survey: Callable[[str], Survey]) -> Survey:
    return make_survey(SURVEY)


@pytest.fixture
async def bot(db_url: str, survey: Survey, clock: Clock) -> AsyncIterator[Bot]:
    clock.now = dt.datetime(2027, 2, 3, 12, 0, tzinfo=dt.UTC)  # a Wednesday
    fake = FakeTelegram()
    fake.add_user(ADMIN, started=True)  # the admin has talked to the bot before
    async with running_bot(fake, db_url, {survey.id: survey}, clock, CONSULTBOT_ADMINS=str(ADMIN)) as running:
        yield running


def invite(bot: Bot, survey_id: str = "elm-park") -> str:
    now = bot.engine.clock()
    return bot.store.write_now(lambda c: organisers.new_invite(c, survey_id, now))


async def become_organiser(bot: Bot, user_id: int = ORGANISER) -> Resident:
    person = bot.resident(user_id, first_name="Olu")
    reply = await person.says(f"/start {invite(bot)}")
    assert sent(reply)[0].startswith("Welcome! You are now an organiser of Elm Park.")
    return person


async def residents_answer(bot: Bot, answers: list[tuple[str, str]]) -> None:
    for index, (area, idea) in enumerate(answers):
        resident = bot.resident(100 + index)
        await resident.says("/start elm-park")
        await resident.taps(area)
        await resident.says(idea)


async def test_an_invite_works_once(bot: Bot) -> None:
    code = invite(bot)
    first = bot.resident(ORGANISER)
    reply = await first.says(f"/start {code}")
    assert sent(reply) == [
        "Welcome! You are now an organiser of Elm Park.\n"
        "You will get a digest of what people said on the survey's schedule.\n"
        "Send /results elm-park for the results so far, /export elm-park for a spreadsheet, "
        "or /leave elm-park to stop."
    ]
    assert bot.fake.calls["setMyCommands"] == 2  # their own menu gains /results, /export, /leave
    second = bot.resident(STRANGER)
    assert sent(await second.says(f"/start {code}")) == [texts.INVITE_INVALID]
    assert sent(await second.says("/start join_made-up-code-123")) == [texts.INVITE_INVALID]
    with bot.store.reader_engine.connect() as c:
        stored = c.execute(sa.text("SELECT code_hash FROM invite")).scalar_one()
    assert code not in stored and stored == organisers.hash_code(code)


async def test_an_invite_expires_after_seven_days(bot: Bot, clock: Clock) -> None:
    code = invite(bot)
    clock.advance(days=7, seconds=1)
    assert sent(await bot.resident(ORGANISER).says(f"/start {code}")) == [texts.INVITE_INVALID]


@pytest.mark.parametrize("command", ["/results elm-park", "/export elm-park", "/results nope", "/export nope"])
async def test_only_organisers_and_admins_see_results(bot: Bot, command: str) -> None:
    stranger = bot.resident(STRANGER)
    await stranger.says("/start elm-park")  # a resident is not an organiser
    reply = await stranger.says(command)
    assert sent(reply) == [texts.NOT_ALLOWED]
    assert not any(e.kind in ("document", "photo") for e in reply)


async def test_results_and_export_for_an_organiser(bot: Bot) -> None:
    await residents_answer(bot, [("North", "More benches"), ("North", "A <b>youth</b> club"), ("South", "Buses")])
    olu = await become_organiser(bot)
    reply = await olu.says("/results elm-park")
    messages = sent(reply)
    assert messages and "Elm Park" in messages[0]
    assert all(len(m) <= 4096 for m in messages)
    reply = await olu.says("/export elm-park")
    documents = [e for e in reply if e.kind == "document"]
    assert len(documents) == 1
    assert documents[0].file is not None and documents[0].file.filename == "elm-park-2027-02-03.csv"
    rows = list(csv.DictReader(io.StringIO(documents[0].file.content.decode("utf-8-sig"))))
    assert sorted(r["area"] for r in rows) == ["north", "north", "south"]
    bot.fake.assert_no_errors()


async def test_an_admin_organises_every_survey(bot: Bot) -> None:
    admin = bot.resident(ADMIN)
    reply = await admin.says("/export elm-park")
    assert [e.kind for e in reply if e.kind == "document"] == ["document"]
    reply = await admin.says("/leave elm-park")
    assert sent(reply)[0].startswith("You are an admin")


async def test_leave(bot: Bot) -> None:
    olu = await become_organiser(bot)
    assert sent(await olu.says("/leave elm-park")) == ["Done. You will not get digests for elm-park any more."]
    assert sent(await olu.says("/results elm-park")) == [texts.NOT_ALLOWED]
    assert sent(await olu.says("/leave")) == ["Please add the survey's id, like this: /leave SURVEY_ID"]


async def test_results_without_an_id_says_how(bot: Bot) -> None:
    olu = await become_organiser(bot)
    assert sent(await olu.says("/results")) == ["Please add the survey's id, like this: /results elm-park"]


# -- scheduled digests ---------------------------------------------------------------


def sender_for(bot: Bot, clock: Clock) -> DigestSender:
    services = bot.app.bot_data["consultbot"]
    return DigestSender(bot.app.bot, bot.store, services.engine, services.admins, clock)


def digests_to(bot: Bot, chat_id: int) -> list[str]:
    """Digest messages (they open with the survey's title and the period)."""
    return [m for m in sent(bot.fake.transcript(chat_id)) if m.split("\n")[0].endswith("Elm Park")]


async def test_one_digest_per_period_even_across_restarts(bot: Bot, clock: Clock) -> None:
    olu = await become_organiser(bot)
    clock.now = dt.datetime(2027, 2, 8, 8, 0, 5, tzinfo=dt.UTC)  # just after Monday 8:00 (London = UTC in Feb)
    sender = sender_for(bot, clock)
    assert await sender.run("elm-park") == 2  # Olu and the admin
    assert len(digests_to(bot, olu.user_id)) == 1
    assert await sender.run("elm-park") == 0  # the same period again: nothing
    restarted = sender_for(bot, clock)  # as after a restart
    assert await restarted.run("elm-park") == 0
    assert len(digests_to(bot, olu.user_id)) == 1


async def test_missed_periods_are_sent_once_at_start(bot: Bot, clock: Clock) -> None:
    olu = await become_organiser(bot)
    clock.now = dt.datetime(2027, 3, 3, 12, tzinfo=dt.UTC)  # three Mondays passed while down
    scheduler = bot.app.bot_data["digest_scheduler"]
    scheduler.sender.clock = clock
    assert await scheduler.catch_up() == 2  # Olu and the admin
    assert await scheduler.catch_up() == 0
    assert len(digests_to(bot, olu.user_id)) == 1
    with bot.store.reader_engine.connect() as c:
        ends = c.execute(
            sa.text(
                "SELECT period_end, status FROM digest_log WHERE organiser_id IN "
                "(SELECT id FROM organiser WHERE user_id = :u)"
            ),
            {"u": ORGANISER},
        ).all()
    assert [(str(e)[:16], s) for e, s in ends] == [("2027-03-01 08:00", "sent")]


async def test_a_failed_send_is_retried_without_duplicates(bot: Bot, clock: Clock) -> None:
    olu = await become_organiser(bot)
    clock.now = dt.datetime(2027, 2, 8, 9, tzinfo=dt.UTC)
    retries: list[tuple[str, dt.datetime, float]] = []
    sender = sender_for(bot, clock)
    sender.schedule_retry = lambda survey_id, end, delay: retries.append((survey_id, end, delay))
    # The admin comes first; Telegram fails their first message with a 502, and the retries too.
    bot.fake.fail_next("sendMessage", status=502, description="Bad Gateway", count=4)
    assert await sender.run("elm-park") == 1  # Olu got it; the admin is due a retry
    assert len(retries) == 1 and retries[0][2] == 30
    assert digests_to(bot, ADMIN) == []
    survey_id, period_end, _ = retries[0]
    clock.advance(seconds=30)
    assert await sender.run(survey_id, period_end) == 1
    assert await sender.run(survey_id, period_end) == 0
    assert len(digests_to(bot, olu.user_id)) == 1
    assert len(digests_to(bot, ADMIN)) == 1


async def test_an_organiser_who_blocked_the_bot_is_marked_and_skipped(bot: Bot, clock: Clock) -> None:
    olu = await become_organiser(bot)
    other = await become_organiser(bot, user_id=7009)
    bot.fake.user_blocks_bot(olu.user_id)
    clock.now = dt.datetime(2027, 2, 8, 9, tzinfo=dt.UTC)
    sender = sender_for(bot, clock)
    assert await sender.run("elm-park") == 2  # the admin and the other organiser got it
    assert len(digests_to(bot, other.user_id)) == 1
    with bot.store.reader_engine.connect() as c:
        blocked = c.execute(sa.text("SELECT user_id FROM organiser WHERE blocked_at IS NOT NULL")).scalars().all()
    assert blocked == [olu.user_id]
    clock.advance(days=7)
    assert await sender.run("elm-park") == 2  # still not Olu


# -- the command line ----------------------------------------------------------------


def test_invite_and_digest_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "surveys").mkdir()
    (tmp_path / "surveys" / "elm-park.yaml").write_text(textwrap.dedent(SURVEY), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    fake = FakeTelegram()
    with fake.serve_in_thread() as base_url:
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE_URL": base_url, "CONSULTBOT_SECRET": "s" * 32}
        result = CliRunner().invoke(main, ["invite", "elm-park"], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        link = result.stdout.strip()
        assert link.startswith(f"https://t.me/{fake.bot.username}?start=join_")
        assert "It works once, for 7 days." in result.stderr
        printed = CliRunner().invoke(main, ["digest", "elm-park"], env=env, catch_exceptions=False)
        assert printed.exit_code == 0, printed.output
        assert "Elm Park" in printed.stdout and "<b>" not in printed.stdout
        bad = CliRunner().invoke(main, ["invite", "elm-park"], env={**env, "TELEGRAM_BOT_TOKEN": "1:bad"})
        assert bad.exit_code == 1
        assert bad.stderr.startswith("consultbot: ")
    assert CliRunner().invoke(main, ["invite", "nope"], env=env).exit_code == 1


async def test_an_organiser_who_comes_back_gets_digests_again(bot: Bot, clock: Clock) -> None:
    olu = await become_organiser(bot)
    bot.fake.user_blocks_bot(olu.user_id)
    clock.now = dt.datetime(2027, 2, 8, 9, tzinfo=dt.UTC)
    await sender_for(bot, clock).run("elm-park")
    bot.fake.user_unblocks_bot(olu.user_id)
    await olu.says("/start")
    clock.advance(days=7)
    await sender_for(bot, clock).run("elm-park")
    assert len(digests_to(bot, olu.user_id)) == 1


async def test_forget_by_an_organiser_removes_their_organiser_rows(bot: Bot) -> None:
    olu = await become_organiser(bot)
    await olu.says("/forget")
    await olu.taps("Yes, delete it all")
    with bot.store.reader_engine.connect() as c:
        left = c.execute(sa.text("SELECT count(*) FROM organiser WHERE user_id = :u"), {"u": olu.user_id}).scalar()
    assert left == 0
    assert sent(await olu.says("/results elm-park")) == [texts.NOT_ALLOWED]
