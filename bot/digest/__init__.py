"""Digests for organisers: counted in SQL, rendered with Jinja2, cut to Telegram's size, charted.

    data = collect(connection, survey, start, end)      # sync, one read transaction
    html = render(survey, data)                         # Telegram HTML
    messages = split_messages(html)                     # each <= 4096, valid on its own
    png = chart_png(survey, data)                       # bytes, or None

or, from the event loop, all of it without blocking:

    digest = await build_digest(store, survey, start, end)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from dataclasses import dataclass, field

from bot.digest.aggregate import (
    Bar,
    Count,
    DigestData,
    FunnelStep,
    Group,
    Headline,
    Period,
    QuestionSummary,
    Tally,
    check_period,
    collect,
    min_group_size,
    response_bounds,
    slices,
    summarise,
    tally,
)
from bot.digest.chart import chart_png, load_matplotlib
from bot.digest.layout import DEFAULT_TEMPLATE, DigestTemplateError, format_period, render, template_path
from bot.digest.split import TELEGRAM_LIMIT, HTMLError, check_html, split_messages
from bot.store import Store
from models import survey as schema

log = logging.getLogger(__name__)
# Slices of responses counted at once (the store has two reader threads).
PARALLEL_READS = 2

__all__ = [
    "DEFAULT_TEMPLATE",
    "TELEGRAM_LIMIT",
    "Bar",
    "Count",
    "Digest",
    "DigestData",
    "DigestTemplateError",
    "FunnelStep",
    "Group",
    "HTMLError",
    "Headline",
    "Period",
    "QuestionSummary",
    "build_digest",
    "chart_png",
    "check_html",
    "collect",
    "format_period",
    "load_matplotlib",
    "min_group_size",
    "render",
    "split_messages",
    "template_path",
]


@dataclass
class Digest:
    """A digest ready to send: the messages in order, and the chart to send with them."""

    messages: list[str]
    chart: bytes | None
    data: DigestData
    # Problems an admin should fix (a broken survey template: the default layout was used).
    problems: list[str] = field(default_factory=list)


def _render_and_split(survey: schema.Survey, data: DigestData, problems: list[str]) -> list[str]:
    try:
        html = render(survey, data)
    except DigestTemplateError as exc:
        if template_path(survey) is None:
            raise
        log.warning("digest template of survey %s failed, using the default: %s", survey.id, exc)
        problems.append(str(exc))
        html = render(survey, data, template_path=DEFAULT_TEMPLATE)
    return split_messages(html, TELEGRAM_LIMIT)


def _chart_or_none(survey: schema.Survey, data: DigestData) -> bytes | None:
    """The chart, or None when it cannot be drawn: the text digest goes out regardless."""
    try:
        return chart_png(survey, data)
    except Exception:
        log.exception("could not draw the digest chart of survey %s; sending the digest without it", survey.id)
        return None


async def build_digest(
    store: Store,
    survey: schema.Survey,
    period_start: dt.datetime | None,
    period_end: dt.datetime,
    *,
    chart: bool = True,
) -> Digest:
    """Collect on a reader thread, render and chart on worker threads: the event loop never waits.

    The responses are counted in two halves (by id) at once, on the store's
    two reader threads, and added up; each half is its own read transaction,
    so the halves may be a few milliseconds apart, never overlapping. While
    it runs (about a second for 100,000 responses) other reads wait; writes
    (residents' answers) do not. A survey template that fails is reported in
    `problems` and the default layout is used, so organisers still get their
    digest.
    """
    check_period(period_start, period_end)
    # Two halves of the responses counted at once on two reader connections
    # (SQLite lets go of the GIL while it runs), then added up.
    bounds = await store.read(lambda c: response_bounds(c, survey))
    count = functools.partial(tally, survey=survey, period_start=period_start, period_end=period_end)
    tallies = await asyncio.gather(
        *(store.read(functools.partial(count, id_range=part)) for part in slices(bounds, PARALLEL_READS))
    )
    counted = functools.reduce(Tally.merge, tallies[1:], tallies[0])
    data = await store.read(lambda c: summarise(c, survey, period_start, period_end, counted))
    problems: list[str] = []
    if chart:
        messages, png = await asyncio.gather(
            asyncio.to_thread(_render_and_split, survey, data, problems),
            asyncio.to_thread(_chart_or_none, survey, data),
        )
    else:
        messages, png = await asyncio.to_thread(_render_and_split, survey, data, problems), None
    return Digest(messages=messages, chart=png, data=data, problems=problems)
