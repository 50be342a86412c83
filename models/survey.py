"""The survey schema: what an admin may write in a `surveys/*.yaml` file.

These pydantic models check the *shape* of a file (keys, types). Rules that
need several fields at once, or positions in the file (unique ids, ranges,
times, conditions), live in `models.loader`, which can point at the exact
line and column. The models are also what the rest of the program reads, so
they carry a few helpers (visible text, option lookup, time window).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, StringConstraints

from models.conditions import Condition, evaluate

# A piece of text shown to residents. Kept as its own type, and always read
# through `localise`, so that a later version can accept a mapping of
# language code to text without touching every caller.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


def localise(text: Text | None, language: str | None = None) -> str:
    """The text to show a resident (today: the one language there is)."""
    return text or ""


SURVEY_ID_PATTERN = r"^[a-z0-9-]{1,40}$"
QUESTION_ID_PATTERN = r"^[a-z0-9_]{1,40}$"
OPTION_ID_PATTERN = r"^[a-z0-9-]{1,40}$"

SurveyId = Annotated[str, StringConstraints(pattern=SURVEY_ID_PATTERN)]
QuestionId = Annotated[str, StringConstraints(pattern=QUESTION_ID_PATTERN)]
OptionId = Annotated[str, StringConstraints(pattern=OPTION_ID_PATTERN)]

LOCAL_TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S")


def option_id_from_label(label: str) -> str:
    """Derive an option id: lower case, accents dropped, spaces to '-'.

    `Community café` becomes `community-cafe`, so admins rarely need to
    write ids by hand, and the ids stay stable while the label is.
    """
    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode("ascii")
    plain = plain.lower().strip()
    plain = re.sub(r"[\s_/]+", "-", plain)
    plain = re.sub(r"[^a-z0-9-]", "", plain)
    plain = re.sub(r"-{2,}", "-", plain).strip("-")
    if len(plain) > 40:  # cut at a word boundary, not mid-word
        cut = plain[:41].rfind("-")
        plain = plain[: cut if cut > 0 else 40]
    return plain


def _parse_local_time(value: Any) -> Any:
    """Accept `2027-01-10 09:00` (YAML leaves it a string), a date or a datetime."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        text = value.strip()
        for fmt in LOCAL_TIME_FORMATS:
            try:
                return dt.datetime.strptime(text, fmt)
            except ValueError:
                continue
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError("time_format") from None
        return dt.datetime(day.year, day.month, day.day)
    raise ValueError("time_format")


LocalTime = Annotated[dt.datetime, BeforeValidator(_parse_local_time)]


class Strict(BaseModel):
    """Unknown keys are errors: a typo must never pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Option(Strict):
    id: OptionId
    label: Text


def _option_from_label(value: Any) -> Any:
    """`- Youth club` is short for `- {id: youth-club, label: Youth club}`."""
    if isinstance(value, str):
        return {"id": option_id_from_label(value) or "-", "label": value}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"id": option_id_from_label(str(value)) or "-", "label": str(value)}
    if isinstance(value, dict) and "label" in value and "id" not in value:
        label = value["label"]
        return {**value, "id": option_id_from_label(str(label)) or "-"}
    return value


OptionItem = Annotated[Option, BeforeValidator(_option_from_label)]


class QuestionBase(Strict):
    id: QuestionId
    text: Text
    required: bool = True
    show_if: str | None = None

    _condition: Condition | None = PrivateAttr(default=None)

    def is_visible(self, answers: dict[str, Any]) -> bool:
        """Whether this question is asked, given the answers so far."""
        return self._condition is None or evaluate(self._condition, answers)


class ChoiceQuestion(QuestionBase):
    type: Literal["choice"]
    options: list[OptionItem] = Field(min_length=2, max_length=20)

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


class MultiChoiceQuestion(QuestionBase):
    type: Literal["multi_choice"]
    options: list[OptionItem] = Field(min_length=2, max_length=20)
    min_choices: int | None = Field(default=None, ge=1)
    max_choices: int | None = Field(default=None, ge=1)

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    @property
    def fewest(self) -> int:
        """Fewest options to pick (an optional question can still be skipped)."""
        return self.min_choices if self.min_choices is not None else 1

    @property
    def most(self) -> int:
        return self.max_choices if self.max_choices is not None else len(self.options)


class ScaleQuestion(QuestionBase):
    type: Literal["scale"]
    min: int = 1
    max: int = 5
    min_label: Text | None = None
    max_label: Text | None = None

    @property
    def points(self) -> list[int]:
        return list(range(self.min, self.max + 1))


class NumberQuestion(QuestionBase):
    type: Literal["number"]
    min: float | None = None
    max: float | None = None
    integer: bool = False


class TextQuestion(QuestionBase):
    type: Literal["text"]
    max_length: int = Field(default=1000, ge=1, le=4000)


Question = Annotated[
    ChoiceQuestion | MultiChoiceQuestion | ScaleQuestion | NumberQuestion | TextQuestion,
    Field(discriminator="type"),
]
QUESTION_TYPES = ("choice", "multi_choice", "scale", "number", "text")


class Digest(Strict):
    schedule: str | None = None
    min_group_size: int = Field(default=5, ge=1, le=1000)
    # A `choice` question: each question is also shown broken down by its options.
    breakdown_by: QuestionId | None = None
    # A Jinja2 file, relative to the survey file's folder, used instead of the default layout.
    template: str | None = Field(default=None, min_length=1, max_length=500)


class Survey(Strict):
    id: SurveyId
    title: Text
    intro: Text | None = None
    thanks: Text = "Thank you! Your answers have been saved."
    timezone: str | None = None
    opens: LocalTime | None = None
    closes: LocalTime | None = None
    digest: Digest | None = None
    questions: list[Question] = Field(min_length=1, max_length=100)

    # Filled in by the loader: where the survey came from and its content hash,
    # which every response records so that answers can be read against the
    # version of the questions they were given.
    _source: str = PrivateAttr(default="")
    _content_hash: str = PrivateAttr(default="")
    _zone: ZoneInfo = PrivateAttr(default_factory=lambda: ZoneInfo("UTC"))

    @property
    def source(self) -> str:
        return self._source

    @property
    def content_hash(self) -> str:
        return self._content_hash

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def index_of(self, question_id: str) -> int:
        for index, question in enumerate(self.questions):
            if question.id == question_id:
                return index
        raise KeyError(question_id)

    def local_to_utc(self, value: dt.datetime) -> dt.datetime:
        """A wall-clock time in the survey's zone, as an aware UTC datetime."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=self._zone)
        return value.astimezone(dt.UTC)

    @property
    def opens_at(self) -> dt.datetime | None:
        return self.local_to_utc(self.opens) if self.opens else None

    @property
    def closes_at(self) -> dt.datetime | None:
        return self.local_to_utc(self.closes) if self.closes else None

    def window_state(self, now: dt.datetime) -> Literal["not_open", "open", "closed"]:
        """Where `now` (aware) falls against `opens`/`closes`."""
        if self.opens_at and now < self.opens_at:
            return "not_open"
        if self.closes_at and now >= self.closes_at:
            return "closed"
        return "open"

    def is_open(self, now: dt.datetime) -> bool:
        return self.window_state(now) == "open"
