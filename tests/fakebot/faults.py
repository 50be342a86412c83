"""Fault injection: failures, slow answers and Telegram's flood control.

Telegram fails in a few characteristic ways - 429 "retry after N" when a bot sends too
fast, 5xx during outages, slow answers under load - and a bot that is only ever tested
against a perfect server handles none of them. These knobs let a test provoke each one.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from . import errors
from .errors import ApiError

#: Methods that count against Telegram's per-chat and global sending limits.
SENDING_PREFIXES = ("send", "edit", "copy", "forward")


@dataclass
class Failure:
    """A planned failure: for some methods, a number of calls and/or until a moment."""

    status: int
    description: str
    retry_after: int | None
    methods: frozenset[str] | None  # lower-case names; None matches every method
    remaining: int | None  # None = no limit on the number of calls
    until: float | None  # time.monotonic() deadline; None = until cleared

    def matches(self, method: str, now: float) -> bool:
        """Whether this failure applies to a call of ``method`` now."""
        if self.until is not None and now >= self.until:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.methods is None or method.lower() in self.methods

    def error(self) -> ApiError:
        """The error to answer with."""
        return ApiError(self.status, self.description, retry_after=self.retry_after)


def make_failure(
    *,
    methods: Iterable[str] | None,
    status: int,
    retry_after: int | None,
    description: str | None,
    count: int | None,
    seconds: float | None,
) -> Failure:
    """Build a Failure with Telegram's default description for the status."""
    if description is None:
        if status == 429:
            description = errors.too_many_requests(retry_after or 1)
        else:
            description = errors.DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
    return Failure(
        status=status,
        description=description,
        retry_after=(retry_after or 1) if status == 429 else None,
        methods=None if methods is None else frozenset(m.lower() for m in methods),
        remaining=count,
        until=None if seconds is None else time.monotonic() + seconds,
    )


class FaultPlan:
    """Planned failures and per-method delays."""

    def __init__(self) -> None:
        self.failures: list[Failure] = []
        self.delays: dict[str, float] = {}

    def add(self, failure: Failure) -> None:
        """Plan a failure; earlier plans win when several match."""
        self.failures.append(failure)

    def take(self, method: str) -> ApiError | None:
        """The injected error for this call, if any (consuming one of its count)."""
        now = time.monotonic()
        self.failures = [
            f for f in self.failures if (f.until is None or now < f.until) and (f.remaining is None or f.remaining > 0)
        ]
        for failure in self.failures:
            if failure.matches(method, now):
                if failure.remaining is not None:
                    failure.remaining -= 1
                return failure.error()
        return None

    def delay_for(self, method: str) -> float:
        """Seconds to wait before answering a call of ``method``."""
        return self.delays.get(method.lower(), self.delays.get("*", 0.0))

    def clear(self) -> None:
        """Forget all planned failures and delays."""
        self.failures.clear()
        self.delays.clear()


class FloodControl:
    """Telegram's sending limits: about 30 messages/s overall, 20/minute per group.

    Off unless a test enables it (``FakeTelegram.enable_flood_control``), because most
    tests send far less and a load benchmark wants to measure the bot, not the limit.
    """

    def __init__(
        self,
        *,
        global_per_second: int | None = 30,
        per_chat_per_second: int | None = None,
        per_group_per_minute: int | None = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.global_per_second = global_per_second
        self.per_chat_per_second = per_chat_per_second
        self.per_group_per_minute = per_group_per_minute
        self._clock = clock
        self._global: deque[float] = deque()
        self._chats: dict[int, deque[float]] = {}
        self._groups: dict[int, deque[float]] = {}

    @staticmethod
    def applies_to(method: str) -> bool:
        """Whether the method is a sending method that counts against the limits."""
        return method.lower().startswith(SENDING_PREFIXES)

    def check(self, chat_id: int | None, is_group: bool) -> int | None:
        """Record a send; return retry_after seconds when it exceeds a limit."""
        now = self._clock()
        waits = [
            _window_wait(self._global, now, 1.0, self.global_per_second),
        ]
        if chat_id is not None:
            waits.append(_window_wait(self._chats.setdefault(chat_id, deque()), now, 1.0, self.per_chat_per_second))
            if is_group:
                waits.append(
                    _window_wait(
                        self._groups.setdefault(chat_id, deque()),
                        now,
                        60.0,
                        self.per_group_per_minute,
                    )
                )
        worst = max((w for w in waits if w is not None), default=None)
        if worst is not None:
            return max(1, math.ceil(worst))
        self._global.append(now)
        if chat_id is not None:
            self._chats[chat_id].append(now)
            if is_group:
                self._groups[chat_id].append(now)
        return None


def _window_wait(window: deque[float], now: float, span: float, limit: int | None) -> float | None:
    """Seconds until the sliding window has room, or None if it has room now."""
    if limit is None:
        return None
    while window and window[0] <= now - span:
        window.popleft()
    if len(window) < limit:
        return None
    return window[0] + span - now
