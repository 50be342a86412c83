"""A strict fake of the Telegram Bot API, for testing consultbot end to end.

See ``FakeTelegram`` for the entry point. Everything a test needs is re-exported here.
"""

from .errors import ApiError
from .fake import FakeTelegram
from .html_check import EntityParseError, parse_html, utf16_len
from .observe import WaitTimeout
from .state import ApiCall, CallbackQuery, Chat, Event, StoredFile, StoredMessage, User
from .wire import Upload, decode_body
from .world import DEFAULT_TOKEN

__all__ = [
    "DEFAULT_TOKEN",
    "ApiCall",
    "ApiError",
    "CallbackQuery",
    "Chat",
    "EntityParseError",
    "Event",
    "FakeTelegram",
    "StoredFile",
    "StoredMessage",
    "Upload",
    "User",
    "WaitTimeout",
    "decode_body",
    "parse_html",
    "utf16_len",
]
