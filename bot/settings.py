"""Configuration from the environment (and a `.env` file), checked at start.

A missing or malformed setting stops the program with one line naming the
variable: admins should never have to read a traceback to fix a typo.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"


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
            return frozenset(int(p) for p in parts)
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
            sa.make_url(value)
        except sa.exc.ArgumentError:
            raise ValueError("must be a database URL like sqlite:///consultbot.db") from None
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
        return self.telegram_bot_token


_ALIASES = {name: field.alias for name, field in Settings.model_fields.items()}


def load_settings(**overrides: object) -> Settings:
    """Read the settings, or raise SettingsError with one line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = error["loc"][0] if error["loc"] else "configuration"
        variable = _ALIASES.get(str(where), str(where))
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{variable} {reason[0].lower()}{reason[1:]}") from None
