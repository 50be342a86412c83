"""Completed responses as CSV or JSON: one row per response, one column per question.

Streams rows from the database in response order, so a survey with a
hundred thousand responses exports in constant memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
from collections.abc import Iterator
from typing import IO, Any

import sqlalchemy as sa

from models import survey as schema
from models.tables import Answer, Response

RESPONSE = Response.__table__
ANSWER = Answer.__table__
FIXED_COLUMNS = ("response_id", "started_at", "completed_at")
# Spreadsheet programs run cells that start like a formula; a resident's text must never do that.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def columns(survey: schema.Survey) -> list[str]:
    return [*FIXED_COLUMNS, *(q.id for q in survey.questions)]


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else None


def _cell(value: Any) -> Any:
    """An answer as it appears in an export (multi-choice: option ids joined by ';')."""
    if value is None:
        return None
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return value


def rows(connection: sa.Connection, survey: schema.Survey) -> Iterator[dict[str, Any]]:
    """Completed responses to `survey`, oldest first, as {column: value}."""
    questions = {q.id: q for q in survey.questions}
    query = (
        sa.select(
            RESPONSE.c.id,
            RESPONSE.c.started_at,
            RESPONSE.c.completed_at,
            ANSWER.c.question_id,
            ANSWER.c.value,
        )
        .select_from(RESPONSE.outerjoin(ANSWER, ANSWER.c.response_id == RESPONSE.c.id))
        .where(RESPONSE.c.survey_id == survey.id, RESPONSE.c.completed_at.is_not(None))
        .order_by(RESPONSE.c.id)
    )
    result = connection.execution_options(stream_results=True, yield_per=2000).execute(query)
    for response_id, group in itertools.groupby(result, key=lambda r: r.id):
        records = list(group)
        first = records[0]
        row: dict[str, Any] = dict.fromkeys(columns(survey))
        row.update(
            response_id=response_id,
            started_at=_iso(first.started_at),
            completed_at=_iso(first.completed_at),
        )
        for record in records:
            if record.question_id in questions and record.value is not None:
                row[record.question_id] = _cell(json.loads(record.value))
        yield row


def _safe_text(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA_STARTS) else text


def write_csv(connection: sa.Connection, survey: schema.Survey, out: IO[str]) -> int:
    """Write the CSV; returns the number of responses written."""
    writer = csv.writer(out, lineterminator="\n")
    names = columns(survey)
    writer.writerow(names)
    count = 0
    for row in rows(connection, survey):
        writer.writerow([_safe_text(row[name]) for name in names])
        count += 1
    return count


def write_json(connection: sa.Connection, survey: schema.Survey, out: IO[str]) -> int:
    """Write a JSON array of objects (numbers stay numbers); returns the count."""
    count = 0
    out.write("[")
    for row in rows(connection, survey):
        out.write(",\n  " if count else "\n  ")
        out.write(json.dumps(row, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def csv_bytes(connection: sa.Connection, survey: schema.Survey) -> tuple[bytes, int]:
    """The CSV as bytes (UTF-8 with a BOM, so spreadsheet programs read accents right)."""
    buffer = io.StringIO()
    count = write_csv(connection, survey, buffer)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8"), count
