"""Crash safety under load: SIGKILL at random moments while residents answer; nothing lost or doubled.

Residents answer through the fake Telegram over real HTTP; the bot is a real
`consultbot run` process, killed with SIGKILL at random moments and started
again. After each kill, every answer the bot acknowledged (by sending the
next question) must be in the database. Telegram delivers again the updates
the dead bot had not confirmed; they must not be stored twice (two text
questions in a row make a repeated text visible as a wrong answer).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.pseudonym import Pseudonymiser
from tests.fakebot import FakeTelegram, WaitTimeout
from tests.test_restart import bot_process

SURVEY = """\
id: elm-park
title: Elm Park
questions:
  - id: area
    type: choice
    text: Where do you live?
    options: [North, South]
  - id: priorities
    type: multi_choice
    text: What matters most?
    options: [Youth club, Parks]
  - id: idea
    type: text
    text: One idea?
  - id: other
    type: text
    text: Anything else?
  - id: years
    type: number
    text: How many years have you lived here?
"""
QUESTION_IDS = {
    "Where do you live?": "area",
    "What matters most?": "priorities",
    "One idea?": "idea",
    "Anything else?": "other",
    "How many years have you lived here?": "years",
}
RESIDENTS = 12
KILLS = 4

pytestmark = pytest.mark.slow


def expected(uid: int) -> dict[str, object]:
    return {
        "area": "north" if uid % 2 else "south",
        "priorities": ["parks"],
        "idea": f"idea from {uid}",
        "other": f"other from {uid}",
        "years": uid % 50,
    }


@dataclass
class Walker:
    """One resident answering whatever question the bot last sent them."""

    uid: int
    acknowledged: set[str] = field(default_factory=set)
    finished: bool = False

    def current_question(self, fake: FakeTelegram) -> tuple[str, object] | None:
        for message in reversed(fake.messages(self.uid)):
            text = message.text or ""
            if text.startswith("Thank you"):
                return None
            for line in text.splitlines():
                if line in QUESTION_IDS:
                    return QUESTION_IDS[line], message
        return None

    async def step(self, fake: FakeTelegram) -> None:
        found = self.current_question(fake)
        if found is None:
            self.finished = any((m.text or "").startswith("Thank you") for m in fake.messages(self.uid))
            if not self.finished:
                mark = fake.mark(self.uid)
                fake.user_sends(self.uid, "/start elm-park")
                await fake.wait_for_message(self.uid, after=mark, timeout=3)
            return
        qid, message = found
        answer = expected(self.uid)[qid]
        mark = fake.mark(self.uid)
        if qid == "area":
            fake.user_presses_button(self.uid, message, "North" if answer == "north" else "South")
        elif qid == "priorities":
            labels = [t for row in message.buttons for t, _ in row]
            if "✅ Parks" not in labels:
                fake.user_presses_button(self.uid, message, "▫️ Parks")
                await fake.wait_for_reply(self.uid, after=mark, kinds={"answer"}, timeout=3)
                mark = fake.mark(self.uid)
            fake.user_presses_button(self.uid, fake.message(self.uid, message.message_id), "Done ✔")
        else:
            fake.user_sends(self.uid, str(answer))
        await fake.wait_for_message(self.uid, after=mark, timeout=3)
        # The bot sent something after the answer: if it is the next question, it acknowledged it.
        following = self.current_question(fake)
        if following is None or following[0] != qid:
            self.acknowledged.add(qid)


def stored(place: Path) -> dict[int, dict[str, object]]:
    """Answers in the database by resident (pseudonyms mapped back through the walkers' order)."""
    with sqlite3.connect(place / "consultbot.db") as db:
        rows = db.execute(
            "SELECT p.pseudonym, a.question_id, a.value FROM answer a JOIN response r ON r.id = a.response_id "
            "JOIN respondent p ON p.id = r.respondent_id"
        ).fetchall()
    by_pseudonym: dict[str, dict[str, object]] = {}
    for pseudonym, qid, value in rows:
        by_pseudonym.setdefault(pseudonym, {})[qid] = json.loads(value)
    return by_pseudonym  # type: ignore[return-value]


async def test_sigkill_under_load_loses_and_doubles_nothing(tmp_path: Path) -> None:
    (tmp_path / "surveys").mkdir()
    (tmp_path / "surveys" / "elm-park.yaml").write_text(textwrap.dedent(SURVEY), encoding="utf-8")
    rng = random.Random(20261127)
    walkers = [Walker(uid) for uid in range(6001, 6001 + RESIDENTS)]
    fake = FakeTelegram()
    kills = 0
    resume: list[Walker] = []
    async with fake.running() as base_url:
        for round_ in range(KILLS + 1):
            async with bot_process(tmp_path, fake, base_url, f"run{round_}.log") as process:
                # Everyone (again, after a restart) writes /start and reads the reply first,
                # as a resident who got no answer writes again and sees where they are.
                marks = {w.uid: fake.mark(w.uid) for w in walkers}
                for walker in walkers if round_ == 0 else resume:
                    fake.user_sends(walker.uid, "/start elm-park")
                for walker in walkers if round_ == 0 else resume:
                    await fake.wait_for_message(walker.uid, after=marks[walker.uid], timeout=15)
                deadline = asyncio.get_running_loop().time() + (rng.uniform(0.8, 2.0) if round_ < KILLS else 60)

                async def walk(walker: Walker, until: float = deadline) -> None:
                    while not walker.finished and asyncio.get_running_loop().time() < until:
                        try:
                            await walker.step(fake)
                        except (WaitTimeout, LookupError):
                            await asyncio.sleep(0.05)

                await asyncio.gather(*(walk(w) for w in walkers))
                if round_ < KILLS:
                    process.send_signal(signal.SIGKILL)
                    await process.wait()
                    kills += 1
                    # Everything the bot acknowledged before it died is on disk.
                    answered = stored(tmp_path)
                    pseudonymise = Pseudonymiser((tmp_path / "consultbot.secret").read_text().strip().encode())
                    for walker in walkers:
                        on_disk = answered.get(pseudonymise(walker.uid), {})
                        assert walker.acknowledged <= set(on_disk), (walker.uid, walker.acknowledged, on_disk)
                        for qid in walker.acknowledged:
                            assert on_disk[qid] == expected(walker.uid)[qid]
                    resume = [w for w in walkers if not w.finished]
                else:
                    stuck = [w.uid for w in walkers if not w.finished]
                    assert not stuck, fake.conversation(stuck[0])[-3000:]
    answers = stored(tmp_path)
    updates = sum(1 for w in walkers for e in fake.transcript(w.uid, include_users=True) if e.actor == "user")
    total = sum(len(a) for a in answers.values())
    print(f"\ncrash-load: {RESIDENTS} residents, {updates} updates sent, {kills} SIGKILLs survived,", end=" ")
    print(f"{total} answers stored")
    assert kills == KILLS
    assert len(answers) == RESIDENTS
    # Each resident's answers are exactly theirs, each question once: nothing doubled or misplaced.
    assert sorted(map(lambda a: a["idea"], answers.values())) == sorted(  # type: ignore[arg-type]
        expected(w.uid)["idea"] for w in walkers
    )
    for answer in answers.values():
        uid = int(str(answer["idea"]).rsplit(" ", 1)[1])
        assert answer == expected(uid)
