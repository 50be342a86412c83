"""Digests: exact numbers from known answers, suppression, escaping, splitting, templates, chart."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bot.digest.aggregate as aggregate
from bot.digest import (
    Count,
    DigestData,
    DigestTemplateError,
    build_digest,
    chart_png,
    collect,
    format_period,
    render,
    split_messages,
)
from bot.engine import Consultations, Status
from bot.store import Store
from models.loader import SurveyFileError, load_survey_file
from models.survey import Survey
from tests.conftest import Clock
from tests.fakebot.html_check import EntityParseError, parse_html, utf16_len

QUESTIONS = """\
questions:
  - id: area
    type: choice
    text: Where do you live?
    options:
      - {id: north, label: North <estate>}
      - {id: centre, label: Town centre}
      - {id: south, label: Southfields}
  - id: priorities
    type: multi_choice
    text: What would make the biggest difference?
    max_choices: 2
    options: [Youth club, Community cafe, Parks]
  - id: safety
    type: scale
    text: How safe do you feel at night?
    min: 1
    max: 5
    min_label: Very unsafe
    max_label: Very safe
  - id: why
    type: text
    text: Anything else?
    required: false
  - id: years
    type: number
    text: Years lived here?
    min: 0
    max: 100
    integer: true
  - id: commute
    type: number
    text: Minutes to work?
    min: 0
