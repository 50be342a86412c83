"""What a digest says, counted by the database: `collect(connection, survey, start, end)`.

Every figure comes from a GROUP BY (or an aggregate) in portable SQL that
SQLite and PostgreSQL both run; Python only ever sees a few rows per
question and breakdown group (one per option, scale point, distinct
multi-choice combination, or distinct number), never the answers one by
one. Free text is the exception: its three most recent answers are read.

The work is in two steps. `tally` counts exactly, over all responses or
over a slice of them (an id range), and slices add up (`Tally.merge`), so
`build_digest` can count two halves at once on two connections.
`summarise` then turns exact counts into what a digest may show, applying
small-number suppression before anything reaches a template: a count from 1
to `min_group_size - 1` is kept only as "fewer than N" (its value is
dropped), a share or average computed on such a group is dropped too, a
breakdown group that small is dropped whole, and free text is kept only
once enough people have answered. So even a survey's own template cannot
show what must not be shown.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from models import survey as schema
from models.tables import UTCDateTime

DEFAULT_MIN_GROUP_SIZE = 5
RECENT_TEXTS = 3
MAX_BUCKETS = 5  # ranges shown for a number question (about)
# Longest free-text answer shown in a digest (the export has the whole text).
MAX_TEXT_CHARS = 500

_TIME = UTCDateTime()
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# -- what a digest holds --------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """A number of people, as a digest may show it.

    `value` is None when the true count is from 1 to `min_group_size - 1`:
    the count itself is not kept, only that it is small.
    """

    value: int | None
    min_group_size: int

    @property
    def suppressed(self) -> bool:
        return self.value is None

    @property
    def shown(self) -> bool:
        return self.value is not None

    def __str__(self) -> str:
        return f"fewer than {self.min_group_size}" if self.value is None else f"{self.value:,}"


def _count(n: int, k: int) -> Count:
    return Count(None if 0 < n < k else n, k)


@dataclass(frozen=True)
class Bar:
    """One option, scale point or number range: how many picked it, and the share."""

    id: str
    label: str
    count: Count
    share: float | None  # of the people who answered; None when not shown


@dataclass
class QuestionSummary:
    """One question over completed responses (or over one breakdown group of them)."""

    question: schema.Question
    number: int  # 1-based position in the survey
    kind: str  # the question type
    answered: Count
    skipped: Count
    bars: list[Bar] = field(default_factory=list)
    mean: float | None = None
    median: float | None = None
    quartiles: tuple[float, float] | None = None  # (lower, upper), number questions
    texts: list[str] = field(default_factory=list)  # text questions: recent answers, when enough answered
    breakdown: list[Group] = field(default_factory=list)

    @property
    def text(self) -> str:
        return schema.localise(self.question.text)

    @property
    def id(self) -> str:
        return self.question.id


@dataclass
class Group:
    """The people who picked one option of the breakdown question."""

    id: str
    label: str
    size: Count
    summary: QuestionSummary | None  # None: the group is too small to show

    @property
    def suppressed(self) -> bool:
        return self.summary is None


@dataclass(frozen=True)
class Period:
    start: dt.datetime | None  # None: since the survey began
    end: dt.datetime
    previous_start: dt.datetime | None


@dataclass(frozen=True)
class Headline:
    new: Count  # completed in the period
    previous: Count | None  # completed in the period before, of the same length
    change: int | None  # new - previous, when both are shown
    direction: str  # "up", "down", "same", or "" when unknown
    completed: Count  # all completed up to the period's end
    unfinished: Count  # started, not completed
    started: Count


@dataclass(frozen=True)
class FunnelStep:
    question: schema.Question
    number: int
    reached: Count  # responses with an answer row for it (skipped included)
    share: float | None  # of all started
    stopped: Count  # unfinished responses waiting at this question

    @property
    def text(self) -> str:
        return schema.localise(self.question.text)


@dataclass
class DigestData:
    survey_id: str
    title: str
    min_group_size: int
    period: Period
    headline: Headline
    funnel: list[FunnelStep]
    stopped_elsewhere: Count  # unfinished responses not at a current question
    questions: list[QuestionSummary]
    breakdown_by: schema.ChoiceQuestion | None = None

    def question(self, question_id: str) -> QuestionSummary:
        return next(q for q in self.questions if q.question.id == question_id)


def min_group_size(survey: schema.Survey) -> int:
    return survey.digest.min_group_size if survey.digest is not None else DEFAULT_MIN_GROUP_SIZE


# -- the SQL --------------------------------------------------------------------
#
# Every statement reads one slice of the survey's responses: all of them, or
# an id range (`build_digest` counts two halves at once on two connections
# and adds them up). Everything counted is additive, so slices merge exactly.

_COMPLETED = "r.survey_id = :survey_id AND r.completed_at IS NOT NULL AND r.completed_at < :end"
_RANGE = " AND r.id >= :low AND r.id < :high"
# The breakdown: the response's answer to the `breakdown_by` question, joined
# once per response (not once per answer) by putting it before `a`.
_WITH_GROUP = "response r LEFT JOIN answer b ON b.response_id = r.id AND b.question_id = :by"


def _sql(statement: str, *, times: Sequence[str] = ("end",), lists: Sequence[str] = ()) -> sa.TextClause:
    params = [sa.bindparam(name, type_=_TIME) for name in times]
    params += [sa.bindparam(name, expanding=True) for name in lists]
    return sa.text(" ".join(statement.split())).bindparams(*params)


@functools.cache
def _statement(kind: str, grouped: bool, ranged: bool) -> sa.TextClause:
    """The statement of one kind, for a slice (`ranged`) and with a breakdown (`grouped`) or not."""
    where = _COMPLETED + (_RANGE if ranged else "")
    source = _WITH_GROUP if grouped else "response r"
    group = "b.value" if grouped else "NULL"
    group_by = "b.value, " if grouped else ""
    if kind == "headline":
        return _sql(
            f"""
            SELECT
              SUM(CASE WHEN r.completed_at >= :start AND r.completed_at < :end THEN 1 ELSE 0 END) AS new,
              SUM(CASE WHEN r.completed_at >= :previous_start AND r.completed_at < :start THEN 1 ELSE 0 END)
                AS previous,
              SUM(CASE WHEN r.completed_at < :end THEN 1 ELSE 0 END) AS completed,
              SUM(CASE WHEN r.completed_at IS NULL OR r.completed_at >= :end THEN 1 ELSE 0 END) AS unfinished
            FROM response r
            WHERE r.survey_id = :survey_id AND r.started_at < :end {_RANGE if ranged else ""}
            """,
            times=("start", "end", "previous_start"),
        )
    if kind == "unfinished":  # answers of responses not completed by the end: the rest of the funnel
        return _sql(
            f"""
            SELECT a.question_id, COUNT(*) AS n
            FROM response r JOIN answer a ON a.response_id = r.id
            WHERE r.survey_id = :survey_id AND r.started_at < :end
              AND (r.completed_at IS NULL OR r.completed_at >= :end) {_RANGE if ranged else ""}
            GROUP BY a.question_id
            """
        )
    if kind == "stopped":
        return _sql(
            f"""
            SELECT r.current_question, COUNT(*) AS n
            FROM response r
            WHERE r.survey_id = :survey_id AND r.started_at < :end
              AND (r.completed_at IS NULL OR r.completed_at >= :end) {_RANGE if ranged else ""}
            GROUP BY r.current_question
            """
        )
    if kind == "values":  # people per answer (a NULL answer: skipped), per breakdown group
        return _sql(
            f"""
            SELECT {group} AS grp, a.question_id, a.value, COUNT(*) AS n
            FROM {source} JOIN answer a ON a.response_id = r.id
            WHERE {where} AND a.question_id IN :ids
            GROUP BY {group_by}a.question_id, a.value
            LIMIT :cap
            """,
            lists=("ids",),
        )
    if kind == "counts":  # free text (and numbers with too many distinct values): how many, not what
        return _sql(
            f"""
            SELECT {group} AS grp, a.question_id, COUNT(*) AS n, COUNT(a.value) AS answered
            FROM {source} JOIN answer a ON a.response_id = r.id
            WHERE {where} AND a.question_id IN :ids
            GROUP BY {group_by}a.question_id
            """,
            lists=("ids",),
        )
    if kind in ("recent", "recent_since"):
        # The period's own responses first: far fewer to look at than all of them.
        since = " AND r.completed_at >= :since" if kind == "recent_since" else ""
        return _sql(
            f"""
            SELECT a.value, a.answered_at, a.id
            FROM response r JOIN answer a ON a.response_id = r.id
            WHERE {where}{since} AND a.question_id = :question_id AND a.value IS NOT NULL
            ORDER BY a.answered_at DESC, a.id DESC
            LIMIT :limit
            """,
            times=("end", "since") if since else ("end",),
        )
    if kind == "number_stats":  # numbers with many distinct values: the figures SQL can add up
        return _sql(
            f"""
            SELECT {group} AS grp, COUNT(a.value) AS n, SUM(CAST(a.value AS FLOAT)) AS total,
                   MIN(CAST(a.value AS FLOAT)) AS lowest, MAX(CAST(a.value AS FLOAT)) AS highest
            FROM {source} JOIN answer a ON a.response_id = r.id
            WHERE {where} AND a.question_id = :question_id AND a.value IS NOT NULL
            GROUP BY {group_by.rstrip(", ") or "a.question_id"}
            """
        )
    if kind == "number_at":  # the value at a position, for exact quartiles without reading them all
        return _sql(
            f"""
            SELECT CAST(a.value AS FLOAT) AS v
            FROM response r JOIN answer a ON a.response_id = r.id
            WHERE {where} AND a.question_id = :question_id AND a.value IS NOT NULL
            ORDER BY v
            LIMIT 2 OFFSET :offset
            """
        )
    raise ValueError(kind)


def _buckets_statement(edges: int) -> sa.TextClause:
    """SUM(CASE ...) per range [e_i, e_i+1); the last range includes its upper edge."""
    parts = []
    for i in range(edges - 1):
        upper = "<=" if i == edges - 2 else "<"
        parts.append(
            f"SUM(CASE WHEN CAST(a.value AS FLOAT) >= :e{i} AND CAST(a.value AS FLOAT) {upper} :e{i + 1}"
            f" THEN 1 ELSE 0 END) AS b{i}"
        )
    return _sql(
        f"""
        SELECT {", ".join(parts)}
        FROM response r JOIN answer a ON a.response_id = r.id
        WHERE {_COMPLETED} AND a.question_id = :question_id AND a.value IS NOT NULL
        """
    )


RESPONSE_BOUNDS = _sql(
    "SELECT MIN(r.id) AS low, MAX(r.id) AS high FROM response r WHERE r.survey_id = :survey_id", times=()
)

# Numbers are counted per distinct value (one GROUP BY), which gives exact
# medians, quartiles and ranges. A pass over values returns at most this many
# rows; past it, numbers with very many distinct answers are counted another
# way (sums in SQL, quartiles by ORDER BY ... LIMIT/OFFSET, ranges by CASE),
# so the rows read stay few whatever people typed.
MAX_VALUE_ROWS = 50_000
# Integer questions with a range this small are counted per value outright.
MAX_BOUNDED_RANGE = 2_000


# -- counting one slice -------------------------------------------------------------


Key = tuple[Any, str]  # (breakdown group as stored JSON, or None; question id)


@dataclass
class Tally:
    """Additive counts over one slice of a survey's responses, before suppression.

    Stays inside this module (and `build_digest`): it holds exact small
    numbers, which only `summarise` may turn into what a digest shows.
    """

    new: int = 0
    previous: int = 0
    completed: int = 0
    unfinished: int = 0
    reached_unfinished: Counter[str] = field(default_factory=Counter)
    stopped: Counter[str | None] = field(default_factory=Counter)
    # completed responses: (group, question, stored value) -> people; a None value is a skip
    values: Counter[tuple[Any, str, Any]] = field(default_factory=Counter)
    # completed responses, questions counted without their values: (group, question) -> [rows, answered]
    counts: dict[Key, list[int]] = field(default_factory=dict)
    recent: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    overflow: bool = False  # free-form numbers had too many distinct values to count per value

    def merge(self, other: Tally) -> Tally:
        self.new += other.new
        self.previous += other.previous
        self.completed += other.completed
        self.unfinished += other.unfinished
        self.reached_unfinished.update(other.reached_unfinished)
        self.stopped.update(other.stopped)
        self.values.update(other.values)
        for key, (n, answered) in other.counts.items():
            mine = self.counts.setdefault(key, [0, 0])
            mine[0] += n
            mine[1] += answered
        for question_id, rows in other.recent.items():
            merged = sorted([*self.recent.get(question_id, []), *rows], key=lambda r: (r[1], r[2]), reverse=True)
            self.recent[question_id] = merged[:RECENT_TEXTS]
        self.overflow = self.overflow or other.overflow
        return self


def _bounded(question: schema.Question) -> bool:
    """Whether the survey itself limits the distinct answers (so a GROUP BY value stays small)."""
    if isinstance(question, schema.NumberQuestion):
        return (
            question.integer
            and question.min is not None
            and question.max is not None
            and question.max - question.min <= MAX_BOUNDED_RANGE
        )
    return isinstance(question, (schema.ChoiceQuestion, schema.MultiChoiceQuestion, schema.ScaleQuestion))


def _free_numbers(survey: schema.Survey) -> list[str]:
    return [q.id for q in survey.questions if isinstance(q, schema.NumberQuestion) and not _bounded(q)]


def breakdown_question(survey: schema.Survey) -> schema.ChoiceQuestion | None:
    if survey.digest is None or not survey.digest.breakdown_by:
        return None
    question = survey.question(survey.digest.breakdown_by)
    return question if isinstance(question, schema.ChoiceQuestion) else None


def _previous_start(start: dt.datetime | None, end: dt.datetime) -> dt.datetime | None:
    return start - (end - start) if start is not None else None


def tally(
    connection: sa.Connection,
    survey: schema.Survey,
    period_start: dt.datetime | None,
    period_end: dt.datetime,
    id_range: tuple[int, int] | None = None,
) -> Tally:
    """Count one slice of the survey's responses (ids in [low, high), or all of them)."""
    by = breakdown_question(survey)
    grouped, ranged = by is not None, id_range is not None
    params: dict[str, Any] = {"survey_id": survey.id, "end": period_end}
    if by is not None:
        params["by"] = by.id
    if id_range is not None:
        params["low"], params["high"] = id_range
    result = Tally()
    c = connection

    previous_start = _previous_start(period_start, period_end)
    row = c.execute(
        _statement("headline", False, ranged),
        {**params, "start": period_start or _EPOCH, "previous_start": previous_start or period_start or _EPOCH},
    ).one()
    result.new, result.previous = int(row.new or 0), int(row.previous or 0)
    result.completed, result.unfinished = int(row.completed or 0), int(row.unfinished or 0)
    for row in c.execute(_statement("unfinished", False, ranged), params):
        result.reached_unfinished[row.question_id] = int(row.n)
    for row in c.execute(_statement("stopped", False, ranged), params):
        result.stopped[row.current_question] = int(row.n)

    bounded = [q.id for q in survey.questions if _bounded(q)]
    free = _free_numbers(survey)
    counted = [q.id for q in survey.questions if isinstance(q, schema.TextQuestion)]
    if bounded or free:
        values = _statement("values", grouped, ranged)
        rows = c.execute(values, {**params, "ids": bounded + free, "cap": MAX_VALUE_ROWS + 1}).all()
        if free and len(rows) > MAX_VALUE_ROWS:
            result.overflow = True
            counted += free
            rows = c.execute(values, {**params, "ids": bounded or ["-"], "cap": 10**9}).all()
        for row in rows:
            result.values[(row.grp, row.question_id, row.value)] += int(row.n)
    if counted:
        for row in c.execute(_statement("counts", grouped, ranged), {**params, "ids": counted}):
            result.counts[(row.grp, row.question_id)] = [int(row.n), int(row.answered)]
    for question in survey.questions:
        if isinstance(question, schema.TextQuestion):
            asked = {**params, "question_id": question.id, "limit": RECENT_TEXTS}
            rows = []
            if period_start is not None:
                rows = c.execute(_statement("recent_since", False, ranged), {**asked, "since": period_start}).all()
            if len(rows) < RECENT_TEXTS:
                rows = c.execute(_statement("recent", False, ranged), asked).all()
            result.recent[question.id] = [tuple(r) for r in rows]
    return result


