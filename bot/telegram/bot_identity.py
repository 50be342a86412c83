"""The bot's @username, for links, looked up once from Telegram (getMe)."""

from __future__ import annotations

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.settings import Settings, SettingsError
from bot.telegram.redact import redact


async def bot_username(settings: Settings) -> str:
    """Ask Telegram who this bot is; a clear one-line error when it cannot."""
    token = settings.require_token()
    try:
        async with Bot(token, base_url=settings.telegram_api_base_url) as bot:
            return bot.username
    except InvalidToken:
        raise SettingsError("TELEGRAM_BOT_TOKEN was refused by Telegram: check it with @BotFather") from None
    except NetworkError as exc:
        reason = redact(exc.message, token)
        raise SettingsError(f"could not reach Telegram at TELEGRAM_API_BASE_URL ({reason})") from None
    except TelegramError as exc:
        raise SettingsError(f"Telegram refused to say who the bot is ({redact(exc.message, token)})") from None
