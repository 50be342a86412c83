"""A digest as Telegram HTML, from a Jinja2 template run in Jinja2's sandbox.

The default layout is `templates/digest.html.j2`; a survey may name its own
file (`digest.template`, relative to the survey file). Both run in a
`SandboxedEnvironment` with autoescaping, so whatever residents typed (or an
admin put in a label) is shown as text, never as markup, and a template
cannot reach Python's internals. What a template sees is the collected
`DigestData`, already suppressed: a template cannot show a small group.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from bot.digest.aggregate import Count, DigestData
from bot.digest.split import HTMLError, check_html
from models import survey as schema

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_TEMPLATE = TEMPLATES / "digest.html.j2"
BAR_WIDTH = 10
MAX_TEMPLATE_BYTES = 256 * 1024


class DigestTemplateError(Exception):
    """A digest template could not be read or run, or made HTML Telegram would refuse."""


def template_path(survey: schema.Survey) -> Path | None:
    """The survey's own template file, if it names one (relative to the survey file)."""
    if survey.digest is None or not survey.digest.template:
        return None
    base = Path(survey.source).parent if survey.source else Path.cwd()
    return base / survey.digest.template


# -- filters and helpers templates can use ---------------------------------------


def bar(share: float | None, width: int = BAR_WIDTH) -> str:
    """`████████░░` for 0.8; all light when the share is not shown."""
    width = max(1, min(int(width), 40))
    filled = 0 if share is None else max(0, min(width, int(share * width + 0.5)))
    return "█" * filled + "░" * (width - filled)


def pct(share: float | None) -> str:
    """`42%`; an empty string when the share is not shown."""
    if share is None:
        return ""
    value = share * 100
    if 0 < value < 1:
        return "<1%"
    return f"{int(value + 0.5)}%"


def num(value: float | int | None, digits: int = 1) -> str:
    """A figure without needless decimals: 12, 3.4, 1,250."""
    if value is None:
        return ""
    digits = max(0, min(int(digits), 4))
    text = f"{value:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def shorten(text: Any, width: int = 60) -> str:
    """Text cut to `width` characters at a word, with an ellipsis."""
    text = " ".join(str(text).split())
    width = max(4, int(width))
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space > width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _day(value: dt.datetime, year: bool) -> str:
    text = f"{value:%a} {value.day} {value:%b}"
    return f"{text} {value.year}" if year else text


def format_period(survey: schema.Survey, start: dt.datetime | None, end: dt.datetime) -> str:
    """`Mon 3 Feb – Mon 10 Feb 2027`, in the survey's time zone; times when it matters."""
    zone = survey.zone
    last = end.astimezone(zone)
    if start is None:
        return f"Up to {_day(last, True)}, {last:%H:%M}"
    first = start.astimezone(zone)
    at_midnight = first.time() == dt.time(0) and last.time() == dt.time(0)
    whole_days = (end - start) % dt.timedelta(days=1) == dt.timedelta(0)
    if first.date() == last.date():
        return f"{_day(first, True)}, {first:%H:%M} – {last:%H:%M}"
    if whole_days or at_midnight:
        return f"{_day(first, first.year != last.year)} – {_day(last, True)}"
    return f"{_day(first, first.year != last.year)}, {first:%H:%M} – {_day(last, True)}, {last:%H:%M}"


def period_length(start: dt.datetime | None, end: dt.datetime) -> str:
    """`week`, `day`, `4 weeks`, `30 days`... for "on the previous week"."""
    if start is None:
        return ""
    seconds = (end - start).total_seconds()
    if seconds <= 0:
        return "period"
    days, rest = divmod(seconds, 86400)
    if rest == 0 and days % 7 == 0:
        weeks = int(days // 7)
        return "week" if weeks == 1 else f"{weeks} weeks"
    if rest == 0:
        return "day" if days == 1 else f"{int(days)} days"
    if days >= 2:  # an on-demand period ends "now": round to whole days
        return f"{round(seconds / 86400)} days"
    hours = round(seconds / 3600)
    return "hour" if hours <= 1 else f"{hours} hours"


# -- the environment ----------------------------------------------------------------


def _environment() -> SandboxedEnvironment:
    """Jinja2's sandbox, escaping for HTML, with the helpers a digest template needs."""
    env = SandboxedEnvironment(
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(bar=bar, pct=pct, num=num, shorten=shorten)
    env.globals.update(bar=bar, pct=pct, num=num, shorten=shorten)
    return env


_ENV = _environment()


def _read_template(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_TEMPLATE_BYTES:
            raise DigestTemplateError(f"{path}: the template is larger than {MAX_TEMPLATE_BYTES // 1024} KB")
        return path.read_text("utf-8")
    except OSError as exc:
        raise DigestTemplateError(f"{path}: cannot read the template ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise DigestTemplateError(f"{path}: the template is not UTF-8 text") from None


def _tidy(html: str) -> str:
    """Trailing spaces off each line, at most one blank line in a row."""
    lines = [line.rstrip() for line in html.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def render(survey: schema.Survey, data: DigestData, *, template_path: str | Path | None = None) -> str:
    """The digest as Telegram HTML (one string; `split_messages` cuts it to size).

    `template_path` overrides the survey's own template; without either the
    default layout is used. Raises DigestTemplateError when a template fails.
    """
    path = Path(template_path) if template_path is not None else _survey_template(survey)
    name = DEFAULT_TEMPLATE.name if path is None else str(path)
    try:
        template = _default_template() if path is None else _ENV.from_string(_read_template(path))
        html = template.render(
            survey=survey,
            data=data,
            h=data.headline,
            period=format_period(survey, data.period.start, data.period.end),
            period_length=period_length(data.period.start, data.period.end),
            k=data.min_group_size,
            fewer=str(Count(None, data.min_group_size)),
        )
    except DigestTemplateError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise DigestTemplateError(f"{name} line {exc.lineno}: {exc.message}") from None
    except jinja2.TemplateError as exc:  # includes SecurityError and UndefinedError
        raise DigestTemplateError(f"{name}: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # a template can divide by zero, etc.
        raise DigestTemplateError(f"{name}: {type(exc).__name__}: {exc}") from None
    html = _tidy(html)
    try:
        check_html(html)
    except HTMLError as exc:
        raise DigestTemplateError(f"{name} made HTML Telegram would refuse: {exc}") from None
    if not html:
        raise DigestTemplateError(f"{name} made an empty digest")
    return html


def _survey_template(survey: schema.Survey) -> Path | None:
    return template_path(survey)


@functools.cache
def _default_template() -> jinja2.Template:
    return _ENV.from_string(_read_template(DEFAULT_TEMPLATE))
