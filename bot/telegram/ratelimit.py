"""Outgoing requests: within Telegram's limits, and patient when Telegram has a bad minute.

python-telegram-bot's AIORateLimiter keeps the bot under Telegram's rates
and waits out a 429 (RetryAfter). This adds the other transient failures
(a 5xx from Telegram, a refused or dropped connection, a timeout): the
request is tried again with growing pauses, so a short outage delays the
next question instead of losing it. Requests Telegram refused for what they
are (400 Bad Request, 403 Forbidden) are not tried again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)
PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)  # about 30 s in all
# A tap must be answered within seconds or Telegram forgets it: trying again later is no use.
NOT_RETRIED = frozenset({"answerCallbackQuery", "answercallbackquery"})


def is_transient(exc: BaseException) -> bool:
    """Network trouble or a 5xx: worth trying again. (BadRequest is a NetworkError subclass.)"""
    return isinstance(exc, NetworkError) and not isinstance(exc, (BadRequest, Forbidden, InvalidToken))


class PatientRateLimiter(AIORateLimiter):
    """AIORateLimiter that also retries transient failures with back-off."""

    def __init__(self, *args: Any, pauses: Sequence[float] = PAUSES, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pauses = tuple(pauses)
        self.retried = 0

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        for pause in (*self.pauses, None):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except NetworkError as exc:
                if pause is None or not is_transient(exc) or endpoint in NOT_RETRIED:
                    raise
                self.retried += 1
                log.warning("Telegram did not answer %s (%s); trying again in %.1f s", endpoint, exc, pause)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")
