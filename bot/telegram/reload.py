"""Survey files edited while the bot runs take effect without a restart.

The folder is checked every couple of seconds (file names, sizes and
modification times: cheap, and it works on any filesystem, network and
container volumes included). A valid edit becomes the version new
responses start on, while responses under way finish on the version they
started (the engine keeps it). An invalid edit keeps the last good version
of that file, and the admins are told in chat which file:line:col is wrong.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from html import escape
from pathlib import Path

from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot import organisers
from bot.engine import Consultations
from models.loader import LoadResult, Problem, load_surveys
from models.survey import Survey

log = logging.getLogger(__name__)
CHECK_EVERY = 2.0

Signature = tuple[tuple[str, int, int], ...]


def folder_signature(folder: Path) -> Signature | None:
    """What changes when a survey file is added, removed or saved (None: the folder is not there)."""
    entries = []
    try:
        for path in sorted(folder.iterdir()):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                stat = path.stat()
                entries.append((path.name, stat.st_mtime_ns, stat.st_size))
    except OSError:
        return None
    return tuple(entries)


class SurveyWatcher:
    """Reloads the surveys folder when it changes; keeps the last good version of a broken file."""

    def __init__(
        self,
        application: Application,
        engine: Consultations,
        folder: str | Path,
        default_timezone: str,
        admins: frozenset[int],
        on_change: Callable[[], None] | None = None,
    ):
        self.application = application
        self.engine = engine
        self.folder = Path(folder)
        self.default_timezone = default_timezone
        self.admins = admins
        self.on_change = on_change
        self.signature: Signature = folder_signature(self.folder) or ()
        self.good: dict[str, Survey] = {s.source: s for s in engine.surveys.values() if s.source}
        self.reported: dict[str, tuple[Problem, ...]] = {}
        self.reloads = 0

    def start(self, initial_problems: list[Problem] | None = None) -> None:
        for path, problems in _by_path(initial_problems or []).items():
            self.reported[path] = problems
        assert self.application.job_queue is not None
        self.application.job_queue.run_repeating(self._tick, CHECK_EVERY, first=CHECK_EVERY, name="survey-watch")

    async def _tick(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.check()

    async def check(self) -> bool:
        """Reload if the folder changed; returns whether it did."""
        signature = await asyncio.to_thread(folder_signature, self.folder)
        if signature is None or signature == self.signature:
            return False  # unchanged, or the folder is briefly gone (a deploy swapping it): keep what runs
        self.signature = signature
        result = await asyncio.to_thread(load_surveys, [self.folder], self.default_timezone)
        await self.apply(result)
        return True

    async def apply(self, result: LoadResult) -> None:
        surveys: dict[str, Survey] = {}
        for survey in result.surveys.values():
            surveys[survey.id] = survey
            self.good[survey.source] = survey
        problems = _by_path(result.problems)
        present = {name for name, _, _ in self.signature}
        for path, kept in list(self.good.items()):
            if Path(path).name not in present:
                del self.good[path]  # the file was removed
            elif path in problems:
                surveys.setdefault(kept.id, kept)  # broken now: keep the last good version
        self.engine.surveys = surveys
        self.reloads += 1
        log.info("surveys reloaded: %s", ", ".join(sorted(surveys)) or "none")
        for path, found in problems.items():
            if self.reported.get(path) != found:
                await self._tell_admins(path, found, kept=path in self.good)
        self.reported = problems
        now = self.engine.clock()
        await self.engine.store.write(lambda c: organisers.sync_admins(c, self.admins, list(surveys), now))
        if self.on_change is not None:
            self.on_change()

    async def _tell_admins(self, path: str, problems: tuple[Problem, ...], *, kept: bool) -> None:
        for problem in problems:
            log.warning("survey file problem: %s", problem)
        what = "so I kept the last good version" if kept else "so it is not running"
        lines = "\n".join(escape(str(p)) for p in problems[:10])
        more = f"\n…and {len(problems) - 10} more" if len(problems) > 10 else ""
        text = f"I could not load <b>{escape(Path(path).name)}</b>, {what}:\n<code>{lines}</code>{more}"
        for admin in sorted(self.admins):
            try:
                await self.application.bot.send_message(admin, text)
            except TelegramError as exc:
                log.warning("could not tell admin %s about %s: %s", admin, path, exc)


def _by_path(problems: list[Problem]) -> dict[str, tuple[Problem, ...]]:
    grouped: dict[str, list[Problem]] = {}
    for problem in problems:
        grouped.setdefault(problem.path, []).append(problem)
    return {path: tuple(sorted(found)) for path, found in grouped.items()}
