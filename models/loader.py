"""Load survey files, and say exactly where and how a broken one is wrong.

Admins edit YAML by hand, often on a small server with no IDE, so every
problem is reported as `file:line:col: message` with a hint on how to fix
it, and one bad file never stops the good ones from loading.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, ScalarEvent

from models import survey as schema
from models.conditions import ConditionError, VarInfo, compile_condition
from models.cron import CronError, parse_crontab

MAX_FILE_BYTES = 512 * 1024
# YAML aliases (`*name`) repeat a value written once (`&name`). A few are handy;
# nested ones multiply (a 600-byte "billion laughs" file is a billion values),
# so a file may use only so many, and may not expand to more values than this.
MAX_ALIASES = 200
MAX_NODES = 100_000
# Values from the file are shown in messages cut to this many characters.
MAX_SHOWN = 60
MAX_MESSAGE = 1000


def _show(value: Any) -> str:
    """A value from the file as it may appear in a message: never longer than MAX_SHOWN."""
    if isinstance(value, (dict, list, tuple, set)):
        text = type(value).__name__ if not value else ("a mapping" if isinstance(value, dict) else "a list")
        return text
    text = str(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a survey file. Lines and columns count from 1."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"


class SurveyFileError(Exception):
    """A survey file could not be loaded; `problems` says why, in file order."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class LoadResult:
    """What loading a folder gave: the good surveys and the problems of the bad files."""

    surveys: dict[str, schema.Survey] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class _Locator:
    """Finds the line and column of any part of the parsed YAML tree."""

    def __init__(self, root: Any, lines: list[str]):
        self.root = root
        self.lines = lines

    @staticmethod
    def _start(node: Any) -> tuple[int, int] | None:
        lc = getattr(node, "lc", None)
        if lc is None or lc.line is None:
            return None
        return lc.line, lc.col

    def find(self, loc: Sequence[Any], *, key: bool = False) -> tuple[int, int]:
        """Position of the value at `loc` (or of its key when `key`).

        Parts of `loc` that are not in the tree (pydantic adds the question
        type as a step) are passed over; when the path ends early, the
        deepest node reached is used, which is where a missing key belongs.
        """
        node = self.root
        position = self._start(node) or (0, 0)
        for index, part in enumerate(loc):
            last = index == len(loc) - 1
            if isinstance(node, dict) and part in node:
                lc = node.lc
                position = lc.key(part) if (key and last) else lc.value(part)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                position = node.lc.item(part)
                node = node[part]
            else:
                continue
        return position

    def value_offset(self, line: int, col: int) -> int:
        """1 when the scalar at this position is quoted, so offsets land inside it."""
        if 0 <= line < len(self.lines):
            text = self.lines[line]
            if col < len(text) and text[col] in "'\"":
                return 1
        return 0


_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "list_type": "a list (lines starting with '- ')",
    "model_type": "a mapping of keys (key: value lines)",
    "dict_type": "a mapping of keys (key: value lines)",
    "datetime_type": "a date and time like 2027-01-10 09:00",
}

_REQUIRED_HINTS = {
    "id": "add `id:` with lower-case letters, digits and - (survey) or _ (question)",
    "title": "add `title:` with the survey's name as residents will see it",
    "questions": "add `questions:` with at least one question",
    "text": "add `text:` with the question as residents will read it",
    "type": "add `type:` (one of " + ", ".join(schema.QUESTION_TYPES) + ")",
    "options": "add `options:` with the answers residents can pick",
    "label": "add `label:` with the option's text",
}


