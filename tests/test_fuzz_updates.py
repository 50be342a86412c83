"""Fuzzing residents' updates: 10,000+ through the engine as the handlers drive it, 1,000+ through the real bot.

The engine batch maps each generated update to exactly the engine call the
chat handler makes for it (bot/telegram/handlers.py), against a real SQLite
file, and checks invariants after every step:

* the reply is one the handlers know how to show (or a deliberate silence);
* a reply never carries another resident's response or answers;
* every stored answer is valid for its question, visible under the survey's
  conditions, and None only for an optional question;
* the number of completed responses matches what the residents were told;
* Telegram delivering an update again changes nothing.

Counts of updates processed are printed at the end of the module (see with -s,
or in the terminal: they are written with capture disabled).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot import answers as rules
from bot import flow, organisers
from bot.engine import Consultations, Reply, Status
from bot.pseudonym import Pseudonymiser
from bot.store import Store
from bot.telegram import callbacks, handlers, keyboards
from models import survey as schema
from models.loader import load_survey_file
from tests.chat import at, running_bot
from tests.conftest import Clock
from tests.fakebot import FakeTelegram

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
MILLBROOK = ROOT / "surveys" / "millbrook-priorities.yaml"
ELM_PARK = """\
id: elm-park
title: Elm Park
questions:
  - id: area
    type: choice
    text: Where do you live?
    options: [North, South]
  - id: priorities
    type: multi_choice
    text: What matters?
    options: [Parks, Buses, Shops]
    min_choices: 2
    required: false
  - id: idea
    type: text
    text: One idea?
    max_length: 50
  - id: years
    type: number
    text: Years here?
    integer: true
    min: -5
    max: 5
