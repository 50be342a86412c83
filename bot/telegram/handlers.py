"""Chat handlers: each turns an update into one engine call and the reply into messages.

No conversation state lives here or in python-telegram-bot: the engine
reads and writes the database on every update, so a restart, a crash or a
second process loses nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot import answers as rules
from bot import organisers
from bot.engine import Consultations, Reply, Status
from bot.pseudonym import Pseudonymiser

if TYPE_CHECKING:
    from bot.telegram.digests import DigestSender
from bot.telegram import callbacks, keyboards, texts
from models import survey as schema

log = logging.getLogger(__name__)


@dataclass
class Services:
    """What the handlers need, kept in `application.bot_data`."""

    engine: Consultations
    pseudonymise: Pseudonymiser
    admins: frozenset[int] = frozenset()
    digests: DigestSender | None = None


SERVICES_KEY = "consultbot"
BUTTON_QUESTIONS = (schema.ChoiceQuestion, schema.MultiChoiceQuestion, schema.ScaleQuestion)


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data[SERVICES_KEY]


def _resident(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    assert update.effective_user is not None
    return services(context).pseudonymise(update.effective_user.id)


def _is_private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


# -- showing engine replies ------------------------------------------------------


async def send_question(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply, prefix: str = "") -> None:
    """Send the question a reply asks, with its buttons, and remember which message shows it.

    Remembering the message makes buttons on any older copy of the question stale.
    """
    question = reply.question
    assert question is not None and reply.survey is not None
    current = rules.describe(question, reply.current_answer) if reply.current_answer is not None else None
    text = texts.question(question, reply.number, reply.total, current)
    if prefix:
        text = f"{prefix}\n\n{text}"
    markup = keyboards.for_question(reply.survey, question, reply.draft)
    sent = await context.bot.send_message(chat_id, text, reply_markup=markup)
    if markup is not None and reply.response_id is not None:
        await services(context).engine.remember_message(reply.response_id, question.id, sent.message_id)


async def _mark_answered(query_message: Any, reply: Reply) -> None:
    """Edit the question just answered to show the answer, without its buttons."""
    if reply.recorded is None or not isinstance(query_message, Message):
        return
    question, value = reply.recorded
    await _quietly(query_message.edit_text(texts.answered(question, rules.describe(question, value))))


async def _quietly(call: Any) -> None:
    """A call that may fail harmlessly: an edit of an old message, a tap answered too late.

    It must never stop what follows: the answer is saved, so the next question must go out.
    """
    try:
        await call
    except TelegramError as exc:  # BadRequest, or network trouble that outlasted the retries
        log.debug("skipped: %s", exc.message)


async def _strip_buttons(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply) -> None:
    """Take the buttons off the question the resident just left (typed answer, /skip, /back)."""
    left, survey = reply.left, reply.survey
    if reply.message_id is None or left is None or survey is None:
        return
    if keyboards.for_question(survey, left) is not None:
        await _quietly(context.bot.edit_message_reply_markup(chat_id, reply.message_id, reply_markup=None))


async def present(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply, *, query: CallbackQuery | None = None
) -> None:
    """Show an engine reply: answer the button tap, edit the old question, send the next."""
    status = reply.status
    if status == Status.DUPLICATE:
        # Handled before a crash; Telegram delivered it again. Say nothing twice.
        if query is not None:
            await _quietly(query.answer())
        return
    if query is None and status in (Status.ASK, Status.FINISHED):
        await _strip_buttons(context, chat_id, reply)
    if query is not None:
        await _quietly(query.answer(_tap_text(reply)))
    if status == Status.DRAFT and query is not None:
        assert reply.survey is not None and reply.question is not None
        markup = keyboards.for_question(reply.survey, reply.question, reply.draft)
        await _quietly(query.edit_message_reply_markup(markup))
        return
    if status in (Status.ASK, Status.FINISHED) and query is not None:
        await _mark_answered(query.message, reply)
    if status == Status.ASK:
        await send_question(context, chat_id, reply)
    elif status == Status.FINISHED:
        assert reply.survey is not None
        can_change = reply.survey.is_open(services(context).engine.clock())
        await context.bot.send_message(chat_id, texts.thanks(reply.survey, can_change))
    elif query is None:
        await context.bot.send_message(chat_id, _status_text(reply))


def _tap_text(reply: Reply) -> str | None:
    """The short note shown for a button tap (None: just stop the spinner)."""
    match reply.status:
        case Status.REFUSED:
            return reply.reason
        case Status.STALE:
            return texts.TAP_OLD_BUTTON
        case Status.CLOSED:
            return texts.TAP_CLOSED
        case Status.NOT_OPEN:
            return texts.TAP_NOT_OPEN
        case Status.NO_SURVEY | Status.CANCELLED:
            return texts.TAP_NOT_IN_SURVEY
        case Status.ALREADY_DONE:
            return texts.TAP_ALREADY_DONE
    return None


def _status_text(reply: Reply) -> str:
    """A message for replies that are not a question."""
    match reply.status:
        case Status.REFUSED:
            return reply.reason
        case Status.CANCELLED:
            return texts.CANCELLED
        case Status.CLOSED:
            return texts.CLOSED
        case Status.NOT_OPEN:
            assert reply.survey is not None
            return texts.not_open(reply.survey)
        case Status.ALREADY_DONE:
            return texts.already_done(reply.can_change)
    return texts.NOT_IN_SURVEY


async def present_start(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply) -> None:
    """Show the reply to starting a survey: the intro first, or a welcome back."""
    if reply.status == Status.ASK and reply.survey is not None:
        if reply.resumed:
            await send_question(context, chat_id, reply, prefix=texts.WELCOME_BACK)
        else:
            await context.bot.send_message(chat_id, texts.intro(reply.survey))
            await send_question(context, chat_id, reply)
    elif reply.status == Status.NO_SURVEY:
        await context.bot.send_message(chat_id, texts.UNKNOWN_SURVEY)
    else:
        await present(context, chat_id, reply)


# -- commands ---------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start lists the open surveys; /start SURVEY_ID (a deep link) starts one at once."""
    chat = update.effective_chat
    assert chat is not None
    engine = services(context).engine
    if context.args and organisers.is_invite_code(context.args[0]):
        from bot.telegram.organiser_handlers import join

        await join(update, context, context.args[0])
        return
    if context.args:
        reply = await engine.start(_resident(update, context), context.args[0].strip().lower()[:64])
        await present_start(context, chat.id, reply)
        return
    user = update.effective_user
    if user is not None:  # an organiser who had blocked the bot is back: digests resume
        await engine.store.write(lambda c: organisers.unblock(c, user.id))
    open_surveys = engine.open_surveys()
    if not open_surveys:
        await context.bot.send_message(chat.id, texts.NO_SURVEYS)
    else:
        await context.bot.send_message(chat.id, texts.PICK_SURVEY, reply_markup=keyboards.survey_list(open_surveys))


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help: how to answer, in three lines."""
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, texts.HELP)


async def back(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/back: the previous question again."""
    assert update.effective_chat is not None
    reply = await services(context).engine.back(_resident(update, context), update_id=update.update_id)
    await present(context, update.effective_chat.id, reply)


