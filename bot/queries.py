"""The SQL the engine runs on every tap, written once as portable text.

Built statements cost SQLAlchemy more to construct and cache-key than the
database takes to run them (measured: ~150 µs a statement), so the hot
path uses fixed `text()` statements that SQLite and PostgreSQL both accept
(`ON CONFLICT ... DO UPDATE` included). Times are bound through
`UTCDateTime`, so they are stored as UTC whatever the database.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models.tables import ResponseStatus, UTCDateTime

_TIME = UTCDateTime()


def _sql(statement: str, *times: str) -> sa.TextClause:
    clause = sa.text(statement)
    if times:
        clause = clause.bindparams(*(sa.bindparam(name, type_=_TIME) for name in times))
    return clause


# How far below the last applied update id a redelivery can be (Telegram sends
# at most 100 updates a batch); ids further below are a restarted sequence.
REPLAY_WINDOW = 1000

_STATE_COLUMNS = """
    SELECT r.id, r.survey_id, r.survey_hash, r.status, r.current_question, r.draft, r.question_message_id,
           r.last_update_id, r.completed_at, a.question_id, a.value
    FROM response r
    LEFT JOIN answer a ON a.response_id = r.id
"""

STATE_FOR_SURVEY = _sql(
    _STATE_COLUMNS
    + """
    WHERE r.id = (SELECT r2.id FROM response r2 JOIN respondent p ON p.id = r2.respondent_id
                  WHERE p.pseudonym = :pseudonym AND r2.survey_id = :survey_id)
    """
).columns(completed_at=_TIME)

STATE_ACTIVE = _sql(
    _STATE_COLUMNS
    + f"""
    WHERE r.id = (SELECT r2.id FROM response r2 JOIN respondent p ON p.id = r2.respondent_id
                  WHERE p.pseudonym = :pseudonym AND r2.status = '{ResponseStatus.IN_PROGRESS}'
                  ORDER BY r2.updated_at DESC, r2.id DESC LIMIT 1)
    """
).columns(completed_at=_TIME)

LAST_COMPLETED_SURVEY = _sql(
    """
    SELECT r.survey_id FROM response r JOIN respondent p ON p.id = r.respondent_id
    WHERE p.pseudonym = :pseudonym AND r.completed_at IS NOT NULL
    ORDER BY r.completed_at DESC, r.id DESC LIMIT 1
    """
)

RESPONDENT_ID = _sql("SELECT id FROM respondent WHERE pseudonym = :pseudonym")
NEW_RESPONDENT = _sql("INSERT INTO respondent (pseudonym, created_at) VALUES (:pseudonym, :now)", "now")
NEW_RESPONSE = _sql(
    """
    INSERT INTO response (respondent_id, survey_id, survey_hash, status, current_question,
                          started_at, updated_at)
    VALUES (:respondent_id, :survey_id, :survey_hash, :status, :current, :now, :now)
    RETURNING id
    """,
    "now",
)

UPSERT_ANSWER = _sql(
    """
    INSERT INTO answer (response_id, question_id, value, answered_at)
    VALUES (:response_id, :question_id, :value, :now)
    ON CONFLICT (response_id, question_id)
    DO UPDATE SET value = excluded.value, answered_at = excluded.answered_at
    """,
    "now",
)

MOVE_TO = _sql(
    """
    UPDATE response SET status = :status, current_question = :current, draft = :draft,
                        question_message_id = NULL, updated_at = :now,
                        last_update_id = COALESCE(:update_id, last_update_id)
    WHERE id = :id
    """,
    "now",
)

DELETE_ANSWER = _sql("DELETE FROM answer WHERE response_id = :response_id AND question_id = :question_id")
SET_VERSION = _sql("UPDATE response SET survey_hash = :survey_hash WHERE id = :id")
SET_DRAFT = _sql(
    """
    UPDATE response SET draft = :draft, updated_at = :now, last_update_id = COALESCE(:update_id, last_update_id)
    WHERE id = :id
    """,
    "now",
)
SET_STATUS = _sql(
    """
    UPDATE response SET status = :status, updated_at = :now, last_update_id = COALESCE(:update_id, last_update_id)
    WHERE id = :id
    """,
    "now",
)
FINISH = _sql(
    """
    UPDATE response SET status = :status, current_question = NULL, draft = NULL,
                        question_message_id = NULL, completed_at = :now, updated_at = :now,
                        last_update_id = COALESCE(:update_id, last_update_id)
    WHERE id = :id
    """,
    "now",
)
REMEMBER_MESSAGE = _sql(
    """
    UPDATE response SET question_message_id = :message_id
    WHERE id = :id AND current_question = :question_id
    """
)
FORGET_ANSWERS = _sql(
    """
    DELETE FROM answer WHERE response_id IN (
        SELECT r.id FROM response r WHERE r.respondent_id = :respondent_id)
    """
)
FORGET_RESPONSES = _sql("DELETE FROM response WHERE respondent_id = :respondent_id")
FORGET_RESPONDENT = _sql("DELETE FROM respondent WHERE id = :respondent_id")


def dumps(value: Any) -> str | None:
    """An answer (or draft) as stored: compact JSON; None stays NULL."""
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass
class State:
    """One response as read inside a transaction."""

    response_id: int
    survey_id: str
    survey_hash: str
    status: str
    current: str | None
    draft: list[str]
    message_id: int | None
    completed_at: dt.datetime | None
    answers: dict[str, Any]
    last_update_id: int | None = None
    # The update being handled now, written with every change (see Response.last_update_id).
    update_id: int | None = None

    def already_handled(self, update_id: int | None) -> bool:
        """Whether this update was applied before (Telegram delivered it again).

        A redelivered update is the last one applied or one shortly before it
        (Telegram redelivers at most a batch of 100). Anything further below is
        a restarted sequence (after a week without updates, or a new Bot API
        server) and is applied: a plain high-water mark would ignore that
        resident for good.
        """
        if update_id is None or self.last_update_id is None:
            return False
        return 0 <= self.last_update_id - update_id < REPLAY_WINDOW

    @property
    def done(self) -> bool:
        return self.status == ResponseStatus.COMPLETED


def load_state(c: sa.Connection, pseudonym: str, survey_id: str | None) -> State | None:
    """A resident's response to a survey (or the one they are taking now), with its answers."""
    if survey_id is None:
        rows = c.execute(STATE_ACTIVE, {"pseudonym": pseudonym}).all()
    else:
        rows = c.execute(STATE_FOR_SURVEY, {"pseudonym": pseudonym, "survey_id": survey_id}).all()
    if not rows:
        return None
    first = rows[0]
    return State(
        response_id=first.id,
        survey_id=first.survey_id,
        survey_hash=first.survey_hash,
        status=first.status,
        current=first.current_question,
        draft=loads(first.draft) or [],
        message_id=first.question_message_id,
        completed_at=first.completed_at,
        answers={row.question_id: loads(row.value) for row in rows if row.question_id is not None},
        last_update_id=first.last_update_id,
    )


def respondent_id(c: sa.Connection, pseudonym: str, now: dt.datetime) -> int:
    """The respondent row for a pseudonym, made on first use."""
    found = c.execute(RESPONDENT_ID, {"pseudonym": pseudonym}).scalar()
    if found is not None:
        return found
    c.execute(NEW_RESPONDENT, {"pseudonym": pseudonym, "now": now})
    return c.execute(RESPONDENT_ID, {"pseudonym": pseudonym}).scalar_one()


def forget(c: sa.Connection, pseudonym: str) -> int:
    """Delete a respondent with all their responses and answers; returns responses deleted."""
    found = c.execute(RESPONDENT_ID, {"pseudonym": pseudonym}).scalar()
    if found is None:
        return 0
    c.execute(FORGET_ANSWERS, {"respondent_id": found})
    count = c.execute(FORGET_RESPONSES, {"respondent_id": found}).rowcount
    c.execute(FORGET_RESPONDENT, {"respondent_id": found})
    return count
