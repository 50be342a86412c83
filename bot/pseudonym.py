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

from bot.database import sqlite_path

SECRET_FILE_NAME = "consultbot.secret"


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
