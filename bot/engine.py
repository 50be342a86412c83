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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from bot import answers as rules
from bot import flow, queries
from bot.store import Store
from models import survey as schema
from models.tables import ResponseStatus, utcnow


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
    DUPLICATE = "duplicate"  # this update was handled before (delivered again after a crash)


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
    message_id: int | None = None  # the chat message of the question just left, if known
    left: schema.Question | None = None  # the question just left (answered, skipped or gone back from)
    can_change: bool = False  # ALREADY_DONE: whether /change is still possible


class Consultations:
    """Residents taking surveys. `surveys` may be replaced while running (reloads)."""

    def __init__(
        self,
        store: Store,
        surveys: Mapping[str, schema.Survey],
        clock: Callable[[], dt.datetime] = utcnow,
    ):
        self.store = store
        self._versions: dict[str, schema.Survey] = {}
        self.surveys = surveys
        self.clock = clock

    @property
    def surveys(self) -> Mapping[str, schema.Survey]:
        """The current version of each survey, by id: new responses start on these."""
        return self._surveys

    @surveys.setter
    def surveys(self, surveys: Mapping[str, schema.Survey]) -> None:
        # Earlier versions stay known, so responses under way finish on the one they started.
        self._surveys = surveys
        for survey in surveys.values():
            self._versions[survey.content_hash] = survey

    def version(self, survey_id: str, tag: str) -> schema.Survey | None:
        """The version of a survey whose content hash starts with `tag` (buttons carry it)."""
        current = self._surveys.get(survey_id)
        if current is not None and current.content_hash.startswith(tag):
            return current
        return next(
            (s for h, s in self._versions.items() if s.id == survey_id and h.startswith(tag)),
            None,
        )

    def _known_version(self, state: queries.State) -> schema.Survey | None:
        """The version the response started on if this process knows it, else the current one."""
        started_on = self._versions.get(state.survey_hash)
        if started_on is not None and started_on.id == state.survey_id:
            return started_on
        return self._surveys.get(state.survey_id)

    def _survey_for(self, c: sa.Connection, state: queries.State, *, latest: bool = False) -> schema.Survey | None:
        """The version a response runs on: the one it started on while known, else the current one.

        A response moved to the current version records it, and `_repair_current`
        then finds it a question that still exists.
        """
        survey = self._surveys.get(state.survey_id) if latest else self._known_version(state)
        if survey is not None and survey.content_hash != state.survey_hash:
            c.execute(queries.SET_VERSION, {"survey_hash": survey.content_hash, "id": state.response_id})
            state.survey_hash = survey.content_hash
        return survey

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
        update_id: int | None = None,
    ) -> Reply:
        """Answer the current question with a value (an option id, number, text...).

        `update_id` (Telegram's) makes the call idempotent: the same update again does nothing.
        """
        return await self.store.write(
            lambda c: self._answer(c, pseudonym, survey_id, question_id, value, message_id, update_id)
        )

    async def answer_typed(self, pseudonym: str, text: str, *, update_id: int | None = None) -> Reply:
        """A typed message, for the question the resident is on."""
        return await self.store.write(lambda c: self._answer_typed(c, pseudonym, text, update_id))

    async def toggle(
        self,
        pseudonym: str,
        survey_id: str | None,
        question_id: str,
        option_id: str,
        *,
        message_id: int | None = None,
        update_id: int | None = None,
    ) -> Reply:
        """Tick or untick one option of a multi-choice question (kept in the database)."""
        return await self.store.write(
            lambda c: self._toggle(c, pseudonym, survey_id, question_id, option_id, message_id, update_id)
        )

    async def done(
        self,
        pseudonym: str,
        survey_id: str | None,
        question_id: str,
        *,
        message_id: int | None = None,
        update_id: int | None = None,
    ) -> Reply:
        """Submit the ticked options of a multi-choice question."""
        return await self.store.write(lambda c: self._done(c, pseudonym, survey_id, question_id, message_id, update_id))

    async def back(self, pseudonym: str, survey_id: str | None = None, *, update_id: int | None = None) -> Reply:
        return await self.store.write(lambda c: self._back(c, pseudonym, survey_id, update_id))

    async def skip(
        self,
        pseudonym: str,
        survey_id: str | None = None,
        question_id: str | None = None,
        *,
        message_id: int | None = None,
        update_id: int | None = None,
    ) -> Reply:
        """Skip the open question if it is optional (`question_id`: only if it is that one)."""
        return await self.store.write(lambda c: self._skip(c, pseudonym, survey_id, question_id, update_id, message_id))

    async def cancel(self, pseudonym: str, survey_id: str | None = None, *, update_id: int | None = None) -> Reply:
        return await self.store.write(lambda c: self._cancel(c, pseudonym, survey_id, update_id))

    async def change(self, pseudonym: str, survey_id: str | None = None, *, update_id: int | None = None) -> Reply:
        """Walk a completed survey again to change answers, while it is open."""
        return await self.store.write(lambda c: self._change(c, pseudonym, survey_id, update_id))

    async def remember_message(self, response_id: int, question_id: str, message_id: int) -> None:
        """Record which chat message shows the current question (to spot stale buttons)."""

        params = {"id": response_id, "question_id": question_id, "message_id": message_id}
        await self.store.write(lambda c: c.execute(queries.REMEMBER_MESSAGE, params))

    async def forget(self, pseudonym: str) -> int:
        """Delete every trace of a resident; returns how many responses went."""
        return await self.store.write(lambda c: queries.forget(c, pseudonym))

    # -- transactions (run on the writer thread) ----------------------------

    def _ask(
        self,
        survey: schema.Survey,
        state: queries.State,
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

    def _window(self, survey: schema.Survey, state: queries.State | None = None) -> Reply | None:
        """A refusal when the survey is not open now, else None."""
        window = survey.window_state(self.clock())
        if window == "open":
            return None
        status = Status.NOT_OPEN if window == "not_open" else Status.CLOSED
        return Reply(status, survey=survey, response_id=state.response_id if state else None)

    def _resolve(
        self, c: sa.Connection, pseudonym: str, survey_id: str | None, update_id: int | None = None
    ) -> tuple[schema.Survey, queries.State] | Reply:
        """The survey and in-progress state an action applies to, or the Reply refusing it."""
        state = queries.load_state(c, pseudonym, survey_id)
        if state is None:
            return Reply(Status.NO_SURVEY)
        if state.already_handled(update_id):
            return Reply(Status.DUPLICATE, response_id=state.response_id)
        state.update_id = update_id
        survey = self._survey_for(c, state)
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

    def _repair_current(self, c: sa.Connection, survey: schema.Survey, state: queries.State) -> None:
        """If the current question vanished from the file, move to the first one not answered."""
        if state.current is not None and survey.question(state.current) is not None:
            return
        target = next(
            (q for q in flow.visible(survey, state.answers) if q.id not in state.answers),
            flow.first_question(survey, state.answers),
        )
        if target is not None:
            self._move(c, survey, state, target)

    def _start(self, c: sa.Connection, pseudonym: str, survey: schema.Survey) -> Reply:
        state = queries.load_state(c, pseudonym, survey.id)
        if state is not None and not state.done:
            survey = self._survey_for(c, state) or survey
        if state is not None and state.done:
            return Reply(
                Status.ALREADY_DONE,
                survey=survey,
                response_id=state.response_id,
                can_change=survey.is_open(self.clock()),
            )
        refusal = self._window(survey, state)
        if refusal is not None:
            return refusal
        now = self.clock()
        if state is None:
            first = flow.first_question(survey, {})
            assert first is not None, "a survey has at least one question and the first has no condition"
            params = {
                "respondent_id": queries.respondent_id(c, pseudonym, now),
                "survey_id": survey.id,
                "survey_hash": survey.content_hash,
                "status": ResponseStatus.IN_PROGRESS,
                "current": first.id,
                "now": now,
            }
            response_id = c.execute(queries.NEW_RESPONSE, params).scalar_one()
            state = queries.State(
                response_id, survey.id, survey.content_hash, ResponseStatus.IN_PROGRESS, first.id, [], None, None, {}
            )
            return self._ask(survey, state, first)
        resumed = state.status == ResponseStatus.IN_PROGRESS
        state.status = ResponseStatus.IN_PROGRESS
        c.execute(queries.SET_STATUS, {"status": state.status, "now": now, "id": state.response_id, "update_id": None})
        self._repair_current(c, survey, state)
        question = survey.question(state.current) if state.current else None
        if question is None:
            return self._finish(c, survey, state, None)
        return self._ask(survey, state, question, resumed=resumed or bool(state.answers))

    def _current(self, c: sa.Connection, pseudonym: str, survey_id: str | None) -> Reply:
        state = queries.load_state(c, pseudonym, survey_id)
        if state is None:
            return Reply(Status.NO_SURVEY)
        survey = self._known_version(state)
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

    def _open_question(
        self,
        c: sa.Connection,
        pseudonym: str,
        survey_id: str | None,
        question_id: str | None,
        message_id: int | None,
        update_id: int | None,
        kind: type | None = None,
    ) -> tuple[schema.Survey, queries.State, Any] | Reply:
        """The survey, state and open question an action is about, or the Reply refusing it.

        The action must name the open question (`question_id`; None: whichever is open), come
        from the message showing it (`message_id`, when known), and fit its type (`kind`);
        otherwise it is STALE: an old, doubled or mistaken tap, which changes nothing.
        """
        resolved = self._resolve(c, pseudonym, survey_id, update_id)
        if isinstance(resolved, Reply):
            return resolved
        survey, state = resolved
        question = survey.question(state.current) if state.current else None
        if question is None:
            return Reply(Status.NO_SURVEY, survey=survey, response_id=state.response_id)
        old_message = message_id is not None and state.message_id is not None and message_id != state.message_id
        wrong_question = question_id is not None and question_id != question.id
        if old_message or wrong_question or (kind is not None and not isinstance(question, kind)):
            return self._ask(survey, state, question, status=Status.STALE)
        return survey, state, question

    def _refused(self, survey: schema.Survey, state: queries.State, question: schema.Question, reason: str) -> Reply:
        return self._ask(survey, state, question, status=Status.REFUSED, reason=reason)

    def _answer(
        self,
        c: sa.Connection,
        pseudonym: str,
        survey_id: str | None,
        question_id: str,
        value: Any,
        message_id: int | None,
        update_id: int | None = None,
    ) -> Reply:
        found = self._open_question(c, pseudonym, survey_id, question_id, message_id, update_id)
        return self._accept_checked(c, found, lambda question: rules.validate(question, value))

    def _answer_typed(self, c: sa.Connection, pseudonym: str, text: str, update_id: int | None = None) -> Reply:
        found = self._open_question(c, pseudonym, None, None, None, update_id)
        return self._accept_checked(c, found, lambda question: rules.parse_typed(question, text))

    def _accept_checked(
        self,
        c: sa.Connection,
        found: tuple[schema.Survey, queries.State, Any] | Reply,
        check: Callable[[schema.Question], Any],
    ) -> Reply:
        """Accept `check(question)` as the answer to the open question, or say why not."""
        if isinstance(found, Reply):
            return found
        survey, state, question = found
        try:
            accepted = check(question)
        except rules.AnswerRefused as refusal:
            return self._refused(survey, state, question, refusal.reason)
        return self._accept(c, survey, state, question, accepted)

    def _toggle(
        self,
        c: sa.Connection,
        pseudonym: str,
        survey_id: str | None,
        question_id: str,
        option_id: str,
        message_id: int | None,
        update_id: int | None = None,
    ) -> Reply:
        multi = schema.MultiChoiceQuestion
        found = self._open_question(c, pseudonym, survey_id, question_id, message_id, update_id, multi)
        if isinstance(found, Reply):
            return found
        survey, state, question = found
        try:
            state.draft = rules.toggled(question, state.draft, option_id)
        except rules.AnswerRefused as refusal:
            return self._refused(survey, state, question, refusal.reason)
        params = {
            "draft": queries.dumps(state.draft),
            "now": self.clock(),
            "id": state.response_id,
            "update_id": state.update_id,
        }
        c.execute(queries.SET_DRAFT, params)
        return self._ask(survey, state, question, status=Status.DRAFT)

    def _done(
        self,
        c: sa.Connection,
        pseudonym: str,
        survey_id: str | None,
        question_id: str,
        message_id: int | None,
        update_id: int | None = None,
    ) -> Reply:
        multi = schema.MultiChoiceQuestion
        found = self._open_question(c, pseudonym, survey_id, question_id, message_id, update_id, multi)
        if isinstance(found, Reply):
            return found
        survey, state, question = found
        if not state.draft and not question.required:
            return self._accept(c, survey, state, question, None)
        try:
            accepted = rules.validate(question, state.draft)
        except rules.AnswerRefused as refusal:
            return self._refused(survey, state, question, refusal.reason)
        return self._accept(c, survey, state, question, accepted)

    def _skip(
        self,
        c: sa.Connection,
        pseudonym: str,
        survey_id: str | None,
        question_id: str | None,
        update_id: int | None = None,
        message_id: int | None = None,
    ) -> Reply:
        found = self._open_question(c, pseudonym, survey_id, question_id, message_id, update_id)
        if isinstance(found, Reply):
            return found
        survey, state, question = found
        if question.required:
            return self._refused(survey, state, question, "This question needs an answer.")
        return self._accept(c, survey, state, question, None)

    def _move(
        self,
        c: sa.Connection,
        survey: schema.Survey,
        state: queries.State,
        question: schema.Question,
        **reply_extra: Any,
    ) -> Reply:
        """Make `question` the open one (in progress) and ask it.

        A multi-choice question starts with the resident's earlier ticks, so
        going back or changing answers shows what they chose before. The
        returned reply points at the message of the question just left.
        """
        existing = state.answers.get(question.id)
        left_message = state.message_id
        left = survey.question(state.current) if state.current else None
        state.current = question.id
        state.status = ResponseStatus.IN_PROGRESS
        state.draft = list(existing) if isinstance(question, schema.MultiChoiceQuestion) and existing else []
        state.message_id = None
        params = {
            "status": state.status,
            "current": question.id,
            "draft": queries.dumps(state.draft) if state.draft else None,
            "now": self.clock(),
            "id": state.response_id,
            "update_id": state.update_id,
        }
        c.execute(queries.MOVE_TO, params)
        reply = self._ask(survey, state, question, **reply_extra)
        return replace(reply, message_id=left_message, left=left)

    def _accept(
        self,
        c: sa.Connection,
        survey: schema.Survey,
        state: queries.State,
        question: schema.Question,
        value: Any,
    ) -> Reply:
        """Store an accepted answer (None: skipped) and move on."""
        params = {
            "response_id": state.response_id,
            "question_id": question.id,
            "value": queries.dumps(value),
            "now": self.clock(),
        }
        c.execute(queries.UPSERT_ANSWER, params)
        state.answers[question.id] = value
        dropped = flow.hidden_answers(survey, state.answers)
        for question_id in dropped:
            c.execute(queries.DELETE_ANSWER, {"response_id": state.response_id, "question_id": question_id})
            del state.answers[question_id]
        following = flow.next_question(survey, state.answers, question.id)
        if following is None:
            return self._finish(c, survey, state, (question, value))
        return self._move(c, survey, state, following, recorded=(question, value))

    def _finish(
        self,
        c: sa.Connection,
        survey: schema.Survey,
        state: queries.State,
        recorded: tuple[schema.Question, Any] | None,
    ) -> Reply:
        params = {
            "status": ResponseStatus.COMPLETED,
            "now": self.clock(),
            "id": state.response_id,
            "update_id": state.update_id,
        }
        c.execute(queries.FINISH, params)
        return Reply(
            Status.FINISHED,
            survey=survey,
            response_id=state.response_id,
            recorded=recorded,
            message_id=state.message_id,
            left=recorded[0] if recorded else None,
        )

    def _back(self, c: sa.Connection, pseudonym: str, survey_id: str | None, update_id: int | None = None) -> Reply:
        resolved = self._resolve(c, pseudonym, survey_id, update_id)
        if isinstance(resolved, Reply):
            return resolved
        survey, state = resolved
        current = survey.question(state.current) if state.current else None
        if current is None:
            return Reply(Status.NO_SURVEY, survey=survey, response_id=state.response_id)
        previous = flow.previous_question(survey, state.answers, current.id)
        if previous is None:
            return self._ask(survey, state, current, status=Status.REFUSED, reason="This is the first question.")
        return self._move(c, survey, state, previous)

    def _cancel(self, c: sa.Connection, pseudonym: str, survey_id: str | None, update_id: int | None = None) -> Reply:
        state = queries.load_state(c, pseudonym, survey_id)
        if state is None or state.status != ResponseStatus.IN_PROGRESS:
            return Reply(Status.NO_SURVEY)
        if state.already_handled(update_id):
            return Reply(Status.DUPLICATE)
        params = {
            "status": ResponseStatus.CANCELLED,
            "now": self.clock(),
            "id": state.response_id,
            "update_id": update_id,
        }
        c.execute(queries.SET_STATUS, params)
        return Reply(
            Status.CANCELLED,
            survey=self.surveys.get(state.survey_id),
            response_id=state.response_id,
            message_id=state.message_id,
        )

    def _change(self, c: sa.Connection, pseudonym: str, survey_id: str | None, update_id: int | None = None) -> Reply:
        if survey_id is None:
            survey_id = c.execute(queries.LAST_COMPLETED_SURVEY, {"pseudonym": pseudonym}).scalar()
            if survey_id is None:
                return Reply(Status.NO_SURVEY)
        state = queries.load_state(c, pseudonym, survey_id)
        survey = self._survey_for(c, state, latest=True) if state is not None else None
        if state is None or survey is None or state.completed_at is None:
            return Reply(Status.NO_SURVEY, survey=survey)
        if state.already_handled(update_id):
            return Reply(Status.DUPLICATE, response_id=state.response_id)
        state.update_id = update_id
        refusal = self._window(survey, state)
        if refusal is not None:
            return refusal
        first = flow.first_question(survey, state.answers)
        assert first is not None
        return self._move(c, survey, state, first)
