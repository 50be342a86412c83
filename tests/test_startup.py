"""Start-up and command-line hardening: one clear line, exit code 1, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_cli import run, workdir  # noqa: F401


def test_export_never_writes_over_the_database(workdir: Path) -> None:  # noqa: F811
    assert run("export", "millbrook-priorities", "-o", "first.csv").exit_code == 0
    db = workdir / "consultbot.db"
    size = db.stat().st_size
    assert size > 0
    for name in ("consultbot.db", "./consultbot.db", "consultbot.db-wal", "consultbot.db-shm"):
        result = run("export", "millbrook-priorities", "-o", name, "--force")
        assert result.exit_code == 1, result.output
        assert "database" in result.stderr
        assert "Traceback" not in result.output
    assert db.stat().st_size == size


def test_export_refuses_an_existing_file_without_force(workdir: Path) -> None:  # noqa: F811
    (workdir / "out.csv").write_text("keep me", encoding="utf-8")
    result = run("export", "millbrook-priorities", "-o", "out.csv")
    assert result.exit_code == 1
    assert "--force" in result.stderr
    assert (workdir / "out.csv").read_text(encoding="utf-8") == "keep me"
    assert run("export", "millbrook-priorities", "-o", "out.csv", "--force").exit_code == 0
    assert (workdir / "out.csv").read_text(encoding="utf-8").startswith("response_id")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_export_to_an_unwritable_place_is_one_line(workdir: Path) -> None:  # noqa: F811
    locked = workdir / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run("export", "millbrook-priorities", "-o", "locked/out.csv")
    finally:
        locked.chmod(0o700)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "locked/out.csv" in result.stderr


def test_export_into_a_missing_folder_is_one_line(workdir: Path) -> None:  # noqa: F811
    result = run("export", "millbrook-priorities", "-o", "no-such-folder/out.csv")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "no-such-folder/out.csv" in result.stderr


def test_a_changed_secret_is_refused(workdir: Path) -> None:  # noqa: F811
    first = {"CONSULTBOT_SECRET": "a" * 32}
    assert run("export", "millbrook-priorities", env=first).exit_code == 0
    assert run("export", "millbrook-priorities", env=first).exit_code == 0
    result = run("export", "millbrook-priorities", env={"CONSULTBOT_SECRET": "b" * 32})
    assert result.exit_code == 1
    assert result.stderr.startswith("consultbot: CONSULTBOT_SECRET does not match")
    assert "backup" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_lost_secret_file_is_refused(workdir: Path) -> None:  # noqa: F811
    assert run("export", "millbrook-priorities").exit_code == 0
    (workdir / "consultbot.secret").unlink()
    result = run("export", "millbrook-priorities")
    assert result.exit_code == 1
    assert "CONSULTBOT_SECRET does not match" in result.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite://", "persist"),
        ("sqlite:///:memory:", "persist"),
        ("nosuchdb://x/y", "unknown database kind"),
        ("postgresql+nosuchdriver://u@h/db", "CONSULTBOT_DATABASE_URL"),
    ],
)
def test_unusable_database_urls_are_one_line(workdir: Path, url: str, says: str) -> None:  # noqa: F811
    result = run("export", "millbrook-priorities", env={"CONSULTBOT_DATABASE_URL": url})
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("consultbot: CONSULTBOT_DATABASE_URL")
    assert says in result.stderr
    assert result.stderr.count("\n") == 1


def test_postgres_without_its_driver_is_one_line(workdir: Path) -> None:  # noqa: F811
    pytest.importorskip("sqlalchemy")
    try:
        import psycopg2  # noqa: F401

        pytest.skip("psycopg2 is installed")
    except ImportError:
        pass
    result = run("validate", env={"CONSULTBOT_DATABASE_URL": "postgresql://u:p@localhost/db"})
    assert result.exit_code == 1
    assert "CONSULTBOT_DATABASE_URL needs the database driver" in result.stderr


def test_database_path_that_is_a_folder(workdir: Path) -> None:  # noqa: F811
    (workdir / "db").mkdir()
    result = run("export", "millbrook-priorities", env={"CONSULTBOT_DATABASE_URL": "sqlite:///db"})
    assert result.exit_code == 1
    assert "is a folder" in result.stderr
    assert result.stderr.count("\n") == 1


def test_corrupt_database_file(workdir: Path) -> None:  # noqa: F811
    (workdir / "consultbot.db").write_bytes(b"this is not sqlite at all" * 100)
    result = run("export", "millbrook-priorities")
    assert result.exit_code == 1
    assert "not a usable database" in result.stderr
    assert result.stderr.count("\n") == 1


def test_database_folder_that_cannot_be_made(workdir: Path) -> None:  # noqa: F811
    (workdir / "afile").write_text("x", encoding="utf-8")
    result = run("export", "millbrook-priorities", env={"CONSULTBOT_DATABASE_URL": "sqlite:///afile/sub/db.sqlite"})
    assert result.exit_code == 1
    assert result.stderr.startswith("consultbot: CONSULTBOT_DATABASE_URL")
    assert result.stderr.count("\n") == 1


def test_utf16_env_file_is_read(workdir: Path) -> None:  # noqa: F811
    (workdir / ".env").write_text("CONSULTBOT_TIMEZONE=Europe/London\n", encoding="utf-16")
    result = run("validate")
    assert result.exit_code == 0, result.output
    (workdir / ".env").write_bytes(b"CONSULTBOT_TIMEZONE=\xff\xfe\xfa\n")
    result = run("validate")
    assert result.exit_code == 1
    assert "UTF-8" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("CONSULTBOT_ADMINS", str(2**63), "CONSULTBOT_ADMINS"),
        ("CONSULTBOT_RATE_LIMIT", "0.05", "CONSULTBOT_RATE_LIMIT"),
    ],
)
def test_bad_numbers_are_one_line(workdir: Path, name: str, value: str, says: str) -> None:  # noqa: F811
    result = run("validate", env={name: value})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"consultbot: {says}")
    assert result.stderr.count("\n") == 1


def test_rate_limit_zero_still_means_off(workdir: Path) -> None:  # noqa: F811
    assert run("validate", env={"CONSULTBOT_RATE_LIMIT": "0"}).exit_code == 0


def test_token_whitespace_is_stripped() -> None:
    from bot.settings import load_settings

    assert load_settings(TELEGRAM_BOT_TOKEN="123:abc\n ").telegram_bot_token == "123:abc"


def test_a_token_with_a_trailing_newline_works_and_a_malformed_one_is_named(workdir: Path) -> None:  # noqa: F811
    from bot.settings import SettingsError, load_settings

    assert load_settings(TELEGRAM_BOT_TOKEN="123:abc-DEF_9\n").require_token() == "123:abc-DEF_9"
    with pytest.raises(SettingsError, match=r"^TELEGRAM_BOT_TOKEN is malformed"):
        load_settings(TELEGRAM_BOT_TOKEN="123:abc def").require_token()
    result = run("run", env={"TELEGRAM_BOT_TOKEN": "123 abc"})
    assert result.exit_code == 1
    assert result.stderr.startswith("consultbot: TELEGRAM_BOT_TOKEN is malformed")


def test_database_files_are_private(workdir: Path) -> None:  # noqa: F811
    import stat

    url = f"sqlite:///{workdir / 'data' / 'consultbot.db'}"
    assert run("export", "millbrook-priorities", env={"CONSULTBOT_DATABASE_URL": url}).exit_code == 0
    assert stat.S_IMODE((workdir / "data").stat().st_mode) == 0o700
    for name in ("consultbot.db", "consultbot.db-wal", "consultbot.db-shm"):
        file = workdir / "data" / name
        if file.exists():
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, name
    # an existing shared folder is left alone, but the files in it are tightened
    shared = workdir / "shared"
    shared.mkdir(mode=0o755)
    (shared / "consultbot.db").touch(mode=0o644)
    (shared / "consultbot.db").chmod(0o644)
    url = f"sqlite:///{shared / 'consultbot.db'}"
    assert run("export", "millbrook-priorities", env={"CONSULTBOT_DATABASE_URL": url}).exit_code == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE((shared / "consultbot.db").stat().st_mode) == 0o600


def test_wal_and_shm_are_private_while_open(tmp_path: Path) -> None:
    import stat

    from bot.database import make_engine, migrate

    url = f"sqlite:///{tmp_path / 'new' / 'bot.db'}"
    migrate(url)
    engine = make_engine(url, writer=True)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        for name in ("bot.db", "bot.db-wal", "bot.db-shm"):
            assert stat.S_IMODE((tmp_path / "new" / name).stat().st_mode) == 0o600, name
    finally:
        engine.dispose()


def test_a_second_poller_is_one_clear_line(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio
    import logging
    from types import SimpleNamespace

    from telegram.error import Conflict

    from bot.telegram.application import on_error

    context = SimpleNamespace(error=Conflict("terminated by other getUpdates request"))
    with caplog.at_level(logging.DEBUG):
        asyncio.run(on_error(None, context))  # type: ignore[arg-type]
    records = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(records) == 1
    assert "another instance is polling" in records[0].getMessage()
    assert records[0].exc_info is None
