"""Serving the fake: an in-process httpx transport, and a small HTTP/1.1 server.

The transport is the fast path (no sockets) for tests that build the Application in the
test process. The HTTP server is for a bot running as a subprocess (restart tests) or under
load: asyncio streams, keep-alive, many connections at once (each long poll holds one),
Content-Length bodies (and chunked ones, though httpx never sends them).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httpx

from . import errors
from .api import Api
from .errors import ApiError
from .wire import decode_body

if TYPE_CHECKING:
    from telegram.ext import ApplicationBuilder

Response = tuple[int, dict[str, Any]]

#: Methods a separate test process may call through POST /_fake/<name> (see __main__).
CONTROL_METHODS = frozenset(
    {
        "add_user",
        "user_sends",
        "user_sends_command",
        "user_sends_sticker",
        "user_sends_photo",
        "user_sends_voice",
        "user_sends_contact",
        "user_edits",
        "user_presses",
        "user_presses_button",
        "user_blocks_bot",
        "user_unblocks_bot",
        "user_deletes_account",
        "channel_posts",
        "bot_added_to_group",
        "bot_removed_from_group",
        "push_raw_update",
        "fail_next",
        "fail_all",
        "clear_faults",
        "set_delay",
        "enable_flood_control",
        "reset_counts",
        "transcript",
        "messages",
        "last_message",
        "current_text",
        "pending_updates",
        "api_errors",
        "mark",
    }
)


def split_bot_path(path: str) -> tuple[str, str] | None:
    """(token, method) from ".../bot<token>/<method>", whatever prefix the base URL has."""
    parts = unquote(path).rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2].startswith("bot"):
        return parts[-2][3:], parts[-1]
    return None


def jsonable(value: Any) -> Any:
    """Turn fake objects (messages, events, files) into JSON for the control endpoint."""
    if hasattr(value, "to_api"):
        return value.to_api()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


class Serving(Api):
    """Ways to put the fake in front of a python-telegram-bot Application."""

    _http: HttpServer | None = None
    _thread_stop: Any = None

    async def dispatch_http(self, path: str, query: str, content_type: str, body: bytes) -> Response:
        """Answer an HTTP request for a Bot API (or /_fake/ control) path."""
        if path.startswith("/_fake/"):
            return self._control(path[len("/_fake/") :], body)
        target = split_bot_path(path)
        if target is None:
            return 404, ApiError(404, errors.NOT_FOUND).payload()
        try:
            params, files = decode_body(content_type, body, query)
        except ApiError as exc:
            return exc.status, exc.payload()
        return await self.handle_async(target[0], target[1], params, files)

    def _control(self, name: str, body: bytes) -> Response:
        if name not in CONTROL_METHODS:
            return 404, {"ok": False, "error_code": 404, "description": f"no control {name!r}"}
        try:
            request = json.loads(body or b"{}")
            args = request.pop("args", [])
            result = getattr(self, name)(*args, **request)
        except Exception as exc:  # reported to the controlling test, not raised here
            return 400, {"ok": False, "error_code": 400, "description": repr(exc)}
        return 200, {"ok": True, "result": jsonable(result)}

    # ------------------------------------------------------------- in-process

    def httpx_transport(self) -> httpx.MockTransport:
        """An httpx transport answering from this fake, without sockets.

        Use it for both of PTB's requests objects:
        ``HTTPXRequest(httpx_kwargs={"transport": fake.httpx_transport()})``.
        """

        async def handler(request: httpx.Request) -> httpx.Response:
            body = await request.aread()
            status, payload = await self.dispatch_http(
                request.url.path,
                request.url.query.decode("ascii", "replace"),
                request.headers.get("content-type", ""),
                body,
            )
            return httpx.Response(status, json=payload)

        return httpx.MockTransport(handler)

    def application_builder(self) -> ApplicationBuilder:
        """``Application.builder()`` with this fake's token and in-process transport."""
        from telegram.ext import Application
        from telegram.request import HTTPXRequest

        return (
            Application.builder()
            .token(self.token)
            .request(HTTPXRequest(httpx_kwargs={"transport": self.httpx_transport()}))
            .get_updates_request(HTTPXRequest(httpx_kwargs={"transport": self.httpx_transport()}))
        )

    # ------------------------------------------------------------------ HTTP

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot`` - what PTB's ``base_url`` wants (it appends the token)."""
        if self._http is None or self._http.port is None:
            raise RuntimeError("the fake is not being served; use serve() or running()")
        return f"http://{self._http.host}:{self._http.port}/bot"

    @property
    def base_file_url(self) -> str:
        """The matching ``base_file_url`` (file downloads are not implemented)."""
        return self.base_url.removesuffix("/bot") + "/file/bot"

    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving HTTP on this event loop; returns ``base_url``."""
        if self._http is not None:
            raise RuntimeError("already serving")
        server = HttpServer(self, host)
        await server.start(port)
        self._http = server
        return self.base_url

    async def stop_serving(self) -> None:
        """Stop the HTTP server and drop its connections."""
        server, self._http = self._http, None
        if server is not None:
            await server.close()

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """``async with fake.running() as base_url:`` - serve for the block's duration."""
        base_url = await self.serve(host, port)
        try:
            yield base_url
        finally:
            await self.stop_serving()

    @contextmanager
    def serve_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve from a background thread with its own loop, for synchronous tests (e.g.
        ``subprocess.run`` of the CLI, which would block an in-loop server)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.serve(host, port))
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name="fake-telegram", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        try:
            yield self.base_url
        finally:
            asyncio.run_coroutine_threadsafe(self.stop_serving(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()


class HttpServer:
    """A minimal HTTP/1.1 server in front of ``Serving.dispatch_http``."""

    def __init__(self, fake: Serving, host: str) -> None:
        self.fake = fake
        self.host = host
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, port: int) -> None:
        """Listen on host:port (0 picks a free port)."""
        self._server = await asyncio.start_server(self._accept, self.host, port, backlog=512)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and end open connections (including waiting long polls)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve_connection(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # close() cancels connections; end quietly, as asyncio's stream callback logs
            # cancelled connection tasks as errors.
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # the client closed the connection between requests
            lines = head.decode("latin-1").split("\r\n")
            try:
                verb, target, version = lines[0].split(" ", 2)
            except ValueError:
                await self._write(writer, 400, {"ok": False, "description": "bad request line"})
                return
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if ":" in line:
                    key, _, value = line.partition(":")
                    headers[key.strip().lower()] = value.strip()
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await self._read_body(reader, headers)
            path, _, query = target.partition("?")
            if verb.upper() not in {"GET", "POST"}:
                status, payload = 405, ApiError(405, "Method Not Allowed").payload()
            else:
                status, payload = await self.fake.dispatch_http(path, query, headers.get("content-type", ""), body)
            connection = headers.get("connection", "").lower()
            keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
            await self._write(writer, status, payload, keep_alive=keep_alive)
            if not keep_alive:
                return

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # end of (empty) trailers
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
        length = int(headers.get("content-length", "0") or 0)
        return await reader.readexactly(length) if length else b""

    @staticmethod
    async def _write(
        writer: asyncio.StreamWriter,
        status: int,
        payload: dict[str, Any],
        *,
        keep_alive: bool = False,
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            "Server: fake-telegram\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + body)
        await writer.drain()
