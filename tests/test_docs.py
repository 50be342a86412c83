"""The survey format reference, docs/surveys.md, stays complete and correct.

* every key the loader accepts (found by walking the pydantic models, so a
  new key cannot be added without documenting it) is documented;
* every question type has its own section and a working example;
* every ```yaml block that is a whole survey loads cleanly with the real
  loader, and every other ```yaml block is at least valid YAML.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from models import survey as schema
from models.loader import SurveyFileError, load_survey_file

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "surveys.md"

YAML_BLOCK = re.compile(r"^```yaml[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


# -- what the loader accepts ---------------------------------------------------


def _walk(annotation: object) -> Iterator[object]:
    """The annotation and everything nested in it (unions, lists, Annotated, Literal)."""
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _walk(arg)


def _models_in(annotation: object) -> list[type[BaseModel]]:
    return [a for a in _walk(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]


def _models() -> list[type[BaseModel]]:
    """Every model reachable from Survey through its fields, Survey first."""
    found: list[type[BaseModel]] = [schema.Survey]
    for model in found:  # grows while we walk it
        for field in model.model_fields.values():
            found.extend(m for m in _models_in(field.annotation) if m not in found)
    return found


def _question_models() -> list[type[BaseModel]]:
    return _models_in(schema.Question)


def _question_types() -> list[str]:
    """The `type:` values, read from the Literal of each question model."""
    types: list[str] = []
    for model in _question_models():
        for part in _walk(model.model_fields["type"].annotation):
            if typing.get_origin(part) is typing.Literal:
                types.extend(typing.get_args(part))
    return types


def _accepted_keys() -> dict[str, list[str]]:
    """Each key any survey file may contain, with the models that accept it."""
    keys: dict[str, list[str]] = {}
    for model in _models():
        for name in model.model_fields:
            keys.setdefault(name, []).append(model.__name__)
    return keys


ACCEPTED_KEYS = _accepted_keys()
QUESTION_TYPES = _question_types()


def test_introspection_reaches_every_model() -> None:
    """Guard the walk itself, so the tests below cannot pass by finding nothing."""
    models = set(_models())
    expected = {schema.Survey, schema.Digest, schema.Option, *_question_models()}
    assert expected <= models, f"not reached: {sorted(m.__name__ for m in expected - models)}"
    assert len(_question_models()) == len(schema.QUESTION_TYPES)
    assert sorted(QUESTION_TYPES) == sorted(schema.QUESTION_TYPES)
    for key in ("id", "questions", "schedule", "min_group_size", "label", "options", "max_length"):
        assert key in ACCEPTED_KEYS


# -- the docs ------------------------------------------------------------------


def _docs() -> str:
    assert DOCS.is_file(), f"{DOCS.relative_to(ROOT)} is missing"
    return DOCS.read_text(encoding="utf-8")


def _yaml_blocks() -> list[tuple[int, str]]:
    """(line number in the docs, text) of every ```yaml block."""
    if not DOCS.is_file():
        return []
    text = DOCS.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in YAML_BLOCK.finditer(text)]


def _is_complete_survey(block: str) -> bool:
    return bool(re.search(r"^id:", block, re.MULTILINE) and re.search(r"^questions:", block, re.MULTILINE))


def _documented(key: str, docs: str) -> bool:
    """`key` in the text, or `key:` in a YAML example."""
    if f"`{key}`" in docs:
        return True
    key_in_yaml = re.compile(rf"(?<![\w-]){re.escape(key)}:")
    return any(key_in_yaml.search(block) for _, block in _yaml_blocks())


@pytest.mark.parametrize("key", sorted(ACCEPTED_KEYS))
def test_every_accepted_key_is_documented(key: str) -> None:
    where = ", ".join(ACCEPTED_KEYS[key])
    assert _documented(key, _docs()), (
        f"the key '{key}' (accepted by {where}) is not documented in docs/surveys.md; "
        f"describe it as `{key}` or show `{key}:` in a ```yaml example"
    )


@pytest.mark.parametrize("question_type", QUESTION_TYPES)
def test_every_question_type_is_documented(question_type: str) -> None:
    docs = _docs()
    assert f"`{question_type}`" in docs, f"question type '{question_type}' is not mentioned in docs/surveys.md"
    heading = re.compile(rf"^#+ `{re.escape(question_type)}`\s*$", re.MULTILINE)
    assert heading.search(docs), f"question type '{question_type}' has no '### `{question_type}`' section"
    uses = re.compile(rf"^\s*type: {re.escape(question_type)}\s*$", re.MULTILINE)
    assert any(uses.search(b) for _, b in _yaml_blocks() if _is_complete_survey(b)), (
        f"no complete ```yaml survey in docs/surveys.md uses `type: {question_type}`"
    )


def test_docs_have_complete_examples() -> None:
    complete = [b for _, b in _yaml_blocks() if _is_complete_survey(b)]
    assert len(complete) >= 5, "docs/surveys.md should show several complete, working surveys"


@pytest.mark.parametrize(
    "line, block",
    [pytest.param(line, block, id=f"line-{line}") for line, block in _yaml_blocks()],
)
def test_yaml_examples(line: int, block: str, tmp_path: Path) -> None:
    """Whole surveys load with the real loader; every other block is valid YAML."""
    if not _is_complete_survey(block):
        try:
            YAML(typ="safe").load(StringIO(block))
        except YAMLError as exc:
            pytest.fail(f"docs/surveys.md line {line}: the YAML example does not parse: {exc}")
        return
    path = tmp_path / "example.yaml"
    path.write_text(block, encoding="utf-8")
    try:
        load_survey_file(path)
    except SurveyFileError as exc:
        problems = "\n".join(f"  line {p.line + line - 1}:{p.col}: {p.message}" for p in exc.problems)
        pytest.fail(f"the survey example at docs/surveys.md line {line} does not validate:\n{problems}")
