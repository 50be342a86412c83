"""The command line, used as an admin would use it."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.database import migrate
from bot.engine import Consultations
from bot.store import Store
from models.loader import load_survey_file

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "surveys" / "millbrook-priorities.yaml"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder like an admin's: surveys/ with the example, settings from the environment only."""
    (tmp_path / "surveys").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "surveys" / EXAMPLE.name)
    monkeypatch.chdir(tmp_path)
    for name in (
        "CONSULTBOT_DATABASE_URL",
        "CONSULTBOT_SURVEYS_DIR",
        "CONSULTBOT_TIMEZONE",
        "CONSULTBOT_SECRET",
        "CONSULTBOT_ADMINS",
        "CONSULTBOT_RATE_LIMIT",
        "TELEGRAM_BOT_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), input=input, env=env, catch_exceptions=False)


def test_validate_the_example(workdir: Path) -> None:
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert "ok: surveys/millbrook-priorities.yaml (millbrook-priorities, 9 questions)" in result.stderr


def test_validate_reports_file_line_col_and_exits_1(workdir: Path) -> None:
    bad = workdir / "surveys" / "bad.yaml"
    bad.write_text(
        "id: bad\ntitle: Bad\nquestions:\n  - id: a\n    type: choice\n    text: A?\n    optoins: [x, y]\n",
        encoding="utf-8",
    )
    result = run("validate")
    assert result.exit_code == 1
    assert "surveys/bad.yaml:7:5: unknown key 'optoins'; did you mean 'options'?" in result.stdout
    assert "ok: surveys/millbrook-priorities.yaml" in result.stderr  # the good file still loads
    assert "consultbot: 1 problem(s) in 1 file(s)" in result.stderr


def test_validate_named_files_and_missing_paths(workdir: Path) -> None:
    assert run("validate", "surveys/millbrook-priorities.yaml").exit_code == 0
    missing = run("validate", "nope.yaml")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "consultbot: nope.yaml: no such file or folder"


def test_bad_usage_exits_2(workdir: Path) -> None:
    assert run("export").exit_code == 2
    assert run("export", "millbrook-priorities", "--format", "xml").exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_a_bad_setting_is_one_clear_line(workdir: Path) -> None:
    for env, expected in [
        ({"CONSULTBOT_RATE_LIMIT": "fast"}, "consultbot: CONSULTBOT_RATE_LIMIT"),
        ({"CONSULTBOT_TIMEZONE": "Mars/Base"}, "consultbot: CONSULTBOT_TIMEZONE must be a time zone name"),
        ({"CONSULTBOT_ADMINS": "12,bob"}, "consultbot: CONSULTBOT_ADMINS must be Telegram user ids"),
        (
            {"CONSULTBOT_DATABASE_URL": "not a url"},
            "consultbot: CONSULTBOT_DATABASE_URL must be a database URL",
        ),
    ]:
        result = run("validate", env=env)
        assert result.exit_code == 1, env
        assert result.stderr.startswith(expected), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.output


def test_run_without_a_token_says_how_to_get_one(workdir: Path) -> None:
    result = run("run")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "consultbot: TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and put it in .env"
    )


def test_settings_come_from_a_dot_env_file(workdir: Path) -> None:
    (workdir / "elsewhere").mkdir()
    shutil.move(workdir / "surveys" / EXAMPLE.name, workdir / "elsewhere" / EXAMPLE.name)
    (workdir / ".env").write_text("CONSULTBOT_SURVEYS_DIR=elsewhere\n", encoding="utf-8")
    result = run("validate")
    assert result.exit_code == 0
    assert "elsewhere/millbrook-priorities.yaml" in result.stderr


