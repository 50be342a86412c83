"""Survey files edited while the bot runs: new versions for new responses, nothing broken."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from models.loader import load_surveys
from tests.chat import Bot, running_bot, sent
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
  - id: years
    type: number
    text: How many years have you lived here?
"""
ADMIN = 9001


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    surveys = tmp_path / "surveys"
    surveys.mkdir()
    (surveys / "elm-park.yaml").write_text(SURVEY, encoding="utf-8")
    return surveys


@pytest.fixture
async def bot(db_url: str, folder: Path, clock: Clock) -> AsyncIterator[Bot]:
    fake = FakeTelegram()
    surveys = load_surveys([folder]).surveys
    async with running_bot(
        fake, db_url, surveys, clock, watch_folder=str(folder), CONSULTBOT_ADMINS=str(ADMIN)
    ) as running:
        yield running


def watcher(bot: Bot):  # type: ignore[no-untyped-def]
    return bot.app.bot_data["survey_watcher"][0]


def edit(folder: Path, text: str, name: str = "elm-park.yaml") -> None:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")


async def test_a_valid_edit_applies_to_new_responses_only(bot: Bot, folder: Path) -> None:
    alice = bot.resident(1)
    await alice.says("/start elm-park")
    await alice.taps("North")
    edit(folder, SURVEY.replace("How many years have you lived here?", "How long have you lived here, in years?"))
    assert await watcher(bot).check()
    # Alice finishes on the version she started; Bob gets the new wording.
    assert sent(await alice.says("3"))[0].startswith("Thank you!")
    bob = bot.resident(2)
    await bob.says("/start elm-park")
    reply = await bob.taps("South")
    assert "How long have you lived here, in years?" in sent(reply)[0]
    assert not await watcher(bot).check()  # nothing changed since


async def test_an_invalid_edit_keeps_the_last_good_version_and_tells_admins(bot: Bot, folder: Path) -> None:
    bot.fake.add_user(ADMIN, started=True)  # the admin has talked to the bot before
    edit(folder, SURVEY.replace("    options: [North, South]", "    optoins: [North, South]"))
    assert await watcher(bot).check()
    assert "elm-park" in bot.engine.surveys  # still running, on the last good version
    await bot.fake.wait_for_message(ADMIN, contains="could not load")
    note = bot.fake.last_message(ADMIN).text
    assert note == (
        "I could not load elm-park.yaml, so I kept the last good version:\n"
        f"{folder / 'elm-park.yaml'}:7:5: unknown key 'optoins'; did you mean 'options'?"
    )
    carol = bot.resident(3)
    assert sent(await carol.says("/start elm-park"))[1].startswith("Question 1 of 2")
    # Fixing it is picked up, and the admin is not told again about the old problem.
    edit(folder, SURVEY.replace("Elm Park\n", "Elm Park (fixed)\n", 1))
    assert await watcher(bot).check()
    assert bot.engine.surveys["elm-park"].title == "Elm Park (fixed)"
    assert [m.text for m in bot.fake.messages(ADMIN)].count(note) == 1


async def test_new_and_removed_files(bot: Bot, folder: Path) -> None:
    edit(folder, SURVEY.replace("id: elm-park", "id: bus-routes").replace("Elm Park", "Bus routes"), "bus.yaml")
    assert await watcher(bot).check()
    assert sorted(bot.engine.surveys) == ["bus-routes", "elm-park"]
    (folder / "bus.yaml").unlink()
    assert await watcher(bot).check()
    assert sorted(bot.engine.surveys) == ["elm-park"]


async def test_an_alias_bomb_is_refused_and_the_other_surveys_keep_working(bot: Bot, folder: Path) -> None:
    from tests.test_loader import ALIAS_BOMB

    bot.fake.add_user(ADMIN, started=True)
    edit(folder, ALIAS_BOMB, "bomb.yaml")
    assert await watcher(bot).check()
    assert sorted(bot.engine.surveys) == ["elm-park"]
    await bot.fake.wait_for_message(ADMIN, contains="bomb.yaml")
    assert "aliases" in bot.fake.last_message(ADMIN).text
    alice = bot.resident(1)
    assert sent(await alice.says("/start elm-park"))[1].startswith("Question 1 of 2")
    # Reloads carry on: a later edit of the good file still applies.
    edit(folder, SURVEY.replace("Elm Park\n", "Elm Park (new)\n", 1))
    assert await watcher(bot).check()
    assert bot.engine.surveys["elm-park"].title == "Elm Park (new)"
