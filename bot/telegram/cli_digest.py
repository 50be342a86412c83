"""`consultbot digest SURVEY_ID [--send]`: the digest up to now, printed or sent."""

from __future__ import annotations

import html
import re

from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import organisers
from bot.app import open_backend
from bot.engine import Consultations
from bot.settings import Settings, SettingsError
from bot.telegram.digests import CHART_CAPTION, UNREACHABLE, DigestSender
from models import survey as schema
from models.tables import utcnow

_TAG = re.compile(r"</?[a-z][^>]*>")


def as_plain_text(message: str) -> str:
    """Telegram HTML as terminal text."""
    return html.unescape(_TAG.sub("", message))


async def print_digest(settings: Settings, survey: schema.Survey) -> str:
    backend = open_backend(settings)
    try:
        engine = Consultations(backend.store, {survey.id: survey})
        sender = DigestSender(None, backend.store, engine, settings.admins, utcnow)  # type: ignore[arg-type]
        digest = await sender.on_demand(survey, utcnow())
    finally:
        await backend.store.aclose()
    return "\n\n".join(as_plain_text(m) for m in digest.messages)


async def send_digest(settings: Settings, survey: schema.Survey) -> tuple[int, int]:
    """Send the digest up to now to every organiser; returns (sent, unreachable)."""
    backend = open_backend(settings)
    sent = unreachable = 0
    try:
        now = utcnow()
        await backend.store.write(lambda c: organisers.sync_admins(c, settings.admins, [survey.id], now))
        recipients = await backend.store.read(lambda c: organisers.recipients(c, survey.id))
        async with Bot(settings.require_token(), base_url=settings.telegram_api_base_url) as bot:
            engine = Consultations(backend.store, {survey.id: survey})
            digest = await DigestSender(bot, backend.store, engine, settings.admins, utcnow).on_demand(survey, now)
            for recipient in recipients:
                try:
                    for message in digest.messages:
                        await bot.send_message(recipient.chat_id, message, parse_mode="HTML")
                    if digest.chart:
                        await bot.send_photo(recipient.chat_id, photo=digest.chart, caption=CHART_CAPTION)
                    sent += 1
                except (Forbidden, BadRequest) as exc:
                    if isinstance(exc, BadRequest) and not any(r in str(exc).lower() for r in UNREACHABLE):
                        raise SettingsError(f"Telegram refused the digest ({exc.message})") from None
                    await backend.store.write(lambda c, r=recipient: organisers.mark_blocked(c, r.organiser_id, now))
                    unreachable += 1
                except TelegramError as exc:
                    raise SettingsError(f"could not send the digest ({exc.message}); try again later") from None
    finally:
        await backend.store.aclose()
    return sent, unreachable