def test_preview_walks_the_example_with_the_same_refusals(workdir: Path) -> None:
    typed = "\n".join(["9", "1", "/skip", "1,3", "2", "5", "/back", "4", "2", "/skip", "12", "/skip"]) + "\n"
    result = run("preview", "millbrook-priorities", input=typed)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "== What should Millbrook invest in? ==" in out
    assert "  1. North estate" in out
    assert "  ! Please type a number from 1 to 4." in out  # "9" is not an option
    assert "  -> North estate" in out
    assert "  -> Skipped" in out  # age is optional
    assert "  -> Youth club and activities for young people, Better parks and green spaces" in out
    assert "Type a number from 1 (Not at all) to 5 (Very connected)." in out
    assert out.count("How connected do you feel") == 2  # asked again after /back
    assert "Thank you! Your answers are saved." in out


def test_preview_of_an_unknown_survey(workdir: Path) -> None:
    result = run("preview", "nope")
    assert result.exit_code == 1
    assert result.stderr.strip() == "consultbot: no survey 'nope' in surveys/ (surveys: millbrook-priorities)"


def _answer_example(url: str) -> None:
    """Two residents finish the example survey, a third stops halfway."""
    survey = load_survey_file(EXAMPLE)
    survey_id = survey.id

    async def go() -> None:
        store = Store(url)
        engine = Consultations(store, {survey_id: survey}, clock=lambda: survey.opens_at)  # type: ignore[arg-type,return-value]
        for who, area, text in [
            ("a", "north", "A youth club, please"),
            ("b", "southfields", '=HYPERLINK("x")'),
        ]:
            await engine.start(who, survey_id)
            await engine.answer(who, survey_id, "area", area)
            await engine.skip(who)
            await engine.answer(who, survey_id, "priorities", ["youth-club", "bus"])
            await engine.skip(who)
            await engine.answer(who, survey_id, "connected", 3)
            await engine.answer(who, survey_id, "safety", 4)
            await engine.answer_typed(who, "7")
            await engine.answer_typed(who, text)
        await engine.start("c", survey_id)
        await engine.answer("c", survey_id, "area", "north")
        await store.aclose()

    asyncio.run(go())


def test_export_csv_and_json(workdir: Path) -> None:
    url = f"sqlite:///{workdir / 'consultbot.db'}"
    migrate(url)
    _answer_example(url)
    result = run("export", "millbrook-priorities")
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "exported 2 completed response(s)"
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == [
        "response_id",
        "started_at",
        "completed_at",
        "area",
        "age",
        "priorities",
        "youth_times",
        "connected",
        "safety",
        "safety_why",
        "years",
        "idea",
    ]
    assert [r["area"] for r in rows] == ["north", "southfields"]
    assert rows[0]["priorities"] == "youth-club;bus"
    assert rows[0]["age"] == ""  # skipped
    assert rows[0]["years"] == "7"
    assert rows[0]["idea"] == "A youth club, please"
    assert rows[1]["idea"] == '\'=HYPERLINK("x")'  # never a live formula in a spreadsheet
    assert rows[0]["completed_at"].endswith("+00:00")

    out = workdir / "out.json"
    result = run("export", "millbrook-priorities", "--format", "json", "-o", str(out))
    assert result.exit_code == 0
    assert result.stderr.strip() == f"exported 2 completed response(s) to {out}"
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [d["years"] for d in data] == [7, 7]
    assert data[0]["priorities"] == "youth-club;bus"
    assert data[0]["age"] is None
    assert data[1]["idea"] == '=HYPERLINK("x")'  # JSON is data, not a spreadsheet


def test_export_of_a_survey_with_no_responses(workdir: Path) -> None:
    result = run("export", "millbrook-priorities", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_the_secret_is_generated_once_with_mode_0600(workdir: Path) -> None:
    from bot.pseudonym import Pseudonymiser, load_or_create_secret

    url = f"sqlite:///{workdir / 'data' / 'consultbot.db'}"
    first = load_or_create_secret(url, None)
    path = workdir / "data" / "consultbot.secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_secret(url, None) == first
    pseudonym = Pseudonymiser(first)(123456789)
    assert "123456789" not in pseudonym and len(pseudonym) == 40
    assert Pseudonymiser(b"another key entirely")(123456789) != pseudonym
