"""Dispatching Bot API calls: token check, method lookup, faults, delays, long polling.

``handle`` is the synchronous core (no waiting: getUpdates returns at once, delays are
skipped); ``handle_async`` is what both transports use, adding slow answers and real long
polling that returns as soon as an update arrives, without blocking the event loop.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import errors
from .errors import ApiError
from .faults import FloodControl, make_failure
from .methods import METHODS, Method, public_params
from .state import ApiCall
from .wire import Params, Upload
from .world import World

_TOKEN_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_LOOKUP: dict[str, str] = {name.lower(): name for name in METHODS}
LOG_LIMIT = 200_000

Response = tuple[int, dict[str, Any]]


@dataclass
class _Call:
    name: str
    func: Method
    params: Params
    delay: float


def _error_response(status: int, description: str) -> Response:
    return status, ApiError(status, description).payload()


class Api(World):
    """The Bot API surface of the fake: ``handle`` / ``handle_async`` and fault knobs."""

    # ------------------------------------------------------------------ dispatch

    def handle(
        self,
        token: str,
        method: str,
        params: dict[str, Any],
        files: dict[str, Upload] | None = None,
    ) -> Response:
        """Answer one Bot API call immediately: (HTTP status, JSON body)."""
        call = self._begin(token, method, params, files)
        if not isinstance(call, _Call):
            return call
        with self._lock:
            status, body = self._execute(call)
            self._finish(call, status, body)
        return status, body

    async def handle_async(
        self,
        token: str,
        method: str,
        params: dict[str, Any],
        files: dict[str, Upload] | None = None,
    ) -> Response:
        """Answer one call as Telegram would, waiting for delays and long polls."""
        call = self._begin(token, method, params, files)
        if not isinstance(call, _Call):
            return call
        if call.delay > 0:
            await asyncio.sleep(call.delay)
        if call.name == "getUpdates":
            return await self._long_poll(call)
        with self._lock:
            status, body = self._execute(call)
            self._finish(call, status, body)
        return status, body

    def _begin(
        self,
        token: str,
        method: str,
        params: dict[str, Any],
        files: dict[str, Upload] | None,
    ) -> _Call | Response:
        if not _TOKEN_RE.fullmatch(token):
            return _error_response(404, errors.NOT_FOUND)
        if token != self.token:
            return _error_response(401, errors.UNAUTHORIZED)
        name = _LOOKUP.get(method.lower())
        p = Params(dict(params), dict(files or {}))
        with self._lock:
            self.calls[name or method] += 1
            if name is None:
                self._log(ApiCall(method, public_params(p), 404, description=errors.NOT_FOUND))
                return _error_response(404, errors.NOT_FOUND)
            injected = self.faults.take(name) or self._flood_error(name, p)
            if injected is not None:
                self._log(
                    ApiCall(
                        name,
                        public_params(p),
                        injected.status,
                        description=injected.description,
                        injected=True,
                    )
                )
                return injected.status, injected.payload()
            delay = self.faults.delay_for(name)
        return _Call(name, METHODS[name], p, delay)

    def _execute(self, call: _Call) -> Response:
        """Run the method (lock held)."""
        try:
            result = call.func(self, call.params)
        except ApiError as exc:
            return exc.status, exc.payload()
        return 200, {"ok": True, "result": result}

    def _finish(self, call: _Call, status: int, body: dict[str, Any]) -> None:
        self._log(
            ApiCall(
                call.name,
                public_params(call.params),
                status,
                result=body.get("result"),
                description=body.get("description"),
            )
        )

    def _log(self, entry: ApiCall) -> None:
        if entry.method != "getUpdates":
            self._last_call_at = time.monotonic()
        self.log.append(entry)
        if len(self.log) > LOG_LIMIT:
            del self.log[: LOG_LIMIT // 2]
        self._changed()

    def _flood_error(self, name: str, p: Params) -> ApiError | None:
        if self.flood is None or not FloodControl.applies_to(name):
            return None
        chat_id: int | None = None
        raw = p.raw.get("chat_id")
        if raw is not None and str(raw).lstrip("-").isdigit():
            chat_id = int(raw)
        chat = self.chats.get(chat_id) if chat_id is not None else None
        is_group = chat is not None and chat.type in {"group", "supergroup"}
        wait = self.flood.check(chat_id, is_group)
        if wait is None:
            return None
        return ApiError(429, errors.too_many_requests(wait), retry_after=wait)

    async def _long_poll(self, call: _Call) -> Response:
        """getUpdates with timeout: return when updates arrive, the time is up, or a newer
        getUpdates call supersedes this one (409 Conflict, as Telegram does)."""
        try:
            timeout = max(call.params.get_float("timeout") or 0.0, 0.0)
        except ApiError as exc:
            with self._lock:
                self._finish(call, exc.status, exc.payload())
            return exc.status, exc.payload()
        deadline = time.monotonic() + timeout
        with self._lock:
            self._poll_generation += 1
            generation = self._poll_generation
            self._changed()  # wakes an older poll, which then answers 409
        while True:
            with self._lock:
                if self._poll_generation != generation:
                    status, body = _error_response(409, errors.CONFLICT_POLLING)
                else:
                    status, body = self._execute(call)
                remaining = deadline - time.monotonic()
                if status != 200 or body["result"] or remaining <= 0:
                    self._finish(call, status, body)
                    return status, body
                version = self._version
            await self._wait_change(version, remaining)

    # ---------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        count: int = 1,
    ) -> None:
        """Make the next ``count`` calls of ``method`` ("*" for any) fail.

        The default is Telegram's flood control: 429 "Too Many Requests: retry after N"
        with parameters.retry_after, which PTB raises as RetryAfter.
        """
        with self._lock:
            self.faults.add(
                make_failure(
                    methods=None if method == "*" else [method],
                    status=status,
                    retry_after=retry_after,
                    description=description,
                    count=count,
                    seconds=None,
                )
            )

    def fail_all(
        self,
        *,
        status: int = 500,
        retry_after: int = 1,
        description: str | None = None,
        seconds: float | None = None,
        count: int | None = None,
        methods: Iterable[str] | None = None,
    ) -> None:
        """An outage: every call (or every call of ``methods``) fails with ``status``
        for ``seconds`` / ``count`` calls, or until ``clear_faults()``."""
        with self._lock:
            self.faults.add(
                make_failure(
                    methods=methods,
                    status=status,
                    retry_after=retry_after,
                    description=description,
                    count=count,
                    seconds=seconds,
                )
            )

    @contextmanager
    def outage(
        self,
        *,
        status: int = 500,
        retry_after: int = 1,
        description: str | None = None,
        methods: Iterable[str] | None = None,
    ) -> Iterator[None]:
        """``with fake.outage(status=502): ...`` - everything fails inside the block."""
        self.fail_all(status=status, retry_after=retry_after, description=description, methods=methods)
        try:
            yield
        finally:
            self.clear_faults()

    def set_delay(self, seconds: float, *methods: str) -> None:
        """Answer slowly: ``seconds`` before each call of ``methods`` (none given: all)."""
        with self._lock:
            for name in methods or ("*",):
                self.faults.delays[name.lower()] = seconds

    def enable_flood_control(
        self,
        *,
        global_per_second: int | None = 30,
        per_chat_per_second: int | None = None,
        per_group_per_minute: int | None = 20,
    ) -> None:
        """Answer 429 like Telegram when the bot sends faster than these limits."""
        with self._lock:
            self.flood = FloodControl(
                global_per_second=global_per_second,
                per_chat_per_second=per_chat_per_second,
                per_group_per_minute=per_group_per_minute,
            )

    def clear_faults(self) -> None:
        """Remove planned failures, delays and flood control."""
        with self._lock:
            self.faults.clear()
            self.flood = None
