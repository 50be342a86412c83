"""Configuration from the environment (and a `.env` file), checked at start.

A missing or malformed setting stops the program with one line naming the
variable: admins should never have to read a traceback to fix a typo.
"""

from __future__ import annotations

import codecs
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")


class SettingsError(Exception):
    """A setting is missing or malformed; the message is the one line to show."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(default=DEFAULT_API_BASE_URL, alias="TELEGRAM_API_BASE_URL")
    database_url: str = Field(default="sqlite:///consultbot.db", alias="CONSULTBOT_DATABASE_URL")
    surveys_dir: str = Field(default="surveys", alias="CONSULTBOT_SURVEYS_DIR")
    admins: Annotated[frozenset[int], NoDecode] = Field(default=frozenset(), alias="CONSULTBOT_ADMINS")
    timezone: str = Field(default="UTC", alias="CONSULTBOT_TIMEZONE")
    rate_limit: float = Field(default=30, ge=0, alias="CONSULTBOT_RATE_LIMIT")
    secret: str | None = Field(default=None, alias="CONSULTBOT_SECRET")

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            if not all(p.lstrip("-").isdigit() for p in parts):
                raise ValueError("must be Telegram user ids (numbers) separated by commas")
            ids = frozenset(int(p) for p in parts)
            too_big = [i for i in ids if not -(2**63) <= i < 2**63]
            if too_big:
                raise ValueError(f"has {too_big[0]}, which is not a Telegram user id (too large)")
            return ids
        return value

    @field_validator("telegram_bot_token", mode="before")
    @classmethod
    def _strip_token(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("rate_limit")
    @classmethod
    def _usable_rate(cls, value: float) -> float:
        if 0 < value < 1:
            raise ValueError("must be 0 (off) or at least 1 message per minute; below 1 would mute the bot")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be a time zone name like Europe/London or UTC") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _valid_url(cls, value: str) -> str:
        try:
            url = sa.make_url(value)
        except sa.exc.ArgumentError:
            raise ValueError("must be a database URL like sqlite:///consultbot.db") from None
        if url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:"):
            raise ValueError("must name a database file (like sqlite:///consultbot.db): conversations must persist")
        try:
            dialect = url.get_dialect()
        except sa.exc.NoSuchModuleError:
            raise ValueError(
                f"has an unknown database kind '{url.drivername}'; use sqlite:///file.db or postgresql+psycopg://..."
            ) from None
        try:
            dialect.import_dbapi()
        except ImportError as exc:
            raise ValueError(
                f"needs the database driver for '{url.drivername}' ({exc.name or exc}), which is not installed; "
                "install it (e.g. pip install 'psycopg[binary]' and use postgresql+psycopg://)"
            ) from None
        return value

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("must be at least 16 characters (or leave it unset to generate one)")
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def require_token(self) -> str:
        if not self.telegram_bot_token:
            raise SettingsError("TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and put it in .env")
        if not TOKEN_SHAPE.fullmatch(self.telegram_bot_token):
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is malformed (it looks like 123456:ABC-def...): copy it again from @BotFather"
            )
        return self.telegram_bot_token


_ALIASES = {name: field.alias for name, field in Settings.model_fields.items()}


def _env_encoding(path: Path = Path(".env")) -> str:
    """UTF-8, unless .env starts with a UTF-16 byte-order mark (as Windows Notepad saves it)."""
    try:
        with path.open("rb") as handle:
            start = handle.read(4)
    except OSError:
        return "utf-8"
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8-sig"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, or raise SettingsError with one line naming the variable."""
    try:
        return Settings(**{"_env_file_encoding": _env_encoding(), **overrides})  # type: ignore[arg-type]
    except UnicodeDecodeError:
        raise SettingsError(".env is not UTF-8 text: open it and save it again as UTF-8") from None
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = error["loc"][0] if error["loc"] else "configuration"
        variable = _ALIASES.get(str(where), str(where))
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{variable} {reason[0].lower()}{reason[1:]}") from None
