"""Run the fake as its own process: ``python -m tests.fakebot --port 8081 --token T``.

It prints its base URL (for TELEGRAM_API_BASE_URL) on the first line of stdout and serves
until interrupted. A controlling test drives people and reads transcripts over HTTP:
``POST /_fake/<method>`` with a JSON object of keyword arguments (and optional "args"),
e.g. ``POST /_fake/user_sends {"user_id": 1, "text": "/start"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from .fake import FakeTelegram
from .world import DEFAULT_TOKEN


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve forever."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakebot", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--username", default="consultbot_test_bot")
    parser.add_argument("--no-privacy-mode", action="store_true", help="the bot sees every group message")
    args = parser.parse_args(argv)
    fake = FakeTelegram(token=args.token, username=args.username, privacy_mode=not args.no_privacy_mode)

    async def serve() -> None:
        base_url = await fake.serve(args.host, args.port)
        print(base_url, flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    sys.exit(0)


if __name__ == "__main__":
    main()
