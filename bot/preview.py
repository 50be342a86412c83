"""Take a survey in the terminal, through the same engine as the chat.

Admins use it to check a survey before they print the posters. It runs on
a throw-away database, so nothing it records reaches the real results.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from bot import answers as rules
from bot.database import migrate
from bot.engine import Consultations, Reply, Status
from bot.store import Store
from models import survey as schema
from models.tables import utcnow

HELP = "Type your answer. /back goes back, /skip skips an optional question, /cancel stops."
PREVIEW_RESIDENT = "preview"


def _preview_clock(survey: schema.Survey) -> Callable[[], dt.datetime]:
    """A clock inside the survey's open window, so a survey can be previewed before it opens."""
    now = utcnow()
    if survey.window_state(now) == "open":
        return utcnow
    moment = survey.opens_at or (survey.closes_at - dt.timedelta(minutes=1) if survey.closes_at else now)
    return lambda: moment


def question_lines(reply: Reply) -> list[str]:
    """A question as the terminal shows it: numbered options and what to type."""
    question = reply.question
    assert question is not None
    lines = ["", f"Question {reply.number} of {reply.total}", schema.localise(question.text)]
    if isinstance(question, (schema.ChoiceQuestion, schema.MultiChoiceQuestion)):
        for index, option in enumerate(question.options, start=1):
            lines.append(f"  {index}. {schema.localise(option.label)}")
    if isinstance(question, schema.ChoiceQuestion):
        lines.append("Type the number of your answer.")
    elif isinstance(question, schema.MultiChoiceQuestion):
        most = f" (up to {question.most})" if question.most < len(question.options) else ""
        lines.append(f"Type the numbers of your choices{most}, like 1,3.")
    elif isinstance(question, schema.ScaleQuestion):
        low = f" ({schema.localise(question.min_label)})" if question.min_label else ""
        high = f" ({schema.localise(question.max_label)})" if question.max_label else ""
        lines.append(f"Type a number from {question.min}{low} to {question.max}{high}.")
    elif isinstance(question, schema.NumberQuestion):
        lines.append(rules.number_hint(question).replace("Please type", "Type"))
    else:
        lines.append("Type your answer.")
    if not question.required:
        lines.append("(optional: /skip to skip it)")
    if reply.current_answer is not None:
        lines.append(f"Your answer so far: {rules.describe(question, reply.current_answer)}")
    return lines


def _picked(question: schema.ChoiceQuestion | schema.MultiChoiceQuestion, text: str) -> list[str] | None:
    """Option ids for typed numbers (or ids); None if something typed is not an option."""
    picked: list[str] = []
    for part in (p for p in re.split(r"[,\s]+", text.strip()) if p):
        if part.isdigit() and 1 <= int(part) <= len(question.options):
            picked.append(question.options[int(part) - 1].id)
        elif question.option(part.lower()) is not None:
            picked.append(part.lower())
        else:
            return None
    return picked


async def _submit(engine: Consultations, reply: Reply, text: str) -> Reply:
    """Send one typed line to the engine, as the chat's buttons or typing would."""
    question = reply.question
    assert question is not None and reply.survey is not None
    survey_id = reply.survey.id
    if isinstance(question, (schema.ChoiceQuestion, schema.MultiChoiceQuestion)):
        picked = _picked(question, text)
        if picked is None or (isinstance(question, schema.ChoiceQuestion) and len(picked) != 1):
            count = len(question.options)
            return Reply(
                Status.REFUSED,
                survey=reply.survey,
                question=question,
                number=reply.number,
                total=reply.total,
                reason=f"Please type a number from 1 to {count}.",
            )
        value = picked[0] if isinstance(question, schema.ChoiceQuestion) else picked
        return await engine.answer(PREVIEW_RESIDENT, survey_id, question.id, value)
    if isinstance(question, schema.ScaleQuestion):
        value = int(text) if text.strip().lstrip("-").isdigit() else text
        return await engine.answer(PREVIEW_RESIDENT, survey_id, question.id, value)
    return await engine.answer_typed(PREVIEW_RESIDENT, text)


async def run_preview(survey: schema.Survey, read_line: Callable[[str], str], write: Callable[[str], None]) -> Reply:
    """Walk the survey with `read_line` as the resident; returns the last reply."""
    with tempfile.TemporaryDirectory(prefix="consultbot-preview-") as folder:
        url = f"sqlite:///{Path(folder) / 'preview.db'}"
        migrate(url)
        store = Store(url)
        try:
            engine = Consultations(store, {survey.id: survey}, clock=_preview_clock(survey))
            return await _converse(engine, survey, read_line, write)
        finally:
            await store.aclose()


async def _converse(
    engine: Consultations,
    survey: schema.Survey,
    read_line: Callable[[str], str],
    write: Callable[[str], None],
) -> Reply:
    write(f"== {schema.localise(survey.title)} ==")
    if survey.intro:
        write(schema.localise(survey.intro))
    write(HELP)
    reply = await engine.start(PREVIEW_RESIDENT, survey.id)
    while True:
        if reply.recorded is not None:
            question, value = reply.recorded
            write(f"  -> {rules.describe(question, value)}")
        if reply.status == Status.FINISHED:
            write("")
            write(schema.localise(survey.thanks))
            return reply
        if reply.status == Status.REFUSED:
            write(f"  ! {reply.reason}")
        elif reply.status == Status.CANCELLED:
            write("Stopped. Your answers so far are kept.")
            return reply
        elif reply.question is not None:
            write("\n".join(question_lines(reply)))
        else:
            write(f"The survey cannot be taken now ({reply.status}).")
            return reply
        try:
            text = read_line("> ").strip()
        except EOFError:
            write("")
            return await engine.cancel(PREVIEW_RESIDENT, survey.id)
        command = text.lower()
        if command == "/back":
            reply = await engine.back(PREVIEW_RESIDENT, survey.id)
        elif command == "/skip":
            reply = await engine.skip(PREVIEW_RESIDENT, survey.id)
        elif command in ("/cancel", "/quit", "/exit"):
            reply = await engine.cancel(PREVIEW_RESIDENT, survey.id)
        elif command == "/help":
            write(HELP)
            reply = await engine.current(PREVIEW_RESIDENT, survey.id)
        else:
            reply = await _submit(engine, reply, text)


def preview(
    survey: schema.Survey,
    read_line: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> Reply:
    return asyncio.run(run_preview(survey, read_line, write))