def _allowed_keys(model: type[schema.BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_at(loc: Sequence[Any], data: Any) -> type[schema.BaseModel] | None:
    """Which schema model governs the mapping at `loc` (for 'allowed keys' hints)."""
    match tuple(loc):
        case ():
            return schema.Survey
        case ("digest",):
            return schema.Digest
        case ("questions", int(index)):
            questions = data.get("questions") if isinstance(data, dict) else None
            item = questions[index] if isinstance(questions, list) and index < len(questions) else None
            kind = item.get("type") if isinstance(item, dict) else None
            return _QUESTION_MODELS.get(kind, schema.QuestionBase)  # type: ignore[arg-type]
        case ("questions", int(), "options", int()):
            return schema.Option
    return None


_QUESTION_MODELS: dict[str, type[schema.BaseModel]] = {
    "choice": schema.ChoiceQuestion,
    "multi_choice": schema.MultiChoiceQuestion,
    "scale": schema.ScaleQuestion,
    "number": schema.NumberQuestion,
    "text": schema.TextQuestion,
}


def _strip_tags(loc: Sequence[Any]) -> tuple[Any, ...]:
    """Drop the union-tag step pydantic inserts after a question's index (e.g. 'choice')."""
    parts = tuple(loc)
    if len(parts) > 2 and parts[0] == "questions" and parts[2] in _QUESTION_MODELS:
        return parts[:2] + parts[3:]
    return parts


def _message_for(error: dict[str, Any], data: Any) -> tuple[str, bool]:
    """An admin-friendly message for one pydantic error, and whether it points at a key."""
    kind = error["type"]
    loc = _strip_tags(error["loc"])
    name = _show(loc[-1]) if loc else "file"
    value = _show(error.get("input"))
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1], data)
        allowed = _allowed_keys(model) if model else []
        allowed = [k for k in allowed if k != "type"] + (["type"] if "type" in allowed else [])
        hint = _suggest(name, allowed) or (f"; allowed keys here: {', '.join(allowed)}" if allowed else "")
        return f"unknown key '{name}'{hint}", True
    if kind == "missing":
        hint = _REQUIRED_HINTS.get(name, f"add `{name}:`")
        return f"missing key '{name}': {hint}", False
    if kind == "union_tag_invalid":
        tag = _show(error.get("ctx", {}).get("tag", value))
        return (
            f"unknown question type '{tag}'{_suggest(str(tag), schema.QUESTION_TYPES)} "
            f"(types: {', '.join(schema.QUESTION_TYPES)})"
        ), False
    if kind == "union_tag_not_found":
        return _REQUIRED_HINTS["type"].replace("add", "missing key 'type': add", 1), False
    if kind == "string_pattern_mismatch":
        if name == "id" and len(loc) == 1:
            return f"survey id '{value}' must be 1-40 characters: a-z, 0-9 and -", False
        if tuple(loc) == ("digest", "breakdown_by"):
            return f"breakdown_by '{value}' must be the id of a choice question in this survey", False
        if "options" in loc:
            return (
                f"option id '{value}' must be 1-40 characters: a-z, 0-9 and -; "
                "give the option an `id:` (e.g. {id: youth-club, label: Youth club})"
            ), False
        return f"question id '{value}' must be 1-40 characters: a-z, 0-9 and _", False
    if kind == "string_too_short":
        return f"'{name}' is empty: write some text", False
    if kind == "string_too_long":
        return f"'{name}' is too long ({error['ctx']['max_length']} characters at most)", False
    if kind == "too_short":
        fewest = error.get("ctx", {}).get("min_length")
        return f"'{name}' needs at least {fewest} item(s)", False
    if kind == "too_long":
        most = error.get("ctx", {}).get("max_length")
        return f"'{name}' has too many items ({most} at most)", False
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"'{name}' {error['msg'].lower().replace('input should', 'must')}", False
    if kind == "value_error" and "time_format" in str(error.get("msg")):
        return f"'{name}' must be a date and time like 2027-01-10 09:00 (got '{value}')", False
    if kind in _TYPE_WORDS:
        return f"'{name}' must be {_TYPE_WORDS[kind]} (got '{value}')", False
    return f"'{name}': {error['msg']}", False


