"""Which question comes next: pure functions over a survey and the answers so far.

`answers` maps question id to value, with None for a skipped question; a
question hidden by `show_if` is never asked, and its answer is dropped when
a changed earlier answer hides it.
"""

from __future__ import annotations

from typing import Any

from models.survey import Question, Survey


def visible(survey: Survey, answers: dict[str, Any]) -> list[Question]:
    """The questions this resident is asked, given their answers, in order."""
    return [q for q in survey.questions if q.is_visible(answers)]


def first_question(survey: Survey, answers: dict[str, Any]) -> Question | None:
    return next((q for q in survey.questions if q.is_visible(answers)), None)


def next_question(survey: Survey, answers: dict[str, Any], after: str) -> Question | None:
    """The first question after `after` that is shown, or None when the survey is done."""
    start = survey.index_of(after) + 1
    return next((q for q in survey.questions[start:] if q.is_visible(answers)), None)


def previous_question(survey: Survey, answers: dict[str, Any], before: str) -> Question | None:
    """The last question before `before` that is shown, or None at the start."""
    end = survey.index_of(before)
    return next((q for q in reversed(survey.questions[:end]) if q.is_visible(answers)), None)


def hidden_answers(survey: Survey, answers: dict[str, Any]) -> list[str]:
    """Ids of answered questions that the answers now hide, in survey order.

    Evaluated in order on a shrinking copy, so that dropping one answer can
    also hide the questions that depended on it.
    """
    remaining = dict(answers)
    dropped: list[str] = []
    for question in survey.questions:
        if question.id in remaining and not question.is_visible(remaining):
            del remaining[question.id]
            dropped.append(question.id)
    return dropped


def position(survey: Survey, answers: dict[str, Any], current: str) -> tuple[int, int]:
    """(number of the current question, questions shown in all) for "Question 2 of 5"."""
    shown = visible(survey, answers)
    ids = [q.id for q in shown]
    number = ids.index(current) + 1 if current in ids else len(ids)
    return number, max(len(ids), number)
