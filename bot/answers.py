"""What an answer means, and whether it is acceptable, per question type.

Pure functions, shared by the chat and the terminal preview so that both
refuse the same answers with the same short words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from models import survey as schema

NUMBER_PATTERN = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$|^[-+]?\.\d+$")
# A comma not followed by exactly three digits is a decimal comma: "1,5", "12,50", "0,125 0".
DECIMAL_COMMA = re.compile(r"^[-+]?\d*,\d+$")
# Dots between groups of three and a decimal comma, as in much of Europe: "1.500,5".
DOTS_AND_COMMA = re.compile(r"^[-+]?\d{1,3}(\.\d{3})+,\d+$")
WHOLE_NUMBER = re.compile(r"^[-+]?\d{1,30}$")
MAX_TYPED_CHARS = 4096


class AnswerRefused(ValueError):
    """The answer does not fit the question; `reason` is one short line for the resident."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _fmt(number: float) -> str:
    return f"{number:g}" if not float(number).is_integer() else str(int(number))


def _number_range(question: schema.NumberQuestion) -> str:
    low, high = question.min, question.max
    if low is not None and high is not None:
        return f" from {_fmt(low)} to {_fmt(high)}"
    if low is not None:
        return f" of {_fmt(low)} or more"
    if high is not None:
        return f" of {_fmt(high)} or less"
    return ""


def number_hint(question: schema.NumberQuestion) -> str:
    kind = "a whole number" if question.integer else "a number"
    return f"Please type {kind}{_number_range(question)}."


def _cleaned(text: str) -> str:
    return "".join(text.split())


def parse_number(text: str) -> float | None:
    """A typed number, or None. "1,500" is 1500; "1,5" and "1.500,5" use a decimal comma."""
    cleaned = _cleaned(text)
    if len(cleaned) > 400:  # no sensible number is this long
        return None
    if NUMBER_PATTERN.match(cleaned):
        return float(cleaned.replace(",", ""))
    if DOTS_AND_COMMA.match(cleaned):
        return float(cleaned.replace(".", "").replace(",", "."))
    if DECIMAL_COMMA.match(cleaned):
        return float(cleaned.replace(",", "."))
    return None


def parse_typed(question: schema.Question, text: str) -> Any:
    """Turn what a resident typed into an answer value (number, text and scale questions)."""
    if isinstance(question, schema.NumberQuestion):
        value = parse_number(text)
        if value is None:
            raise AnswerRefused(number_hint(question))
        if question.integer and math.isfinite(value) and not value.is_integer():
            raise AnswerRefused(f"{_cleaned(text)} is not a whole number. Please type a whole number.")
        return validate(question, value)
    if isinstance(question, schema.ScaleQuestion):
        # A scale is answered with its buttons, but typing one of its points works too.
        cleaned = _cleaned(text)
        if not WHOLE_NUMBER.match(cleaned):
            raise AnswerRefused("Please use the buttons to answer.")
        return validate(question, int(cleaned))
    if isinstance(question, schema.TextQuestion):
        return validate(question, text)
    raise AnswerRefused("Please use the buttons to answer.")


def validate(question: schema.Question, value: Any) -> Any:
    """Check a value against its question; return it in the form it is stored."""
    if isinstance(question, schema.ChoiceQuestion):
        if not isinstance(value, str) or question.option(value) is None:
            raise AnswerRefused("Please pick one of the options.")
        return value
    if isinstance(question, schema.MultiChoiceQuestion):
        return _validate_multi(question, value)
    if isinstance(question, schema.ScaleQuestion):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value not in question.points:
            raise AnswerRefused(f"Please pick a number from {question.min} to {question.max}.")
        return int(value)
    if isinstance(question, schema.NumberQuestion):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise AnswerRefused(number_hint(question))
        if question.integer and not float(value).is_integer():
            raise AnswerRefused(number_hint(question))
        if (question.min is not None and value < question.min) or (question.max is not None and value > question.max):
            raise AnswerRefused(number_hint(question))
        return int(value) if float(value).is_integer() else float(value)
    if isinstance(question, schema.TextQuestion):
        if not isinstance(value, str):
            raise AnswerRefused("Please type your answer.")
        cleaned = value.replace("\x00", "").strip()
        if not cleaned:
            raise AnswerRefused("Please type your answer.")
        if len(cleaned) > question.max_length:
            raise AnswerRefused(f"That is a bit long. Please keep it under {question.max_length} characters.")
        return cleaned
    raise AnswerRefused("This question cannot be answered here.")


def _validate_multi(question: schema.MultiChoiceQuestion, value: Any) -> list[str]:
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(v, str) for v in value):
        raise AnswerRefused("Please pick from the options.")
    chosen = set(value)
    if any(question.option(v) is None for v in chosen):
        raise AnswerRefused("Please pick from the options.")
    if len(chosen) < max(question.fewest, 1):
        fewest = max(question.fewest, 1)
        raise AnswerRefused("Please pick at least one." if fewest == 1 else f"Please pick at least {fewest}.")
    if len(chosen) > question.most:
        raise AnswerRefused(f"Please pick no more than {question.most}.")
    # Keep the survey's order, so exports and digests read the same way.
    return [o.id for o in question.options if o.id in chosen]


def toggled(question: schema.MultiChoiceQuestion, draft: Iterable[str], option_id: str) -> list[str]:
    """The draft after ticking or unticking one option; refuses a tick past the maximum."""
    if question.option(option_id) is None:
        raise AnswerRefused("Please pick from the options.")
    chosen = set(draft)
    if option_id in chosen:
        chosen.discard(option_id)
    else:
        if len(chosen) >= question.most:
            raise AnswerRefused(f"You can pick up to {question.most}. Untick one first.")
        chosen.add(option_id)
    return [o.id for o in question.options if o.id in chosen]


def describe(question: schema.Question, value: Any) -> str:
    """An answer as words, for the edited question message and the preview."""
    if value is None:
        return "Skipped"
    if isinstance(question, schema.ChoiceQuestion):
        option = question.option(value)
        return schema.localise(option.label) if option else str(value)
    if isinstance(question, schema.MultiChoiceQuestion):
        labels = [schema.localise(o.label) for o in question.options if o.id in set(value)]
        return ", ".join(labels)
    if isinstance(question, schema.ScaleQuestion):
        label = ""
        if value == question.min and question.min_label:
            label = f" ({schema.localise(question.min_label)})"
        elif value == question.max and question.max_label:
            label = f" ({schema.localise(question.max_label)})"
        return f"{value}{label}"
    if isinstance(question, schema.NumberQuestion):
        return _fmt(value)
    return str(value)
