"""Survey files: what loads, and exactly where and how a broken file is reported."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.loader import Problem, SurveyFileError, load_survey_file, load_surveys
from models.survey import ChoiceQuestion, MultiChoiceQuestion, option_id_from_label

GOOD = """\
id: millbrook
title: What should Millbrook invest in?
intro: Five quick questions.
timezone: Europe/London
opens: 2027-01-10 09:00
closes: 2027-03-31 23:59
digest:
  schedule: "0 8 * * mon"
  min_group_size: 5
questions:
  - id: area
    type: choice
    text: Where do you live?
    options:
      - {id: north, label: North estate}
      - Town centre
  - id: priorities
    type: multi_choice
    text: Pick up to three.
    max_choices: 3
    options: [Youth club, Community café, Better parks, Bus to the hospital]
  - id: safety
    type: scale
    text: How safe do you feel?
    min: 1
    max: 5
    min_label: Very unsafe
    max_label: Very safe
  - id: safety_why
    type: text
    text: What makes you feel unsafe?
    show_if: safety <= 2
    required: false
    max_length: 1000
  - id: years
    type: number
    text: How many years have you lived here?
    min: 0
    max: 100
    integer: true
"""


def problems_for(tmp_path: Path, text: str, name: str = "s.yaml") -> list[Problem]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(SurveyFileError) as caught:
        load_survey_file(path)
    return caught.value.problems


def only(tmp_path: Path, text: str) -> tuple[int, int, str]:
    found = problems_for(tmp_path, text)
    assert len(found) == 1, found
    return found[0].line, found[0].col, found[0].message


def test_the_contract_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "millbrook.yaml"
    path.write_text(GOOD, encoding="utf-8")
    survey = load_survey_file(path)
    assert survey.id == "millbrook"
    assert [q.id for q in survey.questions] == ["area", "priorities", "safety", "safety_why", "years"]
    area = survey.questions[0]
    assert isinstance(area, ChoiceQuestion)
    assert [(o.id, o.label) for o in area.options] == [
        ("north", "North estate"),
        ("town-centre", "Town centre"),
    ]
    priorities = survey.questions[1]
    assert isinstance(priorities, MultiChoiceQuestion)
    assert [o.id for o in priorities.options] == [
        "youth-club",
        "community-cafe",
        "better-parks",
        "bus-to-the-hospital",
    ]
    assert survey.zone.key == "Europe/London"
    # 09:00 in London in January is 09:00 UTC; the content hash identifies this version.
    assert survey.opens_at is not None and survey.opens_at.hour == 9
    assert len(survey.content_hash) == 64
    assert survey.questions[3].is_visible({"safety": 2})
    assert not survey.questions[3].is_visible({"safety": 4})
    assert not survey.questions[3].is_visible({})


def test_the_example_in_the_surveys_folder_is_valid() -> None:
    result = load_surveys([Path(__file__).resolve().parent.parent / "surveys"])
    assert result.problems == []
    assert "millbrook-priorities" in result.surveys


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Community café", "community-cafe"),
        ("Youth club", "youth-club"),
        ("  Bus to the  hospital ", "bus-to-the-hospital"),
        ("Help with money, jobs & skills", "help-with-money-jobs-skills"),
        ("Under 16", "under-16"),
        (
            "A very long label that goes on and on past forty characters",
            "a-very-long-label-that-goes-on-and-on",
        ),
    ],
)
def test_option_ids_are_derived_from_labels(label: str, expected: str) -> None:
    assert option_id_from_label(label) == expected


def test_unknown_top_level_key_names_line_column_and_suggests(tmp_path: Path) -> None:
    text = GOOD.replace("intro:", "intor:")
    assert only(tmp_path, text) == (3, 1, "unknown key 'intor'; did you mean 'intro'?")


def test_unknown_question_key(tmp_path: Path) -> None:
    text = GOOD.replace("    max_choices: 3", "    max_choises: 3")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (20, 5)
    assert message == "unknown key 'max_choises'; did you mean 'max_choices'?"


def test_unknown_key_without_close_match_lists_allowed_keys(tmp_path: Path) -> None:
    text = GOOD.replace("  min_group_size: 5", "  colour: blue")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (9, 3)
    assert message == "unknown key 'colour'; allowed keys here: schedule, min_group_size, breakdown_by, template"


def test_unknown_key_in_an_option_mapping(tmp_path: Path) -> None:
    text = GOOD.replace("{id: north, label: North estate}", "{id: north, lable: North estate}")
    assert only(tmp_path, text) == (15, 21, "unknown key 'lable'; did you mean 'label'?")


def test_missing_key(tmp_path: Path) -> None:
    text = GOOD.replace("    text: How safe do you feel?\n", "")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (22, 5)  # the question that lacks it
    assert message.startswith("missing key 'text'")


def test_unknown_question_type(tmp_path: Path) -> None:
    text = GOOD.replace("type: scale", "type: scael")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (23, 11)
    assert message.startswith("unknown question type 'scael'; did you mean 'scale'?")


def test_wrong_value_type(tmp_path: Path) -> None:
    text = GOOD.replace("max_choices: 3", "max_choices: three")
    assert only(tmp_path, text) == (20, 18, "'max_choices' must be a whole number (got 'three')")


def test_duplicate_question_id(tmp_path: Path) -> None:
    text = GOOD.replace("  - id: years", "  - id: area")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (35, 9)
    assert message == "question id 'area' is already used by question 1; give each question its own id"


def test_duplicate_derived_option_id(tmp_path: Path) -> None:
    text = GOOD.replace("[Youth club, Community café,", "[Youth club, Youth  Club,")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (21, 27)
    assert message.startswith("option id 'youth-club' is used twice in question 'priorities'")


def test_bad_ids(tmp_path: Path) -> None:
    text = GOOD.replace("id: millbrook", "id: Millbrook Survey")
    assert only(tmp_path, text)[:2] == (1, 5)
    text = GOOD.replace("  - id: years", "  - id: how-many-years")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (35, 9)
    assert "a-z, 0-9 and _" in message


def test_condition_naming_an_unknown_question(tmp_path: Path) -> None:
    text = GOOD.replace("show_if: safety <= 2", "show_if: saftey <= 2")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (32, 14)
    assert message.startswith("show_if: unknown name 'saftey'")
    assert "did you mean 'safety'?" in message


def test_condition_naming_a_later_question(tmp_path: Path) -> None:
    text = GOOD.replace("show_if: safety <= 2", "show_if: safety <= 2 and years > 1")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (32, 30)  # points at `years`
    assert "asked later" in message


def test_condition_comparing_a_number_with_text(tmp_path: Path) -> None:
    text = GOOD.replace("show_if: safety <= 2", "show_if: safety == 'low'")
    assert only(tmp_path, text) == (
        32,
        24,
        "show_if: 'safety' is a number, so compare it with a number, e.g. safety <= 2",
    )


def test_condition_position_inside_a_quoted_value(tmp_path: Path) -> None:
    text = GOOD.replace("show_if: safety <= 2", "show_if: \"'youth-clubb' in priorities\"")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (32, 15)  # the opening ' inside the double quotes
    assert "youth-club" in message


def test_bad_time_zone(tmp_path: Path) -> None:
    text = GOOD.replace("Europe/London", "Europe/Londn")
    assert only(tmp_path, text) == (
        4,
        11,
        "unknown time zone 'Europe/Londn'; use a name like Europe/London or UTC",
    )


def test_bad_cron_line(tmp_path: Path) -> None:
    text = GOOD.replace('"0 8 * * mon"', '"0 8 * mon"')
    line, col, message = only(tmp_path, text)
    assert (line, col) == (8, 13)
    assert message.startswith("schedule: '0 8 * mon' has 4 field(s)")
    text = GOOD.replace('"0 8 * * mon"', '"0 25 * * mon"')
    line, col, message = only(tmp_path, text)
    assert (line, col) == (8, 13)
    assert "not a valid schedule" in message


def test_closes_before_opens(tmp_path: Path) -> None:
    text = GOOD.replace("closes: 2027-03-31 23:59", "closes: 2026-12-31 23:59")
    assert only(tmp_path, text) == (6, 9, "closes is before opens; swap them or fix the dates")


def test_bad_date(tmp_path: Path) -> None:
    text = GOOD.replace("opens: 2027-01-10 09:00", "opens: next tuesday")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (5, 8)
    assert "2027-01-10 09:00" in message


def test_scale_and_choice_limits(tmp_path: Path) -> None:
    text = GOOD.replace("    max: 5\n", "    max: 1\n")
    assert only(tmp_path, text) == (26, 10, "max (1) must be more than min (1)")
    text = GOOD.replace("max_choices: 3", "max_choices: 9")
    assert "only 4 options" in only(tmp_path, text)[2]


def test_yaml_syntax_error(tmp_path: Path) -> None:
    text = GOOD.replace("title: What should Millbrook invest in?", "title: Millbrook: what next?")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (2, 17)
    assert "quotes" in message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = GOOD.replace("intro: Five quick questions.", "intro: Five.\ntitle: Again")
    assert only(tmp_path, text) == (
        4,
        1,
        'found duplicate key "title"; each key may appear once in a mapping, remove or rename one',
    )


def test_a_condition_starting_with_a_quote_needs_quoting_as_a_whole(tmp_path: Path) -> None:
    text = GOOD.replace("show_if: safety <= 2", "show_if: 'x' in area")
    line, col, message = only(tmp_path, text)
    assert (line, col) == (32, 18)
    assert message.endswith('''put the whole value in the other quotes, e.g. show_if: "'x' in area"''')


def test_not_a_mapping(tmp_path: Path) -> None:
    assert only(tmp_path, "- just\n- a list\n")[:2] == (1, 1)


def test_several_problems_are_all_reported_in_file_order(tmp_path: Path) -> None:
    text = GOOD.replace("intro:", "intor:").replace("max_choices: 3", "max_choises: 3")
    found = problems_for(tmp_path, text)
    assert [(p.line, p.message.split(";")[0]) for p in found] == [
        (3, "unknown key 'intor'"),
        (20, "unknown key 'max_choises'"),
    ]
    assert str(found[0]).startswith(f"{tmp_path / 's.yaml'}:3:1: ")


def test_a_folder_with_one_bad_file_still_loads_the_good_ones(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(GOOD.replace("id: millbrook", "id: other\nbogus: 1"), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a survey", encoding="utf-8")
    result = load_surveys([tmp_path])
    assert list(result.surveys) == ["millbrook"]
    assert [(Path(p.path).name, p.line) for p in result.problems] == [("bad.yaml", 2)]


def test_a_survey_id_used_twice_is_an_error_in_the_second_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    result = load_surveys([tmp_path])
    assert list(result.surveys) == ["millbrook"]
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert (Path(problem.path).name, problem.line, problem.col) == ("b.yaml", 1, 5)
    assert "already used by" in problem.message


def test_weekday_numbers_follow_crontab_not_apscheduler() -> None:
    import datetime as dt

    from models.cron import parse_crontab

    trigger = parse_crontab("0 8 * * 1", "UTC")  # crontab: 1 is Monday
    start = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)  # a Friday
    fire = trigger.get_next_fire_time(None, start)
    assert fire is not None and fire.strftime("%A %H:%M") == "Monday 08:00"
    sunday = parse_crontab("0 8 * * 0,7", "UTC").get_next_fire_time(None, start)
    assert sunday is not None and sunday.strftime("%A") == "Sunday"


# -- property tests: nothing an admin types crashes the loader -----------------

yaml_text = st.text(
    alphabet=st.sampled_from(list("abcdefghijklmnopqrstuvwxyz_-:[]{},'\"#&*!|>%@`\n\t 0123456789.")),
    max_size=300,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=yaml_text)
def test_random_yaml_gives_clean_errors_only(tmp_path: Path, text: str) -> None:
    path = tmp_path / "random.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_survey_file(path)
    except SurveyFileError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.line >= 1 and problem.col >= 1 and problem.message


def _mutations() -> st.SearchStrategy[str]:
    """The good file with one line replaced, removed or duplicated: near-misses admins make."""
    lines = GOOD.splitlines()
    replacement = st.sampled_from(
        [
            "",
            "  - id: x",
            "    show_if: area == north",
            "    show_if: 'bus' in priorities",
            "    show_if: years > 3",
            "    show_if: (safety",
            "    type: ranking",
            "    options: []",
            "    min: 9",
            "    required: maybe",
            "opens: 2027-13-01",
            "  schedule: '* * * * * *'",
            "timezone: Mars/Olympus",
            "      - {id: north, label: Again}",
            "\t- tab",
        ]
    )
    return st.tuples(st.integers(0, len(lines) - 1), replacement, st.booleans()).map(
        lambda t: "\n".join([*lines[: t[0]], t[1], *lines[t[0] + (1 if t[2] else 0) :]]) + "\n"
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_mutations())
def test_near_miss_files_give_clean_errors_only(tmp_path: Path, text: str) -> None:
    path = tmp_path / "near.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_survey_file(path)
    except SurveyFileError as exc:
        for problem in exc.problems:
            assert problem.line >= 1 and problem.col >= 1 and problem.message


# -- hostile and oversized files ---------------------------------------------------

ALIAS_BOMB = "\n".join(
    ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    + [f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]" for prev, cur in zip("abcdefgh", "bcdefghi", strict=True)]
    + ["id: bomb", "title: *i", "questions: *i", ""]
)


def test_an_alias_bomb_is_refused_quickly_in_little_memory(tmp_path: Path) -> None:
    import time
    import tracemalloc

    assert len(ALIAS_BOMB.encode()) < 600
    tracemalloc.start()
    started = time.perf_counter()
    try:
        found = problems_for(tmp_path, ALIAS_BOMB)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 50 * 1024 * 1024
    assert len(found) == 1, found
    assert str(found[0]).startswith(f"{tmp_path / 's.yaml'}:")
    assert "aliases" in found[0].message and "write the values out" in found[0].message


def test_too_many_aliases_is_refused_at_the_alias(tmp_path: Path) -> None:
    text = GOOD + "x: &x 1\nmore: [" + ", ".join(["*x"] * 250) + "]\n"
    found = problems_for(tmp_path, text)
    assert len(found) == 1, found
    assert found[0].line == GOOD.count("\n") + 2
    assert "more than 200 aliases" in found[0].message


def test_an_alias_inside_its_own_value_is_refused(tmp_path: Path) -> None:
    found = problems_for(tmp_path, "id: x\ntitle: &t [a, *t]\n")
    assert [(p.line, "inside its own value" in p.message) for p in found] == [(2, True)]


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    text = GOOD.replace("    options: [Youth club,", "    options: &places [Youth club,", 1)
    text += "  - id: second\n    type: multi_choice\n    text: And next year?\n    options: *places\n"
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    survey = load_survey_file(path)
    assert len(survey.questions[-1].options) == 4  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "id: x\ntitle: [" + "y" * 5000 + "]\nquestions: [1]\n",
        "id: " + "x" * 5000 + "\ntitle: t\nquestions: [1]\n",
        "id: x\ntitle: t\ntimezone: " + "z" * 5000 + "\nquestions: [{id: a, type: text, text: t}]\n",
        "id: x\n" + "k" * 5000 + ": 1\ntitle: t\nquestions: [1]\n",
        "id: x\ntitle: t\nquestions: [{id: a, type: " + "c" * 5000 + ", text: t}]\n",
    ],
)
def test_values_in_messages_are_cut_short(tmp_path: Path, text: str) -> None:
    found = problems_for(tmp_path, text)
    assert found
    assert all(len(p.message) < 300 for p in found), found


def test_the_size_is_checked_before_the_file_is_read(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: no disk used
    tracemalloc.start()
    try:
        with pytest.raises(SurveyFileError) as caught:
            load_survey_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024
    assert [p.message for p in caught.value.problems] == ["the file is larger than 512 KB; split it"]


def test_the_version_ignores_comments_and_layout_but_not_content(tmp_path: Path) -> None:
    def version(text: str, name: str) -> str:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return load_survey_file(path).content_hash

    relaid = "# a comment\n" + GOOD.replace("title: What", "title:   'What").replace("invest in?", "invest in?'  # why")
    assert version(GOOD, "a.yaml") == version(relaid, "b.yaml")
    assert version(GOOD, "a.yaml") != version(GOOD.replace("North estate", "North Estate"), "c.yaml")