async def skip(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/skip: pass an optional question."""
    assert update.effective_chat is not None
    reply = await services(context).engine.skip(_resident(update, context), update_id=update.update_id)
    await present(context, update.effective_chat.id, reply)


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel: stop for now; answers are kept."""
    assert update.effective_chat is not None
    reply = await services(context).engine.cancel(_resident(update, context), update_id=update.update_id)
    await present(context, update.effective_chat.id, reply)


async def change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/change: walk a finished survey again, while it is open."""
    assert update.effective_chat is not None
    reply = await services(context).engine.change(_resident(update, context), update_id=update.update_id)
    if reply.status == Status.ASK:
        prefix = "Let's go through your answers again. Give each answer again, or a new one."
        await send_question(context, update.effective_chat.id, reply, prefix=prefix)
    elif reply.status == Status.NO_SURVEY:
        await context.bot.send_message(update.effective_chat.id, texts.CHANGE_NOTHING)
    else:
        await present(context, update.effective_chat.id, reply)


async def forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/forget: ask before deleting everything about the sender."""
    assert update.effective_chat is not None
    await context.bot.send_message(
        update.effective_chat.id, texts.FORGET_ASK, reply_markup=keyboards.forget_confirmation()
    )


async def unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, "Sorry, I don't know that command.\n" + texts.HELP)


# -- messages and buttons -------------------------------------------------------


