"""Resident pseudonyms: a keyed hash of the Telegram user id.

The key (CONSULTBOT_SECRET) never lives in the database, so the database
alone cannot be turned back into Telegram ids, even by trying every id.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

import sqlalchemy as sa

from bot.database import make_engine, sqlite_path

SECRET_FILE_NAME = "consultbot.secret"
KEY_CHECK_NAME = "key_check"
KEY_CHECK_MESSAGE = b"consultbot key check v1"


def secret_file_for(database_url: str) -> Path:
    """Where the generated secret lives: beside the SQLite file, else in the working directory."""
    db = sqlite_path(database_url)
    if db is None:
        return Path(SECRET_FILE_NAME)
    return db.with_name(db.stem + ".secret")


def _read_secret(path: Path) -> bytes:
    value = path.read_text("utf-8").strip()
    if len(value) < 16:
        raise ValueError(f"{path} holds no usable key; delete it to make a new one, or set CONSULTBOT_SECRET")
    return value.encode("utf-8")


def load_or_create_secret(database_url: str, configured: str | None) -> bytes:
    """The configured secret, or one generated once into a 0600 file and reused."""
    if configured:
        return configured.encode("utf-8")
    path = secret_file_for(database_url)
    if path.exists():
        return _read_secret(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole to a private temporary file, then linked into place: a second process
    # starting at the same moment either wins or reads the finished file, never half of it.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".consultbot-secret-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        os.chmod(temporary, 0o600)
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return _read_secret(path)


class Pseudonymiser:
    """Turns a Telegram user id into the only name the database knows a resident by."""

    def __init__(self, secret: bytes):
        self._secret = secret

    def __call__(self, telegram_user_id: int) -> str:
        message = f"telegram:{telegram_user_id}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:40]


class KeyMismatch(Exception):
    """The pseudonym key is not the one this database was made with."""


def key_check_value(secret: bytes) -> str:
    return hmac.new(secret, KEY_CHECK_MESSAGE, hashlib.sha256).hexdigest()


def check_key(database_url: str, secret: bytes) -> None:
    """Remember a keyed check value on first start; refuse a different key afterwards.

    A changed key would make every resident a stranger: they could answer twice,
    and /forget would miss their earlier responses.
    """
    engine = make_engine(database_url, writer=True)
    expected = key_check_value(secret)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE IF NOT EXISTS consultbot_meta (name VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)"
            )
            stored = connection.execute(
                sa.text("SELECT value FROM consultbot_meta WHERE name = :name"), {"name": KEY_CHECK_NAME}
            ).scalar()
            if stored is None:
                connection.execute(
                    sa.text("INSERT INTO consultbot_meta (name, value) VALUES (:name, :value)"),
                    {"name": KEY_CHECK_NAME, "value": expected},
                )
                return
    finally:
        engine.dispose()
    if not hmac.compare_digest(stored, expected):
        where = secret_file_for(database_url)
        raise KeyMismatch(
            "CONSULTBOT_SECRET does not match the key this database was made with: restore the old "
            f"CONSULTBOT_SECRET (or {where}) from backup, or point CONSULTBOT_DATABASE_URL at a new database"
        )
