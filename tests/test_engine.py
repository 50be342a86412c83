"""The conversation engine, driven as the chat and the preview drive it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from bot.engine import Consultations, Status
from models.survey import Survey
from tests.conftest import Clock

SURVEY = """\
id: millbrook
title: Millbrook
timezone: Europe/London
opens: 2027-01-10 09:00
closes: 2027-03-31 23:59
questions:
  - id: area
    type: choice
    text: Where do you live?
    options: [North, Centre, South]
  - id: priorities
    type: multi_choice
    text: Pick up to two.
    min_choices: 1
    max_choices: 2
    options: [Youth club, Community cafe, Parks]
  - id: youth_times
    type: choice
    text: When should the youth club open?
    show_if: "'youth-club' in priorities"
    options: [Evenings, Weekends]
  - id: safety
    type: scale
    text: How safe do you feel?
    min: 1
    max: 5
  - id: safety_why
    type: text
    text: What makes you feel unsafe?
    show_if: safety <= 2
    required: false
    max_length: 50
  - id: years
    type: number
    text: Years lived here?
    min: 0
    max: 100
    integer: true
"""

ME = "resident-1"
Engine = Consultations


@pytest.fixture
def survey(make_survey: Callable[[str], Survey]) -> Survey:
    return make_survey(SURVEY)


@pytest.fixture
def engine(engine_for: Callable[..., Consultations], survey: Survey) -> Consultations:
    return engine_for(survey)


async def walk(engine: Engine, answers: dict[str, Any], who: str = ME) -> list[str]:
    """Answer each question asked from `answers`; returns the ids asked, in order."""
    reply = await engine.start(who, "millbrook")
    asked = []
    while reply.status == Status.ASK:
        assert reply.question is not None
        asked.append(reply.question.id)
        reply = await engine.answer(who, "millbrook", reply.question.id, answers[reply.question.id])
    assert reply.status == Status.FINISHED, reply
    return asked


def stored(db_url: str) -> dict[str, Any]:
    """Answers as a fresh connection sees them (proves they were committed)."""
    engine = sa.create_engine(db_url)
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT question_id, value FROM answer ORDER BY id")).all()
    engine.dispose()
    return {q: json.loads(v) if v is not None else None for q, v in rows}


async def test_a_whole_survey_of_every_type(engine: Engine, db_url: str) -> None:
    asked = await walk(
        engine,
        {
            "area": "north",
            "priorities": ["youth-club", "parks"],
            "youth_times": "evenings",
            "safety": 2,
            "safety_why": "Dark underpass",
            "years": 12,
        },
    )
    assert asked == ["area", "priorities", "youth_times", "safety", "safety_why", "years"]
    assert stored(db_url) == {
        "area": "north",
        "priorities": ["youth-club", "parks"],
        "youth_times": "evenings",
        "safety": 2,
        "safety_why": "Dark underpass",
        "years": 12,
    }
    again = await engine.start(ME, "millbrook")
    assert again.status == Status.ALREADY_DONE
    assert again.can_change is True


async def test_hidden_questions_are_not_asked(engine: Engine) -> None:
    asked = await walk(engine, {"area": "south", "priorities": ["parks"], "safety": 5, "years": 1})
    assert asked == ["area", "priorities", "safety", "years"]


async def test_each_accepted_answer_is_committed_before_the_engine_returns(engine: Engine, db_url: str) -> None:
    await engine.start(ME, "millbrook")
    await engine.answer(ME, "millbrook", "area", "centre")
    assert stored(db_url) == {"area": "centre"}
    reply = await engine.answer(ME, "millbrook", "priorities", ["parks"])
    assert reply.recorded is not None and reply.recorded[1] == ["parks"]
    assert stored(db_url) == {"area": "centre", "priorities": ["parks"]}


async def test_progress_numbers(engine: Engine) -> None:
    reply = await engine.start(ME, "millbrook")
    assert (reply.number, reply.total) == (1, 4)
    reply = await engine.answer(ME, "millbrook", "area", "north")
    reply = await engine.answer(ME, "millbrook", "priorities", ["youth-club"])
    assert reply.question is not None and reply.question.id == "youth_times"
    assert (reply.number, reply.total) == (3, 5)


@pytest.mark.parametrize(
    ("question", "value", "reason"),
    [
        ("area", "east", "Please pick one of the options."),
        ("area", 3, "Please pick one of the options."),
        ("priorities", [], "Please pick at least one."),
        ("priorities", ["parks", "youth-club", "community-cafe"], "Please pick no more than 2."),
        ("priorities", ["nope"], "Please pick from the options."),
        ("safety", 6, "Please pick a number from 1 to 5."),
        ("safety", "3", "Please pick a number from 1 to 5."),
        ("years", 2.5, "Please type a whole number from 0 to 100."),
        ("years", -1, "Please type a whole number from 0 to 100."),
    ],
)
async def test_bad_answers_are_refused_and_change_nothing(
    engine: Engine, db_url: str, question: str, value: Any, reason: str
) -> None:
    answers = {"area": "north", "priorities": ["parks"], "safety": 4}
    reply = await engine.start(ME, "millbrook")
    while reply.question is not None and reply.question.id != question:
        reply = await engine.answer(ME, "millbrook", reply.question.id, answers[reply.question.id])
    before = stored(db_url)
    refused = await engine.answer(ME, "millbrook", question, value)
    assert refused.status == Status.REFUSED
    assert refused.reason == reason
    assert refused.question is not None and refused.question.id == question
    assert stored(db_url) == before


@pytest.mark.parametrize(
    ("typed", "outcome"),
    [("12", 12), (" 7 ", 7), ("1,000", None), ("twelve", None), ("", None), ("nan", None), ("1e3", None)],
)
async def test_typed_numbers(engine: Engine, typed: str, outcome: Any) -> None:
    await walk_to(engine, "years")
    reply = await engine.answer_typed(ME, typed)
    if outcome is None:
        assert reply.status == Status.REFUSED
        assert reply.reason == "Please type a whole number from 0 to 100."
    else:
        assert reply.status == Status.FINISHED
        assert reply.recorded is not None and reply.recorded[1] == outcome


async def walk_to(engine: Engine, target: str, who: str = ME) -> None:
    answers = {"area": "north", "priorities": ["parks"], "safety": 1, "safety_why": "x", "years": 3}
    reply = await engine.start(who, "millbrook")
    while reply.question is not None and reply.question.id != target:
        reply = await engine.answer(who, "millbrook", reply.question.id, answers[reply.question.id])


async def test_typed_text_is_trimmed_and_limited(engine: Engine) -> None:
    await walk_to(engine, "safety_why")
    too_long = await engine.answer_typed(ME, "x" * 51)
    assert too_long.status == Status.REFUSED
    assert too_long.reason == "That is a bit long. Please keep it under 50 characters."
    blank = await engine.answer_typed(ME, "   ")
    assert blank.reason == "Please type your answer."
    ok = await engine.answer_typed(ME, "  The underpass  ")
    assert ok.recorded is not None and ok.recorded[1] == "The underpass"


async def test_typing_on_a_button_question_says_to_use_the_buttons(engine: Engine) -> None:
    await engine.start(ME, "millbrook")
    reply = await engine.answer_typed(ME, "north")
    assert reply.status == Status.REFUSED
    assert reply.reason == "Please use the buttons to answer."


async def test_multi_choice_ticks_are_kept_in_the_database(engine: Engine, store: Any) -> None:
    await walk_to(engine, "priorities")
    reply = await engine.toggle(ME, "millbrook", "priorities", "parks")
    assert reply.status == Status.DRAFT and reply.draft == ("parks",)
    reply = await engine.toggle(ME, "millbrook", "priorities", "youth-club")
    assert reply.draft == ("youth-club", "parks")  # survey order, not tap order
    refused = await engine.toggle(ME, "millbrook", "priorities", "community-cafe")
    assert refused.status == Status.REFUSED
    assert refused.reason == "You can pick up to 2. Untick one first."
    # A second engine on the same database (a restart) sees the same ticks.
    other = Consultations(store, engine.surveys, clock=engine.clock)
    current = await other.current(ME)
    assert current.draft == ("youth-club", "parks")
    untick = await other.toggle(ME, "millbrook", "priorities", "parks")
    assert untick.draft == ("youth-club",)
    done = await other.done(ME, "millbrook", "priorities")
    assert done.status == Status.ASK
    assert done.recorded is not None and done.recorded[1] == ["youth-club"]
    assert done.question is not None and done.question.id == "youth_times"


async def test_done_with_nothing_ticked_on_a_required_question(engine: Engine) -> None:
    await walk_to(engine, "priorities")
    reply = await engine.done(ME, "millbrook", "priorities")
    assert reply.status == Status.REFUSED
    assert reply.reason == "Please pick at least one."


async def test_back_returns_to_the_previous_shown_question_with_its_answer(engine: Engine) -> None:
    await walk_to(engine, "safety")
    reply = await engine.back(ME)
    assert reply.question is not None and reply.question.id == "priorities"
    assert reply.current_answer == ["parks"]
    assert reply.draft == ("parks",)  # ticks restored for editing
    reply = await engine.back(ME)
    assert reply.question is not None and reply.question.id == "area"
    first = await engine.back(ME)
    assert first.status == Status.REFUSED
    assert first.reason == "This is the first question."


async def test_skip_only_optional_questions(engine: Engine, db_url: str) -> None:
    await walk_to(engine, "safety")
    refused = await engine.skip(ME)
    assert refused.status == Status.REFUSED
    assert refused.reason == "This question needs an answer."
    reply = await engine.answer(ME, "millbrook", "safety", 1)
    assert reply.question is not None and reply.question.id == "safety_why"
    reply = await engine.skip(ME)
    assert reply.question is not None and reply.question.id == "years"
    assert reply.recorded is not None and reply.recorded[1] is None
    assert stored(db_url)["safety_why"] is None  # skipped, and known to be skipped


async def test_changing_an_earlier_answer_discards_answers_it_hides(engine: Engine, db_url: str) -> None:
    await walk(
        engine,
        {
            "area": "north",
            "priorities": ["youth-club"],
            "youth_times": "weekends",
            "safety": 1,
            "safety_why": "Dark",
            "years": 3,
        },
    )
    reply = await engine.change(ME)
    assert reply.question is not None and reply.question.id == "area"
    assert reply.current_answer == "north"
    reply = await engine.answer(ME, "millbrook", "area", "north")
    reply = await engine.answer(ME, "millbrook", "priorities", ["parks"])
    assert reply.question is not None and reply.question.id == "safety"  # youth_times now hidden
    assert "youth_times" not in stored(db_url)
    reply = await engine.answer(ME, "millbrook", "safety", 4)
    assert "safety_why" not in stored(db_url)
    reply = await engine.answer(ME, "millbrook", "years", 3)
    assert reply.status == Status.FINISHED
    assert stored(db_url) == {"area": "north", "priorities": ["parks"], "safety": 4, "years": 3}


async def test_cancel_keeps_answers_and_start_resumes(engine: Engine, db_url: str) -> None:
    await walk_to(engine, "safety")
    cancelled = await engine.cancel(ME)
    assert cancelled.status == Status.CANCELLED
    assert stored(db_url) == {"area": "north", "priorities": ["parks"]}
    assert (await engine.answer_typed(ME, "3")).status == Status.NO_SURVEY
    reply = await engine.start(ME, "millbrook")
    assert reply.status == Status.ASK and reply.resumed
    assert reply.question is not None and reply.question.id == "safety"


async def test_a_new_engine_resumes_where_the_resident_was(engine: Engine, store: Any) -> None:
    await walk_to(engine, "safety")
    restarted = Consultations(store, engine.surveys, clock=engine.clock)
    reply = await restarted.start(ME, "millbrook")
    assert reply.resumed
    assert reply.question is not None and reply.question.id == "safety"


async def test_stale_actions_change_nothing(engine: Engine, db_url: str) -> None:
    await walk_to(engine, "safety")
    before = stored(db_url)
    stale = await engine.answer(ME, "millbrook", "area", "south")
    assert stale.status == Status.STALE
    assert stale.question is not None and stale.question.id == "safety"
    # A button on an old message: the question message is remembered, others are stale.
    assert stale.response_id is not None
    await engine.remember_message(stale.response_id, "safety", 501)
    old = await engine.answer(ME, "millbrook", "safety", 3, message_id=400)
    assert old.status == Status.STALE
    assert stored(db_url) == before
    ok = await engine.answer(ME, "millbrook", "safety", 3, message_id=501)
    assert ok.status == Status.ASK and ok.message_id == 501


async def test_residents_do_not_see_each_other(engine: Engine) -> None:
    await walk_to(engine, "safety", who="alice")
    reply = await engine.start("bob", "millbrook")
    assert reply.question is not None and reply.question.id == "area"
    assert reply.current_answer is None
    assert (await engine.current("alice")).question.id == "safety"  # type: ignore[union-attr]


async def test_unknown_survey_and_no_survey_in_progress(engine: Engine) -> None:
    assert (await engine.start(ME, "nope")).status == Status.NO_SURVEY
    assert (await engine.answer_typed(ME, "hello")).status == Status.NO_SURVEY
    assert (await engine.back(ME)).status == Status.NO_SURVEY
    assert (await engine.skip(ME)).status == Status.NO_SURVEY
    assert (await engine.cancel(ME)).status == Status.NO_SURVEY
    assert (await engine.change(ME)).status == Status.NO_SURVEY


async def test_closed_and_not_yet_open_surveys_are_refused(engine: Engine, clock: Clock) -> None:
    clock.now = clock.now.replace(year=2026)
    assert (await engine.start(ME, "millbrook")).status == Status.NOT_OPEN
    assert engine.open_surveys() == []
    clock.now = clock.now.replace(year=2027)
    await walk_to(engine, "safety")
    clock.now = clock.now.replace(month=4, day=1)  # 1 April: closed at 23:59 on 31 March
    assert (await engine.answer(ME, "millbrook", "safety", 3)).status == Status.CLOSED
    assert (await engine.start(ME, "millbrook")).status == Status.CLOSED
    assert engine.open_surveys() == []


async def test_change_is_refused_once_closed(engine: Engine, clock: Clock) -> None:
    await walk(engine, {"area": "south", "priorities": ["parks"], "safety": 5, "years": 1})
    clock.now = clock.now.replace(month=5)
    assert (await engine.change(ME)).status == Status.CLOSED
    done = await engine.start(ME, "millbrook")
    assert done.status == Status.ALREADY_DONE and done.can_change is False


async def test_forget_removes_every_trace(engine: Engine, db_url: str) -> None:
    await walk_to(engine, "safety", who="alice")
    await walk_to(engine, "years", who="bob")
    assert await engine.forget("alice") == 1
    db = sa.create_engine(db_url)
    with db.connect() as c:
        assert c.execute(sa.text("SELECT pseudonym FROM respondent")).scalars().all() == ["bob"]
        assert c.execute(sa.text("SELECT count(*) FROM response")).scalar() == 1
        answers = c.execute(sa.text("SELECT count(*) FROM answer")).scalar()
    db.dispose()
    assert answers == 4  # bob's: area, priorities, safety, safety_why
    assert await engine.forget("alice") == 0


async def test_a_response_under_way_finishes_on_the_version_it_started(
    engine: Engine, make_survey: Callable[..., Survey], db_url: str
) -> None:
    await walk_to(engine, "safety_why")
    # The admin renames the question the resident is on; a newcomer gets the new version.
    edited = make_survey(SURVEY.replace("  - id: safety_why\n", "  - id: safety_reason\n"))
    engine.surveys = {"millbrook": edited}
    reply = await engine.start(ME, "millbrook")
    assert reply.question is not None and reply.question.id == "safety_why"
    newcomer = await engine.start("newcomer", "millbrook")
    assert newcomer.survey is edited
    assert (await engine.answer_typed(ME, "Dark")).question.id == "years"  # type: ignore[union-attr]
    assert stored(db_url)["safety_why"] == "Dark"


async def test_a_response_whose_version_is_gone_moves_to_the_current_one_safely(
    engine: Engine, store: Any, make_survey: Callable[..., Survey]
) -> None:
    await walk_to(engine, "safety_why")
    edited = make_survey(SURVEY.replace("  - id: safety_why\n", "  - id: safety_reason\n"))
    restarted = Consultations(store, {"millbrook": edited}, clock=engine.clock)  # the old file is gone
    reply = await restarted.start(ME, "millbrook")
    assert reply.question is not None and reply.question.id == "safety_reason"
    assert reply.survey is edited


async def test_an_update_delivered_twice_is_applied_once(engine: Engine, db_url: str) -> None:
    """After a crash Telegram may deliver an update again; its update id gives it away."""
    await engine.start(ME, "millbrook")
    first = await engine.answer(ME, "millbrook", "area", "north", update_id=10)
    assert first.status == Status.ASK
    assert (await engine.answer(ME, "millbrook", "area", "north", update_id=10)).status == Status.DUPLICATE
    await engine.toggle(ME, "millbrook", "priorities", "parks", update_id=11)
    again = await engine.toggle(ME, "millbrook", "priorities", "parks", update_id=11)
    assert again.status == Status.DUPLICATE
    assert (await engine.current(ME)).draft == ("parks",)  # not unticked by the repeat
    await engine.done(ME, "millbrook", "priorities", update_id=12)
    await engine.answer(ME, "millbrook", "safety", 1, update_id=13)
    await engine.answer_typed(ME, "Dark lane", update_id=14)
    # The typed answer again must not become the answer to the next question.
    assert (await engine.answer_typed(ME, "Dark lane", update_id=14)).status == Status.DUPLICATE
    assert (await engine.back(ME, update_id=14)).status == Status.DUPLICATE
    assert stored(db_url) == {"area": "north", "priorities": ["parks"], "safety": 1, "safety_why": "Dark lane"}
    assert (await engine.current(ME)).question.id == "years"  # type: ignore[union-attr]
    assert (await engine.back(ME, update_id=15)).question.id == "safety_why"  # type: ignore[union-attr]


async def test_update_ids_that_restart_lower_are_still_applied(engine: Engine, db_url: str) -> None:
    """Telegram restarts update ids at a random value after a week without updates (or on a new
    Bot API server): a resident whose ids drop must still be heard, not ignored for good."""
    await engine.start(ME, "millbrook")
    await engine.answer(ME, "millbrook", "area", "north", update_id=900_000_000)
    # Redelivered updates (a crash before Telegram confirmed them) are still applied once.
    assert (await engine.answer(ME, "millbrook", "area", "north", update_id=900_000_000)).status == Status.DUPLICATE
    # The sequence starts again far below.
    toggled = await engine.toggle(ME, "millbrook", "priorities", "parks", update_id=5)
    assert toggled.status != Status.DUPLICATE
    assert (await engine.done(ME, "millbrook", "priorities", update_id=6)).question.id == "safety"  # type: ignore[union-attr]
    assert (await engine.back(ME, update_id=7)).question.id == "priorities"  # type: ignore[union-attr]
    assert (await engine.back(ME, update_id=7)).status == Status.DUPLICATE
    assert (await engine.cancel(ME, update_id=8)).status != Status.DUPLICATE
    assert stored(db_url) == {"area": "north", "priorities": ["parks"]}