async def typed_answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A typed message: the answer to the open question (number or text)."""
    chat, message = update.effective_chat, update.effective_message
    assert chat is not None and message is not None and message.text is not None
    reply = await services(context).engine.answer_typed(
        _resident(update, context), message.text, update_id=update.update_id
    )
    question = reply.question
    if reply.status == Status.REFUSED and isinstance(question, BUTTON_QUESTIONS):
        # Typing on a button question: show it again so the buttons are close at hand.
        await send_question(context, chat.id, reply, prefix="Please tap one of the buttons.")
        return
    await present(context, chat.id, reply)


async def not_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice notes...: a gentle line."""
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, texts.ONLY_TEXT)


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any inline button: decoded, checked against the database by the engine, then shown."""
    query = update.callback_query
    assert query is not None
    if not _is_private(update):
        await _quietly(query.answer(texts.TAP_GROUP))
        return
    data = callbacks.decode(query.data)
    if data is None:
        await _quietly(query.answer(texts.TAP_UNKNOWN))
        return
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    resident = _resident(update, context)
    engine = services(context).engine
    if data.kind == callbacks.FORGET:
        await _forget_answer(query, engine, resident, update.effective_user.id, confirmed=bool(data.value))  # type: ignore[union-attr]
        return
    if data.kind == callbacks.START:
        await _quietly(query.answer())
        await present_start(context, chat_id, await engine.start(resident, data.survey_id))
        return
    survey = engine.version(data.survey_id, data.version)
    question = data.question(survey) if survey else None
    if survey is None or question is None:
        known = data.survey_id in engine.surveys
        await _quietly(query.answer(texts.TAP_OLD_BUTTON if known else texts.TAP_UNKNOWN))
        return
    message_id = query.message.message_id if query.message is not None else None
    reply = await _button_action(engine, resident, survey, question, data, update.update_id, message_id)
    if reply is None:
        await _quietly(query.answer(texts.TAP_UNKNOWN))
        return
    await present(context, chat_id, reply, query=query)


async def _button_action(
    engine: Consultations,
    resident: str,
    survey: schema.Survey,
    question: schema.Question,
    data: callbacks.Callback,
    update_id: int,
    message_id: int | None,
) -> Reply | None:
    """The engine call a question button stands for (None: the button makes no sense)."""
    ids = {"update_id": update_id, "message_id": message_id}
    if data.kind == callbacks.SKIP:
        return await engine.skip(resident, survey.id, question.id, **ids)
    if data.kind == callbacks.DONE:
        return await engine.done(resident, survey.id, question.id, **ids)
    if isinstance(question, schema.ScaleQuestion):
        point = callbacks.scale_point(data, question)
        return None if point is None else await engine.answer(resident, survey.id, question.id, point, **ids)
    if not isinstance(question, (schema.ChoiceQuestion, schema.MultiChoiceQuestion)):
        return None
    if data.value is None or not 0 <= data.value < len(question.options):
        return None
    option = question.options[data.value].id
    if data.kind == callbacks.TOGGLE and isinstance(question, schema.MultiChoiceQuestion):
        return await engine.toggle(resident, survey.id, question.id, option, **ids)
    if data.kind == callbacks.ANSWER and isinstance(question, schema.ChoiceQuestion):
        return await engine.answer(resident, survey.id, question.id, option, **ids)
    return None


async def _forget_answer(
    query: CallbackQuery, engine: Consultations, resident: str, user_id: int, *, confirmed: bool
) -> None:
    await _quietly(query.answer())
    if not confirmed:
        await _quietly(query.edit_message_text(texts.FORGET_KEPT))
        return
    deleted = await engine.forget(resident)
    deleted += await engine.store.write(lambda c: organisers.forget_user(c, user_id))
    outcome = texts.FORGET_DONE if deleted else texts.FORGET_NOTHING
    # A quick second tap on Yes arrives before the buttons are gone: the message
    # may already say this, and Telegram refuses an edit that changes nothing.
    if query.message is None or getattr(query.message, "text", None) != outcome:
        await _quietly(query.edit_message_text(outcome))


async def group_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """In a group, only point people to a private chat (answers are never given in public).

    An organiser invite seen in a group is no longer secret: it is cancelled
    and the admins are told, before anyone in the group can use it.
    """
    chat = update.effective_chat
    assert chat is not None
    text = (update.effective_message.text or "") if update.effective_message else ""
    await _cancel_posted_invites(context, text)
    words = text.split()
    payload = words[1] if len(words) > 1 and callbacks.decode(f"{callbacks.START}|{words[1]}") else ""
    await context.bot.send_message(
        chat.id, texts.GROUP_CHAT, reply_markup=keyboards.private_chat_link(context.bot.username, payload)
    )


async def _cancel_posted_invites(context: ContextTypes.DEFAULT_TYPE, text: str) -> None:
    codes = {code for code in organisers.INVITE_IN_TEXT.findall(text) if organisers.is_invite_code(code)}
    if not codes:
        return
    app = services(context)
    now = app.engine.clock()
    cancelled = await app.engine.store.write(lambda c: [organisers.revoke(c, code, now) for code in sorted(codes)])
    for survey_id in sorted({s for s in cancelled if s is not None}):
        log.warning("an invite for %s was posted in a group; cancelled it", survey_id)
        for admin in sorted(app.admins):
            try:
                await context.bot.send_message(admin, texts.invite_posted_in_group(survey_id))
            except TelegramError as exc:
                log.warning("could not tell admin %s about the posted invite: %s", admin, exc)


async def on_dropped(update: Update, bot: Any) -> None:
    """Tell a resident who floods the bot to slow down (once in a while)."""
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(texts.TOO_FAST)
        elif update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE:
            await bot.send_message(update.effective_chat.id, texts.TOO_FAST)
    except (BadRequest, Forbidden):
        pass


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Report the error in the log and tell the resident, rather than going quiet."""
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or not _is_private(update):
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(texts.SOMETHING_WENT_WRONG)
        else:
            await context.bot.send_message(update.effective_chat.id, texts.SOMETHING_WENT_WRONG)  # type: ignore[union-attr]
    except Exception:  # the error may be Telegram itself being down: nothing more to do
        log.debug("could not tell the resident about the error", exc_info=True)