"""


def survey_text(digest: str = "", title: str = "Millbrook <priorities> & more") -> str:
    head = f"id: millbrook\ntitle: {title}\ntimezone: Europe/London\n"
    return head + textwrap.dedent(digest) + QUESTIONS


END = dt.datetime(2027, 2, 8, 8, 0, tzinfo=dt.UTC)  # Monday 8:00 in London (GMT in February)
START = END - dt.timedelta(weeks=1)

AREAS = ["north"] * 8 + ["centre"] * 4 + ["south"] * 2
PRIORITIES = [
    ["youth-club"],
    ["youth-club", "parks"],
    ["parks"],
    ["community-cafe"],
    ["youth-club", "community-cafe"],
    ["youth-club"],
    ["parks"],
    ["youth-club", "parks"],
    ["community-cafe"],
    ["youth-club"],
    ["parks", "community-cafe"],
    ["youth-club"],
    ["parks"],
    ["youth-club"],
]
SAFETY = [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5]
WHY = ["Dark underpass", "Speeding cars", "No lights", "Mill Lane", "Groups at night", "<b>hi</b> & co"] + [None] * 8
YEARS = [1, 2, 3, 5, 8, 10, 10, 12, 20, 25, 30, 40, 50, 60]
COMMUTE = [i * 2.5 for i in range(14)]


def completed_at(i: int) -> dt.datetime:
    """r0-r3 in the week before the period, r4-r13 in it."""
    if i < 4:
        return START - dt.timedelta(days=6) + dt.timedelta(days=i)
    return START + dt.timedelta(days=1, hours=i)


async def take(engine: Consultations, who: str, answers: dict[str, Any], stop_at: str | None = None) -> None:
    """Answer each question asked from `answers` (None: skip); stop (unfinished) at `stop_at`."""
    reply = await engine.start(who, "millbrook")
    while reply.status == Status.ASK:
        assert reply.question is not None
        question = reply.question.id
        if question == stop_at:
            return
        if answers[question] is None:
            reply = await engine.skip(who, "millbrook", question)
        else:
            reply = await engine.answer(who, "millbrook", question, answers[question])
    assert reply.status == Status.FINISHED, reply


async def fill(engine: Consultations, clock: Clock) -> None:
    for i in range(14):
        clock.now = completed_at(i)
        answers = {
            "area": AREAS[i],
            "priorities": PRIORITIES[i],
            "safety": SAFETY[i],
            "why": WHY[i],
            "years": YEARS[i],
            "commute": COMMUTE[i],
        }
        await take(engine, f"r{i}", answers)
    clock.now = START + dt.timedelta(days=3)
    await take(engine, "u0", {"area": "north"}, stop_at="priorities")
    await engine.cancel("u0", "millbrook")
    await take(engine, "u1", {"area": "centre", "priorities": ["parks"]}, stop_at="safety")
    await take(engine, "u2", {}, stop_at="area")
    # Started in the period, completed after its end: unfinished as far as this digest goes.
    late = {"area": "south", "priorities": ["parks"], "safety": 1, "why": None, "years": 1, "commute": 1}
    clock.now = END - dt.timedelta(hours=1)
    await take(engine, "late", late, stop_at="priorities")
    clock.now = END + dt.timedelta(hours=1)
    await take(engine, "late", late)


@pytest.fixture
def make(make_survey: Callable[..., Survey]) -> Callable[..., Survey]:
    def survey(digest: str = "", **kwargs: Any) -> Survey:
        return make_survey(survey_text(digest, **kwargs))

    return survey


@pytest.fixture
async def filled(make: Callable[..., Survey], engine_for: Callable[..., Consultations], clock: Clock) -> Store:
    engine = engine_for(make())
    await fill(engine, clock)
    return engine.store


def digest_of(store: Store, survey: Survey, start: dt.datetime | None = START, end: dt.datetime = END) -> DigestData:
    return store.read_now(lambda c: collect(c, survey, start, end))


def shown(count: Count) -> int | str:
    return str(count) if count.suppressed else count.value  # type: ignore[return-value]


def bars(data: DigestData, question_id: str) -> dict[str, tuple[int | str, float | None]]:
    return {b.id: (shown(b.count), b.share) for b in data.question(question_id).bars}


# -- the numbers ------------------------------------------------------------------


async def test_headline_and_funnel(filled: Store, make: Callable[..., Survey]) -> None:
    data = digest_of(filled, make("digest:\n  min_group_size: 1\n"))
    h = data.headline
    assert (h.new.value, h.previous and h.previous.value, h.change, h.direction) == (10, 4, 6, "up")
    assert (h.completed.value, h.unfinished.value, h.started.value) == (14, 4, 18)
    reached = {step.question.id: step.reached.value for step in data.funnel}
    # Answer rows, skipped included, over every response that started before the end.
    assert reached == {"area": 17, "priorities": 16, "safety": 15, "why": 15, "years": 15, "commute": 15}
    stopped = {step.question.id: step.stopped.value for step in data.funnel}
    assert stopped == {"area": 1, "priorities": 1, "safety": 1, "why": 0, "years": 0, "commute": 0}
    # "late" completed after the end: unfinished as of the end, and no longer waiting anywhere.
    assert data.stopped_elsewhere.value == 1
    assert data.funnel[0].share == pytest.approx(17 / 18)


async def test_choice_multi_choice_and_scale(filled: Store, make: Callable[..., Survey]) -> None:
    data = digest_of(filled, make("digest:\n  min_group_size: 1\n"))
    assert bars(data, "area") == {"north": (8, 8 / 14), "centre": (4, 4 / 14), "south": (2, 2 / 14)}
    assert data.question("area").answered.value == 14
    # Multi-choice: shares of the people who answered, so they add up to more than 100%.
    assert bars(data, "priorities") == {
        "youth-club": (8, 8 / 14),
        "community-cafe": (4, 4 / 14),
        "parks": (6, 6 / 14),
    }
    safety = data.question("safety")
    assert {b.id: b.count.value for b in safety.bars} == {"1": 1, "2": 2, "3": 3, "4": 4, "5": 4}
    assert [b.label for b in safety.bars] == ["1 Very unsafe", "2", "3", "4", "5 Very safe"]
    assert safety.mean == pytest.approx(50 / 14)
    assert safety.median == 4


async def test_numbers_and_text(filled: Store, make: Callable[..., Survey]) -> None:
    data = digest_of(filled, make("digest:\n  min_group_size: 1\n"))
    years = data.question("years")
    assert years.mean == pytest.approx(276 / 14)
    assert years.median == 11
    assert years.quartiles == (5.75, 28.75)
    assert [(b.label, b.count.value) for b in years.bars] == [("0–19", 8), ("20–39", 3), ("40–60", 3)]
    commute = data.question("commute")
    assert (commute.mean, commute.median) == (pytest.approx(16.25), pytest.approx(16.25))
    why = data.question("why")
    assert (why.answered.value, why.skipped.value) == (6, 8)
    assert why.texts == ["<b>hi</b> & co", "Groups at night", "Mill Lane"]  # most recent first


async def test_numbers_with_many_distinct_values_are_counted_in_sql(
    filled: Store, make: Callable[..., Survey], monkeypatch: pytest.MonkeyPatch
) -> None:
    survey = make("digest:\n  min_group_size: 1\n  breakdown_by: area\n")
    usual = digest_of(filled, survey)
    monkeypatch.setattr(aggregate, "MAX_VALUE_ROWS", 10)
    other_way = digest_of(filled, survey)
    for one, two in ((usual.question("commute"), other_way.question("commute")),):
        assert (one.answered, one.skipped, one.mean, one.median, one.quartiles) == (
            two.answered,
            two.skipped,
            pytest.approx(two.mean),
            pytest.approx(two.median),
            two.quartiles,
        )
        assert [(b.label, b.count) for b in one.bars] == [(b.label, b.count) for b in two.bars]
        assert [g.summary and g.summary.mean for g in one.breakdown] == [
            g.summary and pytest.approx(g.summary.mean) for g in two.breakdown
        ]
    assert usual.question("area").bars == other_way.question("area").bars


async def test_a_digest_up_to_now_has_no_previous_period(filled: Store, make: Callable[..., Survey]) -> None:
    data = digest_of(filled, make("digest:\n  min_group_size: 1\n"), start=None)
    assert data.headline.previous is None and data.headline.change is None
    assert data.headline.new.value == 14
    html = render(make(), data)
    assert "Up to Mon 8 Feb 2027, 08:00" in html


# -- suppression ----------------------------------------------------------------------


async def test_small_groups_are_suppressed(filled: Store, make: Callable[..., Survey]) -> None:
    data = digest_of(filled, make())  # no digest block: min_group_size 5
    h = data.headline
    assert str(h.new) == "10"
    assert h.previous is not None and h.previous.suppressed and str(h.previous) == "fewer than 5"
    assert h.change is None and h.direction == "up"
    assert str(h.unfinished) == "fewer than 5"
    assert bars(data, "area") == {
        "north": (8, 8 / 14),
        "centre": ("fewer than 5", None),
        "south": ("fewer than 5", None),
    }
    assert bars(data, "safety")["1"] == ("fewer than 5", None)
    assert [str(step.stopped) for step in data.funnel][:3] == ["fewer than 5"] * 3
    assert str(data.funnel[-1].stopped) == "0"  # zero may be shown
    html = render(make(), data)
    assert "fewer than 5" in html
    assert "(4)" not in html and "(2)" not in html and "29%" not in html  # centre: 4 of 14


async def test_the_min_group_size_is_the_surveys(filled: Store, make: Callable[..., Survey]) -> None:
    data = digest_of(filled, make("digest:\n  min_group_size: 3\n"))
    assert bars(data, "area")["south"] == ("fewer than 3", None)
    assert bars(data, "area")["centre"] == (4, 4 / 14)


async def test_free_text_only_once_enough_people_answered(filled: Store, make: Callable[..., Survey]) -> None:
    data = digest_of(filled, make("digest:\n  min_group_size: 7\n"))
    why = data.question("why")
    assert str(why.answered) == "fewer than 7" and why.texts == []
    html = render(make("digest:\n  min_group_size: 7\n"), data)
    assert "Answers are shown once 7 people have answered." in html
    assert "underpass" not in html.lower() and "Mill Lane" not in html


async def test_breakdown_exact(filled: Store, make: Callable[..., Survey]) -> None:
    data = digest_of(filled, make("digest:\n  min_group_size: 1\n  breakdown_by: area\n"))
    assert data.breakdown_by is not None and data.breakdown_by.id == "area"
    assert data.question("area").breakdown == []  # not broken down by itself
    groups = {g.id: g for g in data.question("priorities").breakdown}
    assert [g.id for g in data.question("priorities").breakdown] == ["north", "centre", "south"]
    assert groups["north"].size.value == 8
    north = groups["north"].summary
    centre = groups["centre"].summary
    assert north is not None and centre is not None
    assert {b.id: b.count.value for b in north.bars} == {"youth-club": 5, "community-cafe": 2, "parks": 4}
    assert {b.id: b.count.value for b in centre.bars} == {"youth-club": 2, "community-cafe": 2, "parks": 1}
    assert centre.bars[0].share == 2 / 4
    safety = {g.id: g.summary for g in data.question("safety").breakdown}
    assert safety["north"] is not None and safety["north"].mean == 22 / 8 and safety["north"].median == 3
    assert safety["centre"] is not None and safety["centre"].mean == 4.5
    years = {g.id: g.summary for g in data.question("years").breakdown}
    assert years["south"] is not None and years["south"].mean == 55
    why = {g.id: g.summary for g in data.question("why").breakdown}
    assert why["north"] is not None and why["north"].answered.value == 6 and why["north"].texts == []


async def test_breakdown_suppresses_small_groups_whole(filled: Store, make: Callable[..., Survey]) -> None:
    survey = make("digest:\n  breakdown_by: area\n")
    data = digest_of(filled, survey)
    groups = {g.id: g for g in data.question("priorities").breakdown}
    assert groups["centre"].suppressed and str(groups["centre"].size) == "fewer than 5"
    assert groups["south"].suppressed
    north = groups["north"].summary
    assert north is not None
    assert {b.id: shown(b.count) for b in north.bars} == {
        "youth-club": 5,
        "community-cafe": "fewer than 5",
        "parks": "fewer than 5",
    }
    assert [b.share for b in north.bars] == [5 / 8, None, None]
    html = render(survey, data)
    assert "<u>Town centre</u>: fewer than 5 people, not shown" in html
    assert "<u>North &lt;estate&gt;</u> (8): Youth club 63% (5)" in html


# -- rendering ------------------------------------------------------------------------


def messages_parse(messages: list[str], limit: int = 4096) -> None:
    assert messages
    for message in messages:
        assert len(message) <= limit and utf16_len(message) <= limit
        text, _ = parse_html(message)
        assert text.strip()


async def test_render_layout_and_escaping(filled: Store, make: Callable[..., Survey]) -> None:
    survey = make("digest:\n  min_group_size: 1\n  breakdown_by: area\n")
    html = render(survey, digest_of(filled, survey))
    messages_parse(split_messages(html))
    text, entities = parse_html(html)
    # Resident text and admin text are text, never markup.
    assert "<b>hi</b> & co" in text
    assert "&lt;b&gt;hi&lt;/b&gt; &amp; co" in html
    assert text.startswith("📋 Millbrook <priorities> & more\nMon 1 Feb – Mon 8 Feb 2027\n")
    assert "10 new responses ▲ 6\nThe week before: 4\n" in text
    assert "In all: 14 completed · 4 unfinished" in text
    assert "North <estate>\n██████░░░░ 57% (8)\n" in text
    assert "Youth club\n██████░░░░ 57% (8)\n" in text
    assert "Average 3.6 · median 4" in text
    assert "Average 19.7 · median 11 · middle half 5.8 to 28.8" in text
    assert "1. Where do you live? — 17 (94%) · 1 stopped here" in text
    assert {e["type"] for e in entities} <= {"bold", "italic", "underline"}


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (START, END, "Mon 1 Feb – Mon 8 Feb 2027"),
        # British Summer Time: 23:00 UTC is midnight in London.
        (
            dt.datetime(2027, 6, 6, 23, tzinfo=dt.UTC),
            dt.datetime(2027, 6, 13, 23, tzinfo=dt.UTC),
            "Mon 7 Jun – Mon 14 Jun 2027",
        ),
        (
            dt.datetime(2026, 12, 28, 8, tzinfo=dt.UTC),
            dt.datetime(2027, 1, 4, 8, tzinfo=dt.UTC),
            "Mon 28 Dec 2026 – Mon 4 Jan 2027",
        ),
        (
            dt.datetime(2027, 2, 1, 8, tzinfo=dt.UTC),
            dt.datetime(2027, 2, 1, 17, tzinfo=dt.UTC),
            "Mon 1 Feb 2027, 08:00 – 17:00",
        ),
        (None, END, "Up to Mon 8 Feb 2027, 08:00"),
    ],
)
def test_period_in_the_surveys_time_zone(
    make: Callable[..., Survey], start: dt.datetime | None, end: dt.datetime, expected: str
) -> None:
    assert format_period(make(), start, end) == expected


async def test_change_going_down(
    make: Callable[..., Survey], engine_for: Callable[..., Consultations], clock: Clock
) -> None:
    survey = make("digest:\n  min_group_size: 1\n")
    engine = engine_for(survey)
    answers = {"area": "north", "priorities": ["parks"], "safety": 3, "why": None, "years": 1, "commute": 2}
    for i in range(3):
        clock.now = START - dt.timedelta(days=2, hours=i)
        await take(engine, f"before{i}", answers)
    clock.now = START + dt.timedelta(days=1)
    await take(engine, "now", answers)
    data = digest_of(engine.store, survey)
    assert (data.headline.change, data.headline.direction) == (-2, "down")
    assert "1 new response ▼ 2\n" in parse_html(render(survey, data))[0]


async def test_an_empty_survey(make: Callable[..., Survey], store: Store) -> None:
    survey = make("digest:\n  breakdown_by: area\n")
    data = digest_of(store, survey)
    assert data.headline.new.value == 0 and data.question("area").answered.value == 0
    html = render(survey, data)
    assert "No answers yet." in html
    messages_parse(split_messages(html))
    assert chart_png(survey, data) is not None


# -- templates ------------------------------------------------------------------------


async def test_a_survey_template_from_a_file(filled: Store, make_survey: Callable[..., Survey], tmp_path: Path) -> None:
    (tmp_path / "short.html.j2").write_text(
        "<b>{{ data.title }}</b> {{ period }}\n"
        "{% for q in data.questions if q.kind == 'choice' %}"
        "{% for b in q.bars %}{{ b.label }}: {{ b.count }} {{ pct(b.share) }}\n{% endfor %}{% endfor %}",
        encoding="utf-8",
    )
    survey = make_survey(survey_text("digest:\n  template: short.html.j2\n"))
    html = render(survey, digest_of(filled, survey))
    assert html == (
        "<b>Millbrook &lt;priorities&gt; &amp; more</b> Mon 1 Feb – Mon 8 Feb 2027\n"
        "North &lt;estate&gt;: 8 57%\nTown centre: fewer than 5\nSouthfields: fewer than 5"
    )
    # The default can still be asked for by path.
    default = render(survey, digest_of(filled, survey), template_path=aggregate_default())
    assert "How far people got" in default


def aggregate_default() -> Path:
    from bot.digest import DEFAULT_TEMPLATE

    return DEFAULT_TEMPLATE


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ data.__class__.__init__.__globals__ }}",
        "{{ survey.__dict__ }}",
        "{% for x in range(10**9) %}{% endfor %}",
    ],
)
async def test_the_sandbox_refuses_python_internals(
    filled: Store, make: Callable[..., Survey], tmp_path: Path, source: str
) -> None:
    template = tmp_path / "evil.j2"
    template.write_text(source, encoding="utf-8")
    survey = make()
    with pytest.raises(DigestTemplateError) as caught:
        render(survey, digest_of(filled, survey), template_path=template)
    assert "evil.j2" in str(caught.value)
    assert "<class 'object'>" not in str(caught.value)


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("<div>{{ data.title }}</div>", "not allowed"),
        ("<b>{{ data.title }}", "never closed"),
        ("Parks & rec", "&amp;"),
        ("{{ nothing_here }}", "UndefinedError"),
        ("{% if %}", "line 1"),
    ],
)
async def test_broken_templates_are_reported(
    filled: Store, make: Callable[..., Survey], tmp_path: Path, source: str, why: str
) -> None:
    template = tmp_path / "broken.j2"
    template.write_text(source, encoding="utf-8")
    survey = make()
    with pytest.raises(DigestTemplateError, match=r"broken\.j2") as caught:
        render(survey, digest_of(filled, survey), template_path=template)
    assert why in str(caught.value)


async def test_build_digest_falls_back_to_the_default_when_the_template_fails(
    filled: Store, make_survey: Callable[..., Survey], tmp_path: Path
) -> None:
    (tmp_path / "evil.j2").write_text("{{ ''.__class__.__mro__ }}", encoding="utf-8")
    survey = make_survey(survey_text("digest:\n  template: evil.j2\n"))
    digest = await build_digest(filled, survey, START, END)
    assert digest.problems and "evil.j2" in digest.problems[0]
    assert "How far people got" in digest.messages[0]
    messages_parse(digest.messages)


# -- build_digest, and the chart ---------------------------------------------------


async def test_build_digest_counts_slices_like_collect(filled: Store, make: Callable[..., Survey]) -> None:
    survey = make("digest:\n  breakdown_by: area\n  min_group_size: 2\n")
    digest = await build_digest(filled, survey, START, END)
    whole = digest_of(filled, survey)
    assert digest.data.headline == whole.headline
    assert digest.data.funnel == whole.funnel
    for one, two in zip(digest.data.questions, whole.questions, strict=True):
        assert one == two
    assert digest.messages == split_messages(render(survey, whole))
    assert digest.chart is not None and digest.chart.startswith(b"\x89PNG\r\n\x1a\n")


async def test_chart(
    filled: Store, make: Callable[..., Survey], make_survey: Callable[..., Survey], tmp_path: Path
) -> None:
    survey = make()
    png = chart_png(survey, digest_of(filled, survey))
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "chart.png").write_bytes(png)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width == 900 and width + height <= 10000
    only_text = make_survey("id: quiet\ntitle: Quiet\nquestions:\n  - {id: idea, type: text, text: Ideas?}\n")
    assert chart_png(only_text, digest_of(filled, only_text)) is None


# -- splitting -------------------------------------------------------------------------


def test_a_short_digest_is_one_message() -> None:
    assert split_messages("<b>Hello</b>\n\nWorld") == ["<b>Hello</b>\n\nWorld"]


def test_splitting_prefers_blank_lines_then_lines() -> None:
    blocks = [f"<b>Block {i}</b>\n" + "\n".join(f"line {i}.{j} " + "x" * 30 for j in range(8)) for i in range(40)]
    html = "\n\n".join(blocks)
    parts = split_messages(html, 1000)
    messages_parse(parts, 1000)
    assert len(parts) > 1
    for part in parts:  # whole blocks: each message starts with a block title
        assert part.startswith("<b>Block ")
    assert "\n\n".join(parts) == html


def test_a_long_line_is_cut_at_spaces_and_tags_are_reopened() -> None:
    words = " ".join(f"word{i}" for i in range(400))
    html = f"<b>Title</b>\n<i>{words} &amp; <b>bold {words}</b></i>"
    parts = split_messages(html, 300)
    messages_parse(parts, 300)
    assert all(part.startswith(("<b>Title</b>", "<i>")) for part in parts)
    assert " ".join(parse_html(p)[0] for p in parts).split() == parse_html(html)[0].split()


def test_a_word_longer_than_a_message_is_cut_between_characters() -> None:
    html = "<code>" + "&lt;" * 500 + "é" * 300 + "😀" * 300 + "</code>"
    parts = split_messages(html, 200)
    messages_parse(parts, 200)
    assert "".join(parse_html(p)[0] for p in parts) == parse_html(html)[0]


async def test_a_long_digest_is_split_into_valid_messages(
    make_survey: Callable[..., Survey], engine_for: Callable[..., Consultations], clock: Clock
) -> None:
    options = "\n".join(f"      - Option number {i} with a longer label & more" for i in range(20))
    questions = "".join(
        f"  - id: q{i}\n    type: multi_choice\n    text: Question {i} <about> things?\n    options:\n{options}\n"
        for i in range(12)
    )
    survey = make_survey(f"id: millbrook\ntitle: Long\ndigest:\n  min_group_size: 1\nquestions:\n{questions}")
    engine = engine_for(survey)
    for who in range(3):
        reply = await engine.start(f"p{who}", "millbrook")
        while reply.status == Status.ASK and reply.question is not None:
            reply = await engine.answer(
                f"p{who}", "millbrook", reply.question.id, [f"option-number-{who}-with-a-longer-label-more"]
            )
    data = digest_of(engine.store, survey)
    html = render(survey, data)
    assert len(html) > 4096 * 3
    parts = split_messages(html)
    messages_parse(parts)
    assert len(parts) >= 4
    assert " ".join(parse_html(p)[0] for p in parts).split() == parse_html(html)[0].split()


def test_invalid_html_is_refused() -> None:
    with pytest.raises(ValueError):
        split_messages("<b>open " + "x" * 5000)


TAGS = ["b", "i", "u", "s", "code", "pre"]
WORDS = st.text(alphabet=st.sampled_from("ab cé😀<>&\"'\n"), min_size=0, max_size=30)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@st.composite
def soups(draw: st.DrawFn, depth: int = 0) -> str:
    """Valid Telegram HTML: escaped text, blank lines, line breaks and nested tags."""
    pieces = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(
            st.sampled_from(["text", "text", "break", "blank", "tag", "link"] if depth < 3 else ["text", "break"])
        )
        if kind == "text":
            pieces.append(_escape(draw(WORDS)))
        elif kind == "break":
            pieces.append("\n")
        elif kind == "blank":
            pieces.append("\n\n")
        elif kind == "tag":
            tag = draw(st.sampled_from(TAGS))
            pieces.append(f"<{tag}>{draw(soups(depth + 1))}</{tag}>")
        else:
            pieces.append(f'<a href="https://example.org/{draw(st.integers(0, 99))}">{draw(soups(depth + 1))}</a>')
    return "".join(pieces)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(soups(), min_size=1, max_size=12).map("".join), st.integers(min_value=120, max_value=600))
def test_split_messages_property(html: str, limit: int) -> None:
    try:
        whole, _ = parse_html(html)
    except EntityParseError:  # pragma: no cover - the strategy makes valid HTML
        raise
    parts = split_messages(html, limit)
    for part in parts:
        assert utf16_len(part) <= limit
        text, _ = parse_html(part)
        assert text.strip()
    # Nothing visible is lost or added: only whitespace at the cuts.
    assert "".join("".join(parse_html(p)[0] for p in parts).split()) == "".join(whole.split())


# -- the survey file keys ----------------------------------------------------------------


def load(tmp_path: Path, digest: str) -> Survey:
    path = tmp_path / "s.yaml"
    path.write_text(survey_text(digest), encoding="utf-8")
    return load_survey_file(path)


def problems(tmp_path: Path, digest: str) -> list[str]:
    with pytest.raises(SurveyFileError) as caught:
        load(tmp_path, digest)
    return [str(p) for p in caught.value.problems]


def test_breakdown_by_must_name_a_choice_question(tmp_path: Path) -> None:
    assert load(tmp_path, "digest:\n  breakdown_by: area\n").digest.breakdown_by == "area"  # type: ignore[union-attr]
    found = problems(tmp_path, "digest:\n  breakdown_by: aera\n")
    assert found == [f"{tmp_path / 's.yaml'}:5:17: breakdown_by: there is no question 'aera'; did you mean 'area'?"]
    found = problems(tmp_path, "digest:\n  breakdown_by: priorities\n")
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 's.yaml'}:5:17: breakdown_by: 'priorities' is a")
    assert "pick a choice question (area)" in found[0]
    found = problems(tmp_path, "digest:\n  breakdown_by: Area\n")
    assert found[0].startswith(f"{tmp_path / 's.yaml'}:5:17: breakdown_by 'Area' must be the id of a choice question")


def test_template_must_be_a_file_next_to_the_survey(tmp_path: Path) -> None:
    found = problems(tmp_path, "digest:\n  template: digest.j2\n")
    assert found[0].startswith(f"{tmp_path / 's.yaml'}:5:13: template: there is no file 'digest.j2'")
    (tmp_path / "digest.j2").write_text("{% if %}", encoding="utf-8")
    found = problems(tmp_path, "digest:\n  template: digest.j2\n")
    assert found[0].startswith(f"{tmp_path / 's.yaml'}:5:13: template: digest.j2 line 1:")
    (tmp_path / "digest.j2").write_text("<b>{{ data.title }}</b>", encoding="utf-8")
    assert load(tmp_path, "digest:\n  template: digest.j2\n").digest.template == "digest.j2"  # type: ignore[union-attr]


async def test_an_empty_period_is_allowed_and_a_reversed_one_is_not(filled: Store, make: Callable[..., Survey]) -> None:
    survey = make()
    data = digest_of(filled, survey, start=END, end=END)
    assert data.headline.new.value == 0 and data.headline.previous is not None and data.headline.previous.value == 0
    messages_parse(split_messages(render(survey, data)))
    with pytest.raises(ValueError, match="after"):
        digest_of(filled, survey, start=END + dt.timedelta(seconds=1), end=END)
    with pytest.raises(ValueError, match="aware"):
        digest_of(filled, survey, start=None, end=END.replace(tzinfo=None))