def response_bounds(connection: sa.Connection, survey: schema.Survey) -> tuple[int, int] | None:
    """The lowest and highest response id of a survey (None: no responses), to cut it into slices."""
    row = connection.execute(RESPONSE_BOUNDS, {"survey_id": survey.id}).one()
    return None if row.low is None else (int(row.low), int(row.high))


def slices(bounds: tuple[int, int] | None, parts: int) -> list[tuple[int, int]]:
    """`parts` id ranges [low, high) covering `bounds`, about the same size."""
    if bounds is None:
        return [(0, 1)]
    low, high = bounds[0], bounds[1] + 1
    parts = max(1, min(parts, high - low))
    step = (high - low) / parts
    edges = [low + round(step * i) for i in range(parts)] + [high]
    return [(edges[i], edges[i + 1]) for i in range(parts)]


# -- small helpers ----------------------------------------------------------------


def _loads(text: Any) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _share(count: Count, of: Count) -> float | None:
    if count.value is None or not of.value:
        return None
    return count.value / of.value


def _quantile(sorted_counts: Sequence[tuple[float, int]], total: int, p: float) -> float:
    """The p-quantile (linear interpolation, as numpy's default) from sorted (value, count) pairs."""
    position = p * (total - 1)
    low_index, high_index = math.floor(position), math.ceil(position)
    low = high = None
    seen = 0
    for value, n in sorted_counts:
        if low is None and low_index < seen + n:
            low = value
        if high_index < seen + n:
            high = value
            break
        seen += n
    assert low is not None and high is not None
    return low + (high - low) * (position - low_index)


