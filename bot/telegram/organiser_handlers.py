"""Organiser commands: join by invite, /results, /export, /leave.

Only a survey's organisers and the admins get its results; everyone else
gets a polite no, which says nothing about whether the survey exists.
"""

from __future__ import annotations

from html import escape

from telegram import BotCommandScopeChat, Update
from telegram.ext import ContextTypes

from bot import export, organisers
from bot.telegram.handlers import services
from models import survey as schema

NOT_ALLOWED = "Sorry, only the organisers of a survey can see its results."
INVITE_INVALID = "Sorry, this invite link has expired or was already used. Please ask for a new one."
NEED_ID = "Please add the survey's id, like this: /{command} {example}"


def _joined_text(survey: schema.Survey | None, survey_id: str, again: bool) -> str:
    title = escape(schema.localise(survey.title)) if survey else escape(survey_id)
    first = "You are already an organiser of" if again else "Welcome! You are now an organiser of"
    return (
        f"{first} <b>{title}</b>.\n"
        f"You will get a digest of what people said on the survey's schedule.\n"
        f"Send /results {survey_id} for the results so far, /export {survey_id} for a spreadsheet, "
        f"or /leave {survey_id} to stop."
    )


async def join(update: Update, context: ContextTypes.DEFAULT_TYPE, code: str) -> None:
    """/start join_…: an invite link makes the sender an organiser of its survey."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    app = services(context)
    now = app.engine.clock()
    outcome, survey_id = await app.engine.store.write(lambda c: organisers.redeem(c, code, user.id, chat.id, now))
    if outcome == organisers.Joined.INVALID or survey_id is None:
        await context.bot.send_message(chat.id, INVITE_INVALID)
        return
    survey = app.engine.surveys.get(survey_id)
    await context.bot.send_message(chat.id, _joined_text(survey, survey_id, outcome == organisers.Joined.ALREADY))
    # Their own command menu gains the organiser commands.
    from bot.telegram.application import COMMANDS, ORGANISER_COMMANDS

    await context.bot.set_my_commands(COMMANDS + ORGANISER_COMMANDS, scope=BotCommandScopeChat(chat.id))


async def _allowed_survey(update: Update, context: ContextTypes.DEFAULT_TYPE, command: str) -> schema.Survey | None:
    """The survey named in the command, if the sender may see it; otherwise says why not."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    app = services(context)
    if not context.args:
        mine = await app.engine.store.read(lambda c: organisers.surveys_of(c, user.id))
        if user.id in app.admins:
            mine = sorted(app.engine.surveys)
        example = mine[0] if mine else "SURVEY_ID"
        await context.bot.send_message(chat.id, NEED_ID.format(command=command, example=escape(example)))
        return None
    survey_id = context.args[0].strip().lower()
    allowed = await app.engine.store.read(lambda c: organisers.may_see(c, survey_id, user.id, app.admins))
    survey = app.engine.surveys.get(survey_id)
    if not allowed or survey is None:
        await context.bot.send_message(chat.id, NOT_ALLOWED)
        return None
    return survey


async def results(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/results SURVEY_ID: the digest up to now."""
    survey = await _allowed_survey(update, context, "results")
    if survey is None:
        return
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    app = services(context)
    assert app.digests is not None
    digest = await app.digests.on_demand(survey, app.engine.clock())
    for message in digest.messages:
        await context.bot.send_message(chat_id, message)
    if digest.chart:
        await context.bot.send_photo(chat_id, photo=digest.chart, caption="Answers at a glance")


async def export_csv(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/export SURVEY_ID: completed responses as a CSV file."""
    survey = await _allowed_survey(update, context, "export")
    if survey is None:
        return
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    store = services(context).engine.store
    data, count = await store.read(lambda c: export.csv_bytes(c, survey))
    today = services(context).engine.clock().astimezone(survey.zone).date()
    await context.bot.send_document(
        chat_id,
        document=data,
        filename=f"{survey.id}-{today:%Y-%m-%d}.csv",
        caption=f"{count} completed response(s), one row each. Open it in any spreadsheet program.",
    )


async def leave(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/leave SURVEY_ID: stop being an organiser."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    if not context.args:
        await context.bot.send_message(chat.id, NEED_ID.format(command="leave", example="SURVEY_ID"))
        return
    survey_id = context.args[0].strip().lower()
    store = services(context).engine.store
    left = await store.write(lambda c: organisers.leave(c, survey_id, user.id))
    if left:
        text = f"Done. You will not get digests for {escape(survey_id)} any more."
    elif user.id in services(context).admins:
        text = "You are an admin, so you organise every survey. Ask whoever runs the bot to change that."
    else:
        text = f"You were not an organiser of {escape(survey_id)}."
    await context.bot.send_message(chat.id, text)
