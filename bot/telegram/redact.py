"""Logging that never prints the bot token.

httpx logs every request URL, and the Bot API puts the token in the URL;
exceptions can carry it too. A filter on every handler replaces it.
"""

from __future__ import annotations

import logging
import re

_TOKEN_SHAPE = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


def redact(text: str, token: str | None = None) -> str:
    """Text with the token, and anything shaped like a token, replaced."""
    if token:
        text = text.replace(token, "<token>")
    return _TOKEN_SHAPE.sub("<token>", text)


class RedactToken(logging.Filter):
    """Replace the token (and anything shaped like one) in log records."""

    def __init__(self, token: str | None):
        super().__init__()
        self.token = token

    def _clean(self, text: str) -> str:
        return redact(text, self.token)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self._clean(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, cleaned, so the handler prints our version.
            formatter = logging.Formatter()
            record.exc_text = self._clean(formatter.formatException(record.exc_info))
            record.exc_info = None
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(token: str | None, level: int = logging.INFO) -> None:
    """Plain logs on stderr, token redacted, httpx's per-request lines off."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactToken(token))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
