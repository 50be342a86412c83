"""`consultbot run` as a real process: killed with SIGKILL mid-survey, restarted, nothing lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.fakebot import FakeTelegram

REPO = Path(__file__).resolve().parent.parent
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
  - id: years
    type: number
    text: How many years have you lived here?
"""
ALICE = 4242

pytestmark = pytest.mark.slow


@pytest.fixture
def place(tmp_path: Path) -> Path:
    (tmp_path / "surveys").mkdir()
    (tmp_path / "surveys" / "elm-park.yaml").write_text(textwrap.dedent(SURVEY), encoding="utf-8")
    return tmp_path


@asynccontextmanager
async def bot_process(
    place: Path, fake: FakeTelegram, base_url: str, log_name: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot.cli run` pointed at the fake, like an admin's `consultbot run`."""
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE_URL": base_url,
        "CONSULTBOT_DATABASE_URL": f"sqlite:///{place / 'consultbot.db'}",
        "CONSULTBOT_SURVEYS_DIR": str(place / "surveys"),
        "CONSULTBOT_RATE_LIMIT": "0",
        "PYTHONPATH": str(REPO),
    }
    env.pop("CONSULTBOT_SECRET", None)  # generated once beside the database, and reused
    calls_before = fake.calls["setMyCommands"]
    with (place / log_name).open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=place, env=env, stdout=log, stderr=log
        )
        try:
            await fake.wait_for(lambda: fake.calls["setMyCommands"] > calls_before, timeout=30)
            yield process
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


def answers(place: Path) -> dict[str, object]:
    with sqlite3.connect(place / "consultbot.db") as db:
        rows = db.execute("SELECT question_id, value FROM answer ORDER BY id").fetchall()
    return {q: json.loads(v) for q, v in rows}


async def tap(fake: FakeTelegram, label: str) -> None:
    message = next(m for m in reversed(fake.messages(ALICE)) if m.buttons)
    mark = fake.mark(ALICE)
    fake.user_presses_button(ALICE, message, label)
    await fake.wait_for_reply(ALICE, after=mark, kinds={"answer"}, timeout=15)


async def test_sigkill_mid_survey_then_restart_loses_nothing(place: Path) -> None:
    fake = FakeTelegram()
    async with fake.running() as base_url:
        async with bot_process(place, fake, base_url, "first.log") as first:
            fake.user_sends(ALICE, "/start elm-park", first_name="Alice", username="alice_m")
            await fake.wait_for_message(ALICE, contains="Question 1 of 3", timeout=15)
            await tap(fake, "North")
            await fake.wait_for_message(ALICE, contains="Question 2 of 3", timeout=15)
            await tap(fake, "▫️ Parks")
            await fake.wait_for(lambda: any(e.kind == "edit_markup" for e in fake.transcript(ALICE)))
            first.send_signal(signal.SIGKILL)
            assert await first.wait() == -signal.SIGKILL
        assert answers(place) == {"area": "north"}

        async with bot_process(place, fake, base_url, "second.log") as second:
            # The tick made before the kill is still there; Done carries on.
            await tap(fake, "Done ✔")
            await fake.wait_for_message(ALICE, contains="Question 3 of 3", timeout=15)
            mark = fake.mark(ALICE)
            fake.user_sends(ALICE, "12")
            await fake.wait_for_message(ALICE, after=mark, contains="Thank you", timeout=15)
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), 20) == 0  # a clean shutdown
        assert answers(place) == {"area": "north", "priorities": ["parks"], "years": 12}

    logs = (place / "first.log").read_text() + (place / "second.log").read_text()
    assert "stopped cleanly" in logs
    assert fake.token not in logs
    assert fake.token.split(":")[1] not in logs
    # The secret was made once, privately, and the database never saw Alice's id or name.
    assert (place / "consultbot.secret").stat().st_mode & 0o777 == 0o600
    data = (place / "consultbot.db").read_bytes()
    for trace in (str(ALICE).encode(), b"Alice", b"alice_m"):
        assert trace not in data


async def test_telegram_unreachable_for_a_while_then_back(place: Path) -> None:
    """Connections refused for two seconds: the running bot reconnects by itself and loses nothing."""
    fake = FakeTelegram()
    base_url = await fake.serve()
    port = int(base_url.rsplit(":", 1)[1].split("/", 1)[0])
    try:
        async with bot_process(place, fake, base_url, "outage.log"):
            fake.user_sends(ALICE, "/start elm-park")
            question = await fake.wait_for_message(ALICE, contains="Question 1 of 3", timeout=15)
            await fake.stop_serving()  # nothing listens on the port: every connection is refused
            fake.user_presses_button(ALICE, question, "South")
            await asyncio.sleep(2.0)
            await fake.serve(port=port)
            await fake.wait_for_message(ALICE, contains="Question 2 of 3", timeout=30)
        assert answers(place) == {"area": "south"}
    finally:
        await fake.stop_serving()


def test_a_wrong_token_is_one_clear_line_without_the_token(place: Path) -> None:
    import subprocess

    fake = FakeTelegram()
    wrong = "123456:" + "W" * 35
    with fake.serve_in_thread() as base_url:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": wrong,
            "TELEGRAM_API_BASE_URL": base_url,
            "CONSULTBOT_DATABASE_URL": f"sqlite:///{place / 'consultbot.db'}",
            "PYTHONPATH": str(REPO),
        }
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run"], cwd=place, env=env, capture_output=True, text=True, timeout=60
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "consultbot: TELEGRAM_BOT_TOKEN was refused by Telegram: check it with @BotFather"
    )
    assert "Traceback" not in result.stderr
    assert wrong not in result.stderr + result.stdout
    assert "W" * 35 not in result.stderr + result.stdout
