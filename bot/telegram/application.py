"""Wiring only: the python-telegram-bot Application and its handlers.

Tests build the same Application against a fake Bot API (through
`request`/`get_updates_request`, or `TELEGRAM_API_BASE_URL`), so what is
tested is what runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping

from telegram import BotCommand, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import Conflict
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import organisers
from bot.app import Backend, freeze_startup_objects
from bot.engine import Consultations
from bot.settings import Settings
from bot.telegram import handlers, organiser_handlers
from bot.telegram.digests import DigestScheduler, DigestSender
from bot.telegram.processor import PerUserUpdateProcessor
from bot.telegram.ratelimit import PatientRateLimiter
from bot.telegram.reload import SurveyWatcher
from models.loader import Problem
from models.survey import Survey
from models.tables import utcnow

COMMANDS = [
    BotCommand("start", "Start or carry on a survey"),
    BotCommand("back", "Go back one question"),
    BotCommand("skip", "Skip a question you don't have to answer"),
    BotCommand("cancel", "Stop for now (your answers are kept)"),
    BotCommand("change", "Change your answers"),
    BotCommand("help", "How this works"),
    BotCommand("forget", "Delete everything about you"),
]
ORGANISER_COMMANDS = [
    BotCommand("results", "Organisers: the results so far"),
    BotCommand("export", "Organisers: a spreadsheet of the answers"),
    BotCommand("leave", "Organisers: stop getting digests"),
]
DESCRIPTION = (
    "Short surveys about your neighbourhood. Tap Start, answer with buttons, done in two minutes. "
    "Your answers are anonymous."
)
SHORT_DESCRIPTION = "Short, anonymous surveys about your neighbourhood."
RETRIES = 5
POOL_SIZE = 24
POOL_TIMEOUT = 10.0
SCHEDULER_KEY = "digest_scheduler"
WATCHER_KEY = "survey_watcher"
log = logging.getLogger(__name__)  # a 429 (RetryAfter) is waited out and sent again, not lost


def file_url_for(base_url: str) -> str:
    """The file endpoint that goes with a Bot API base URL (…/bot → …/file/bot)."""
    return base_url[: -len("bot")] + "file/bot" if base_url.endswith("bot") else base_url.rstrip("/") + "/file/bot"


def build_application(
    settings: Settings,
    backend: Backend,
    surveys: Mapping[str, Survey],
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
    watch_folder: str | None = None,
    initial_problems: list[Problem] | None = None,
) -> Application:
    """The bot, ready to `initialize()`/`start()` or `run_polling()`."""
    processor = PerUserUpdateProcessor(256)
    builder: ApplicationBuilder = (
        Application.builder()
        .token(settings.require_token())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(file_url_for(settings.telegram_api_base_url))
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .concurrent_updates(processor)
        .rate_limiter(
            PatientRateLimiter(
                overall_max_rate=settings.rate_limit,
                overall_time_period=1,
                group_max_rate=20 if settings.rate_limit else 0,
                max_retries=RETRIES,
            )
        )
        .post_init(_post_init)
    )
    if request is not None:
        builder = builder.request(request)
    else:
        # httpx checks every open connection on each request, so a big pool costs CPU
        # under bursts; a few dozen connections carry hundreds of requests a second.
        builder = builder.connection_pool_size(POOL_SIZE).pool_timeout(POOL_TIMEOUT)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    application = builder.build()
    engine = Consultations(backend.store, surveys, clock=clock)
    sender = DigestSender(application.bot, backend.store, engine, settings.admins, clock)
    application.bot_data[handlers.SERVICES_KEY] = handlers.Services(
        engine, backend.pseudonymise, admins=settings.admins, digests=sender
    )
    scheduler = DigestScheduler(application, sender)
    application.bot_data[SCHEDULER_KEY] = scheduler
    if watch_folder is not None:
        watcher = SurveyWatcher(
            application, engine, watch_folder, settings.timezone, settings.admins, on_change=scheduler.schedule_all
        )
        application.bot_data[WATCHER_KEY] = (watcher, initial_problems or [])
    processor.on_dropped = lambda update: handlers.on_dropped(update, application.bot)
    add_handlers(application)
    return application


def add_handlers(application: Application) -> None:
    private = filters.ChatType.PRIVATE
    new_message = filters.UpdateType.MESSAGE
    application.add_handler(
        MessageHandler(filters.ChatType.GROUPS & filters.COMMAND & new_message, handlers.group_chat)
    )
    # An invite link pasted in a group (the bot sees it when it may read the group): cancel it.
    application.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS & new_message & filters.Regex(organisers.INVITE_IN_TEXT), handlers.group_chat
        )
    )
    for name, callback in [
        ("start", handlers.start),
        ("help", handlers.help_command),
        ("back", handlers.back),
        ("skip", handlers.skip),
        ("cancel", handlers.cancel),
        ("change", handlers.change),
        ("forget", handlers.forget),
        ("results", organiser_handlers.results),
        ("export", organiser_handlers.export_csv),
        ("leave", organiser_handlers.leave),
    ]:
        application.add_handler(CommandHandler(name, callback, filters=private & new_message))
    application.add_handler(MessageHandler(private & new_message & filters.COMMAND, handlers.unknown_command))
    application.add_handler(MessageHandler(private & new_message & filters.TEXT, handlers.typed_answer))
    application.add_handler(MessageHandler(private & new_message, handlers.not_text))
    application.add_handler(CallbackQueryHandler(handlers.button))
    application.add_error_handler(on_error)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A second poller with this token is one clear line; everything else goes to the usual handler."""
    if isinstance(context.error, Conflict):
        log.error(
            "another instance is polling Telegram with this TELEGRAM_BOT_TOKEN: stop the other one "
            "(only one `consultbot run` per bot); retrying"
        )
        return
    await handlers.on_error(update, context)


async def _post_init(application: Application) -> None:
    """Set the menu and descriptions, make admins organisers, and schedule the digests."""
    await application.bot.set_my_commands(COMMANDS)
    await application.bot.set_my_description(DESCRIPTION)
    await application.bot.set_my_short_description(SHORT_DESCRIPTION)
    services: handlers.Services = application.bot_data[handlers.SERVICES_KEY]
    engine = services.engine
    now = engine.clock()
    await engine.store.write(lambda c: organisers.sync_admins(c, services.admins, list(engine.surveys), now))
    scheduler: DigestScheduler = application.bot_data[SCHEDULER_KEY]
    scheduled = scheduler.schedule_all()
    log.info("digest schedules: %s", ", ".join(scheduled) or "none")
    if WATCHER_KEY in application.bot_data:
        watcher, problems = application.bot_data[WATCHER_KEY]
        watcher.start(problems)
    # Digests missed while the bot was down go out once, as soon as polling has started.
    assert application.job_queue is not None
    application.job_queue.run_once(_catch_up, when=0.5, name="digest-catch-up")
    freeze_startup_objects()


async def _catch_up(context: ContextTypes.DEFAULT_TYPE) -> None:
    scheduler: DigestScheduler = context.application.bot_data[SCHEDULER_KEY]
    sent = await scheduler.catch_up()
    if sent:
        log.info("sent %s digest(s) missed while the bot was down", sent)
