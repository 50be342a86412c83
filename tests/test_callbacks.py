"""Button data: always within Telegram's 64 bytes, and only the bot's own data decodes."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from bot.telegram import callbacks
from models.survey import Survey

LONG = """\
id: a-survey-id-that-is-forty-characters-xx
title: Long ids
questions:
  - id: a_question_id_that_is_forty_characters_x
    type: scale
    min: -5
    max: 5
    text: Scale?
  - id: q2
    type: multi_choice
    text: Many?
    options: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t]
"""


def test_the_longest_ids_still_fit_in_64_bytes(make_survey: Callable[[str], Survey]) -> None:
    survey = make_survey(LONG)
    scale, multi = survey.questions
    for kind, question, value in [
        (callbacks.ANSWER, scale, -5),
        (callbacks.TOGGLE, multi, 19),
        (callbacks.DONE, multi, None),
        (callbacks.SKIP, multi, None),
    ]:
        data = callbacks.for_question(kind, survey, question, value)
        assert len(data.encode()) <= 64
        decoded = callbacks.decode(data)
        assert decoded is not None and decoded.kind == kind and decoded.value == value
        assert decoded.question(survey) is question
    assert callbacks.decode(callbacks.for_start(survey)) == callbacks.Callback("s", survey_id=survey.id)


def test_a_button_from_another_version_of_the_file_finds_no_question(make_survey: Callable[[str], Survey]) -> None:
    survey = make_survey(LONG)
    data = callbacks.for_question(callbacks.DONE, survey, survey.questions[1])
    edited = make_survey(LONG.replace("Many?", "How many?"))
    decoded = callbacks.decode(data)
    assert decoded is not None
    assert decoded.question(edited) is None


@given(st.one_of(st.text(max_size=80), st.binary(max_size=80).map(lambda b: b.decode("latin-1"))))
def test_any_data_decodes_to_a_callback_or_none(data: str) -> None:
    result = callbacks.decode(data)
    assert result is None or isinstance(result, callbacks.Callback)


@given(
    kind=st.sampled_from("adtksfx"),
    parts=st.lists(st.text(alphabet="abcdef0123456789-|", max_size=12), max_size=5),
)
def test_near_miss_data_never_crashes(kind: str, parts: list[str]) -> None:
    result = callbacks.decode("|".join([kind, *parts]))
    if result is not None:
        assert result.kind in "adtksf"