def _nice_edges(lowest: float, highest: float, integer: bool) -> list[float]:
    """Round edges, MAX_BUCKETS ranges or so, covering [lowest, highest]."""
    if highest <= lowest:
        return [lowest, highest]
    raw = (highest - lowest) / MAX_BUCKETS
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if integer:
        step = float(max(1, math.ceil(step)))
    edges = [math.floor(lowest / step) * step]
    while edges[-1] < highest:  # the last range includes its top edge
        edges.append(edges[-1] + step)
    return edges


def _fmt(value: float) -> str:
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _bucket_label(low: float, high: float, last: bool, integer: bool) -> str:
    if integer:
        top = high if last else high - 1
        return _fmt(low) if top <= low else f"{_fmt(low)}–{_fmt(top)}"
    return f"{_fmt(low)}–{_fmt(high)}" if last else f"{_fmt(low)} to under {_fmt(high)}"


def _bars(labels: Iterable[tuple[Any, str]], counts: Counter[Any], answered: Count, k: int) -> list[Bar]:
    bars = []
    for key, label in labels:
        count = _count(counts.get(key, 0), k)
        bars.append(Bar(str(key), label, count, _share(count, answered)))
    return bars


def _bucket_bars(edges: list[float], in_bucket: list[int], integer: bool, answered: Count, k: int) -> list[Bar]:
    if len(edges) < 2:
        return []
    if edges[0] == edges[-1]:  # everyone gave the same number
        labels = [(f"{edges[0]:g}", _fmt(edges[0]))]
    else:
        labels = [
            (f"{edges[i]:g}", _bucket_label(edges[i], edges[i + 1], i == len(edges) - 2, integer))
            for i in range(len(edges) - 1)
        ]
    return _bars(labels, Counter({key: in_bucket[i] for i, (key, _) in enumerate(labels)}), answered, k)


