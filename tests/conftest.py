"""Shared fixtures: a migrated SQLite file per test, a store, surveys from YAML text."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.database import migrate
from bot.engine import Consultations
from bot.store import Store
from models.loader import load_survey_file
from models.survey import Survey


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database migrated through Alembic; each test gets a copy (migrations take ~100 ms)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_url(tmp_path: Path, migrated_template: Path) -> str:
    target = tmp_path / "consultbot.db"
    shutil.copy(migrated_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    yield store
    store.close()


@pytest.fixture
def make_survey(tmp_path: Path) -> Callable[[str], Survey]:
    """Load a survey from YAML text written to a file, as an admin would."""
    counter = iter(range(1000))

    def make(text: str, name: str | None = None) -> Survey:
        path = tmp_path / (name or f"survey{next(counter)}.yaml")
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return load_survey_file(path)

    return make


class Clock:
    """A clock tests can move."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2027, 2, 1, 12, 0, tzinfo=dt.UTC))


@pytest.fixture
def engine_for(store: Store, clock: Clock) -> Callable[..., Consultations]:
    def make(*surveys: Survey) -> Consultations:
        return Consultations(store, {s.id: s for s in surveys}, clock=clock)

    return make
