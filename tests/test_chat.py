"""Residents in the chat: the real Application against a strict fake Bot API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest
import sqlalchemy as sa

from bot.telegram import texts
from models.survey import Survey
from tests.chat import Bot, Resident, edits, running_bot, sent, toasts
from tests.conftest import Clock
from tests.fakebot import FakeTelegram

SURVEY = """\
id: elm-park
title: Elm Park & you
intro: Five quick questions. Your answers are anonymous.
thanks: Thank you! We will share what people said.
questions:
  - id: area
    type: choice
    text: Where do you live?
    options: [North, "Fish & chips <corner>", South]
  - id: priorities
    type: multi_choice
    text: What matters most? Pick up to two.
    max_choices: 2
    options: [Youth club, Community café, Parks]
  - id: safety
    type: scale
    text: How safe do you feel after dark?
    min: 1
    max: 5
    min_label: Very unsafe
    max_label: Very safe
  - id: safety_why
    type: text
    text: What makes you feel unsafe?
    show_if: safety <= 2
    required: false
    max_length: 200
  - id: years
    type: number
    text: How many years have you lived here?
    min: 0
    max: 100
    integer: true
"""

ALICE = 1001


@pytest.fixture
def survey(make_survey: Callable[[str], Survey]) -> Survey:
    return make_survey(SURVEY)


@pytest.fixture
async def bot(db_url: str, survey: Survey, clock: Clock) -> AsyncIterator[Bot]:
    fake = FakeTelegram()
    async with running_bot(fake, db_url, {survey.id: survey}, clock) as running:
        yield running


@pytest.fixture
def alice(bot: Bot) -> Resident:
    return bot.resident(ALICE, first_name="Alice", username="alice_m")


def answers_in_db(bot: Bot) -> dict[str, object]:
    with bot.store.reader_engine.connect() as c:
        rows = c.execute(sa.text("SELECT question_id, value FROM answer ORDER BY id")).all()
    return {q: None if v is None else json.loads(v) for q, v in rows}


async def test_a_whole_consultation_of_every_question_type(bot: Bot, alice: Resident) -> None:
    reply = await alice.says("/start elm-park")
    assert sent(reply) == [
        "Elm Park & you\nFive quick questions. Your answers are anonymous.",
        "Question 1 of 4\nWhere do you live?",
    ]
    assert alice.labels() == ["North", "Fish & chips <corner>", "South"]

    reply = await alice.taps("Fish & chips <corner>")
    assert toasts(reply) == [None]  # the tap is answered, quietly
    assert edits(reply) == ["Where do you live?\n✓ Fish & chips <corner>"]
    assert bot.fake.message(ALICE, reply[1].message_id).buttons == []  # buttons gone
    assert sent(reply) == ["Question 2 of 4\nWhat matters most? Pick up to two.\nTap up to 2, then Done ✔."]
    assert alice.labels() == ["▫️ Youth club", "▫️ Community café", "▫️ Parks", "Done ✔"]

    await alice.taps("▫️ Parks")
    assert alice.labels() == ["▫️ Youth club", "▫️ Community café", "✅ Parks", "Done ✔"]
    await alice.taps("▫️ Youth club")
    reply = await alice.taps("▫️ Community café")  # a third is one too many
    assert toasts(reply) == ["You can pick up to 2. Untick one first."]
    assert alice.labels() == ["✅ Youth club", "▫️ Community café", "✅ Parks", "Done ✔"]
    reply = await alice.taps("Done ✔")
    assert edits(reply) == ["What matters most? Pick up to two.\n✓ Youth club, Parks"]

    assert alice.labels() == ["1 · Very unsafe", "2", "3", "4", "5 · Very safe"]
    reply = await alice.taps("2")
    assert edits(reply) == ["How safe do you feel after dark?\n✓ 2"]
    assert sent(reply) == [
        "Question 4 of 5\nWhat makes you feel unsafe?\nType your answer. Or /skip it.",
    ]
    assert alice.labels()[-1] == "Skip this question"

    reply = await alice.says("The <b>underpass</b> & the lane")
    assert sent(reply) == ["Question 5 of 5\nHow many years have you lived here?\nType a whole number."]
    reply = await alice.says("twelve")
    assert sent(reply) == ["Please type a whole number from 0 to 100."]
    reply = await alice.says("12")
    assert sent(reply) == [
        "Thank you! We will share what people said.\n\nSend /change if you want to change your answers."
    ]

    assert answers_in_db(bot) == {
        "area": "fish-chips-corner",
        "priorities": ["youth-club", "parks"],
        "safety": 2,
        "safety_why": "The <b>underpass</b> & the lane",
        "years": 12,
    }
    bot.fake.assert_no_errors()
    again = await alice.says("/start elm-park")
    assert sent(again) == [texts.already_done(True)]


async def test_each_answer_costs_three_api_calls(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    bot.fake.reset_counts()
    await alice.taps("North")
    calls = {k: v for k, v in bot.fake.calls.items() if k != "getUpdates" and v}
    assert calls == {"answerCallbackQuery": 1, "editMessageText": 1, "sendMessage": 1}


async def test_start_without_a_survey_lists_the_open_ones(
    db_url: str, make_survey: Callable[..., Survey], clock: Clock
) -> None:
    first = make_survey(SURVEY)
    second = make_survey(SURVEY.replace("id: elm-park", "id: bus-routes").replace("Elm Park & you", "Bus routes"))
    fake = FakeTelegram()
    async with running_bot(fake, db_url, {first.id: first, second.id: second}, clock) as bot:
        alice = bot.resident(ALICE)
        reply = await alice.says("/start")
        assert sent(reply) == [texts.PICK_SURVEY]
        assert alice.labels() == ["Bus routes", "Elm Park & you"]
        reply = await alice.taps("Bus routes")
        assert sent(reply)[0].startswith("Bus routes\n")
        assert sent(reply)[1].startswith("Question 1 of 4")


async def test_start_lists_even_a_single_open_survey(bot: Bot, alice: Resident) -> None:
    assert sent(await alice.says("/start")) == [texts.PICK_SURVEY]
    assert alice.labels() == ["Elm Park & you"]
    reply = await alice.taps("Elm Park & you")
    assert sent(reply)[1] == "Question 1 of 4\nWhere do you live?"


async def test_start_when_nothing_is_open(bot: Bot, alice: Resident, clock: Clock) -> None:
    bot.engine.surveys = {}
    assert sent(await alice.says("/start")) == [texts.NO_SURVEYS]
    assert sent(await alice.says("/start no-such-survey")) == [texts.UNKNOWN_SURVEY]


async def test_old_doubled_and_forged_buttons_change_nothing(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    first = alice.last_with_buttons()
    north = next(data for row in first.buttons for text, data in row if text == "North")
    south = next(data for row in first.buttons for text, data in row if text == "South")
    await alice.taps("North")
    before = answers_in_db(bot)
    # The same (now old) button again, a double tap, and a different old one.
    assert toasts(await alice.presses(first.message_id, north)) == [texts.TAP_OLD_BUTTON]
    assert toasts(await alice.presses(first.message_id, south)) == [texts.TAP_OLD_BUTTON]
    # A button from another version of the survey file is an old button.
    assert toasts(await alice.presses(first.message_id, "a|elm-park|0000|0|0")) == [texts.TAP_OLD_BUTTON]
    for forged in ["hello", "a|nope|abcd|0|0", "a|elm-park", "f|maybe", "x" * 64, "é" * 40]:
        events = await alice.presses(first.message_id, forged)
        assert toasts(events) == [texts.TAP_UNKNOWN], forged
        assert sent(events) == [] and edits(events) == []
    current = alice.last_with_buttons()
    toggle_out_of_range = current.buttons[0][0][1].rsplit("|", 1)[0] + "|99"
    assert toasts(await alice.presses(current.message_id, toggle_out_of_range)) == [texts.TAP_UNKNOWN]
    assert answers_in_db(bot) == before == {"area": "north"}
    bot.fake.assert_no_errors()


async def test_a_quick_double_tap_records_one_answer(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    message = alice.last_with_buttons()
    data = next(data for row in message.buttons for text, data in row if text == "South")
    bot.fake.user_presses(ALICE, message.message_id, data)
    bot.fake.user_presses(ALICE, message.message_id, data)
    await bot.fake.wait_for(lambda: len([e for e in bot.fake.transcript(ALICE) if e.kind == "answer"]) == 2)
    await alice.settle()
    answers = [e for e in bot.fake.transcript(ALICE) if e.kind == "answer"]
    assert [a.text for a in answers] == [None, texts.TAP_OLD_BUTTON]
    assert answers_in_db(bot) == {"area": "south"}
    assert sum(1 for m in sent(bot.fake.transcript(ALICE)) if m.startswith("Question 2")) == 1


async def test_stickers_photos_and_voice_get_a_gentle_line(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    for send in (bot.fake.user_sends_sticker, bot.fake.user_sends_photo, bot.fake.user_sends_voice):
        mark = bot.fake.mark(ALICE)
        send(ALICE)
        await alice.settle()
        assert sent(bot.fake.transcript(ALICE)[mark:]) == [texts.ONLY_TEXT]


async def test_typing_on_a_button_question_shows_the_buttons_again(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    reply = await alice.says("north please")
    assert sent(reply) == ["Please tap one of the buttons.\n\nQuestion 1 of 4\nWhere do you live?"]
    assert alice.labels() == ["North", "Fish & chips <corner>", "South"]


async def test_over_long_text_is_refused_kindly(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    await alice.taps("North")
    await alice.taps("▫️ Parks")
    await alice.taps("Done ✔")
    await alice.taps("1 · Very unsafe")
    reply = await alice.says("x" * 4096)
    assert sent(reply) == ["That is a bit long. Please keep it under 200 characters."]
    assert "safety_why" not in answers_in_db(bot)


async def test_back_skip_cancel_help(bot: Bot, alice: Resident) -> None:
    assert sent(await alice.says("/back")) == [texts.NOT_IN_SURVEY]
    await alice.says("/start elm-park")
    assert sent(await alice.says("/back")) == ["This is the first question."]
    assert sent(await alice.says("/skip")) == ["This question needs an answer."]
    await alice.taps("South")
    reply = await alice.says("/back")
    assert sent(reply) == ["Question 1 of 4\nWhere do you live?\nYour answer was: South"]
    await alice.taps("North")
    await alice.taps("▫️ Parks")
    await alice.taps("Done ✔")
    await alice.taps("1 · Very unsafe")
    reply = await alice.taps("Skip this question")
    assert edits(reply) == ["What makes you feel unsafe?\n✓ Skipped"]
    assert sent(reply)[0].startswith("Question 5 of 5")
    assert sent(await alice.says("/help")) == [texts.HELP]
    assert sent(await alice.says("/cancel")) == [texts.CANCELLED]
    assert sent(await alice.says("7")) == [texts.NOT_IN_SURVEY]
    reply = await alice.says("/start elm-park")
    assert sent(reply) == [
        texts.WELCOME_BACK + "\n\nQuestion 5 of 5\nHow many years have you lived here?\nType a whole number."
    ]
    assert answers_in_db(bot) == {"area": "north", "priorities": ["parks"], "safety": 1, "safety_why": None}
    assert sent(await alice.says("/frobnicate"))[0].startswith("Sorry, I don't know that command.")


async def test_change_after_finishing(bot: Bot, alice: Resident) -> None:
    assert sent(await alice.says("/change")) == [texts.CHANGE_NOTHING]
    await alice.says("/start elm-park")
    await alice.taps("North")
    await alice.taps("▫️ Youth club")
    await alice.taps("Done ✔")
    await alice.taps("4")
    await alice.says("3")
    reply = await alice.says("/change")
    assert sent(reply) == [
        "Let's go through your answers again. Give each answer again, or a new one.\n\n"
        "Question 1 of 4\nWhere do you live?\nYour answer was: North"
    ]
    await alice.taps("South")
    assert alice.labels() == ["✅ Youth club", "▫️ Community café", "▫️ Parks", "Done ✔"]  # earlier ticks kept
    await alice.taps("Done ✔")
    await alice.taps("1 · Very unsafe")
    await alice.says("/skip")
    reply = await alice.says("4")
    assert sent(reply)[0].startswith("Thank you!")
    assert answers_in_db(bot) == {
        "area": "south",
        "priorities": ["youth-club"],
        "safety": 1,
        "years": 4,
        "safety_why": None,
    }


async def test_a_closed_survey_is_refused_politely(bot: Bot, alice: Resident, survey: Survey) -> None:
    await alice.says("/start elm-park")
    closed = survey.model_copy(update={"closes": survey.opens or __import__("datetime").datetime(2020, 1, 1)})
    closed._content_hash = survey.content_hash
    bot.engine.surveys = {survey.id: closed}
    assert toasts(await alice.taps("North")) == [texts.TAP_CLOSED]
    assert sent(await alice.says("/start elm-park")) == [texts.CLOSED]
    assert answers_in_db(bot) == {}


async def test_forget_asks_first_then_deletes_everything(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    await alice.taps("North")
    reply = await alice.says("/forget")
    assert sent(reply) == [texts.FORGET_ASK]
    assert alice.labels() == [texts.FORGET_NO if False else texts.FORGET_YES, texts.FORGET_NO]
    reply = await alice.taps(texts.FORGET_NO)
    assert edits(reply) == [texts.FORGET_KEPT]
    assert answers_in_db(bot) == {"area": "north"}
    await alice.says("/forget")
    reply = await alice.taps(texts.FORGET_YES)
    assert edits(reply) == [texts.FORGET_DONE]
    with bot.store.reader_engine.connect() as c:
        for table in ("respondent", "response", "answer"):
            assert c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
    await alice.says("/forget")
    assert edits(await alice.taps(texts.FORGET_YES)) == [texts.FORGET_NOTHING]


async def test_group_chats_get_a_link_to_a_private_chat(bot: Bot) -> None:
    group = -100123
    mark = bot.fake.mark(group)
    bot.fake.user_sends(ALICE, "/start elm-park", chat_type="supergroup", chat_id=group)
    bot.fake.user_sends(ALICE, "hello everyone", chat_type="supergroup", chat_id=group)
    await bot.fake.wait_until_idle(quiet=0.05)
    events = bot.fake.transcript(group)[mark:]
    assert sent(events) == [texts.GROUP_CHAT]
    message = bot.fake.message(group, events[0].message_id)
    assert (
        message.reply_markup["inline_keyboard"][0][0]["url"] == f"https://t.me/{bot.fake.bot.username}?start=elm-park"
    )
    assert answers_in_db(bot) == {}


async def test_a_resident_who_floods_is_slowed_not_crashed(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    for _ in range(60):
        bot.fake.user_sends(ALICE, "hello?")
    processor = bot.app.update_processor
    await bot.fake.wait_for(lambda: processor.dropped > 0)
    await bot.fake.wait_for(lambda: processor.busy == 0, timeout=30)
    await alice.settle()
    said = sent(bot.fake.transcript(ALICE))
    assert texts.TOO_FAST in said
    assert said.count(texts.TOO_FAST) == 1
    # Someone else is served at once meanwhile, and Alice carries on afterwards.
    bob = bot.resident(2002)
    assert sent(await bob.says("/start elm-park"))[1].startswith("Question 1 of 4")
    assert toasts(await alice.taps("North")) == [None]


async def test_a_429_is_waited_out_not_lost(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    bot.fake.fail_next("sendMessage", status=429, retry_after=1)
    bot.fake.user_presses_button(ALICE, alice.last_with_buttons(), "North")
    message = await bot.fake.wait_for_message(ALICE, contains="Question 2 of 4", timeout=10)
    assert message is not None
    assert [e.status for e in bot.fake.api_errors(include_injected=True)] == [429]


async def test_resident_text_never_breaks_html(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    await alice.taps("Fish & chips <corner>")
    bot.fake.assert_no_errors()


async def test_the_command_menu_and_description_are_set_at_start(bot: Bot) -> None:
    commands = (
        [c["command"] for c in bot.fake.calls_params("setMyCommands")[-1]["commands"]]
        if hasattr(bot.fake, "calls_params")
        else None
    )
    assert bot.fake.calls["setMyCommands"] == 1
    assert bot.fake.calls["setMyDescription"] == 1
    assert bot.fake.calls["setMyShortDescription"] == 1
    if commands is not None:
        assert commands == ["start", "back", "skip", "cancel", "change", "help", "forget"]


async def test_a_restarted_bot_carries_on_where_the_resident_was(db_url: str, survey: Survey, clock: Clock) -> None:
    fake = FakeTelegram()
    async with running_bot(fake, db_url, {survey.id: survey}, clock) as bot:
        alice = bot.resident(ALICE)
        await alice.says("/start elm-park")
        await alice.taps("North")
        await alice.taps("▫️ Parks")
        buttons_before = alice.last_with_buttons()
    async with running_bot(fake, db_url, {survey.id: survey}, clock) as bot:
        alice = bot.resident(ALICE)
        # Her tick survived the restart; Done on the same message carries on.
        reply = await alice.taps("Done ✔", buttons_before)
        assert edits(reply) == ["What matters most? Pick up to two.\n✓ Parks"]
        assert sent(reply)[0].startswith("Question 3 of 4")
        assert answers_in_db(bot) == {"area": "north", "priorities": ["parks"]}


async def test_telegram_outages_are_waited_out_and_nothing_is_lost(bot: Bot, alice: Resident) -> None:
    """5xx answers, slow answers and a dropped connection for a while: the bot recovers by itself."""
    bot.app.bot.rate_limiter.pauses = (0.2, 0.4, 0.8, 1.6)  # type: ignore[union-attr]
    await alice.says("/start elm-park")
    bot.fake.fail_all(status=500, description="Internal Server Error", seconds=1.0)
    bot.fake.user_presses_button(ALICE, alice.last_with_buttons(), "North")
    await bot.fake.wait_for_message(ALICE, contains="Question 2 of 4", timeout=10)
    bot.fake.fail_all(status=502, description="Bad Gateway", count=2)
    bot.fake.set_delay(0.3, "sendMessage")
    await alice.taps("▫️ Parks")
    bot.fake.user_presses_button(ALICE, alice.last_with_buttons(), "Done ✔")
    await bot.fake.wait_for_message(ALICE, contains="Question 3 of 4", timeout=10)
    bot.fake.set_delay(0.0, "sendMessage")
    assert answers_in_db(bot) == {"area": "north", "priorities": ["parks"]}
    assert bot.app.bot.rate_limiter.retried >= 3  # type: ignore[union-attr]
    failures = bot.fake.api_errors(include_injected=True)
    assert {f.status for f in failures} == {500, 502}


async def test_a_long_scale_is_rows_of_numbers_with_labels_in_the_text(
    db_url: str, make_survey: Callable[..., Survey], clock: Clock
) -> None:
    survey = make_survey(
        "id: nps\ntitle: Would you recommend it?\nquestions:\n"
        "  - id: score\n    type: scale\n    text: How likely?\n    min: 0\n    max: 10\n"
        "    min_label: Not at all\n    max_label: Very likely\n"
    )
    async with running_bot(FakeTelegram(), db_url, {survey.id: survey}, clock) as bot:
        alice = bot.resident(ALICE)
        reply = await alice.says("/start nps")
        assert sent(reply)[1] == "Question 1 of 1\nHow likely?\n0 = Not at all, 10 = Very likely"
        rows = alice.last_with_buttons().buttons
        assert [[text for text, _ in row] for row in rows] == [
            ["0", "1", "2", "3", "4", "5"],
            ["6", "7", "8", "9", "10"],
        ]
        assert edits(await alice.taps("10")) == ["How likely?\n✓ 10 (Very likely)"]


async def test_a_tap_answered_too_late_still_gets_the_next_question(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    bot.fake.fail_next(
        "answerCallbackQuery",
        status=400,
        description="Bad Request: query is too old and response timeout expired or query ID is invalid",
    )
    bot.fake.user_presses_button(ALICE, alice.last_with_buttons(), "North")
    await bot.fake.wait_for_message(ALICE, contains="Question 2 of 4")
    assert answers_in_db(bot) == {"area": "north"}


async def test_buttons_on_an_older_copy_of_the_open_question_change_nothing(bot: Bot, alice: Resident) -> None:
    await alice.says("/start elm-park")
    await alice.taps("North")
    old_copy = alice.last_with_buttons()  # question 2
    stale = next(data for row in old_copy.buttons for text, data in row if text == "▫️ Parks")
    await alice.says("/back")
    assert bot.fake.message(ALICE, old_copy.message_id).buttons == []  # the left question lost its buttons
    await alice.taps("North")  # question 2 again, as a new message
    assert toasts(await alice.presses(old_copy.message_id, stale)) == [texts.TAP_OLD_BUTTON]
    assert alice.labels() == ["▫️ Youth club", "▫️ Community café", "▫️ Parks", "Done ✔"]
    assert bot.engine is not None and answers_in_db(bot) == {"area": "north"}
