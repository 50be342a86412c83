"""Every word residents read, in one place: short, plain and friendly.

Residents may have old phones, little patience and no idea what a bot is,
so each line aims at a reading age of about nine. Survey text comes from
admins and is escaped for Telegram's HTML.
"""

from __future__ import annotations

from html import escape

from models import survey as schema

HELP = (
    "Tap a button or type your answer.\n"
    "/back goes back one question, /skip skips a question you don't have to answer.\n"
    "/cancel stops for now (your answers are kept), /start carries on."
)
NO_SURVEYS = "There are no surveys open right now. Please check back soon."
PICK_SURVEY = "Hello! Which survey would you like to answer?"
NOT_IN_SURVEY = "You are not answering a survey right now. Send /start to begin."
CANCELLED = "Stopped. Your answers so far are saved. Send /start when you want to carry on."
WELCOME_BACK = "Welcome back! Let's carry on where you left off."
CLOSED = "Sorry, this survey has closed. Thank you for your interest."
UNKNOWN_SURVEY = "Sorry, I can't find that survey. Send /start to see the open ones."
ONLY_TEXT = "Sorry, I can only read typed answers and button taps."
TOO_FAST = "Please slow down a little. I'll get to your messages in a moment."
SOMETHING_WENT_WRONG = "Sorry, something went wrong on our side. Please try again in a minute."
GROUP_CHAT = "Hello! I ask short surveys in a private chat. Tap below to talk to me."
GROUP_BUTTON = "Talk to me privately"


def invite_posted_in_group(survey_id: str) -> str:
    survey_id = escape(survey_id)
    return (
        f"The invite for <b>{survey_id}</b> was posted in a group, so I cancelled it. "
        f"Make a new one with: <code>consultbot invite {survey_id}</code>"
    )


CHANGE_NOTHING = "You have not finished a survey that is still open, so there is nothing to change."

FORGET_ASK = (
    "This will delete everything I hold about you: all your answers to every survey.\n"
    "It cannot be undone. Are you sure?"
)
FORGET_YES = "Yes, delete it all"
FORGET_NO = "No, keep my answers"
FORGET_DONE = "Done. Everything I held about you has been deleted."
FORGET_NOTHING = "Done. I was not holding anything about you."
FORGET_KEPT = "OK, nothing was deleted."

# Short answers to button taps (Telegram shows them for a moment at the top).
TAP_OLD_BUTTON = "That button is from an earlier question."
TAP_UNKNOWN = "Sorry, that button doesn't work any more."
TAP_CLOSED = "Sorry, this survey has closed."
TAP_NOT_IN_SURVEY = "This survey isn't running for you now. Send /start to begin."
TAP_NOT_OPEN = "This survey is not open yet."
TAP_ALREADY_DONE = "You have already answered. Send /change to change your answers."
TAP_GROUP = "Please talk to me in a private chat."

SHORT_SCALE = 5  # up to this many points, a scale is a column of buttons with the end labels on them
DONE_BUTTON = "Done ✔"
SKIP_BUTTON = "Skip this question"
TICK = "✅ "
BOX = "▫️ "


def already_done(can_change: bool) -> str:
    if can_change:
        return "You have already answered this survey. Thank you!\nSend /change if you want to change your answers."
    return "You have already answered this survey. Thank you!"


def not_open(survey: schema.Survey) -> str:
    if survey.opens is None:
        return "This survey is not open yet."
    when = survey.opens
    hour = when.strftime("%I:%M%p").lstrip("0").replace(":00", "").lower()
    return f"This survey opens on {when.day} {when:%B %Y} at {hour}. Please come back then!"


def intro(survey: schema.Survey) -> str:
    title = f"<b>{escape(schema.localise(survey.title))}</b>"
    body = escape(schema.localise(survey.intro)) if survey.intro else ""
    return f"{title}\n{body}".strip()


def thanks(survey: schema.Survey, can_change: bool) -> str:
    text = escape(schema.localise(survey.thanks))
    return f"{text}\n\nSend /change if you want to change your answers." if can_change else text


def how_to_answer(question: schema.Question) -> str:
    """One short line under the question saying how to answer it."""
    if isinstance(question, schema.MultiChoiceQuestion):
        if question.most < len(question.options):
            return f"Tap up to {question.most}, then {DONE_BUTTON}."
        return f"Tap all that apply, then {DONE_BUTTON}."
    if isinstance(question, schema.NumberQuestion):
        return "Type a whole number." if question.integer else "Type a number."
    if isinstance(question, schema.TextQuestion):
        return "Type your answer."
    return ""


def question(question_: schema.Question, number: int, total: int, current_answer: str | None) -> str:
    lines = [f"<i>Question {number} of {total}</i>", f"<b>{escape(schema.localise(question_.text))}</b>"]
    long_scale = isinstance(question_, schema.ScaleQuestion) and len(question_.points) > SHORT_SCALE
    if long_scale and (question_.min_label or question_.max_label):  # type: ignore[union-attr]
        low = f"{question_.min} = {escape(schema.localise(question_.min_label))}" if question_.min_label else ""
        high = f"{question_.max} = {escape(schema.localise(question_.max_label))}" if question_.max_label else ""
        lines.append(", ".join(p for p in (low, high) if p))
    hint = how_to_answer(question_)
    if not question_.required and not isinstance(question_, (schema.ChoiceQuestion, schema.ScaleQuestion)):
        hint = f"{hint} Or /skip it.".strip()
    if hint:
        lines.append(f"<i>{escape(hint)}</i>")
    if current_answer is not None:
        shown = current_answer if len(current_answer) <= 200 else current_answer[:199].rstrip() + "…"
        lines.append(f"Your answer was: {escape(shown)}")
    return "\n".join(lines)


def answered(question_: schema.Question, answer: str) -> str:
    """The question message after it is answered: the question, then the answer, no buttons."""
    return f"{escape(schema.localise(question_.text))}\n✓ <b>{escape(answer)}</b>"
