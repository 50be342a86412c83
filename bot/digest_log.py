"""The digest log decides: exactly one digest per period and organiser.

Before sending, a sender claims the (survey, organiser, period) row in a
write transaction; the claim is a lease, so a second process skips it and a
sender that crashed is replaced after a few minutes. Each delivered message
is counted, so a retry sends only what is missing. No Telegram import here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from models.tables import DigestLog

LOG = DigestLog.__table__
LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 8

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
SKIPPED = "skipped"  # the organiser blocked the bot
FAILED = "failed"  # gave up after MAX_ATTEMPTS


@dataclass(frozen=True)
class Claim:
    parts_sent: int
    attempts: int


def _insert_ignore(c: sa.Connection, values: dict[str, object]) -> None:
    if c.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    c.execute(insert(LOG).values(**values).on_conflict_do_nothing())


def _key(survey_id: str, organiser_id: int, period_end: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(LOG.c.survey_id == survey_id, LOG.c.organiser_id == organiser_id, LOG.c.period_end == period_end)


def claim(
    c: sa.Connection,
    survey_id: str,
    organiser_id: int,
    period_start: dt.datetime | None,
    period_end: dt.datetime,
    now: dt.datetime,
) -> Claim | None:
    """Take this digest on, or None when it is done, given up, or being sent by someone else."""
    _insert_ignore(
        c,
        {
            "survey_id": survey_id,
            "organiser_id": organiser_id,
            "period_start": period_start,
            "period_end": period_end,
            "status": PENDING,
            "attempts": 0,
            "parts_sent": 0,
        },
    )
    row = c.execute(
        sa.select(LOG.c.status, LOG.c.attempts, LOG.c.parts_sent, LOG.c.claimed_at).where(
            _key(survey_id, organiser_id, period_end)
        )
    ).one()
    if row.status in (SENT, SKIPPED, FAILED):
        return None
    if row.status == SENDING and row.claimed_at is not None and now - row.claimed_at < LEASE:
        return None
    c.execute(
        LOG.update()
        .where(_key(survey_id, organiser_id, period_end))
        .values(status=SENDING, claimed_at=now, attempts=row.attempts + 1)
    )
    return Claim(parts_sent=row.parts_sent, attempts=row.attempts + 1)


def delivered(
    c: sa.Connection, survey_id: str, organiser_id: int, period_end: dt.datetime, parts: int, now: dt.datetime
) -> None:
    """Record that `parts` messages reached the organiser, and renew the sender's lease."""
    c.execute(LOG.update().where(_key(survey_id, organiser_id, period_end)).values(parts_sent=parts, claimed_at=now))


def finish(
    c: sa.Connection,
    survey_id: str,
    organiser_id: int,
    period_end: dt.datetime,
    status: str,
    now: dt.datetime,
    error: str | None = None,
) -> None:
    values: dict[str, object] = {"status": status, "claimed_at": None, "last_error": (error or None) and error[:500]}
    if status == SENT:
        values["sent_at"] = now
    c.execute(LOG.update().where(_key(survey_id, organiser_id, period_end)).values(**values))
