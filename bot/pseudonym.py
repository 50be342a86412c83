"""Resident pseudonyms: a keyed hash of the Telegram user id.

The key (CONSULTBOT_SECRET) never lives in the database, so the database
alone cannot be turned back into Telegram ids, even by trying every id.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from bot.database import sqlite_path

SECRET_FILE_NAME = "consultbot.secret"


def secret_file_for(database_url: str) -> Path:
    """Where the generated secret lives: beside the SQLite file, else in the working directory."""
    db = sqlite_path(database_url)
    if db is None:
        return Path(SECRET_FILE_NAME)
    return db.with_name(db.stem + ".secret")


def load_or_create_secret(database_url: str, configured: str | None) -> bytes:
    """The configured secret, or one generated once into a 0600 file and reused."""
    if configured:
        return configured.encode("utf-8")
    path = secret_file_for(database_url)
    if path.exists():
        return path.read_text("utf-8").strip().encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("utf-8").strip().encode("utf-8")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value.encode("utf-8")


class Pseudonymiser:
    """Turns a Telegram user id into the only name the database knows a resident by."""

    def __init__(self, secret: bytes):
        self._secret = secret

    def __call__(self, telegram_user_id: int) -> str:
        message = f"telegram:{telegram_user_id}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:40]
