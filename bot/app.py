"""What every entry point needs: settings, surveys and a ready database."""

from __future__ import annotations

import gc
from dataclasses import dataclass

import sqlalchemy as sa

from bot.database import migrate, sqlite_path
from bot.pseudonym import KeyMismatch, Pseudonymiser, check_key, load_or_create_secret
from bot.settings import Settings, SettingsError
from bot.store import Store
from models.loader import LoadResult, load_surveys


def load_catalog(settings: Settings) -> LoadResult:
    """The surveys in CONSULTBOT_SURVEYS_DIR (problems of bad files included)."""
    return load_surveys([settings.surveys_dir], default_timezone=settings.timezone)


@dataclass
class Backend:
    """The database side of the program, opened once per process."""

    store: Store
    pseudonymise: Pseudonymiser

    def close(self) -> None:
        self.store.close()


def _database_problem(url: str, exc: Exception) -> str:
    path = sqlite_path(url)
    detail = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    if path is not None:
        if path.is_dir():
            return f"CONSULTBOT_DATABASE_URL: {path} is a folder; name a database file instead"
        if "not a database" in detail or "malformed" in detail:
            return f"CONSULTBOT_DATABASE_URL: {path} is not a usable database ({detail}); restore it from backup"
        return f"CONSULTBOT_DATABASE_URL: cannot open {path} ({detail}); check the folder exists and is writable"
    return f"CONSULTBOT_DATABASE_URL: cannot use the database ({detail})"


def open_backend(settings: Settings) -> Backend:
    """Apply migrations, start the writer thread and load the pseudonym key."""
    try:
        migrate(settings.database_url)
    except (sa.exc.DBAPIError, OSError) as exc:
        raise SettingsError(_database_problem(settings.database_url, exc)) from None
    secret = load_or_create_secret(settings.database_url, settings.secret)
    try:
        check_key(settings.database_url, secret)
    except KeyMismatch as exc:
        raise SettingsError(str(exc)) from None
    return Backend(store=Store(settings.database_url), pseudonymise=Pseudonymiser(secret))


def freeze_startup_objects() -> None:
    """Move everything made at start-up out of the garbage collector's sight.

    Modules, tables and the survey schema live as long as the process; without
    this, each full collection walks them all and stalls the event loop for
    tens of milliseconds (measured: 47 ms, against ~1 ms after freezing).
    """
    gc.collect()
    gc.freeze()