def _in_buckets(edges: list[float], pairs: Iterable[tuple[float, int]]) -> list[int]:
    counts = [0] * max(len(edges) - 1, 1)
    last = len(edges) - 2
    for value, n in pairs:
        for i in range(max(last, 0) + 1):
            if edges[i] <= value and (value < edges[i + 1] or (i == last and value <= edges[i + 1])):
                counts[i] += n
                break
    return counts


# -- from counts to what a digest shows ---------------------------------------------


class _Summariser:
    def __init__(
        self,
        connection: sa.Connection | None,
        survey: schema.Survey,
        end: dt.datetime,
        tally: Tally,
    ):
        self.c = connection
        self.survey = survey
        self.end = end
        self.tally = tally
        self.k = min_group_size(survey)
        self.by = breakdown_question(survey)
        self._number_stats: dict[str, dict[Any, Any]] = {}
        # (group, question) -> Counter(decoded value -> people), and -> [rows, answered]
        self.values: dict[Key, Counter[Any]] = {}
        self.rows: dict[Key, list[int]] = {}
        free = set(_free_numbers(survey)) if tally.overflow else set()
        for (grp, question_id, stored), n in tally.values.items():
            key = (_loads(grp), question_id)
            tallied = self.rows.setdefault(key, [0, 0])
            tallied[0] += n
            if stored is not None:
                tallied[1] += n
                if question_id in free:  # values counted another way (see Tally.overflow)
                    continue
                self.values.setdefault(key, Counter())
                _add(self.values[key], _loads(stored), n)
        for (grp, question_id), (n, answered) in tally.counts.items():
            key = (_loads(grp), question_id)
            tallied = self.rows.setdefault(key, [0, 0])
            tallied[0] += n
            tallied[1] += answered

    def total(self, question_id: str, group: Any = ...) -> tuple[int, int, Counter[Any]]:
        """(rows, answered, values) for a question, over everyone (`...`) or one group."""
        rows = answered = 0
        values: Counter[Any] = Counter()
        for (grp, qid), (n, done) in self.rows.items():
            if qid == question_id and (group is ... or grp == group):
                rows += n
                answered += done
                values.update(self.values.get((grp, qid), Counter()))
        return rows, answered, values

    def headline(self, start: dt.datetime | None) -> Headline:
        t, k = self.tally, self.k
        new, previous = _count(t.new, k), (_count(t.previous, k) if start is not None else None)
        change: int | None = None
        direction = ""
        if previous is not None:
            direction = "up" if t.new > t.previous else "down" if t.new < t.previous else "same"
            if new.shown and previous.shown:
                change = t.new - t.previous
            elif direction == "same" or (new.suppressed and previous.suppressed):
                direction = ""  # comparing small groups would give the numbers away
        return Headline(
            new=new,
            previous=previous,
            change=change,
            direction=direction,
            completed=_count(t.completed, k),
            unfinished=_count(t.unfinished, k),
            started=_count(t.completed + t.unfinished, k),
        )

    def funnel(self) -> tuple[list[FunnelStep], Count]:
        started = self.tally.completed + self.tally.unfinished
        stopped = Counter(self.tally.stopped)
        steps = []
        for index, question in enumerate(self.survey.questions):
            rows, _, _ = self.total(question.id)
            count = _count(rows + self.tally.reached_unfinished.get(question.id, 0), self.k)
            steps.append(
                FunnelStep(
                    question=question,
                    number=index + 1,
                    reached=count,
                    share=(count.value / started) if count.value is not None and started else None,
                    stopped=_count(stopped.pop(question.id, 0), self.k),
                )
            )
        return steps, _count(sum(stopped.values()), self.k)

    def summary(self, index: int, question: schema.Question, group: Any = ...) -> QuestionSummary:
        k = self.k
        rows, answered, values = self.total(question.id, group)
        summary = QuestionSummary(
            question=question,
            number=index + 1,
            kind=question.type,
            answered=_count(answered, k),
            skipped=_count(rows - answered, k),
        )
        shown = summary.answered.shown and answered > 0
        if isinstance(question, (schema.ChoiceQuestion, schema.MultiChoiceQuestion)):
            summary.bars = _bars([(o.id, o.label) for o in question.options], values, summary.answered, k)
        elif isinstance(question, schema.ScaleQuestion):
            labels = []
            for point in question.points:
                label = str(point)
                if point == question.min and question.min_label:
                    label += f" {schema.localise(question.min_label)}"
                elif point == question.max and question.max_label:
                    label += f" {schema.localise(question.max_label)}"
                labels.append((point, label))
            summary.bars = _bars(labels, values, summary.answered, k)
            if shown:
                self._centre(summary, values)
        elif isinstance(question, schema.NumberQuestion) and shown:
            if self.tally.overflow and question.id in _free_numbers(self.survey):
                self._numbers_in_sql(summary, question, group)
            else:
                self._centre(summary, values, spread=group is ...)
                pairs = sorted((v, n) for v, n in ((_number(v), n) for v, n in values.items()) if v is not None)
                if group is ... and pairs:
                    edges = _nice_edges(pairs[0][0], pairs[-1][0], question.integer)
                    summary.bars = _bucket_bars(edges, _in_buckets(edges, pairs), question.integer, summary.answered, k)
        elif isinstance(question, schema.TextQuestion) and group is ... and answered >= k:
            for stored, *_ in self.tally.recent.get(question.id, []):
                text = _loads(stored)
                text = "" if text is None else str(text)
                if len(text) > MAX_TEXT_CHARS:
                    text = text[: MAX_TEXT_CHARS - 1].rstrip() + "…"
                summary.texts.append(text)
        return summary

    @staticmethod
    def _centre(summary: QuestionSummary, values: Counter[Any], *, spread: bool = False) -> None:
        pairs = sorted((v, n) for v, n in ((_number(v), n) for v, n in values.items()) if v is not None)
        total = sum(n for _, n in pairs)
        if not total:
            return
        summary.mean = sum(v * n for v, n in pairs) / total
        summary.median = _quantile(pairs, total, 0.5)
        if spread:
            summary.quartiles = (_quantile(pairs, total, 0.25), _quantile(pairs, total, 0.75))

    def _numbers_in_sql(self, summary: QuestionSummary, question: schema.NumberQuestion, group: Any) -> None:
        """A number with many distinct answers: sums in SQL, quartiles by position, ranges by CASE."""
        assert self.c is not None, "a slice overflowed: summarise needs a connection"
        by = self.by
        params = {"survey_id": self.survey.id, "end": self.end, "question_id": question.id}
        if by is not None:
            params["by"] = by.id
        stats = self._number_stats.get(question.id)
        if stats is None:
            statement = _statement("number_stats", by is not None, False)
            stats = {_loads(row.grp): row for row in self.c.execute(statement, params)}
            self._number_stats[question.id] = stats
        rows = [row for grp, row in stats.items() if group is ... or grp == group]
        n = sum(int(row.n) for row in rows)
        if not n:
            return
        summary.mean = sum(float(row.total) for row in rows) / n
        if group is not ...:
            return
        lowest = min(float(row.lowest) for row in rows)
        highest = max(float(row.highest) for row in rows)
        summary.median = self._number_at(params, n, 0.5)
        summary.quartiles = (self._number_at(params, n, 0.25), self._number_at(params, n, 0.75))
        edges = _nice_edges(lowest, highest, question.integer)
        if len(edges) >= 2 and edges[0] != edges[-1]:
            row = self.c.execute(
                _buckets_statement(len(edges)), {**params, **{f"e{i}": edge for i, edge in enumerate(edges)}}
            ).one()
            in_bucket = [int(v or 0) for v in row]
        else:
            in_bucket = [n]
        summary.bars = _bucket_bars(edges, in_bucket, question.integer, summary.answered, self.k)

    def _number_at(self, params: dict[str, Any], n: int, p: float) -> float:
        assert self.c is not None
        position = p * (n - 1)
        offset = math.floor(position)
        statement = _statement("number_at", False, False)
        found = [float(v) for (v,) in self.c.execute(statement, {**params, "offset": offset})]
        low = found[0]
        high = found[1] if len(found) > 1 else low
        return low + (high - low) * (position - offset)

    def breakdown(self, summaries: list[QuestionSummary]) -> None:
        by = self.by
        assert by is not None
        sizes = {bar.id: bar.count for bar in next(s for s in summaries if s.question.id == by.id).bars}
        for index, summary in enumerate(summaries):
            if summary.question.id == by.id:
                continue
            for option in by.options:
                size = sizes.get(option.id, _count(0, self.k))
                if not size.value:  # too small to show (or nobody): suppressed whole
                    summary.breakdown.append(Group(option.id, option.label, size, None))
                    continue
                part = self.summary(index, summary.question, option.id)
                summary.breakdown.append(Group(option.id, option.label, size, part))


