"""Organisers: one-time invites, who may see a survey's results, digest recipients.

Organisers asked to receive digests, so unlike residents their Telegram
chat id is kept. Invite codes are stored only as a hash: a copy of the
database cannot be used to join. No Telegram import here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa

from models.tables import Invite, Organiser

INVITE = Invite.__table__
ORGANISER = Organiser.__table__
INVITE_PREFIX = "join_"  # survey ids cannot contain "_", so /start payloads never clash
INVITE_DAYS = 7
# An invite code anywhere in a message: "/start join_…" or a t.me/…?start=join_… link.
INVITE_IN_TEXT = re.compile(INVITE_PREFIX + r"[A-Za-z0-9_-]{5,59}")


class Joined(StrEnum):
    JOINED = "joined"
    ALREADY = "already"
    INVALID = "invalid"  # unknown, used or expired: the same answer for all three


@dataclass(frozen=True)
class Recipient:
    organiser_id: int
    chat_id: int
    user_id: int
    joined_at: dt.datetime


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def is_invite_code(payload: str) -> bool:
    return payload.startswith(INVITE_PREFIX) and 10 <= len(payload) <= 64


def new_invite(c: sa.Connection, survey_id: str, now: dt.datetime, days: int = INVITE_DAYS) -> str:
    """Make a one-time invite; returns the code (only its hash is stored)."""
    code = INVITE_PREFIX + secrets.token_urlsafe(18)
    c.execute(
        INVITE.insert().values(
            survey_id=survey_id,
            code_hash=hash_code(code),
            created_at=now,
            expires_at=now + dt.timedelta(days=days),
        )
    )
    return code


def redeem(c: sa.Connection, code: str, user_id: int, chat_id: int, now: dt.datetime) -> tuple[Joined, str | None]:
    """Use an invite: the sender becomes an organiser of its survey. Returns (outcome, survey id)."""
    row = c.execute(
        sa.select(INVITE.c.id, INVITE.c.survey_id, INVITE.c.expires_at, INVITE.c.used_at).where(
            INVITE.c.code_hash == hash_code(code)
        )
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return Joined.INVALID, None
    c.execute(INVITE.update().where(INVITE.c.id == row.id).values(used_at=now))
    existing = c.execute(
        sa.select(ORGANISER.c.id).where(ORGANISER.c.survey_id == row.survey_id, ORGANISER.c.user_id == user_id)
    ).scalar()
    if existing is not None:
        c.execute(ORGANISER.update().where(ORGANISER.c.id == existing).values(blocked_at=None, chat_id=chat_id))
        return Joined.ALREADY, row.survey_id
    c.execute(ORGANISER.insert().values(survey_id=row.survey_id, user_id=user_id, chat_id=chat_id, joined_at=now))
    return Joined.JOINED, row.survey_id


def revoke(c: sa.Connection, code: str, now: dt.datetime) -> str | None:
    """Cancel an invite that is still usable (it was seen where others can read it).

    Returns its survey id, or None if the code was unknown, used or expired.
    """
    row = c.execute(
        sa.select(INVITE.c.id, INVITE.c.survey_id).where(
            INVITE.c.code_hash == hash_code(code), INVITE.c.used_at.is_(None), INVITE.c.expires_at > now
        )
    ).first()
    if row is None:
        return None
    c.execute(INVITE.update().where(INVITE.c.id == row.id, INVITE.c.used_at.is_(None)).values(used_at=now))
    return row.survey_id


def leave(c: sa.Connection, survey_id: str, user_id: int) -> bool:
    """Stop being an organiser of a survey (admins stay organisers of every survey)."""
    result = c.execute(
        ORGANISER.delete().where(
            ORGANISER.c.survey_id == survey_id, ORGANISER.c.user_id == user_id, ORGANISER.c.is_admin.is_(False)
        )
    )
    return result.rowcount > 0


def may_see(c: sa.Connection, survey_id: str, user_id: int, admins: Collection[int]) -> bool:
    """Whether this Telegram user may see the survey's results."""
    if user_id in admins:
        return True
    found = c.execute(
        sa.select(ORGANISER.c.id).where(ORGANISER.c.survey_id == survey_id, ORGANISER.c.user_id == user_id)
    ).first()
    return found is not None


def surveys_of(c: sa.Connection, user_id: int) -> list[str]:
    rows = c.execute(sa.select(ORGANISER.c.survey_id).where(ORGANISER.c.user_id == user_id).order_by("survey_id"))
    return [r.survey_id for r in rows]


def recipients(c: sa.Connection, survey_id: str) -> list[Recipient]:
    """Who gets the survey's digest: its organisers (admins included) who have not blocked the bot."""
    rows = c.execute(
        sa.select(ORGANISER.c.id, ORGANISER.c.chat_id, ORGANISER.c.user_id, ORGANISER.c.joined_at)
        .where(ORGANISER.c.survey_id == survey_id, ORGANISER.c.blocked_at.is_(None))
        .order_by(ORGANISER.c.id)
    )
    return [Recipient(r.id, r.chat_id, r.user_id, r.joined_at) for r in rows]


def mark_blocked(c: sa.Connection, organiser_id: int, now: dt.datetime) -> None:
    c.execute(ORGANISER.update().where(ORGANISER.c.id == organiser_id).values(blocked_at=now))


def sync_admins(c: sa.Connection, admins: Iterable[int], survey_ids: Iterable[str], now: dt.datetime) -> None:
    """Make every admin an organiser of every survey, and remove admins no longer listed.

    An admin's private chat id is their user id, so they can be written to
    once they have started the bot.
    """
    admins = set(admins)
    c.execute(ORGANISER.delete().where(ORGANISER.c.is_admin.is_(True), ORGANISER.c.user_id.not_in(admins)))
    for survey_id in survey_ids:
        present = {
            r.user_id
            for r in c.execute(
                sa.select(ORGANISER.c.user_id).where(
                    ORGANISER.c.survey_id == survey_id, ORGANISER.c.user_id.in_(admins)
                )
            )
        }
        for admin in sorted(admins - present):
            c.execute(
                ORGANISER.insert().values(
                    survey_id=survey_id, user_id=admin, chat_id=admin, joined_at=now, is_admin=True
                )
            )


def unblock(c: sa.Connection, user_id: int) -> None:
    """Someone who blocked the bot wrote to it again: they can get digests again."""
    c.execute(
        ORGANISER.update()
        .where(ORGANISER.c.user_id == user_id, ORGANISER.c.blocked_at.is_not(None))
        .values(blocked_at=None)
    )


def forget_user(c: sa.Connection, user_id: int) -> int:
    """/forget by an organiser: their organiser rows (and digest log, by cascade) go too."""
    return c.execute(ORGANISER.delete().where(ORGANISER.c.user_id == user_id)).rowcount
