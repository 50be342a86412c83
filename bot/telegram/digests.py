"""Scheduled digests: each survey's crontab, in its time zone, exactly once per period.

APScheduler (python-telegram-bot's JobQueue) wakes us at each fire time;
the digest log in the database decides who still needs that period's
digest, so restarts, missed periods and a second process never send twice.
A digest missed while the bot was down is sent once at start. A failed
send (network, 5xx, 429 after the rate limiter's own retries) is retried
with back-off; an organiser who blocked the bot is marked and skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ContextTypes

from bot import digest_log, organisers
from bot.digest import Digest, build_digest
from bot.engine import Consultations
from bot.store import Store
from models import survey as schema
from models.cron import last_fire_before, parse_crontab

log = logging.getLogger(__name__)
CHART_CAPTION = "Answers at a glance"
UNREACHABLE = ("chat not found", "user is deactivated", "bot was blocked", "bot can't initiate")


def backoff(attempt: int) -> float:
    """Seconds before retry number `attempt` (1, 2, ...): 30 s doubling, at most an hour."""
    return float(min(30 * 2 ** (attempt - 1), 3600))


@dataclass
class DigestSender:
    """Sends survey digests to organisers, with the digest log as the judge."""

    bot: Bot
    store: Store
    engine: Consultations
    admins: Collection[int]
    clock: Callable[[], dt.datetime]
    schedule_retry: Callable[[str, dt.datetime, float], None] | None = None
    sent_messages: int = field(default=0)

    def survey(self, survey_id: str) -> schema.Survey | None:
        return self.engine.surveys.get(survey_id)

    def period_for(self, survey: schema.Survey, now: dt.datetime) -> tuple[dt.datetime | None, dt.datetime] | None:
        """The last completed period of the survey's schedule at `now` (None before its first)."""
        if survey.digest is None or survey.digest.schedule is None:
            return None
        trigger = parse_crontab(survey.digest.schedule, survey.zone)
        end = last_fire_before(trigger, now)
        if end is None:
            return None
        return last_fire_before(trigger, end, inclusive=False), end

    async def run(self, survey_id: str, period_end: dt.datetime | None = None) -> int:
        """Send the survey's digest for its latest period (or `period_end`) to whoever lacks it."""
        survey = self.survey(survey_id)
        if survey is None:
            return 0
        now = self.clock()
        period = self.period_for(survey, now if period_end is None else period_end)
        if period is None:
            return 0
        start, end = period
        recipients = await self.store.read(lambda c: organisers.recipients(c, survey_id))
        digest: Digest | None = None
        delivered = 0
        for recipient in recipients:
            if recipient.joined_at > end:
                continue  # periods that ended before they joined are not theirs
            claim = await self.store.write(
                lambda c, r=recipient: digest_log.claim(c, survey_id, r.organiser_id, start, end, self.clock())
            )
            if claim is None:
                continue
            if digest is None:
                try:
                    digest = await build_digest(self.store, survey, start, end)
                except Exception as exc:  # the database or a template failed: try again later
                    log.exception("could not build the digest of %s", survey_id)
                    await self._failed((survey_id, recipient.organiser_id, end), claim.attempts, exc)
                    continue
            delivered += await self._deliver(survey, digest, recipient, end, claim)
        return delivered

    async def _deliver(
        self,
        survey: schema.Survey,
        digest: Digest,
        recipient: organisers.Recipient,
        period_end: dt.datetime,
        claim: digest_log.Claim,
    ) -> int:
        """Send one organiser the parts they lack; record the outcome. Returns 1 if completed."""
        parts = len(digest.messages) + (1 if digest.chart else 0)
        done = claim.parts_sent
        key = (survey.id, recipient.organiser_id, period_end)
        try:
            while done < parts:
                await self._send_part(recipient.chat_id, digest, done)
                done += 1
                await self.store.write(lambda c, n=done: digest_log.delivered(c, *key, n, self.clock()))
        except Forbidden as exc:
            await self._unreachable(recipient, key, str(exc))
            return 0
        except BadRequest as exc:
            if any(reason in str(exc).lower() for reason in UNREACHABLE):
                await self._unreachable(recipient, key, str(exc))
                return 0
            await self._failed(key, claim.attempts, exc, give_up=True)
            return 0
        except TelegramError as exc:  # network trouble, 5xx, 429 after the limiter's retries
            await self._failed(key, claim.attempts, exc)
            return 0
        await self.store.write(lambda c: digest_log.finish(c, *key, digest_log.SENT, self.clock()))
        self.sent_messages += parts - claim.parts_sent
        return 1

    async def _send_part(self, chat_id: int, digest: Digest, index: int) -> None:
        if index < len(digest.messages):
            await self.bot.send_message(chat_id, digest.messages[index])
        else:
            assert digest.chart is not None
            await self.bot.send_photo(chat_id, photo=digest.chart, caption=CHART_CAPTION)

    async def _unreachable(self, recipient: organisers.Recipient, key: tuple[Any, ...], error: str) -> None:
        log.info("organiser %s cannot be reached (%s); skipping them from now on", recipient.organiser_id, error)
        now = self.clock()

        def work(c: Any) -> None:
            organisers.mark_blocked(c, recipient.organiser_id, now)
            digest_log.finish(c, *key, digest_log.SKIPPED, now, error)

        await self.store.write(work)

    async def _failed(self, key: tuple[Any, ...], attempts: int, exc: Exception, *, give_up: bool = False) -> None:
        final = give_up or attempts >= digest_log.MAX_ATTEMPTS
        status = digest_log.FAILED if final else digest_log.PENDING
        log.warning("digest for %s to organiser %s not sent (attempt %s): %s", key[0], key[1], attempts, exc)
        await self.store.write(
            lambda c: digest_log.finish(c, *key, status, self.clock(), f"{type(exc).__name__}: {exc}")
        )
        if not final and self.schedule_retry is not None:
            self.schedule_retry(key[0], key[2], backoff(attempts))

    async def on_demand(self, survey: schema.Survey, now: dt.datetime) -> Digest:
        """The digest from the last scheduled one (or a week ago) up to now, for /results."""
        period = self.period_for(survey, now)
        start = period[1] if period else now - dt.timedelta(days=7)
        return await build_digest(self.store, survey, start, now)