"""
NOW = dt.datetime(2027, 2, 1, 12, 0, tzinfo=dt.UTC)  # both surveys are open
RESIDENTS = [7_000_001, 7_000_002, 7_000_003, 7_000_004]
COUNTS = {"engine_updates": 0, "engine_replays": 0, "engine_runs": 0, "bot_updates": 0, "bot_runs": 0}
SHOWN = {
    Status.ASK,
    Status.DRAFT,
    Status.FINISHED,
    Status.REFUSED,
    Status.STALE,
    Status.ALREADY_DONE,
    Status.CANCELLED,
    Status.NO_SURVEY,
    Status.DUPLICATE,
}

# -- what residents send ----------------------------------------------------------

JUNK_TEXT = [
    "",
    " ",
    "\x00",
    "\x00\x00 x",
    "<b>bold</b> & <i>",
    "'; DROP TABLE answer; --",
    "\u202eevil rtl\u202c",
    "zero\u200bwidth\u200d",
    "🏳️‍🌈👨‍👩‍👧‍👦" * 50,
    "x" * 4096,
    "y" * 100_000,
    "١٢",
    "٣",
    "12",
    "3",
    "-3",
    "0",
    "5",
    "1e309",
    "nan",
    "inf",
    "-0",
    "1,000",
    "2.5",
    " 4 ",
    "1 2",
    "99999999999999999999999999",
    "0x10",
    "north",
    "option-0",
]
COMMANDS = [
    "/start",
    "/back",
    "/skip",
    "/cancel",
    "/change",
    "/help",
    "/forget",
    "/results",
    "/export",
    "/leave",
    "/nope",
]
JUNK_ARGS = [
    "",
    "millbrook-priorities",
    "MILLBROOK-PRIORITIES ",
    "elm-park",
    "elm-park extra words",
    "../../etc/passwd",
    "join_" + "A" * 50,
    "join_short",
    "x" * 300,
    "' OR 1=1 --",
    "<b>",
    "🏳️‍🌈",
    "\u202e",
]

text = st.one_of(st.sampled_from(JUNK_TEXT), st.text(max_size=60))
command = st.tuples(
    st.sampled_from(COMMANDS),
    st.one_of(st.sampled_from(JUNK_ARGS), st.text(max_size=20)),
    st.sampled_from(["", "@consultbot_test_bot", "@someone_else"]),
).map(lambda t: f"{t[0]}{t[2]} {t[1]}".rstrip() if t[1] else f"{t[0]}{t[2]}")
forged = st.builds(
    lambda kind, survey, version, index, value: "|".join(
        [kind, survey, version, str(index)] + ([] if value is None else [str(value)])
    ),
    st.sampled_from(["a", "t", "d", "k", "s", "x"]),
    st.sampled_from(["millbrook-priorities", "elm-park", "nope", ""]),
    st.sampled_from(["0000", "abcd", "ffff"]),
    st.integers(-1, 999),
    st.one_of(st.none(), st.integers(-999, 999)),
)
tap_data = st.one_of(
    st.sampled_from(["f|yes", "f|no", "s|millbrook-priorities", "s|elm-park", "s|", "s|nope", ""]),
    forged,
    st.text(max_size=80),
)
update = st.one_of(
    st.tuples(st.just("tap"), st.integers(0, 10_000)),  # a button on the latest question
    st.tuples(st.just("tap"), st.integers(0, 10_000)),
    st.tuples(st.just("stale"), st.integers(0, 10_000)),  # a button on an older message
    st.tuples(st.just("press"), tap_data),  # forged or random data
    st.tuples(st.just("text"), text),
    st.tuples(st.just("command"), command),
    st.tuples(st.just("good"), st.integers(0, 10_000)),  # a sensible typed answer
    st.tuples(st.just("again"), st.none()),  # Telegram delivers the last update again
    st.tuples(st.sampled_from(["edit", "group", "group_command", "sticker", "channel"]), text),
)
steps = st.lists(st.tuples(st.sampled_from(range(len(RESIDENTS))), update), min_size=50, max_size=60)


# -- a resident's phone, as far as the engine is concerned ------------------------------


class Phone:
    """The buttons a resident can see, and the message ids of the questions on screen."""

    def __init__(self, user_id: int, pseudonym: str):
        self.user_id = user_id
        self.pseudonym = pseudonym
        self.keyboards: list[tuple[int, list[str]]] = []  # (message id, callback data), oldest first
        self.last: tuple[str, Any, int] | None = None  # the last update handled: kind, payload, update id
        self.told_done: set[str] = set()  # surveys the resident was told are complete


class Harness:
    def __init__(self, db: Path, engine: Consultations, pseudonymise: Pseudonymiser):
        self.db = db
        self.engine = engine
        self.phones = [Phone(user, pseudonymise(user)) for user in RESIDENTS]
        self.by_pseudonym = {p.pseudonym: p for p in self.phones}
        self.update_id = 1000
        self.message_id = 1
        self.read = sqlite3.connect(f"file:{db}?mode=ro", uri=True)

    def next_update(self) -> int:
        self.update_id += 1
        return self.update_id

    async def show(self, phone: Phone, reply: Reply, *, tap: bool = False) -> None:
        """What `present` does that the engine sees: a new question message is remembered."""
        if reply.status == Status.DRAFT and tap:
            assert reply.survey is not None and reply.question is not None
            markup = keyboards.for_question(reply.survey, reply.question, reply.draft)
            if markup is not None and phone.keyboards:
                message_id = phone.keyboards[-1][0]
                phone.keyboards[-1] = (message_id, [b.callback_data for row in markup.inline_keyboard for b in row])
            return
        asks = reply.status == Status.ASK or (reply.status == Status.REFUSED and not tap)
        if asks and reply.question is not None and reply.survey is not None:
            self.message_id += 1
            markup = keyboards.for_question(reply.survey, reply.question, reply.draft)
            if markup is not None and reply.response_id is not None:
                data = [b.callback_data for row in markup.inline_keyboard for b in row]
                phone.keyboards.append((self.message_id, data))
                if reply.status == Status.ASK or isinstance(reply.question, handlers.BUTTON_QUESTIONS):
                    await self.engine.remember_message(reply.response_id, reply.question.id, self.message_id)
        if reply.status == Status.FINISHED and reply.survey is not None:
            phone.told_done.add(reply.survey.id)

    # -- the handlers' engine calls ----------------------------------------------------

    async def command(self, phone: Phone, text: str, update_id: int) -> Reply | None:
        words = text.split()
        name = words[0][1:].split("@")[0] if words else ""
        if "@" in words[0] and not words[0].endswith("@consultbot_test_bot"):
            return None  # a command for another bot: PTB's CommandHandler passes it on (typed text)
        args = words[1:]
        engine, who = self.engine, phone.pseudonym
        if name == "start":
            if args and organisers.is_invite_code(args[0]):
                return None  # an organiser's invite: not the resident's conversation
            if args:
                reply = await engine.start(who, args[0].strip().lower()[:64])
                return reply
            engine.open_surveys()
            return None
        if name == "back":
            return await engine.back(who, update_id=update_id)
        if name == "skip":
            return await engine.skip(who, update_id=update_id)
        if name == "cancel":
            return await engine.cancel(who, update_id=update_id)
        if name == "change":
            return await engine.change(who, update_id=update_id)
        if name == "forget":
            phone.keyboards.append((self.message_id + 1, [callbacks.for_forget(True), callbacks.for_forget(False)]))
            self.message_id += 1
        return None  # /help, /forget (asks first), organiser commands, unknown commands: a fixed message

    async def press(self, phone: Phone, data: str, message_id: int, update_id: int) -> Reply | None:
        decoded = callbacks.decode(data)
        if decoded is None:
            return None
        engine, who = self.engine, phone.pseudonym
        if decoded.kind == callbacks.FORGET:
            if decoded.value:
                await engine.forget(who)
                phone.told_done.clear()
                self.assert_forgotten(phone)
            return None
        if decoded.kind == callbacks.START:
            return await engine.start(who, decoded.survey_id)
        survey = engine.version(decoded.survey_id, decoded.version)
        question = decoded.question(survey) if survey else None
        if survey is None or question is None:
            return None
        return await handlers._button_action(engine, who, survey, question, decoded, update_id, message_id)

    async def handle(self, phone: Phone, kind: str, payload: Any) -> None:
        update_id = self.next_update()
        if kind == "again":
            if phone.last is None:
                return
            kind, payload, update_id = phone.last
            COUNTS["engine_replays"] += 1
            before = self.snapshot()
            await self.dispatch(phone, kind, payload, update_id, replay=True)
            if kind != "press_at" or not payload[0].startswith("f|"):
                assert self.snapshot() == before, f"update {update_id} delivered again changed the database"
            return
        phone.last = (kind, payload, update_id)
        await self.dispatch(phone, kind, payload, update_id)

    async def dispatch(self, phone: Phone, kind: str, payload: Any, update_id: int, *, replay: bool = False) -> None:
        reply: Reply | None = None
        tap = False
        if kind == "good":
            current = await self.engine.current(phone.pseudonym)
            if isinstance(current.question, (schema.NumberQuestion, schema.TextQuestion)):
                kind, payload = "text", good_typed(current.question, payload)
            else:
                kind = "tap"  # buttons are for taps
        if kind in ("tap", "stale"):
            if not phone.keyboards:
                return  # nothing on screen to tap: no update
            index = -1 if kind == "tap" else payload % len(phone.keyboards)
            message_id, data = phone.keyboards[index]
            payload = data[payload % len(data)]
            phone.last = ("press_at", (payload, message_id), update_id)
            reply = await self.press(phone, payload, message_id, update_id)
            tap = True
        elif kind == "press":
            message_id = phone.keyboards[-1][0] if phone.keyboards else 1
            phone.last = ("press_at", (payload, message_id), update_id)
            reply = await self.press(phone, payload, message_id, update_id)
            tap = True
        elif kind == "press_at":
            reply = await self.press(phone, payload[0], payload[1], update_id)
            tap = True
        elif kind == "command":
            reply = await self.command(phone, payload, update_id)
            if reply is None and "@" in payload.split()[0] and not payload.split()[0].endswith("_test_bot"):
                reply = await self.engine.answer_typed(phone.pseudonym, payload, update_id=update_id)
        elif kind == "text":
            reply = await self.engine.answer_typed(phone.pseudonym, payload, update_id=update_id)
        # edits, group messages, stickers and channel posts never reach the engine: deliberate silence
        COUNTS["engine_updates"] += 1
        if reply is None:
            return
        self.check_reply(phone, reply, update_id, replay)
        if not replay:
            await self.show(phone, reply, tap=tap)
        self.check_database()

    # -- invariants ------------------------------------------------------------------------

    def owner(self, response_id: int) -> str | None:
        row = self.read.execute(
            "SELECT p.pseudonym FROM response r JOIN respondent p ON p.id = r.respondent_id WHERE r.id = ?",
            (response_id,),
        ).fetchone()
        return row[0] if row else None

    def check_reply(self, phone: Phone, reply: Reply, update_id: int, replay: bool) -> None:
        assert reply.status in SHOWN or reply.status in (Status.NOT_OPEN, Status.CLOSED), reply
        if reply.status == Status.DUPLICATE:
            assert replay, f"fresh update {update_id} was taken for one handled before"
        if reply.response_id is not None:
            owner = self.owner(reply.response_id)
            assert owner == phone.pseudonym, f"resident {phone.user_id} was shown response {reply.response_id}"
        if reply.status in (Status.ASK, Status.DRAFT, Status.REFUSED, Status.STALE):
            assert reply.question is not None and reply.survey is not None, reply
            assert reply.response_id is not None
            stored = self.read.execute(
                "SELECT value FROM answer WHERE response_id = ? AND question_id = ?",
                (reply.response_id, reply.question.id),
            ).fetchone()
            expected = json.loads(stored[0]) if stored and stored[0] is not None else None
            assert reply.current_answer == expected, "the reply shows an answer that is not this resident's"
            assert 1 <= reply.number <= reply.total, reply
            for option in reply.draft:
                assert isinstance(reply.question, schema.MultiChoiceQuestion)
                assert reply.question.option(option) is not None
        if reply.status == Status.REFUSED:
            assert reply.reason

    def snapshot(self) -> tuple[Any, ...]:
        responses = self.read.execute(
            "SELECT id, respondent_id, survey_id, status, current_question, draft, completed_at FROM response"
        ).fetchall()
        answers = self.read.execute("SELECT response_id, question_id, value FROM answer ORDER BY 1, 2").fetchall()
        return tuple(sorted(responses)), tuple(answers)

    def check_database(self) -> None:
        surveys = self.engine.surveys
        rows = self.read.execute(
            "SELECT r.id, r.survey_id, r.status, r.current_question, a.question_id, a.value, p.pseudonym"
            " FROM response r JOIN respondent p ON p.id = r.respondent_id"
            " LEFT JOIN answer a ON a.response_id = r.id"
        ).fetchall()
        answers: dict[int, dict[str, Any]] = {}
        meta: dict[int, tuple[str, str, str | None, str]] = {}
        for response_id, survey_id, status, current, question_id, value, pseudonym in rows:
            meta[response_id] = (survey_id, status, current, pseudonym)
            answers.setdefault(response_id, {})
            if question_id is not None:
                answers[response_id][question_id] = None if value is None else json.loads(value)
        completed: dict[str, set[str]] = {}
        per_resident: dict[tuple[str, str], int] = {}
        for response_id, (survey_id, status, current, pseudonym) in meta.items():
            assert pseudonym in self.by_pseudonym, "a response for nobody who took part"
            key = (pseudonym, survey_id)
            per_resident[key] = per_resident.get(key, 0) + 1
            assert per_resident[key] == 1, f"two responses for one resident in {survey_id}"
            survey = surveys[survey_id]
            given_answers = answers[response_id]
            for question_id, value in given_answers.items():
                question = survey.question(question_id)
                assert question is not None, f"answer to unknown question {question_id}"
                if value is None:
                    assert not question.required, f"required question {question_id} stored as skipped"
                else:
                    assert rules.validate(question, value) == value, (question_id, value)
            assert flow.hidden_answers(survey, given_answers) == [], "answers kept for hidden questions"
            if status == "completed":
                completed.setdefault(pseudonym, set()).add(survey_id)
                for question in flow.visible(survey, given_answers):
                    if question.required:
                        assert question.id in given_answers, f"completed without required {question.id}"
            elif status == "in_progress":
                assert current is not None and survey.question(current) is not None
        for phone in self.phones:
            told = phone.told_done
            actual = completed.get(phone.pseudonym, set())
            assert actual <= told, f"{phone.user_id}: completed {actual - told} without being thanked"
        total = sum(len(v) for v in completed.values())
        finished_and_kept = sum(
            1 for (_, status, _, _) in meta.values() if status == "completed"
        )  # the count a digest would report
        assert total == finished_and_kept

    def assert_forgotten(self, phone: Phone) -> None:
        row = self.read.execute("SELECT count(*) FROM respondent WHERE pseudonym = ?", (phone.pseudonym,)).fetchone()
        assert row[0] == 0, "/forget left the respondent behind"


def good_typed(question: schema.Question, seed: int) -> str:
    if isinstance(question, schema.NumberQuestion):
        low = int(question.min) if question.min is not None else 0
        high = int(question.max) if question.max is not None else low + 10
        return str(low + seed % (high - low + 1))
    return f"idea {seed} ✓"


def load_surveys_for_test(folder: Path) -> dict[str, schema.Survey]:
    elm = folder / "elm-park.yaml"
    elm.write_text(ELM_PARK, encoding="utf-8")
    return {s.id: s for s in (load_survey_file(MILLBROOK), load_survey_file(elm))}


async def run_engine(db: Path, surveys: dict[str, schema.Survey], plan: list[tuple[int, tuple[str, Any]]]) -> None:
    store = Store(f"sqlite:///{db}")
    try:
        engine = Consultations(store, surveys, clock=Clock(NOW))
        harness = Harness(db, engine, Pseudonymiser(b"fuzz-secret-" + b"x" * 20))
        for phone in harness.phones[:2]:
            await harness.show(phone, await engine.start(phone.pseudonym, "millbrook-priorities"))
        for who, (kind, payload) in plan:
            await harness.handle(harness.phones[who], kind, payload)
        # whatever happened, the count of completed responses is what residents were told
        harness.check_database()
        harness.read.close()
    finally:
        await store.aclose()


@settings(
    max_examples=int(os.environ.get("FUZZ_ENGINE_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(plan=steps)
def test_generated_updates_keep_the_engine_consistent(migrated_template: Path, plan: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        surveys = load_surveys_for_test(Path(folder))
        db = Path(folder) / "db.sqlite"
        shutil.copy(migrated_template, db)
        asyncio.run(run_engine(db, surveys, plan))
        COUNTS["engine_runs"] += 1


# -- the real Application and the fake Bot API ----------------------------------------


BOT_EVENTS = st.lists(
    st.tuples(
        st.sampled_from(range(3)),
        st.one_of(
            st.tuples(st.just("tap"), st.integers(0, 100)),
            st.tuples(st.just("tap"), st.integers(0, 100)),
            st.tuples(st.just("stale"), st.integers(0, 100)),
            st.tuples(st.just("press"), tap_data),
            st.tuples(st.just("text"), text),
            st.tuples(st.just("command"), command),
            st.tuples(st.just("idea"), st.just("")),
            st.tuples(st.sampled_from(["edit", "group", "sticker"]), text),
        ),
    ),
    min_size=100,
    max_size=100,
)
BOT_USERS = [5_550_000_111, 5_550_000_222, 5_550_000_333]
MARKS = ["alpha", "bravo", "charlie"]


async def play_bot(db_url: str, surveys: dict[str, schema.Survey], events: list[Any]) -> tuple[FakeTelegram, list[str]]:
    fake = FakeTelegram()
    errors: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.ERROR:
                errors.append(record.getMessage() + repr(record.exc_info))

    catcher = Catch()
    logging.getLogger().addHandler(catcher)
    try:
        async with running_bot(fake, db_url, surveys, Clock(at(2027, 2, 1))) as bot:
            # One update at a time goes faster than a person taps; the flood guard (3 a second
            # after a burst of 10) would make each wait ~0.3 s. Everything else stays as deployed.
            processor = bot.app.update_processor
            processor.burst, processor.per_second = 10_000, 10_000.0  # type: ignore[attr-defined]
            for user in BOT_USERS:
                await bot.resident(user).says("/start millbrook-priorities")
            for who, (kind, value) in events:
                user = BOT_USERS[who]
                mark = fake.mark(user)
                expects_reply = True
                if kind == "text":
                    fake.user_sends(user, value or ".")
                elif kind == "command":
                    fake.user_sends(user, value)
                elif kind == "idea":
                    # a marker only this resident types: no one else may ever be shown it
                    fake.user_sends(user, f"secret-of-{MARKS[who]}")
                elif kind in ("tap", "stale"):
                    with_buttons = [m for m in fake.messages(user) if m.buttons]
                    if not with_buttons:
                        continue
                    target = with_buttons[-1] if kind == "tap" else with_buttons[value % len(with_buttons)]
                    labels = [t for row in target.buttons for t, _ in row]
                    fake.user_presses_button(user, target, labels[value % len(labels)])
                elif kind == "press":
                    message = fake.last_message(user)
                    fake.user_presses(user, message.message_id if message else 1, value)
                elif kind == "sticker":
                    fake.user_sends_sticker(user)
                elif kind == "group":
                    fake.user_sends(user, value or "hi", chat_type="group", chat_id=-4242)
                    expects_reply = False
                else:
                    sent_update = fake.user_sends(user, "first thought")
                    await fake.wait_for_reply(user, after=mark)
                    mark = fake.mark(user)
                    fake.user_edits(user, sent_update["message"]["message_id"], value or "second thought")
                    expects_reply = False
                COUNTS["bot_updates"] += 1
                if expects_reply:
                    await fake.wait_for_reply(user, after=mark)
                await fake.wait_until_idle(quiet=0.005)
            await fake.wait_until_idle(quiet=0.05)
    finally:
        logging.getLogger().removeHandler(catcher)
    return fake, errors


@settings(
    max_examples=int(os.environ.get("FUZZ_BOT_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    # a run takes ~1 s, so shrinking a failure could take many minutes: report it as generated
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(events=BOT_EVENTS)
def test_generated_updates_through_the_real_bot(migrated_template: Path, events: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        surveys = load_surveys_for_test(Path(folder))
        db = Path(folder) / "db.sqlite"
        shutil.copy(migrated_template, db)
        fake, errors = asyncio.run(play_bot(f"sqlite:///{db}", surveys, events))
        COUNTS["bot_runs"] += 1
        assert errors == [], errors
        # "message is not modified": a second tap on /forget's Yes (see test_forget_yes_tapped_twice...)
        fake.assert_no_errors(ignore=["query is too old", "message is not modified"])
        for user in BOT_USERS:
            seen = "\n".join(e.text or "" for e in fake.transcript(user))
            for other in BOT_USERS:
                if other != user:
                    assert f"secret-of-{MARKS[BOT_USERS.index(other)]}" not in seen, (
                        f"{user} was shown {other}'s answer"
                    )
        with sqlite3.connect(db) as c:
            rows = c.execute(
                "SELECT r.survey_id, a.question_id, a.value FROM answer a JOIN response r ON r.id = a.response_id"
            ).fetchall()
        for survey_id, question_id, value in rows:
            question = surveys[survey_id].question(question_id)
            assert question is not None
            if value is not None:
                decoded = json.loads(value)
                assert rules.validate(question, decoded) == decoded
        data = db.read_bytes() + (Path(f"{db}-wal").read_bytes() if Path(f"{db}-wal").exists() else b"")
        for user in BOT_USERS:
            assert str(user).encode() not in data


async def forget_twice(db_url: str, surveys: dict[str, schema.Survey]) -> FakeTelegram:
    fake = FakeTelegram()
    async with running_bot(fake, db_url, surveys, Clock(at(2027, 2, 1))) as bot:
        person = bot.resident(BOT_USERS[0])
        await person.says("/forget")
        confirm = person.last_with_buttons()
        yes = confirm.buttons[0][0][1]
        await person.presses(confirm.message_id, yes)
        await person.presses(confirm.message_id, yes)  # the same tap again (a double tap)
        await fake.wait_until_idle(quiet=0.05)
    return fake


def test_forget_yes_tapped_twice_makes_no_refused_call(migrated_template: Path, tmp_path: Path) -> None:
    surveys = load_surveys_for_test(tmp_path)
    db = tmp_path / "db.sqlite"
    shutil.copy(migrated_template, db)
    fake = asyncio.run(forget_twice(f"sqlite:///{db}", surveys))
    fake.assert_no_errors()


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request: pytest.FixtureRequest) -> Any:
    yield
    capture = request.config.pluginmanager.getplugin("capturemanager")
    line = (
        f"\nfuzz updates: {COUNTS['engine_updates']} engine updates ({COUNTS['engine_replays']} delivered again)"
        f" in {COUNTS['engine_runs']} runs;"
        f" {COUNTS['bot_updates']} bot updates in {COUNTS['bot_runs']} runs"
    )
    if capture is not None:
        with capture.global_and_fixture_disabled():
            print(line)
    else:
        print(line)
