"""Scales with long or negative points, decimal commas, and the number parser."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from bot import answers
from bot.telegram import callbacks
from models.survey import Survey
from tests.chat import Bot, edits, running_bot, sent
from tests.conftest import Clock
from tests.fakebot import FakeTelegram

ALICE, BOB = 1001, 1002

SCALES = """\
id: years-and-moods
title: Years
questions:
  - id: year
    type: scale
    text: Which year?
    min: 2018
    max: 2027
  - id: mood
    type: scale
    text: How do you feel?
    min: -5
    max: 5
"""

NUMBERS = """\
id: numbers
title: Numbers
questions:
  - id: litres
    type: number
    text: How many litres?
  - id: people
    type: number
    text: How many people?
    integer: true
"""


def answers_in_db(bot: Bot) -> list[tuple[str, object]]:
    with bot.store.reader_engine.connect() as c:
        rows = c.execute(sa.text("SELECT question_id, value FROM answer ORDER BY id")).all()
    return [(q, json.loads(v)) for q, v in rows]


async def test_years_and_negative_points_can_be_tapped_and_typed(
    db_url: str, make_survey: Callable[[str], Survey], clock: Clock
) -> None:
    survey = make_survey(SCALES)
    async with running_bot(FakeTelegram(), db_url, {survey.id: survey}, clock) as bot:
        alice = bot.resident(ALICE)
        await alice.says("/start years-and-moods")
        assert alice.labels() == [str(y) for y in range(2018, 2028)]
        assert edits(await alice.taps("2023")) == ["Which year?\n✓ 2023"]
        assert alice.labels() == [str(p) for p in range(-5, 6)]
        assert edits(await alice.taps("-3")) == ["How do you feel?\n✓ -3"]

        bob = bot.resident(BOB)
        await bob.says("/start years-and-moods")
        assert sent(await bob.says("2030"))[0].startswith("Please tap one of the buttons.")
        reply = await bob.says("2019")
        assert sent(reply)[0].startswith("Question 2 of 2")
        await bob.says("-5")
        bot.fake.assert_no_errors()
        assert answers_in_db(bot) == [("year", 2023), ("mood", -3), ("year", 2019), ("mood", -5)]


def test_scale_buttons_fit_in_64_bytes_with_the_longest_ids(make_survey: Callable[[str], Survey]) -> None:
    survey = make_survey(
        "id: a-survey-id-that-is-forty-characters-xx\ntitle: Long\nquestions:\n"
        + "".join(f"  - id: q{i}\n    type: text\n    text: T?\n" for i in range(99))
        + "  - id: a_question_id_that_is_forty_characters_x\n    type: scale\n    text: S?\n"
        "    min: -1000000000000000000000\n    max: -999999999999999999990\n"
    )
    scale = survey.questions[-1]
    for point in scale.points:
        data = callbacks.for_point(survey, scale, point)
        assert len(data.encode()) <= 64
        decoded = callbacks.decode(data)
        assert decoded is not None and decoded.question(survey) is scale
        assert callbacks.scale_point(decoded, scale) == point


def test_an_older_scale_button_still_means_its_point(make_survey: Callable[[str], Survey]) -> None:
    survey = make_survey(SCALES)
    mood = survey.questions[1]
    old = callbacks.decode(callbacks.for_question(callbacks.ANSWER, survey, mood, -4))
    assert old is not None and callbacks.scale_point(old, mood) == -4
    beyond = callbacks.decode(callbacks.for_question(callbacks.POINT, survey, mood, 11))
    assert beyond is not None and callbacks.scale_point(beyond, mood) is None


async def test_a_decimal_comma_is_a_decimal_and_whole_numbers_say_so(
    db_url: str, make_survey: Callable[[str], Survey], clock: Clock
) -> None:
    survey = make_survey(NUMBERS)
    async with running_bot(FakeTelegram(), db_url, {survey.id: survey}, clock) as bot:
        alice = bot.resident(ALICE)
        await alice.says("/start numbers")
        await alice.says("1,5")
        assert sent(await alice.says("1,5")) == ["1,5 is not a whole number. Please type a whole number."]
        await alice.says("1,500")
        bot.fake.assert_no_errors()
        assert answers_in_db(bot) == [("litres", 1.5), ("people", 1500)]


def _number_question(integer: bool = False) -> object:
    from models import survey as schema

    return schema.NumberQuestion(id="n", type="number", text="N?", integer=integer)


def test_commas_and_points() -> None:
    cases = {
        "1,5": 1.5,
        "12,50": 12.5,
        "-0,25": -0.25,
        "1,5000": 1.5,
        "1,500": 1500,
        "1,500,000": 1500000,
        "1,500.25": 1500.25,
        "1.500,5": 1500.5,
        "1.5": 1.5,
        " 2 000 ": 2000,
        ".5": 0.5,
    }
    for text, value in cases.items():
        assert answers.parse_number(text) == value, text
    for text in ["1,500,5", "1,,5", "1.5,5", ",", "1,", "abc", "1e5", "nan", "inf"]:
        assert answers.parse_number(text) is None, text


@given(st.text(max_size=60))
def test_the_number_parser_never_raises(text: str) -> None:
    value = answers.parse_number(text)
    assert value is None or isinstance(value, float)
    for integer in (False, True):
        with contextlib.suppress(answers.AnswerRefused):
            answers.parse_typed(_number_question(integer), text)  # type: ignore[arg-type]


@given(st.one_of(st.integers(-(10**15), 10**15), st.floats(allow_nan=False, allow_infinity=False, width=32)))
def test_plain_numbers_round_trip(number: float) -> None:
    text = repr(float(number)) if isinstance(number, float) else str(number)
    if "e" in text:  # the parser takes plain digits, not 1e-05
        return
    parsed = answers.parse_number(text)
    assert parsed is not None and math.isclose(parsed, float(number), rel_tol=1e-12)
