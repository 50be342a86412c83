"""Inline keyboards for questions: big, plain buttons that do what they say."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.telegram import callbacks, texts
from models import survey as schema

SCALE_ROW = 6  # numbers per row when a scale has many points


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def _skip_row(survey: schema.Survey, question: schema.Question) -> list[list[InlineKeyboardButton]]:
    if question.required:
        return []
    return [[_button(texts.SKIP_BUTTON, callbacks.for_question(callbacks.SKIP, survey, question))]]


def for_question(
    survey: schema.Survey, question: schema.Question, draft: Iterable[str] = ()
) -> InlineKeyboardMarkup | None:
    """The buttons for a question; None for typed questions (with no Skip button)."""
    rows: list[list[InlineKeyboardButton]] = []
    if isinstance(question, schema.ChoiceQuestion):
        rows = [
            [_button(schema.localise(o.label), callbacks.for_question(callbacks.ANSWER, survey, question, i))]
            for i, o in enumerate(question.options)
        ]
    elif isinstance(question, schema.MultiChoiceQuestion):
        ticked = set(draft)
        rows = [
            [
                _button(
                    (texts.TICK if o.id in ticked else texts.BOX) + schema.localise(o.label),
                    callbacks.for_question(callbacks.TOGGLE, survey, question, i),
                )
            ]
            for i, o in enumerate(question.options)
        ]
        rows.append([_button(texts.DONE_BUTTON, callbacks.for_question(callbacks.DONE, survey, question))])
    elif isinstance(question, schema.ScaleQuestion):
        rows = _scale_rows(survey, question)
    rows += _skip_row(survey, question)
    return InlineKeyboardMarkup(rows) if rows else None


def _scale_rows(survey: schema.Survey, question: schema.ScaleQuestion) -> list[list[InlineKeyboardButton]]:
    """A short scale: one button per row, end labels on the end buttons; a long one: rows of numbers."""

    def label(point: int) -> str:
        if point == question.min and question.min_label:
            return f"{point} · {schema.localise(question.min_label)}"
        if point == question.max and question.max_label:
            return f"{point} · {schema.localise(question.max_label)}"
        return str(point)

    if len(question.points) <= texts.SHORT_SCALE:
        return [[_button(label(p), callbacks.for_point(survey, question, p))] for p in question.points]
    # Many points: rows of plain numbers (the end labels are in the question text).
    buttons = [_button(str(p), callbacks.for_point(survey, question, p)) for p in question.points]
    return [buttons[i : i + SCALE_ROW] for i in range(0, len(buttons), SCALE_ROW)]


def survey_list(surveys: Sequence[schema.Survey]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(schema.localise(s.title), callbacks.for_start(s))] for s in surveys])


def forget_confirmation() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(texts.FORGET_YES, callbacks.for_forget(True))],
            [_button(texts.FORGET_NO, callbacks.for_forget(False))],
        ]
    )


def private_chat_link(bot_username: str, payload: str = "") -> InlineKeyboardMarkup:
    url = f"https://t.me/{bot_username}" + (f"?start={payload}" if payload else "")
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.GROUP_BUTTON, url=url)]])