class DigestScheduler:
    """Registers one cron job per survey in the Application's JobQueue."""

    def __init__(self, application: Application, sender: DigestSender):
        self.application = application
        self.sender = sender
        sender.schedule_retry = self.retry_later

    def schedule_all(self) -> list[str]:
        """(Re)register each survey's schedule under a stable id; returns the survey ids."""
        queue = self.application.job_queue
        assert queue is not None, "python-telegram-bot[job-queue] is required"
        scheduled = []
        for survey in self.sender.engine.surveys.values():
            if survey.digest is None or survey.digest.schedule is None:
                continue
            trigger = parse_crontab(survey.digest.schedule, survey.zone)
            queue.run_custom(
                self._job,
                job_kwargs={
                    "trigger": trigger,
                    "id": f"digest:{survey.id}",
                    "replace_existing": True,
                    # A late wake-up (busy machine) still sends; several missed fires send once.
                    "misfire_grace_time": None,
                    "coalesce": True,
                },
                name=f"digest:{survey.id}",
                data=survey.id,
            )
            scheduled.append(survey.id)
        for job in queue.jobs():
            if job.name and job.name.startswith("digest:") and job.name.removeprefix("digest:") not in scheduled:
                job.schedule_removal()  # the survey went, or lost its schedule
        return scheduled

    async def catch_up(self) -> int:
        """At start: send each survey's latest period to organisers who missed it."""
        total = 0
        for survey_id in list(self.sender.engine.surveys):
            try:
                total += await self.sender.run(survey_id)
            except Exception:  # one survey's trouble must not stop the others, nor the bot
                log.exception("catching up the digest of %s failed", survey_id)
        return total

    def retry_later(self, survey_id: str, period_end: dt.datetime, delay: float) -> None:
        queue = self.application.job_queue
        assert queue is not None
        queue.run_once(
            self._retry_job,
            when=delay,
            data=(survey_id, period_end),
            name=f"digest-retry:{survey_id}:{period_end.isoformat()}",
            job_kwargs={"id": f"digest-retry:{survey_id}:{period_end.isoformat()}", "replace_existing": True},
        )

    async def _job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.job is not None
        await self.sender.run(str(context.job.data))

    async def _retry_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.job is not None
        survey_id, period_end = context.job.data  # type: ignore[misc]
        await self.sender.run(survey_id, period_end)
