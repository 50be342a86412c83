"""The store: group commit, failures kept apart, nothing acknowledged before it is on disk."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import models.tables  # noqa: F401
from bot.database import make_engine, migrate, sqlite_path
from bot.store import Store, StoreClosed

INSERT = sa.text("INSERT INTO respondent (pseudonym, created_at) VALUES (:p, '2027-01-01 00:00:00')")


def pseudonyms(db_url: str) -> list[str]:
    path = sqlite_path(db_url)
    with sqlite3.connect(path) as raw:
        return [row[0] for row in raw.execute("SELECT pseudonym FROM respondent ORDER BY pseudonym")]


async def test_concurrent_writes_are_committed_together(store: Store, db_url: str) -> None:
    names = [f"p{i:03d}" for i in range(200)]
    await asyncio.gather(*(store.write(lambda c, n=n: c.execute(INSERT, {"p": n})) for n in names))
    assert pseudonyms(db_url) == names
    assert store.writes == 200
    assert store.batches < 200  # group commit happened


async def test_a_write_is_on_disk_when_it_returns(store: Store, db_url: str) -> None:
    await store.write(lambda c: c.execute(INSERT, {"p": "first"}))
    # A separate plain sqlite3 connection, as another process would have.
    assert pseudonyms(db_url) == ["first"]


async def test_one_failing_piece_does_not_undo_the_others(store: Store, db_url: str) -> None:
    def slow(c: sa.Connection) -> None:
        time.sleep(0.2)  # holds the writer so the next three arrive as one batch
        c.execute(INSERT, {"p": "slow"})

    def broken(c: sa.Connection) -> None:
        c.execute(INSERT, {"p": "half"})
        raise ValueError("boom")

    first = asyncio.ensure_future(store.write(slow))
    await asyncio.sleep(0.05)
    results = await asyncio.gather(
        store.write(lambda c: c.execute(INSERT, {"p": "a"})),
        store.write(broken),
        store.write(lambda c: c.execute(INSERT, {"p": "b"})),
        return_exceptions=True,
    )
    await first
    assert isinstance(results[1], ValueError)
    assert pseudonyms(db_url) == ["a", "b", "slow"]  # "half" was rolled back


async def test_a_constraint_violation_fails_only_its_caller(store: Store, db_url: str) -> None:
    await store.write(lambda c: c.execute(INSERT, {"p": "dup"}))
    results = await asyncio.gather(
        *(store.write(lambda c, n=n: c.execute(INSERT, {"p": n})) for n in ["x", "dup", "y"]),
        return_exceptions=True,
    )
    assert isinstance(results[1], sa.exc.IntegrityError)
    assert pseudonyms(db_url) == ["dup", "x", "y"]


def test_write_now_without_an_event_loop(store: Store, db_url: str) -> None:
    store.write_now(lambda c: c.execute(INSERT, {"p": "cli"}))
    assert store.read_now(lambda c: c.execute(sa.text("SELECT count(*) FROM respondent")).scalar()) == 1
    with pytest.raises(ValueError):
        store.write_now(lambda c: (_ for _ in ()).throw(ValueError("x")))


async def test_reads_run_off_the_loop(store: Store) -> None:
    await store.write(lambda c: c.execute(INSERT, {"p": "r"}))
    count = await store.read(lambda c: c.execute(sa.text("SELECT count(*) FROM respondent")).scalar())
    assert count == 1


async def test_closed_store_refuses_work(db_url: str) -> None:
    store = Store(db_url)
    await store.aclose()
    with pytest.raises(StoreClosed):
        await store.write(lambda c: None)


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert c.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()


def test_migrations_match_the_models(db_url: str) -> None:
    """A model change without a migration fails here (as `alembic check` would)."""
    engine = make_engine(db_url)
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_migrating_twice_is_harmless(db_url: str) -> None:
    migrate(db_url)
    migrate(db_url)
    engine = make_engine(db_url)
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0003"
    engine.dispose()
