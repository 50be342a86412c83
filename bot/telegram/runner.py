"""`consultbot run`: load everything, then poll until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal

from telegram import Update

from bot.app import load_catalog, open_backend
from bot.settings import Settings
from bot.telegram.application import build_application
from bot.telegram.redact import configure_logging

log = logging.getLogger("consultbot")


def run_bot(settings: Settings) -> None:
    """Run until stopped; the database is closed cleanly on the way out."""
    configure_logging(settings.require_token())
    catalog = load_catalog(settings)
    for problem in catalog.problems:
        log.warning("survey not loaded: %s", problem)
    log.info("surveys: %s", ", ".join(sorted(catalog.surveys)) or "none")
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
    finally:
        backend.close()
        log.info("stopped cleanly")
