"""A bare python-telegram-bot survey bot: the floor for bench/telegram_load.py.

    TELEGRAM_BOT_TOKEN=... TELEGRAM_API_BASE_URL=http://127.0.0.1:PORT/bot \\
        uv run python bench/bare_bot.py [surveys/millbrook-priorities.yaml]

It asks the same questions as consultbot, with the same texts and buttons, and
answers each tap the way a survey bot does (answer the callback, edit the question
to show the answer, send the next question with its inline keyboard; a multi-choice
tick only answers the callback and edits the keyboard; a typed answer gets the next
question). What it leaves out is everything that makes consultbot a product: no
database (each resident's place and answers live in a dict), no per-resident
ordering or flood control, no rate limiter, no pseudonyms, no checks against stale
buttons beyond "is this the current question".
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)

from models import survey as schema
from models.loader import load_surveys

DEFAULT_SURVEY = Path(__file__).resolve().parent.parent / "surveys" / "millbrook-priorities.yaml"
TICK, BOX, DONE, SKIP = "✅ ", "▫️ ", "Done ✔", "Skip this question"
BUTTONS = (schema.ChoiceQuestion, schema.MultiChoiceQuestion, schema.ScaleQuestion)


@dataclass
class Place:
    """Where one resident is: the open question, answers so far, multi-choice ticks."""

    index: int
    answers: dict[str, Any] = field(default_factory=dict)
    ticked: set[int] = field(default_factory=set)


class BareSurveyBot:
    """Handlers for one survey, state in memory."""

    def __init__(self, survey: schema.Survey) -> None:
        self.survey = survey
        self.questions = survey.questions
        self.places: dict[int, Place] = {}
        self.intro = f"<b>{escape(schema.localise(survey.title))}</b>\n{escape(schema.localise(survey.intro))}"
        self.thanks = escape(schema.localise(survey.thanks))

    # ---------------------------------------------------------------- rendering

    def _next_index(self, place: Place, after: int) -> int | None:
        for i in range(after + 1, len(self.questions)):
            if self.questions[i].is_visible(place.answers):
                return i
        return None

    def _text(self, place: Place) -> str:
        question = self.questions[place.index]
        shown = [q for q in self.questions if q.is_visible(place.answers)]
        number = next((n for n, q in enumerate(shown, 1) if q.id == question.id), len(shown))
        lines = [f"<i>Question {number} of {len(shown)}</i>", f"<b>{escape(schema.localise(question.text))}</b>"]
        if isinstance(question, schema.ScaleQuestion) and question.min_label and question.max_label:
            lines.append(
                f"{question.min} = {escape(schema.localise(question.min_label))}, "
                f"{question.max} = {escape(schema.localise(question.max_label))}"
            )
        if isinstance(question, schema.MultiChoiceQuestion):
            lines.append(f"<i>Tap up to {question.most}, then {DONE}.</i>")
        elif isinstance(question, schema.NumberQuestion):
            lines.append("<i>Type a whole number. Or /skip it.</i>")
        elif isinstance(question, schema.TextQuestion):
            lines.append("<i>Type your answer. Or /skip it.</i>")
        return "\n".join(lines)

    def _markup(self, place: Place) -> InlineKeyboardMarkup | None:
        q = self.questions[place.index]
        i = place.index
        rows: list[list[InlineKeyboardButton]] = []
        if isinstance(q, schema.ChoiceQuestion):
            rows = [
                [InlineKeyboardButton(schema.localise(o.label), callback_data=f"a|{i}|{n}")]
                for n, o in enumerate(q.options)
            ]
        elif isinstance(q, schema.MultiChoiceQuestion):
            rows = [
                [
                    InlineKeyboardButton(
                        (TICK if n in place.ticked else BOX) + schema.localise(o.label), callback_data=f"t|{i}|{n}"
                    )
                ]
                for n, o in enumerate(q.options)
            ]
            rows.append([InlineKeyboardButton(DONE, callback_data=f"d|{i}")])
        elif isinstance(q, schema.ScaleQuestion):
            for p in q.points:
                label = str(p)
                if p == q.min and q.min_label:
                    label = f"{p} · {schema.localise(q.min_label)}"
                elif p == q.max and q.max_label:
                    label = f"{p} · {schema.localise(q.max_label)}"
                rows.append([InlineKeyboardButton(label, callback_data=f"a|{i}|{p}")])
        if rows and not q.required:
            rows.append([InlineKeyboardButton(SKIP, callback_data=f"k|{i}")])
        return InlineKeyboardMarkup(rows) if rows else None

    async def _ask(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, place: Place) -> None:
        await context.bot.send_message(chat_id, self._text(place), reply_markup=self._markup(place))

    async def _advance(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, user_id: int, place: Place) -> None:
        """Send the next visible question, or the thanks at the end."""
        following = self._next_index(place, place.index)
        if following is None:
            self.places.pop(user_id, None)
            await context.bot.send_message(chat_id, self.thanks)
            return
        place.index, place.ticked = following, set()
        await self._ask(context, chat_id, place)

    # ----------------------------------------------------------------- handlers

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start: the intro, then the first question."""
        assert update.effective_user is not None and update.effective_chat is not None
        first = self._next_index(Place(-1), -1)
        assert first is not None
        place = self.places[update.effective_user.id] = Place(first)
        await context.bot.send_message(update.effective_chat.id, self.intro)
        await self._ask(context, update.effective_chat.id, place)

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A tap: answer it, then tick (edit the keyboard) or record, edit and ask the next."""
        query = update.callback_query
        assert query is not None and query.data is not None and update.effective_user is not None
        user_id = update.effective_user.id
        place = self.places.get(user_id)
        parts = query.data.split("|")
        if place is None or len(parts) < 2 or int(parts[1]) != place.index:
            await query.answer("That button is from an earlier question.")
            return
        question = self.questions[place.index]
        kind = parts[0]
        await query.answer()
        if kind == "t":
            place.ticked ^= {int(parts[2])}
            await query.edit_message_reply_markup(self._markup(place))
            return
        if kind == "k":
            value: Any = None
            shown = "Skipped"
        elif kind == "d":
            assert isinstance(question, schema.MultiChoiceQuestion)
            value = [question.options[n].id for n in sorted(place.ticked)]
            shown = ", ".join(schema.localise(question.options[n].label) for n in sorted(place.ticked))
        elif isinstance(question, schema.ChoiceQuestion):
            option = question.options[int(parts[2])]
            value, shown = option.id, schema.localise(option.label)
        else:
            value = int(parts[2])
            shown = str(value)
        place.answers[question.id] = value
        await query.edit_message_text(f"{escape(schema.localise(question.text))}\n✓ <b>{escape(shown)}</b>")
        assert update.effective_chat is not None
        await self._advance(context, update.effective_chat.id, user_id, place)

    async def typed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A typed answer to a number or text question: record it, ask the next."""
        assert update.effective_user is not None and update.effective_chat is not None
        message = update.effective_message
        assert message is not None and message.text is not None
        chat_id = update.effective_chat.id
        place = self.places.get(update.effective_user.id)
        if place is None:
            await context.bot.send_message(chat_id, "You are not answering a survey right now. Send /start to begin.")
            return
        question = self.questions[place.index]
        if isinstance(question, BUTTONS):
            await context.bot.send_message(
                chat_id, "Please tap one of the buttons.\n\n" + self._text(place), reply_markup=self._markup(place)
            )
            return
        place.answers[question.id] = (
            float(message.text) if isinstance(question, schema.NumberQuestion) else message.text
        )
        await self._advance(context, chat_id, update.effective_user.id, place)


def build(token: str, base_url: str, survey: schema.Survey) -> Application:
    """The bare Application: no rate limiter, updates handled concurrently."""
    bare = BareSurveyBot(survey)
    application = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .concurrent_updates(256)
        .connection_pool_size(int(os.environ.get("BARE_POOL_SIZE", "256")))  # PTB's default: 256
        .build()
    )
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("start", bare.start, filters=private))
    application.add_handler(CallbackQueryHandler(bare.button))
    application.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, bare.typed))
    return application


def main() -> None:
    """Load the survey and poll until SIGTERM / Ctrl-C."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SURVEY
    result = load_surveys([path])
    if not result.surveys:
        sys.exit(f"bare_bot: no survey in {path}: {result.problems}")
    survey = next(iter(result.surveys.values()))
    application = build(os.environ["TELEGRAM_BOT_TOKEN"], os.environ["TELEGRAM_API_BASE_URL"], survey)
    application.run_polling(allowed_updates=Update.ALL_TYPES, stop_signals=(signal.SIGINT, signal.SIGTERM))


if __name__ == "__main__":
    main()
