"""Database tables. The database is the only home of conversation state.

Residents appear only as a pseudonym (a keyed hash of their Telegram id),
never their id or name. Organisers are different: they asked to receive
digests, so their chat id is kept, and only theirs.

Everything here is portable SQL (SQLite today, PostgreSQL when a bot
outgrows one machine); times are stored as UTC and come back aware.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores UTC, returns aware UTC: SQLite forgets time zones otherwise."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC time")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        return value.replace(tzinfo=dt.UTC) if value is not None else None


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Respondent(SQLModel, table=True):
    """A resident, known only by a pseudonym."""

    __tablename__ = "respondent"

    id: int | None = Field(default=None, primary_key=True)
    pseudonym: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class ResponseStatus:
    """Where a response stands. A response counts as complete once `completed_at` is set,
    even while its resident is changing answers (status back to in_progress)."""

    IN_PROGRESS = "in_progress"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class Response(SQLModel, table=True):
    """One resident's go at one survey (one per resident and survey)."""

    __tablename__ = "response"
    __table_args__ = (sa.UniqueConstraint("respondent_id", "survey_id", name="uq_response_respondent_survey"),)

    id: int | None = Field(default=None, primary_key=True)
    respondent_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("respondent.id", ondelete="CASCADE"), nullable=False)
    )
    survey_id: str = Field(max_length=40, index=True)
    survey_hash: str = Field(max_length=64)
    status: str = Field(max_length=16, default=ResponseStatus.IN_PROGRESS)
    current_question: str | None = Field(default=None, max_length=40)
    # Options ticked so far on the current multi-choice question, as JSON.
    draft: str | None = Field(default=None)
    # The chat message showing the current question, so stale buttons can be told apart.
    question_message_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    # The last Telegram update that changed this response: an update delivered again
    # (after a crash, before Telegram heard it was handled) is recognised and ignored.
    last_update_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    started_at: dt.datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    completed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class Answer(SQLModel, table=True):
    """One answer. `value` is JSON; NULL means the resident skipped the question."""

    __tablename__ = "answer"
    __table_args__ = (sa.UniqueConstraint("response_id", "question_id", name="uq_answer_response_question"),)

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("response.id", ondelete="CASCADE"), nullable=False)
    )
    question_id: str = Field(max_length=40)
    value: str | None = Field(default=None)
    answered_at: dt.datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)


class Organiser(SQLModel, table=True):
    """Someone who receives a survey's digests. Their chat id is kept because they asked."""

    __tablename__ = "organiser"
    __table_args__ = (sa.UniqueConstraint("survey_id", "user_id", name="uq_organiser_survey_user"),)

    id: int | None = Field(default=None, primary_key=True)
    survey_id: str = Field(max_length=40, index=True)
    user_id: int = Field(sa_type=sa.BigInteger)
    chat_id: int = Field(sa_type=sa.BigInteger)
    joined_at: dt.datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    blocked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Made from CONSULTBOT_ADMINS at start (admins organise every survey), removed with them.
    is_admin: bool = Field(default=False)


class Invite(SQLModel, table=True):
    """A one-time organiser invite; only a hash of the code is stored."""

    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    survey_id: str = Field(max_length=40)
    code_hash: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
    used_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class DigestLog(SQLModel, table=True):
    """One digest for one period and organiser: decides that it is sent exactly once."""

    __tablename__ = "digest_log"
    __table_args__ = (sa.UniqueConstraint("survey_id", "organiser_id", "period_end", name="uq_digest_period"),)

    id: int | None = Field(default=None, primary_key=True)
    survey_id: str = Field(max_length=40)
    organiser_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("organiser.id", ondelete="CASCADE"), nullable=False)
    )
    period_start: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    period_end: dt.datetime = Field(sa_type=UTCDateTime)
    status: str = Field(max_length=16, default="pending")
    attempts: int = 0
    # Messages of the digest already delivered, so a retry sends only the rest.
    parts_sent: int = 0
    # When a sender took this digest on; a claim older than a few minutes was a crash.
    claimed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
