"""Update processing: in order for each resident, in parallel across residents.

python-telegram-bot either handles updates one at a time (slow with many
residents) or all at once (a resident's quick taps can overtake each other).
This processor keeps a lock per resident, so one resident's updates run in
the order they arrived while different residents run side by side. It also
slows a resident who floods the bot (a token bucket per resident), and past
a short queue drops their extra updates, so one person cannot take the
slots everybody else needs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

IDLE_SECONDS = 120.0
WARN_EVERY = 10.0


@dataclass
class _Resident:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0
    tokens: float = 0.0
    refilled: float = 0.0
    warned: float = 0.0


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """Serialise each user's updates; let different users run concurrently."""

    def __init__(
        self,
        max_concurrent_updates: int = 256,
        *,
        burst: int = 10,
        per_second: float = 3.0,
        max_waiting: int = 15,
        on_dropped: Callable[[Update], Awaitable[None]] | None = None,
    ):
        super().__init__(max_concurrent_updates)
        self.burst = burst
        self.per_second = per_second
        self.max_waiting = max_waiting
        self.on_dropped = on_dropped
        self.dropped = 0
        self._residents: dict[int, _Resident] = {}
        self._notes: set[asyncio.Task[None]] = set()
        self._last_sweep = time.monotonic()

    async def initialize(self) -> None:
        """Nothing to set up; state is per resident and made on demand."""

    async def shutdown(self) -> None:
        self._residents.clear()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine

    async def process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _user_id(update)
        if key is None:
            await super().process_update(update, coroutine)
            return
        now = time.monotonic()
        resident = self._residents.get(key)
        if resident is None:
            resident = self._residents[key] = _Resident(tokens=self.burst, refilled=now)
        if resident.waiting >= self.max_waiting:
            self._drop(update, coroutine, resident, now)
            return
        resident.waiting += 1
        try:
            async with resident.lock:
                delay = self._take_token(resident, time.monotonic())
                if delay > 0:
                    await asyncio.sleep(delay)
                async with self._semaphore:
                    await coroutine
        finally:
            resident.waiting -= 1
            self._sweep(time.monotonic())

    def _take_token(self, resident: _Resident, now: float) -> float:
        """Seconds to wait before this update may run (0 while within the burst)."""
        resident.tokens = min(self.burst, resident.tokens + (now - resident.refilled) * self.per_second)
        resident.refilled = now
        resident.tokens -= 1
        return 0.0 if resident.tokens >= 0 else -resident.tokens / self.per_second

    def _drop(self, update: object, coroutine: Awaitable[Any], resident: _Resident, now: float) -> None:
        self.dropped += 1
        if hasattr(coroutine, "close"):
            coroutine.close()  # never run: it must not warn "never awaited"
        if self.on_dropped is None or not isinstance(update, Update):
            return
        # A tap always gets its answer (or its button spins); messages get one note in a while.
        if update.callback_query is not None or now - resident.warned > WARN_EVERY:
            resident.warned = now
            task = asyncio.get_running_loop().create_task(self.on_dropped(update))
            self._notes.add(task)
            task.add_done_callback(self._notes.discard)

    def _sweep(self, now: float) -> None:
        """Forget residents who have been quiet a while, so memory stays flat."""
        if now - self._last_sweep < IDLE_SECONDS / 4:
            return
        self._last_sweep = now
        idle = [key for key, r in self._residents.items() if r.waiting == 0 and now - r.refilled > IDLE_SECONDS]
        for key in idle:
            del self._residents[key]

    @property
    def tracked(self) -> int:
        """Residents with state kept (recently active)."""
        return len(self._residents)

    @property
    def busy(self) -> int:
        """Updates waiting or running for residents now."""
        return sum(r.waiting for r in self._residents.values())


def _user_id(update: object) -> int | None:
    if isinstance(update, Update) and update.effective_user is not None:
        return update.effective_user.id
    return None