class _FileLoader:
    """Loads one survey file; collects every problem rather than stopping at the first."""

    def __init__(self, path: Path, default_timezone: str):
        self.path = path
        self.default_timezone = default_timezone
        self.problems: list[Problem] = []
        self.locator: _Locator | None = None

    def problem(self, line0: int, col0: int, message: str) -> None:
        if len(message) > MAX_MESSAGE:  # a last guard: values in messages are already cut short
            message = message[: MAX_MESSAGE - 1] + "…"
        self.problems.append(Problem(str(self.path), line0 + 1, col0 + 1, message))

    def at(self, loc: Sequence[Any], message: str, *, key: bool = False) -> None:
        assert self.locator is not None
        line, col = self.locator.find(loc, key=key)
        self.problem(line, col, message)

    def load(self) -> schema.Survey:
        too_big = f"the file is larger than {MAX_FILE_BYTES // 1024} KB; split it"
        try:
            if self.path.stat().st_size > MAX_FILE_BYTES:
                self.problem(0, 0, too_big)
                raise SurveyFileError(self.problems)
            with self.path.open("rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)  # it may have grown since the stat
        except OSError as exc:
            self.problem(0, 0, f"cannot read the file: {exc.strerror or exc}")
            raise SurveyFileError(self.problems) from None
        if len(raw) > MAX_FILE_BYTES:
            self.problem(0, 0, too_big)
            raise SurveyFileError(self.problems)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n")
            self.problem(line, 0, "the file is not UTF-8 text; save it as UTF-8")
            raise SurveyFileError(self.problems) from None
        data = self._parse_yaml(text)
        survey = self._validate_shape(data)
        self._check_semantics(survey)
        if self.problems:
            raise SurveyFileError(self.problems)
        survey._source = str(self.path)
        # The version is the content, not the text: comments and layout do not change it.
        canonical = json.dumps(survey.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        survey._content_hash = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        return survey

    def _parse_yaml(self, text: str) -> Any:
        yaml = YAML(typ="rt")
        try:
            self._check_aliases(yaml, text)
            data = yaml.load(text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            what = (exc.problem or "YAML syntax error").strip()
            if "found duplicate key" in str(exc):
                what = str(exc.problem).split(" with value")[0]
                what += "; each key may appear once in a mapping, remove or rename one"
            elif exc.context:
                what = f"{what} ({exc.context})"
            self.problem(mark.line if mark else 0, mark.column if mark else 0, _yaml_hint(what))
            raise SurveyFileError(self.problems) from None
        except (YAMLError, RecursionError, ValueError) as exc:
            self.problem(0, 0, f"the YAML could not be read ({type(exc).__name__}); check its syntax")
            raise SurveyFileError(self.problems) from None
        if not isinstance(data, dict):
            self.problem(0, 0, "a survey file must be a mapping of keys (id:, title:, questions: ...)")
            raise SurveyFileError(self.problems)
        self.locator = _Locator(data, text.splitlines())
        return data

    def _check_aliases(self, yaml: YAML, text: str) -> None:
        """Refuse a file whose aliases would expand to too much, before building anything.

        Reads the YAML events only (cheap, nothing expanded): counts `*alias`
        uses and how many values the file would have with every alias written
        out, so a "billion laughs" file costs a few milliseconds, not gigabytes.
        """
        sizes: dict[str, int] = {}  # values in each finished anchored node
        open_nodes: list[list[Any]] = []  # [anchor, values so far] of each collection being read
        aliases = nodes = 0
        for event in yaml.parse(text):
            if isinstance(event, AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    self._refuse(event, f"more than {MAX_ALIASES} aliases (*name) in one file")
                if any(anchor == event.anchor for anchor, _ in open_nodes):
                    self._refuse(event, f"the alias *{_show(event.anchor)} is used inside its own value")
                size = sizes.get(event.anchor, 1)  # an undefined alias is reported by the parser
            elif isinstance(event, ScalarEvent):
                size = 1
                if event.anchor is not None:
                    sizes[event.anchor] = 1
            elif isinstance(event, CollectionStartEvent):
                open_nodes.append([event.anchor, 1])
                nodes += 1
                continue
            elif isinstance(event, CollectionEndEvent):
                anchor, size = open_nodes.pop()
                if anchor is not None:
                    sizes[anchor] = size
                if open_nodes:
                    open_nodes[-1][1] += size
                continue  # its values were counted in `nodes` as they were read
            else:
                continue
            if open_nodes:
                open_nodes[-1][1] += size
            nodes += size
            if nodes > MAX_NODES:
                self._refuse(event, f"with its aliases written out the file would have more than {MAX_NODES} values")

    def _refuse(self, event: Any, what: str) -> None:
        mark = event.start_mark
        self.problem(
            mark.line,
            mark.column,
            f"{what}; write the values out instead of repeating them with &anchors and *aliases",
        )
        raise SurveyFileError(self.problems)

    def _validate_shape(self, data: Any) -> schema.Survey:
        try:
            return schema.Survey.model_validate(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            typos = {
                (_strip_tags(e["loc"])[:-1], close)
                for e in errors
                if e["type"] == "extra_forbidden"
                for close in difflib.get_close_matches(_show(e["loc"][-1]), _REQUIRED_HINTS, n=1, cutoff=0.6)
            }
            for error in errors:
                loc = _strip_tags(error["loc"])
                if error["type"] == "union_tag_invalid":
                    loc = (*loc, "type")
                if error["type"] == "missing" and (loc[:-1], loc[-1]) in typos:
                    continue  # the misspelt key is reported, with the right spelling
                message, at_key = _message_for(error, data)
                self.at(loc, message, key=at_key)
            raise SurveyFileError(self.problems) from None

    # -- rules across fields -------------------------------------------------

    def _check_semantics(self, survey: schema.Survey) -> None:
        self._check_time(survey)
        self._check_digest(survey)
        seen: dict[str, int] = {}
        earlier: dict[str, VarInfo] = {}
        all_ids = [q.id for q in survey.questions]
        for index, question in enumerate(survey.questions):
            loc: tuple[Any, ...] = ("questions", index)
            if question.id in seen:
                self.at(
                    (*loc, "id"),
                    f"question id '{question.id}' is already used by question {seen[question.id] + 1};"
                    " give each question its own id",
                )
            seen.setdefault(question.id, index)
            self._check_question(question, loc)
            if question.show_if is not None:
                self._check_condition(question, loc, earlier, all_ids)
            earlier[question.id] = _var_info(question)

    def _check_question(self, question: schema.Question, loc: tuple[Any, ...]) -> None:
        if isinstance(question, (schema.ChoiceQuestion, schema.MultiChoiceQuestion)):
            ids: dict[str, int] = {}
            for i, option in enumerate(question.options):
                if option.id in ids:
                    self.at(
                        (*loc, "options", i),
                        f"option id '{option.id}' is used twice in question '{question.id}';"
                        " give one of them its own `id:` or a different label",
                    )
                ids.setdefault(option.id, i)
        if isinstance(question, schema.MultiChoiceQuestion):
            count = len(question.options)
            if question.max_choices is not None and question.max_choices > count:
                self.at(
                    (*loc, "max_choices"),
                    f"max_choices is {question.max_choices} but there are only {count} options",
                )
            if question.min_choices is not None and question.min_choices > count:
                self.at(
                    (*loc, "min_choices"),
                    f"min_choices is {question.min_choices} but there are only {count} options",
                )
            if question.fewest > question.most:
                self.at((*loc, "min_choices"), "min_choices is more than max_choices; make it smaller")
        if isinstance(question, schema.ScaleQuestion):
            if question.max <= question.min:
                self.at((*loc, "max"), f"max ({question.max}) must be more than min ({question.min})")
            elif question.max - question.min > 10:
                self.at(
                    (*loc, "max"),
                    "a scale can have at most 11 points (e.g. 0 to 10); narrow min and max",
                )
        if (
            isinstance(question, schema.NumberQuestion)
            and question.min is not None
            and question.max is not None
            and question.max < question.min
        ):
            self.at(
                (*loc, "max"),
                f"max ({question.max:g}) must not be less than min ({question.min:g})",
            )

    def _check_condition(
        self,
        question: schema.Question,
        loc: tuple[Any, ...],
        earlier: dict[str, VarInfo],
        all_ids: list[str],
    ) -> None:
        assert self.locator is not None and question.show_if is not None
        try:
            question._condition = compile_condition(question.show_if, earlier, all_ids)
        except ConditionError as exc:
            line, col = self.locator.find((*loc, "show_if"))
            col += self.locator.value_offset(line, col) + exc.offset
            self.problem(line, col, f"show_if: {exc.message}")

    def _check_time(self, survey: schema.Survey) -> None:
        zone_name = survey.timezone or self.default_timezone
        try:
            survey._zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
            message = f"unknown time zone '{_show(zone_name)}'; use a name like Europe/London or UTC"
            if survey.timezone:
                self.at(("timezone",), message)
            else:
                self.problem(0, 0, message + " (from CONSULTBOT_TIMEZONE)")
            return
        if survey.opens and survey.closes and survey.closes <= survey.opens:
            self.at(("closes",), "closes is before opens; swap them or fix the dates")

    def _check_digest(self, survey: schema.Survey) -> None:
        if survey.digest is None:
            return
        if survey.digest.schedule is not None:
            try:
                parse_crontab(survey.digest.schedule, survey.zone)
            except CronError as exc:
                self.at(("digest", "schedule"), f"schedule: {exc}")
        if survey.digest.breakdown_by is not None:
            self._check_breakdown(survey, survey.digest.breakdown_by)
        if survey.digest.template is not None:
            self._check_template(survey.digest.template)

    def _check_breakdown(self, survey: schema.Survey, question_id: str) -> None:
        loc = ("digest", "breakdown_by")
        choices = [q.id for q in survey.questions if isinstance(q, schema.ChoiceQuestion)]
        target = survey.question(question_id)
        if target is None:
            hint = _suggest(question_id, [q.id for q in survey.questions]) or (
                f"; choice questions here: {', '.join(choices)}" if choices else "; this survey has no choice question"
            )
            self.at(loc, f"breakdown_by: there is no question '{question_id}'{hint}")
        elif not isinstance(target, schema.ChoiceQuestion):
            hint = f"pick a choice question ({', '.join(choices)})" if choices else "remove breakdown_by"
            self.at(
                loc,
                f"breakdown_by: '{question_id}' is a {target.type} question, but answers can only be broken down"
                f" by a `choice` question; {hint}",
            )

    def _check_template(self, name: str) -> None:
        loc = ("digest", "template")
        path = self.path.parent / name
        if not path.is_file():
            self.at(
                loc,
                f"template: there is no file '{_show(name)}' next to this survey (looked for {_show(path)});"
                " give the file's path relative to the survey file's folder, or remove `template`",
            )
            return
        try:
            source = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            kind = type(exc).__name__
            self.at(loc, f"template: cannot read '{_show(name)}' as UTF-8 text ({kind}); save it as UTF-8")
            return
        from jinja2 import TemplateSyntaxError
        from jinja2.sandbox import SandboxedEnvironment

        try:
            SandboxedEnvironment().parse(source)
        except TemplateSyntaxError as exc:
            self.at(loc, f"template: {_show(name)} line {exc.lineno}: {exc.message}; fix the template file")


def _var_info(question: schema.Question) -> VarInfo:
    """How a condition may use this question's answer."""
    if isinstance(question, schema.ChoiceQuestion):
        return VarInfo("option", frozenset(o.id for o in question.options))
    if isinstance(question, schema.MultiChoiceQuestion):
        return VarInfo("options", frozenset(o.id for o in question.options))
    if isinstance(question, (schema.ScaleQuestion, schema.NumberQuestion)):
        return VarInfo("number")
    return VarInfo("text")


QUOTE_HINT = (
    "; a value that starts with a quote must end with it: put the whole value in the other quotes,"
    """ e.g. show_if: "'x' in area\""""
)


def _yaml_hint(what: str) -> str:
    """Add the usual fix to the YAML errors admins meet most."""
    if "mapping values are not allowed" in what:
        return what + "; put text containing ': ' in quotes"
    if "found character '\\t'" in what or "\\t" in what:
        return what + "; use spaces, not tabs, to indent"
    if "expected <block end>, but found '<scalar>'" in what:
        return what + QUOTE_HINT
    if "could not find expected ':'" in what:
        return what + "; each line should be `key: value`"
    return what


def load_survey_file(path: str | Path, default_timezone: str = "UTC") -> schema.Survey:
    """Load one survey file, or raise SurveyFileError listing every problem."""
    return _FileLoader(Path(path), default_timezone).load()


def survey_paths(folder: str | Path) -> list[Path]:
    """The survey files in a folder, in a stable order."""
    root = Path(folder)
    return sorted(p for p in root.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_surveys(paths: Iterable[str | Path], default_timezone: str = "UTC") -> LoadResult:
    """Load many files (folders are expanded); bad files are reported, good ones kept.

    Survey ids must be unique across files, since residents reach a survey
    by its id; the first file (in name order) keeps an id that is reused.
    """
    result = LoadResult()
    origin: dict[str, str] = {}
    files: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            files.extend(survey_paths(path))
        else:
            files.append(path)
    for path in files:
        try:
            survey = load_survey_file(path, default_timezone)
        except SurveyFileError as exc:
            result.problems.extend(exc.problems)
            continue
        if survey.id in origin:
            loader = _FileLoader(path, default_timezone)
            loader.locator = _Locator(YAML(typ="rt").load(path.read_text("utf-8")), [])
            loader.at(
                ("id",),
                f"survey id '{survey.id}' is already used by {origin[survey.id]}; pick another id",
            )
            result.problems.extend(loader.problems)
            continue
        origin[survey.id] = str(path)
        result.surveys[survey.id] = survey
    result.problems.sort()
    return result
