"""Bot API errors and Telegram's exact descriptions.

Bot code (and python-telegram-bot) reacts to the *words* Telegram uses: "message is not
modified" is usually ignored, "bot was blocked by the user" marks a resident unreachable,
"retry after N" pauses. So the fake must use the real strings, collected here.
"""

from __future__ import annotations

from typing import Any

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
EDITED_TEXT_TOO_LONG = "Bad Request: MESSAGE_TOO_LONG"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
CANT_PARSE_ENTITIES = "Bad Request: can't parse entities: "
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
BUTTON_URL_INVALID = "Bad Request: BUTTON_URL_INVALID"
CANT_PARSE_BUTTON = "Bad Request: can't parse inline keyboard button: "
CANT_PARSE_KEYBOARD_BUTTON = "Bad Request: can't parse keyboard button: "
CANT_PARSE_MARKUP = "Bad Request: can't parse reply keyboard markup JSON object"
INLINE_KEYBOARD_EXPECTED = "Bad Request: inline keyboard expected"
MARKUP_TOO_LONG = "Bad Request: reply markup is too long"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
ANSWER_TOO_LONG = "Bad Request: MESSAGE_TOO_LONG"
MESSAGE_TO_EDIT_NOT_FOUND = "Bad Request: message to edit not found"
MESSAGE_CANT_BE_EDITED = "Bad Request: message can't be edited"
NO_TEXT_TO_EDIT = "Bad Request: there is no text in the message to edit"
NO_CAPTION_TO_EDIT = "Bad Request: there is no caption in the message to edit"
MESSAGE_TO_DELETE_NOT_FOUND = "Bad Request: message to delete not found"
MESSAGE_CANT_BE_DELETED = "Bad Request: message can't be deleted"
REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
MESSAGE_ID_MISSING = "Bad Request: message identifier is not specified"
CHAT_NOT_FOUND = "Bad Request: chat not found"
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
BLOCKED = "Forbidden: bot was blocked by the user"
DEACTIVATED = "Forbidden: user is deactivated"
KICKED = "Forbidden: bot was kicked from the group chat"
BOT_TO_BOT = "Forbidden: bot can't send messages to bots"
WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
FILE_EMPTY = "Bad Request: file must be non-empty"
IMAGE_PROCESS_FAILED = "Bad Request: IMAGE_PROCESS_FAILED"
PHOTO_INVALID_DIMENSIONS = "Bad Request: PHOTO_INVALID_DIMENSIONS"
WRONG_ACTION = "Bad Request: wrong parameter action in request"
BOT_COMMAND_INVALID = "Bad Request: BOT_COMMAND_INVALID"
CONFLICT_POLLING = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"

#: What Telegram says for a status when a test injects a failure without a description.
DEFAULT_DESCRIPTIONS: dict[int, str] = {
    400: "Bad Request",
    401: UNAUTHORIZED,
    403: BLOCKED,
    404: NOT_FOUND,
    409: CONFLICT_POLLING,
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def too_many_requests(retry_after: int) -> str:
    """Telegram's flood-control description."""
    return f"Too Many Requests: retry after {retry_after}"


class ApiError(Exception):
    """A Bot API failure: becomes ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        parameters: dict[str, int] = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return body


def bad_request(description: str) -> ApiError:
    """A 400 with the given full description ("Bad Request: ...")."""
    return ApiError(400, description)
