"""Connections and schema: the only place that knows which database this is.

SQLite gets WAL, a busy timeout and foreign keys on every connection, and
writers take the lock up front (`BEGIN IMMEDIATE`) so that a read-then-write
never fails halfway with "database is locked" when a second process writes.
Everything else in the program is portable SQL.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"
BUSY_TIMEOUT_MS = 10_000


def is_sqlite(url: str | sa.URL) -> bool:
    return sa.make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str | sa.URL) -> Path | None:
    """The file behind a SQLite URL (None for other databases or in-memory ones)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _private_file(path: Path) -> None:
    """Create the database file 0600 (in a 0700 folder if we make the folder); tighten existing ones.

    SQLite gives -wal and -shm the database file's permissions, so they follow.
    """
    if not path.parent.exists():
        old = os.umask(0o077)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        finally:
            os.umask(old)
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.is_file() and file.stat().st_uid == os.getuid() and file.stat().st_mode & 0o077:
            file.chmod(0o600)


def make_engine(url: str | sa.URL, *, writer: bool = False, **kwargs: Any) -> sa.Engine:
    """An Engine for `url`; `writer=True` makes SQLite transactions BEGIN IMMEDIATE."""
    if not is_sqlite(url):
        return sa.create_engine(url, pool_pre_ping=True, **kwargs)
    path = sqlite_path(url)
    if path is not None:
        _private_file(path)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(begin)

    return engine


def alembic_config(url: str | sa.URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", str(url).replace("%", "%%"))
    return config


def migrate(url: str | sa.URL) -> None:
    """Bring the schema up to date; run at every start, cheap when nothing changed."""
    engine = make_engine(url, writer=True)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
