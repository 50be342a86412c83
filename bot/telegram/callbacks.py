"""Callback data: short, self-describing, and checked against the database.

Telegram gives a button 1-64 bytes of data, and keeps nothing for us, so
every button says what it is about: the kind of action, the survey, a tag
of the survey's version, the question's position and the option's
position. The engine then checks that this question is still the open one,
so an old, doubled or forged button changes nothing. Pure: no Telegram import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models import survey as schema

MAX_BYTES = 64
SEPARATOR = "|"
VERSION_CHARS = 4

ANSWER = "a"  # pick an option (choice); on a scale, the point itself (older buttons only)
POINT = "p"  # pick a point on a scale, sent as its distance from the scale's min
TOGGLE = "t"  # tick or untick a multi-choice option
DONE = "d"  # submit the ticked options
SKIP = "k"  # skip an optional question
START = "s"  # start a survey from the /start list
FORGET = "f"  # confirm or refuse /forget

_PATTERN = re.compile(r"^[a-z]\|[a-z0-9-]{0,40}(\|[0-9a-f]{4}\|\d{1,3}(\|-?\d{1,3})?)?$|^f\|(yes|no)$")


@dataclass(frozen=True)
class Callback:
    """A decoded button press."""

    kind: str
    survey_id: str = ""
    version: str = ""
    question_index: int = -1
    value: int | None = None

    def question(self, survey: schema.Survey) -> schema.Question | None:
        """The question this button was made for, if the survey is still that version."""
        if self.version != version_tag(survey) or not 0 <= self.question_index < len(survey.questions):
            return None
        return survey.questions[self.question_index]


def version_tag(survey: schema.Survey) -> str:
    return (survey.content_hash or "0" * VERSION_CHARS)[:VERSION_CHARS]


def for_question(kind: str, survey: schema.Survey, question: schema.Question, value: int | None = None) -> str:
    parts = [kind, survey.id, version_tag(survey), str(survey.index_of(question.id))]
    if value is not None:
        parts.append(str(value))
    data = SEPARATOR.join(parts)
    assert len(data.encode()) <= MAX_BYTES, data
    return data


def for_point(survey: schema.Survey, question: schema.ScaleQuestion, point: int) -> str:
    """A scale button. The point goes as its offset from min (0 to 10), so years or
    negative points fit in the 64 bytes however many digits they have."""
    return for_question(POINT, survey, question, point - question.min)


def scale_point(data: Callback, question: schema.ScaleQuestion) -> int | None:
    """The point a scale button stands for, or None if it is not one of the scale's points."""
    if data.value is None:
        return None
    if data.kind == POINT:
        offset = data.value
        return question.min + offset if 0 <= offset < len(question.points) else None
    if data.kind == ANSWER:  # a button sent before POINT existed carries the point itself
        return data.value if data.value in question.points else None
    return None


def for_start(survey: schema.Survey) -> str:
    return f"{START}{SEPARATOR}{survey.id}"


def for_forget(confirmed: bool) -> str:
    return f"{FORGET}{SEPARATOR}{'yes' if confirmed else 'no'}"


def decode(data: str | None) -> Callback | None:
    """The button's meaning, or None for data this bot never made."""
    if not data or len(data.encode("utf-8", "replace")) > MAX_BYTES or not _PATTERN.match(data):
        return None
    parts = data.split(SEPARATOR)
    kind = parts[0]
    if kind == FORGET:
        return Callback(kind, value=1 if parts[1] == "yes" else 0) if parts[1] in ("yes", "no") else None
    if kind == START:
        return Callback(kind, survey_id=parts[1]) if len(parts) == 2 and parts[1] else None
    if kind not in (ANSWER, POINT, TOGGLE, DONE, SKIP) or len(parts) < 4:
        return None
    needs_value = kind in (ANSWER, POINT, TOGGLE)
    if needs_value != (len(parts) == 5):
        return None
    value = int(parts[4]) if needs_value else None
    return Callback(kind, survey_id=parts[1], version=parts[2], question_index=int(parts[3]), value=value)
