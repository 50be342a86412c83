"""`consultbot run`: load everything, then poll until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from telegram import Update
from telegram.error import InvalidToken, NetworkError

from bot.app import load_catalog, open_backend
from bot.settings import Settings, SettingsError
from bot.telegram.application import build_application
from bot.telegram.bot_identity import bot_username
from bot.telegram.redact import configure_logging, redact

log = logging.getLogger("consultbot")


def run_bot(settings: Settings) -> None:
    """Run until stopped; the database is closed cleanly on the way out."""
    configure_logging(settings.require_token())
    catalog = load_catalog(settings)
    for problem in catalog.problems:
        log.warning("survey not loaded: %s", problem)
    log.info("surveys: %s", ", ".join(sorted(catalog.surveys)) or "none")
    # Ask Telegram who we are first: a wrong token or an unreachable API is one clear line.
    log.info("bot: @%s", asyncio.run(bot_username(settings)))
    backend = open_backend(settings)
    try:
        application = build_application(
            settings, backend, catalog.surveys, watch_folder=settings.surveys_dir, initial_problems=catalog.problems
        )
        application.run_polling(
            allowed_updates=Update.ALL_TYPES,
            stop_signals=(signal.SIGINT, signal.SIGTERM),
            drop_pending_updates=False,
        )
    except InvalidToken:
        raise SettingsError("TELEGRAM_BOT_TOKEN was refused by Telegram: check it with @BotFather") from None
    except NetworkError as exc:
        raise SettingsError(f"could not reach Telegram at TELEGRAM_API_BASE_URL ({redact(str(exc))})") from None
    finally:
        backend.close()
        log.info("stopped cleanly")
