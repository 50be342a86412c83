"""Property tests: random surveys, random residents; the engine never gets stuck."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from bot.engine import Consultations, Status
from bot.store import Store
from models import survey as schema
from models.loader import load_survey_file

ALLOWED = {
    Status.ASK,
    Status.DRAFT,
    Status.FINISHED,
    Status.REFUSED,
    Status.STALE,
    Status.CANCELLED,
    Status.ALREADY_DONE,
    Status.NO_SURVEY,
}


@st.composite
def surveys(draw: st.DrawFn) -> dict[str, Any]:
    """A valid survey file's data: 1-8 questions of any type, some shown on conditions."""
    count = draw(st.integers(1, 8))
    questions: list[dict[str, Any]] = []
    for index in range(count):
        kind = draw(st.sampled_from(schema.QUESTION_TYPES))
        question: dict[str, Any] = {"id": f"q{index}", "type": kind, "text": f"Question {index}?"}
        if kind in ("choice", "multi_choice"):
            question["options"] = [f"Option {n}" for n in range(draw(st.integers(2, 5)))]
            if kind == "multi_choice" and draw(st.booleans()):
                question["max_choices"] = draw(st.integers(1, len(question["options"])))
        elif kind == "scale":
            question["min"] = draw(st.integers(0, 1))
            question["max"] = question["min"] + draw(st.integers(1, 10))
        elif kind == "number":
            question["min"] = 0
            question["max"] = 100
            question["integer"] = draw(st.booleans())
        else:
            question["max_length"] = draw(st.integers(5, 100))
        question["required"] = draw(st.booleans())
        if index > 0 and draw(st.integers(0, 2)) == 0:
            question["show_if"] = draw(conditions_on(questions))
        questions.append(question)
    return {"id": "random", "title": "Random", "questions": questions}


def conditions_on(earlier: list[dict[str, Any]]) -> st.SearchStrategy[str]:
    def one(question: dict[str, Any]) -> st.SearchStrategy[str]:
        qid, kind = question["id"], question["type"]
        if kind == "choice":
            return st.sampled_from(["==", "!="]).map(lambda op: f"{qid} {op} option-0")
        if kind == "multi_choice":
            return st.sampled_from(["in", "not in"]).map(lambda op: f"'option-1' {op} {qid}")
        if kind == "text":
            return st.just(f"{qid} != 'x'")
        return st.sampled_from(["<", "<=", ">", ">=", "==", "!="]).map(lambda op: f"{qid} {op} 3")

    simple = st.sampled_from(earlier).flatmap(one)
    return st.one_of(
        simple,
        st.tuples(simple, st.sampled_from(["and", "or"]), simple).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        simple.map(lambda s: f"not ({s})"),
    )


def good_value(question: schema.Question, seed: int) -> Any:
    if isinstance(question, schema.ChoiceQuestion):
        return question.options[seed % len(question.options)].id
    if isinstance(question, schema.MultiChoiceQuestion):
        return [question.options[seed % len(question.options)].id]
    if isinstance(question, schema.ScaleQuestion):
        return question.min + seed % (question.max - question.min + 1)
    if isinstance(question, schema.NumberQuestion):
        return seed % 100
    return "ok"


def any_value(seed: int) -> Any:
    return [None, "", "option-0", ["option-1"], 3, -5, 2.5, "x" * 200, ["nope"], True][seed % 10]


actions = st.lists(
    st.tuples(
        st.sampled_from(["good", "bad", "back", "skip", "toggle", "done", "cancel", "start"]),
        st.integers(0, 1000),
    ),
    max_size=25,
)


async def exercise(survey: schema.Survey, steps: list[tuple[str, int]], url: str) -> None:
    store = Store(url)
    try:
        engine = Consultations(store, {survey.id: survey})
        reply = await engine.start("r", survey.id)
        assert reply.status == Status.ASK
        for action, seed in steps:
            current = reply.question
            if reply.status not in (Status.ASK, Status.DRAFT, Status.REFUSED, Status.STALE) or current is None:
                reply = await engine.start("r", survey.id)
                if reply.status == Status.ALREADY_DONE:
                    reply = await engine.change("r")
                continue
            if action == "good":
                reply = await engine.answer("r", survey.id, current.id, good_value(current, seed))
            elif action == "bad":
                reply = await engine.answer("r", survey.id, current.id, any_value(seed))
            elif action == "back":
                reply = await engine.back("r")
            elif action == "skip":
                reply = await engine.skip("r")
            elif action == "toggle" and isinstance(current, schema.MultiChoiceQuestion):
                option = current.options[seed % len(current.options)].id
                reply = await engine.toggle("r", survey.id, current.id, option)
            elif action == "done":
                reply = await engine.done("r", survey.id, current.id)
            elif action == "cancel":
                reply = await engine.cancel("r")
            else:
                reply = await engine.start("r", survey.id)
            assert reply.status in ALLOWED, reply.status
            if reply.status == Status.REFUSED:
                assert reply.reason and reply.question is not None
        # Whatever happened, good answers now finish the survey within one pass.
        reply = await engine.start("r", survey.id)
        if reply.status == Status.ALREADY_DONE:
            return
        for _ in range(len(survey.questions) + 1):
            assert reply.status in (Status.ASK, Status.DRAFT, Status.STALE), reply.status
            assert reply.question is not None
            reply = await engine.answer("r", survey.id, reply.question.id, good_value(reply.question, 1))
            if reply.status == Status.FINISHED:
                break
        assert reply.status == Status.FINISHED, "stuck: good answers did not finish the survey"
    finally:
        await store.aclose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=surveys(), steps=actions)
def test_random_walks_through_random_surveys_finish_or_refuse(
    migrated_template: Path, data: dict[str, Any], steps: list[tuple[str, int]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random.yaml"
        with path.open("w", encoding="utf-8") as handle:
            YAML(typ="safe").dump(data, handle)
        survey = load_survey_file(path)
        db = Path(folder) / "db.sqlite"
        shutil.copy(migrated_template, db)
        asyncio.run(exercise(survey, steps, f"sqlite:///{db}"))
