"""The conversation engine: start, answer, back, skip, cancel, change.

It knows nothing of Telegram. The chat handlers and the terminal preview
both call it, and both show its `Reply`. Each call is one database
transaction (run by the store's writer thread) that reads the resident's
state, decides, and writes: so the database is the only home of the
conversation, a restart loses nothing, and a second process sees the same
thing. An accepted answer is committed before the call returns.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from bot import answers as rules
from bot import flow
from bot.store import Store
from models import survey as schema
from models.tables import Answer, Respondent, Response, ResponseStatus, utcnow

RESPONDENT = Respondent.__table__
RESPONSE = Response.__table__
ANSWER = Answer.__table__


class Status(StrEnum):
    ASK = "ask"  # show `question` (after recording `recorded`, if any)
    DRAFT = "draft"  # a multi-choice tick changed; show `question` again with `draft`
    FINISHED = "finished"  # the resident just completed the survey
    REFUSED = "refused"  # not accepted: `reason` says why; `question` is still open
    STALE = "stale"  # about a question or message that is no longer current
    ALREADY_DONE = "already_done"  # completed earlier; /change is possible while open
    CANCELLED = "cancelled"  # stopped; answers kept
    NOT_OPEN = "not_open"  # the survey has not opened yet
    CLOSED = "closed"  # the survey has closed
    NO_SURVEY = "no_survey"  # unknown survey, or the resident is not taking one


@dataclass(frozen=True)
class Reply:
    """What happened, and what to show the resident next."""

    status: Status
    survey: schema.Survey | None = None
    response_id: int | None = None
    question: schema.Question | None = None
    number: int = 0
    total: int = 0
    current_answer: Any = None
    draft: tuple[str, ...] = ()
    reason: str = ""
    recorded: tuple[schema.Question, Any] | None = None
    resumed: bool = False
    message_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _State:
    """One response as read inside a transaction."""

    response_id: int
    survey_id: str
    status: str
    current: str | None
    draft: list[str]
    message_id: int | None
    completed_at: dt.datetime | None
    answers: dict[str, Any]

    @property
    def done(self) -> bool:
        return self.status == ResponseStatus.COMPLETED


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


_RESPONSE_COLUMNS = (
    RESPONSE.c.id,
    RESPONSE.c.survey_id,
    RESPONSE.c.status,
    RESPONSE.c.current_question,
    RESPONSE.c.draft,
    RESPONSE.c.question_message_id,
    RESPONSE.c.completed_at,
)


class Consultations:
    """Residents taking surveys. `surveys` may be replaced while running (reloads)."""

    def __init__(
        self,
        store: Store,
        surveys: Mapping[str, schema.Survey],
        clock: Callable[[], dt.datetime] = utcnow,
    ):
        self.store = store
        self.surveys = surveys
        self.clock = clock

    # -- what residents can do ------------------------------------------------

    def open_surveys(self) -> list[schema.Survey]:
        """Surveys a resident can start now, in title order."""
        now = self.clock()
        return sorted((s for s in self.surveys.values() if s.is_open(now)), key=lambda s: s.title)

    async def start(self, pseudonym: str, survey_id: str) -> Reply:
        """Start a survey, or carry on where the resident left it."""
        survey = self.surveys.get(survey_id)
        if survey is None:
            return Reply(Status.NO_SURVEY)
        return await self.store.write(lambda c: self._start(c, pseudonym, survey))

    async def current(self, pseudonym: str, survey_id: str | None = None) -> Reply:
        """The question the resident is on (nothing changes)."""
        return await self.store.read(lambda c: self._current(c, pseudonym, survey_id))

    async def answer(
        self,
        pseudonym: str,
        survey_id: str | None,
        question_id: str,
        value: Any,
        *,
        message_id: int | None = None,
    ) -> Reply:
        """Answer the current question with a value (an option id, number, text...)."""
        return await self.store.write(
            lambda c: self._answer(c, pseudonym, survey_id, question_id, value, message_id)
        )

    async def answer_typed(self, pseudonym: str, text: str) -> Reply:
        """A typed message, for the question the resident is on."""
        return await self.store.write(lambda c: self._answer_typed(c, pseudonym, text))

    async def toggle(
        self,
        pseudonym: str,
        survey_id: str | None,
        question_id: str,
        option_id: str,
        *,
        message_id: int | None = None,
    ) -> Reply:
        """Tick or untick one option of a multi-choice question (kept in the database)."""
        return await self.store.write(
            lambda c: self._toggle(c, pseudonym, survey_id, question_id, option_id, message_id)
        )

    async def done(
        self,
        pseudonym: str,
        survey_id: str | None,
        question_id: str,
        *,
        message_id: int | None = None,
    ) -> Reply:
        """Submit the ticked options of a multi-choice question."""
        return await self.store.write(lambda c: self._done(c, pseudonym, survey_id, question_id, message_id))

    async def back(self, pseudonym: str, survey_id: str | None = None) -> Reply:
        return await self.store.write(lambda c: self._back(c, pseudonym, survey_id))

    async def skip(self, pseudonym: str, survey_id: str | None = None) -> Reply:
        return await self.store.write(lambda c: self._skip(c, pseudonym, survey_id))

    async def cancel(self, pseudonym: str, survey_id: str | None = None) -> Reply:
        return await self.store.write(lambda c: self._cancel(c, pseudonym, survey_id))

    async def change(self, pseudonym: str, survey_id: str | None = None) -> Reply:
        """Walk a completed survey again to change answers, while it is open."""
        return await self.store.write(lambda c: self._change(c, pseudonym, survey_id))

    async def remember_message(self, response_id: int, question_id: str, message_id: int) -> None:
        """Record which chat message shows the current question (to spot stale buttons)."""

        def work(connection: sa.Connection) -> None:
            connection.execute(
                RESPONSE.update()
                .where(RESPONSE.c.id == response_id, RESPONSE.c.current_question == question_id)
                .values(question_message_id=message_id)
            )

        await self.store.write(work)

    async def forget(self, pseudonym: str) -> int:
        """Delete every trace of a resident; returns how many responses went."""
        return await self.store.write(lambda c: forget_respondent(c, pseudonym))

    # -- transactions (run on the writer thread) ----------------------------

    def _load(self, c: sa.Connection, pseudonym: str, survey_id: str | None) -> _State | None:
        query = sa.select(*_RESPONSE_COLUMNS).join(RESPONDENT, RESPONDENT.c.id == RESPONSE.c.respondent_id)
        query = query.where(RESPONDENT.c.pseudonym == pseudonym)
        if survey_id is None:
            # No survey named: the one the resident is taking now, most recent first.
            query = query.where(RESPONSE.c.status == ResponseStatus.IN_PROGRESS)
            query = query.order_by(RESPONSE.c.updated_at.desc(), RESPONSE.c.id.desc()).limit(1)
        else:
            query = query.where(RESPONSE.c.survey_id == survey_id)
        row = c.execute(query).first()
        if row is None:
            return None
        answer_rows = c.execute(
            sa.select(ANSWER.c.question_id, ANSWER.c.value).where(ANSWER.c.response_id == row.id)
        )
        return _State(
            response_id=row.id,
            survey_id=row.survey_id,
            status=row.status,
            current=row.current_question,
            draft=_loads(row.draft) or [],
            message_id=row.question_message_id,
            completed_at=row.completed_at,
            answers={q: _loads(v) for q, v in answer_rows},
        )

    def _ask(
        self,
        survey: schema.Survey,
        state: _State,
        question: schema.Question,
        *,
        status: Status = Status.ASK,
        **extra: Any,
    ) -> Reply:
        number, total = flow.position(survey, state.answers, question.id)
        return Reply(
            status,
            survey=survey,
            response_id=state.response_id,
            question=question,
            number=number,
            total=total,
            current_answer=state.answers.get(question.id),
            draft=tuple(state.draft),
            message_id=state.message_id,
            **extra,
        )

    def _window(self, survey: schema.Survey, state: _State | None = None) -> Reply | None:
        """A refusal when the survey is not open now, else None."""
        window = survey.window_state(self.clock())
        if window == "open":
            return None
        status = Status.NOT_OPEN if window == "not_open" else Status.CLOSED
        return Reply(status, survey=survey, response_id=state.response_id if state else None)

    def _resolve(
        self, c: sa.Connection, pseudonym: str, survey_id: str | None
    ) -> tuple[schema.Survey, _State] | Reply:
        """The survey and in-progress state an action applies to, or the Reply refusing it."""
        state = self._load(c, pseudonym, survey_id)
        if state is None:
            return Reply(Status.NO_SURVEY)
        survey = self.surveys.get(state.survey_id)
        if survey is None:
            return Reply(Status.NO_SURVEY)
        if state.status == ResponseStatus.COMPLETED:
            return Reply(Status.ALREADY_DONE, survey=survey, response_id=state.response_id)
        if state.status != ResponseStatus.IN_PROGRESS:
            return Reply(Status.NO_SURVEY, survey=survey, response_id=state.response_id)
        refusal = self._window(survey, state)
        if refusal is not None:
            return refusal
        self._repair_current(c, survey, state)
        return survey, state

    def _repair_current(self, c: sa.Connection, survey: schema.Survey, state: _State) -> None:
        """If the current question vanished from the file, move to the first one not answered."""
        if state.current is not None and survey.question(state.current) is not None:
            return
        target = next(
            (q for q in flow.visible(survey, state.answers) if q.id not in state.answers),
            flow.first_question(survey, state.answers),
        )
        state.current = target.id if target else None
        state.draft = []
        c.execute(
            RESPONSE.update()
            .where(RESPONSE.c.id == state.response_id)
            .values(current_question=state.current, draft=None, question_message_id=None)
        )

    def _start(self, c: sa.Connection, pseudonym: str, survey: schema.Survey) -> Reply:
        state = self._load(c, pseudonym, survey.id)
        if state is not None and state.done:
            return Reply(
                Status.ALREADY_DONE,
                survey=survey,
                response_id=state.response_id,
                extra={"can_change": survey.is_open(self.clock())},
            )
        refusal = self._window(survey, state)
        if refusal is not None:
            return refusal
        now = self.clock()
        if state is None:
            first = flow.first_question(survey, {})
            assert first is not None, "a survey has at least one question and the first has no condition"
            respondent_id = _respondent_id(c, pseudonym, now)
            response_id = c.execute(
                RESPONSE.insert().values(
                    respondent_id=respondent_id,
                    survey_id=survey.id,
                    survey_hash=survey.content_hash,
                    status=ResponseStatus.IN_PROGRESS,
                    current_question=first.id,
                    started_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]
            state = _State(response_id, survey.id, ResponseStatus.IN_PROGRESS, first.id, [], None, None, {})
            return self._ask(survey, state, first)
        resumed = state.status == ResponseStatus.IN_PROGRESS
        state.status = ResponseStatus.IN_PROGRESS
        c.execute(
            RESPONSE.update()
            .where(RESPONSE.c.id == state.response_id)
            .values(status=ResponseStatus.IN_PROGRESS, updated_at=now)
        )
        self._repair_current(c, survey, state)
        question = survey.question(state.current) if state.current else None
        if question is None:
            return self._finish(c, survey, state, None)
        return self._ask(survey, state, question, resumed=resumed or bool(state.answers))

    def _current(self, c: sa.Connection, pseudonym: str, survey_id: str | None) -> Reply:
        state = self._load(c, pseudonym, survey_id)
        if state is None:
            return Reply(Status.NO_SURVEY)
        survey = self.surveys.get(state.survey_id)
        if survey is None:
            return Reply(Status.NO_SURVEY)
        if state.done:
            return Reply(Status.ALREADY_DONE, survey=survey, response_id=state.response_id)
        if state.status != ResponseStatus.IN_PROGRESS:
            return Reply(Status.CANCELLED, survey=survey, response_id=state.response_id)
        question = survey.question(state.current) if state.current else None
        if question is None:
            return Reply(Status.NO_SURVEY, survey=survey, response_id=state.response_id)
        return self._ask(survey, state, question)

    def _current_question(
        self, survey: schema.Survey, state: _State, question_id: str, message_id: int | None
    ) -> schema.Question | Reply:
        """The open question, if the action is about it; else a STALE reply."""
        question = survey.question(state.current) if state.current else None
        if question is None:
            return Reply(Status.NO_SURVEY, survey=survey, response_id=state.response_id)
        stale_message = (
            message_id is not None and state.message_id is not None and message_id != state.message_id
        )
        if question_id != question.id or stale_message:
            return self._ask(survey, state, question, status=Status.STALE)
        return question

    def _answer(
        self,
        c: sa.Connection,
        pseudonym: str,
        survey_id: str | None,
        question_id: str,
        value: Any,
        message_id: int | None,
    ) -> Reply:
        resolved = self._resolve(c, pseudonym, survey_id)
        if isinstance(resolved, Reply):
            return resolved
        survey, state = resolved
        question = self._current_question(survey, state, question_id, message_id)
        if isinstance(question, Reply):
            return question
        try:
            accepted = rules.validate(question, value)
        except rules.AnswerRefused as refusal:
            return self._ask(survey, state, question, status=Status.REFUSED, reason=refusal.reason)
        return self._accept(c, survey, state, question, accepted)

    def _answer_typed(self, c: sa.Connection, pseudonym: str, text: str) -> Reply:
        resolved = self._resolve(c, pseudonym, None)
        if isinstance(resolved, Reply):
            return resolved
        survey, state = resolved
        question = survey.question(state.current) if state.current else None
        if question is None:
            return Reply(Status.NO_SURVEY, survey=survey, response_id=state.response_id)
        try:
            accepted = rules.parse_typed(question, text)
        except rules.AnswerRefused as refusal:
            return self._ask(survey, state, question, status=Status.REFUSED, reason=refusal.reason)
        return self._accept(c, survey, state, question, accepted)

    def _toggle(
        self,
        c: sa.Connection,
        pseudonym: str,
        survey_id: str | None,
        question_id: str,
        option_id: str,
        message_id: int | None,
    ) -> Reply:
        resolved = self._resolve(c, pseudonym, survey_id)
        if isinstance(resolved, Reply):
            return resolved
        survey, state = resolved
        question = self._current_question(survey, state, question_id, message_id)
        if isinstance(question, Reply):
            return question
        if not isinstance(question, schema.MultiChoiceQuestion):
            return self._ask(survey, state, question, status=Status.STALE)
        try:
            state.draft = rules.toggled(question, state.draft, option_id)
        except rules.AnswerRefused as refusal:
            return self._ask(survey, state, question, status=Status.REFUSED, reason=refusal.reason)
        c.execute(
            RESPONSE.update()
            .where(RESPONSE.c.id == state.response_id)
            .values(draft=_dumps(state.draft), updated_at=self.clock())
        )
        return self._ask(survey, state, question, status=Status.DRAFT)

    def _done(
        self,
        c: sa.Connection,
        pseudonym: str,
        survey_id: str | None,
        question_id: str,
        message_id: int | None,
    ) -> Reply:
        resolved = self._resolve(c, pseudonym, survey_id)
        if isinstance(resolved, Reply):
            return resolved
        survey, state = resolved
        question = self._current_question(survey, state, question_id, message_id)
        if isinstance(question, Reply):
            return question
        if not isinstance(question, schema.MultiChoiceQuestion):
            return self._ask(survey, state, question, status=Status.STALE)
        if not state.draft and not question.required:
            return self._accept(c, survey, state, question, None)
        try:
            accepted = rules.validate(question, state.draft)
        except rules.AnswerRefused as refusal:
            return self._ask(survey, state, question, status=Status.REFUSED, reason=refusal.reason)
        return self._accept(c, survey, state, question, accepted)

    def _skip(self, c: sa.Connection, pseudonym: str, survey_id: str | None) -> Reply:
        resolved = self._resolve(c, pseudonym, survey_id)
        if isinstance(resolved, Reply):
            return resolved
        survey, state = resolved
        question = survey.question(state.current) if state.current else None
        if question is None:
            return Reply(Status.NO_SURVEY, survey=survey, response_id=state.response_id)
        if question.required:
            return self._ask(
                survey,
                state,
                question,
                status=Status.REFUSED,
                reason="This question needs an answer.",
            )
        return self._accept(c, survey, state, question, None)

    def _accept(
        self,
        c: sa.Connection,
        survey: schema.Survey,
        state: _State,
        question: schema.Question,
        value: Any,
    ) -> Reply:
        """Store an accepted answer (None: skipped) and move on."""
        now = self.clock()
        _upsert_answer(c, state.response_id, question.id, _dumps(value), now)
        state.answers[question.id] = value
        dropped = flow.hidden_answers(survey, state.answers)
        if dropped:
            c.execute(
                ANSWER.delete().where(
                    ANSWER.c.response_id == state.response_id, ANSWER.c.question_id.in_(dropped)
                )
            )
            for question_id in dropped:
                del state.answers[question_id]
        following = flow.next_question(survey, state.answers, question.id)
        if following is None:
            return self._finish(c, survey, state, (question, value))
        state.current = following.id
        existing = state.answers.get(following.id)
        state.draft = list(existing) if isinstance(following, schema.MultiChoiceQuestion) and existing else []
        previous_message = state.message_id
        c.execute(
            RESPONSE.update()
            .where(RESPONSE.c.id == state.response_id)
            .values(
                current_question=following.id,
                draft=_dumps(state.draft) if state.draft else None,
                question_message_id=None,
                updated_at=now,
            )
        )
        state.message_id = None
        reply = self._ask(survey, state, following, recorded=(question, value))
        return _with_message(reply, previous_message)

    def _finish(
        self,
        c: sa.Connection,
        survey: schema.Survey,
        state: _State,
        recorded: tuple[schema.Question, Any] | None,
    ) -> Reply:
        now = self.clock()
        c.execute(
            RESPONSE.update()
            .where(RESPONSE.c.id == state.response_id)
            .values(
                status=ResponseStatus.COMPLETED,
                current_question=None,
                draft=None,
                question_message_id=None,
                completed_at=now,
                updated_at=now,
            )
        )
        return Reply(
            Status.FINISHED,
            survey=survey,
            response_id=state.response_id,
            recorded=recorded,
            message_id=state.message_id,
        )

    def _back(self, c: sa.Connection, pseudonym: str, survey_id: str | None) -> Reply:
        resolved = self._resolve(c, pseudonym, survey_id)
        if isinstance(resolved, Reply):
            return resolved
        survey, state = resolved
        current = survey.question(state.current) if state.current else None
        if current is None:
            return Reply(Status.NO_SURVEY, survey=survey, response_id=state.response_id)
        previous = flow.previous_question(survey, state.answers, current.id)
        if previous is None:
            return self._ask(
                survey, state, current, status=Status.REFUSED, reason="This is the first question."
            )
        existing = state.answers.get(previous.id)
        state.current = previous.id
        state.draft = list(existing) if isinstance(previous, schema.MultiChoiceQuestion) and existing else []
        old_message = state.message_id
        state.message_id = None
        c.execute(
            RESPONSE.update()
            .where(RESPONSE.c.id == state.response_id)
            .values(
                current_question=previous.id,
                draft=_dumps(state.draft) if state.draft else None,
                question_message_id=None,
                updated_at=self.clock(),
            )
        )
        return _with_message(self._ask(survey, state, previous), old_message)

    def _cancel(self, c: sa.Connection, pseudonym: str, survey_id: str | None) -> Reply:
        state = self._load(c, pseudonym, survey_id)
        if state is None or state.status != ResponseStatus.IN_PROGRESS:
            return Reply(Status.NO_SURVEY)
        c.execute(
            RESPONSE.update()
            .where(RESPONSE.c.id == state.response_id)
            .values(status=ResponseStatus.CANCELLED, updated_at=self.clock())
        )
        return Reply(
            Status.CANCELLED,
            survey=self.surveys.get(state.survey_id),
            response_id=state.response_id,
            message_id=state.message_id,
        )

    def _change(self, c: sa.Connection, pseudonym: str, survey_id: str | None) -> Reply:
        if survey_id is None:
            row = c.execute(
                sa.select(RESPONSE.c.survey_id)
                .join(RESPONDENT, RESPONDENT.c.id == RESPONSE.c.respondent_id)
                .where(RESPONDENT.c.pseudonym == pseudonym, RESPONSE.c.completed_at.is_not(None))
                .order_by(RESPONSE.c.completed_at.desc())
                .limit(1)
            ).first()
            if row is None:
                return Reply(Status.NO_SURVEY)
            survey_id = row.survey_id
        state = self._load(c, pseudonym, survey_id)
        survey = self.surveys.get(survey_id)
        if state is None or survey is None or state.completed_at is None:
            return Reply(Status.NO_SURVEY, survey=survey)
        refusal = self._window(survey, state)
        if refusal is not None:
            return refusal
        first = flow.first_question(survey, state.answers)
        assert first is not None
        existing = state.answers.get(first.id)
        state.current = first.id
        state.status = ResponseStatus.IN_PROGRESS
        state.draft = list(existing) if isinstance(first, schema.MultiChoiceQuestion) and existing else []
        state.message_id = None
        c.execute(
            RESPONSE.update()
            .where(RESPONSE.c.id == state.response_id)
            .values(
                status=ResponseStatus.IN_PROGRESS,
                current_question=first.id,
                draft=_dumps(state.draft) if state.draft else None,
                question_message_id=None,
                updated_at=self.clock(),
            )
        )
        return self._ask(survey, state, first)


def _with_message(reply: Reply, message_id: int | None) -> Reply:
    """The reply, pointing at the message of the question just left (to edit it)."""
    return Reply(**{**reply.__dict__, "message_id": message_id})


def _respondent_id(c: sa.Connection, pseudonym: str, now: dt.datetime) -> int:
    found = c.execute(sa.select(RESPONDENT.c.id).where(RESPONDENT.c.pseudonym == pseudonym)).scalar()
    if found is not None:
        return found
    return c.execute(RESPONDENT.insert().values(pseudonym=pseudonym, created_at=now)).inserted_primary_key[0]


def _upsert_answer(
    c: sa.Connection, response_id: int, question_id: str, value: str | None, now: dt.datetime
) -> None:
    """Insert or replace one answer, portably (SQLite and PostgreSQL share the syntax)."""
    if c.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(ANSWER).values(
        response_id=response_id, question_id=question_id, value=value, answered_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=[ANSWER.c.response_id, ANSWER.c.question_id],
        set_={"value": statement.excluded.value, "answered_at": statement.excluded.answered_at},
    )
    c.execute(statement)


def forget_respondent(c: sa.Connection, pseudonym: str) -> int:
    """Delete a respondent and all their responses and answers."""
    respondent_id = c.execute(sa.select(RESPONDENT.c.id).where(RESPONDENT.c.pseudonym == pseudonym)).scalar()
    if respondent_id is None:
        return 0
    response_ids = sa.select(RESPONSE.c.id).where(RESPONSE.c.respondent_id == respondent_id)
    c.execute(ANSWER.delete().where(ANSWER.c.response_id.in_(response_ids)))
    count = c.execute(RESPONSE.delete().where(RESPONSE.c.respondent_id == respondent_id)).rowcount
    c.execute(RESPONDENT.delete().where(RESPONDENT.c.id == respondent_id))
    return count