def _add(counter: Counter[Any], value: Any, n: int) -> None:
    if isinstance(value, list):  # multi-choice: one row per distinct combination
        for item in dict.fromkeys(value):
            if isinstance(item, (str, int, float)):
                counter[item] += n
    elif isinstance(value, (str, int, float)):
        counter[value] += n


def summarise(
    connection: sa.Connection | None,
    survey: schema.Survey,
    period_start: dt.datetime | None,
    period_end: dt.datetime,
    tally: Tally,
) -> DigestData:
    """Turn exact counts into what a digest may show: suppressed, shared, averaged.

    Needs the connection only when numbers had to be counted in SQL after
    all (a free-form number question with very many distinct answers).
    """
    s = _Summariser(connection, survey, period_end, tally)
    funnel, stopped_elsewhere = s.funnel()
    summaries = [s.summary(i, q) for i, q in enumerate(survey.questions)]
    if s.by is not None:
        s.breakdown(summaries)
    return DigestData(
        survey_id=survey.id,
        title=survey.title,
        min_group_size=s.k,
        period=Period(period_start, period_end, _previous_start(period_start, period_end)),
        headline=s.headline(period_start),
        funnel=funnel,
        stopped_elsewhere=stopped_elsewhere,
        questions=summaries,
        breakdown_by=s.by,
    )


def check_period(period_start: dt.datetime | None, period_end: dt.datetime) -> None:
    if period_end.tzinfo is None or (period_start is not None and period_start.tzinfo is None):
        raise ValueError("period_start and period_end must be aware datetimes")
    if period_start is not None and period_start > period_end:
        raise ValueError("period_start must not be after period_end")


def collect(
    connection: sa.Connection,
    survey: schema.Survey,
    period_start: dt.datetime | None,
    period_end: dt.datetime,
) -> DigestData:
    """Count what residents said: the period [start, end), the one before it, and totals up to `end`.

    Times are aware datetimes. `period_start=None` means "since the survey
    began" (as for /results): there is then no previous period to compare.
    Responses completed at or after `period_end` are not counted (they are
    "unfinished" as of the end), so a digest for a past period stays the same.
    """
    check_period(period_start, period_end)
    counted = tally(connection, survey, period_start, period_end)
    return summarise(connection, survey, period_start, period_end, counted)
