"""Tests for the `show_if` condition language (models/conditions.py).

The survey below stands in for a loaded survey file: five questions come
before the one whose `show_if` is being checked, two come after it.
"""

from __future__ import annotations

import pickle
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from models.conditions import (
    MAX_DEPTH,
    MAX_LENGTH,
    QUESTION_KINDS,
    And,
    Compare,
    ConditionError,
    Contains,
    Literal,
    Name,
    Not,
    Or,
    VarInfo,
    check,
    compile_condition,
    evaluate,
    names,
    parse,
    to_source,
)

EARLIER = {
    "area": VarInfo("option", frozenset({"north", "centre", "south"})),
    "homes": VarInfo("option", frozenset({"1-bed", "2-bed", "3"})),
    "priorities": VarInfo(
        "options",
        frozenset({"youth-club", "community-cafe", "better-parks", "bus-to-the-hospital"}),
    ),
    "safety": VarInfo("number"),  # a scale, 1-5
    "age": VarInfo("number"),
    "comment": VarInfo("text"),
}
LATER = ("safety_why", "years")
ALL = (*EARLIER, *LATER)


def compiled(source: str):
    return compile_condition(source, EARLIER, ALL)


def shown(source: str, **answers: object) -> bool:
    return evaluate(compiled(source), answers)


def error(source: str) -> ConditionError:
    with pytest.raises(ConditionError) as info:
        compiled(source)
    return info.value


# --------------------------------------------------------------------------
# The tree


def test_parse_gives_a_tree_of_plain_values():
    assert parse("safety <= 2") == Compare("<=", Name("safety"), Literal(2, "number", "2"))
    assert parse("'youth-club' in priorities") == Contains(Literal("youth-club", "string"), Name("priorities"))
    assert parse("x not in priorities") == Contains(Name("x"), Name("priorities"), negated=True)


def test_nodes_remember_where_they_came_from():
    tree = parse("area == 'north' and  safety <= 2")
    assert isinstance(tree, And)
    second = tree.operands[1]
    assert second.snippet == "safety <= 2"
    assert (second.start, second.end) == (21, 32)
    assert second.source == "area == 'north' and  safety <= 2"


def test_positions_do_not_affect_equality():
    assert parse("safety<=2") == parse("  safety   <=   2 ")
    assert hash(parse("safety<=2")) == hash(parse("(safety <= 2)"))


def test_compile_resolves_bare_option_ids():
    # parse cannot know whether `north` is a question or an option; check can.
    assert parse("area == north").right == Name("north")
    assert compiled("area == north").right == Literal("north", "option")
    assert compiled("area == 'north'").right == Literal("north", "option")
    assert compiled("youth-club in priorities").item == Literal("youth-club", "option")


def test_names_lists_the_questions_a_condition_reads():
    assert names(compiled("area == north or (safety <= 2 and 'youth-club' in priorities)")) == {
        "area",
        "safety",
        "priorities",
    }
    assert names(compiled("2 < age")) == {"age"}


def test_question_kinds_map_survey_types():
    assert QUESTION_KINDS == {
        "choice": "option",
        "multi_choice": "options",
        "scale": "number",
        "number": "number",
        "text": "text",
    }


def test_varinfo_accepts_any_collection_of_options_and_rejects_bad_kinds():
    assert VarInfo("option", ["a", "b"]).options == frozenset({"a", "b"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown VarInfo kind"):
        VarInfo("choice")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        VarInfo("option", "abc")  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Operators


@pytest.mark.parametrize(
    ("source", "safety", "expected"),
    [
        ("safety == 2", 2, True),
        ("safety == 2", 3, False),
        ("safety != 2", 3, True),
        ("safety != 2", 2, False),
        ("safety < 2", 1, True),
        ("safety < 2", 2, False),
        ("safety <= 2", 2, True),
        ("safety <= 2", 3, False),
        ("safety > 2", 3, True),
        ("safety > 2", 2, False),
        ("safety >= 2", 2, True),
        ("safety >= 2", 1, False),
        ("2 >= safety", 1, True),  # the question may be on either side
        ("2 >= safety", 3, False),
        ("safety > -1", 0, True),
        ("safety<-1", -2, True),
        ("safety == 2.5", 2.5, True),
        ("safety < 2.5", 2, True),
        ("safety == 2", 2.0, True),
    ],
)
def test_number_comparisons(source, safety, expected):
    assert shown(source, safety=safety) is expected


def test_two_number_questions_can_be_compared():
    assert shown("age > safety", age=40, safety=3)
    assert not shown("age > safety", age=2, safety=3)


@pytest.mark.parametrize(
    ("source", "area", "expected"),
    [
        ("area == north", "north", True),
        ("area == 'north'", "north", True),
        ('area == "north"', "south", False),
        ("area != north", "south", True),
        ("area != north", "north", False),
        ("'north' == area", "north", True),
    ],
)
def test_choice_comparisons(source, area, expected):
    assert shown(source, area=area) is expected


def test_option_ids_may_have_hyphens_or_be_numbers():
    assert shown("homes == 2-bed", homes="2-bed")
    assert not shown("homes == 1-bed", homes="2-bed")
    assert shown("homes == 3", homes="3")
    assert shown("homes == '3'", homes="3")


@pytest.mark.parametrize(
    ("source", "chosen", "expected"),
    [
        ("'youth-club' in priorities", ["youth-club", "better-parks"], True),
        ("youth-club in priorities", ("better-parks",), False),
        ('"youth-club" not in priorities', {"better-parks"}, True),
        ("youth-club not in priorities", frozenset({"youth-club"}), False),
        ("youth-club in priorities", [], False),
        ("youth-club not in priorities", [], True),
    ],
)
def test_multi_choice_membership(source, chosen, expected):
    assert shown(source, priorities=chosen) is expected


def test_text_comparisons():
    assert shown("comment == 'none'", comment="none")
    assert shown('comment != "it\'s fine"', comment="bad")
    assert not shown('comment == "it\'s fine"', comment="it's fine!")


def test_and_or_not():
    answers = {"area": "north", "safety": 2}
    assert evaluate(compiled("area == north and safety <= 2"), answers)
    assert not evaluate(compiled("area == south and safety <= 2"), answers)
    assert evaluate(compiled("area == south or safety <= 2"), answers)
    assert not evaluate(compiled("area == south or safety > 2"), answers)
    assert evaluate(compiled("not area == south"), answers)
    assert not evaluate(compiled("not not area == south"), answers)


def test_keywords_need_no_spaces_around_quotes_and_parentheses():
    assert shown("(safety<=2)and(area=='north')", safety=1, area="north")


# --------------------------------------------------------------------------
# Precedence: comparisons > not > and > or


def test_and_binds_tighter_than_or():
    tree = parse("a == 1 or b == 2 and c == 3")
    assert isinstance(tree, Or)
    assert isinstance(tree.operands[1], And)


def test_not_binds_tighter_than_and_but_looser_than_comparisons():
    tree = parse("not a == 1 and b == 2")
    assert isinstance(tree, And)
    assert tree.operands[0] == Not(Compare("==", Name("a"), Literal(1, "number", "1")))


def test_not_before_in_negates_the_whole_membership_test():
    assert parse("not x in p") == Not(Contains(Name("x"), Name("p")))


def test_parentheses_override_precedence():
    tree = parse("(a == 1 or b == 2) and c == 3")
    assert isinstance(tree, And)
    assert isinstance(tree.operands[0], Or)
    # Evaluated, the difference shows:
    answers = {"area": "north", "safety": 5}
    assert evaluate(compiled("area == north or safety < 3 and safety > 4"), answers)
    assert not evaluate(compiled("(area == north or safety < 3) and safety > 4 and age > 1"), answers)


def test_long_chains_are_flat():
    tree = parse(" or ".join(f"safety == {i}" for i in range(60)))
    assert isinstance(tree, Or)
    assert len(tree.operands) == 60


# --------------------------------------------------------------------------
# Syntax errors: offset and message


@pytest.mark.parametrize(
    ("source", "offset", "fragment"),
    [
        ("", 0, "empty condition"),
        ("   ", 0, "empty condition"),
        ("(safety <= 2", 0, "'(' is never closed"),
        ("safety <= 2)", 11, "unbalanced ')'"),
        ("()", 1, "expected a condition before ')'"),
        ("comment == 'abc", 11, "unterminated string; add the closing '"),
        ('comment == "abc', 11, 'add the closing "'),
        ("safety = 2", 7, "use '==' to compare"),
        ("safety => 2", 7, "use '>='"),
        ("safety =< 2", 7, "use '<='"),
        ("safety <> 2", 7, "use '!='"),
        ("safety <= 2 && age > 1", 12, "use 'and' instead of '&&'"),
        ("safety <= 2 || age > 1", 12, "use 'or' instead of '||'"),
        ("!safety", 0, "use 'not'"),
        ("safety ≤ 2", 7, "use '<='"),
        ("comment == ‘x’", 11, "straight quotes"),
        ("area in ['a']", 8, "lists are not supported"),
        ("safety <= 2 AND age > 1", 12, "write 'and' in lower case"),
        ("Not safety <= 2", 0, "write 'not' in lower case"),
        ("safety <= 2 age > 1", 12, "join conditions with 'and' or 'or'"),
        ("(safety <= 2 age > 1)", 13, "or close the '(' with ')'"),
        ("safety <=", 9, "expected a value after '<='"),
        ("safety <= and", 10, "expected a value after '<='"),
        ("youth-club in", 13, "expected a multi-choice question after 'in'"),
        ("x not in", 8, "after 'not in'"),
        ("safety <= 2 and", 15, "expected a condition after 'and'"),
        ("not", 3, "expected a condition after 'not'"),
        ("and safety <= 2", 0, "expected a condition before 'and'"),
        ("== 2", 0, "expected a question or value before '=='"),
        ("1 < safety < 3", 11, "comparisons cannot be chained"),
        ("safety <= 2 in p", 12, "comparisons cannot be chained"),
        ("area 'north'", 5, "missing operator before 'north'; e.g. area == 'north'"),
        ("area is 'north'", 5, "use '==' instead of 'is'"),
        ("area not north", 5, "'not' here needs 'in' after it; to compare, use !="),
        ("safety <= 1.", 10, "'1.' is not a number"),
        ("comment == 1.5.2", 11, "put text in quotes, e.g. '1.5.2'"),
        ("safety <= .5", 10, "digit before the point, e.g. 0.5"),
        ("safety <= - 1", 10, "write negative numbers like -1"),
        ("homes == -2-bed", 9, "quote values that start with '-'"),
        ("safety <= 2 # note", 12, "unexpected character '#'"),
        ("area == café", 11, "unexpected character 'é'"),
    ],
)
def test_syntax_errors_say_where_and_how_to_fix(source, offset, fragment):
    problem = error(source)
    assert fragment in problem.message
    assert problem.offset == offset
    # parse alone finds these too, with the same result.
    with pytest.raises(ConditionError) as again:
        parse(source)
    assert (again.value.message, again.value.offset) == (problem.message, problem.offset)


def test_too_long_a_condition_is_refused_at_the_limit():
    source = " or ".join(["safety <= 2"] * 100)
    assert len(source) > MAX_LENGTH
    problem = error(source)
    assert problem.offset == MAX_LENGTH
    assert "longer than 1000 characters" in problem.message


@pytest.mark.parametrize(
    ("opener", "offset"),
    [
        ("(", MAX_DEPTH),  # the 51st '('
        ("not ", MAX_DEPTH * 4),  # the 51st 'not'
        ("not (", 25 * 5),  # 'not' and '(' both count: the 26th 'not' is the 51st level
    ],
)
def test_too_deep_nesting_is_refused_without_recursion_error(opener, offset):
    source = opener * 200 + "safety <= 2" + ")" * (200 * opener.count("("))
    source = source[:MAX_LENGTH]
    problem = error(source)
    assert "nested more than 50 deep" in problem.message
    assert problem.offset == offset


def test_nesting_up_to_the_limit_is_fine():
    source = "(" * MAX_DEPTH + "safety <= 2" + ")" * MAX_DEPTH
    assert shown(source, safety=1)
    assert shown("not " * MAX_DEPTH + "safety <= 2", safety=1)  # 50 nots cancel out


def test_a_non_string_condition_is_a_condition_error():
    # YAML turns `show_if: 5` or `show_if: yes` into int or bool.
    with pytest.raises(ConditionError, match="must be text"):
        parse(5)  # type: ignore[arg-type]
    with pytest.raises(ConditionError):
        compile_condition(True, EARLIER, ALL)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Check errors: offset and message


@pytest.mark.parametrize(
    ("source", "offset", "message"),
    [
        ("safty <= 2", 0, "unknown name 'safty'; did you mean 'safety'?"),
        ("2 < agge", 4, "unknown name 'agge'; did you mean 'age'?"),
        ("zzz == 1", 0, "unknown name 'zzz'; use the id of a question asked before this one"),
        (
            "years > 2",
            0,
            "'years' is asked later; a condition can only use questions that come before it",
        ),
        ("2 < years", 4, "'years' is asked later"),
        ("youth-club in years", 14, "'years' is asked later"),
        ("safety == 'high'", 10, "'safety' is a number, so compare it with a number, e.g. safety"),
        ("'2' == safety", 0, "'safety' is a number, so compare it with a number"),
        ("safety == high", 10, "'safety' is a number"),
        ("safety == area", 10, "'safety' is a number"),
        ("area < north", 5, "'area' is a choice, so use == or !=, e.g. area == 'north'"),
        (
            "area == nrth",
            8,
            "unknown name 'nrth'; did you mean 'north'? (options of 'area': centre, north, south)",
        ),
        ("area == 'nort'", 8, "'nort' is not an option of 'area'; did you mean 'north'?"),
        ("area == 'east'", 8, "(options of 'area': centre, north, south)"),
        ("area == 7", 8, "'7' is not an option of 'area'"),
        ("area == comment", 8, "'comment' is a question; use one of the options of 'area'"),
        ("area == homes", 8, "'homes' is a question"),
        (
            "priorities == 'youth-club'",
            11,
            "'priorities' is a multi-choice question, so test one option with 'in', e.g. 'youth-club' in priorities",
        ),
        ("priorities != 'youth-club'", 11, "e.g. 'youth-club' not in priorities"),
        ("yuth-club in priorities", 0, "unknown name 'yuth-club'; did you mean 'youth-club'?"),
        ("'pool' in priorities", 0, "'pool' is not an option of 'priorities'"),
        ("area in priorities", 0, "'area' is a question; use one of the options of 'priorities'"),
        ("youth-club in prioritis", 14, "unknown name 'prioritis'; did you mean 'priorities'?"),
        ("priorities in 'youth-club'", 0, "put the option before 'in'"),
        ("'north' in area", 8, "'area' is a choice, not multi-choice, so compare it instead"),
        ("north not in area", 6, "e.g. area != 'north'"),
        ("2 in safety", 2, "'safety' is a number, not multi-choice"),
        ("safety in 'x'", 10, "'in' needs a multi-choice question on its right"),
        ("comment < 'b'", 8, "'comment' is text, so use == or !="),
        ("comment == yes", 11, "'comment' is text, so compare it with a quoted string"),
        ("comment == 2", 11, "e.g. comment == '2'"),
        ("1 == 2", 0, "compares two fixed values; name a question, e.g. "),
        ("'a' in 'abc'", 0, "compares two fixed values"),
        ("safety", 0, "'safety' needs a comparison, e.g. safety <= 2"),
        ("area", 0, "'area' needs a comparison, e.g. area == "),
        ("priorities", 0, "e.g. 'better-parks' in priorities"),
        ("safety <= 2 and comment", 16, "'comment' needs a comparison, e.g. comment == 'yes'"),
        ("north", 0, "'north' on its own is not a condition; compare a question with it, e.g. "),
        ("'north' or safety < 2", 0, "e.g. area == 'north'"),
        ("3", 0, "3 on its own is not a condition"),
        ("years", 0, "'years' is asked later"),
        ("nothing", 0, "unknown name 'nothing'"),
        ("not area", 4, "'area' needs a comparison"),
    ],
)
def test_check_errors_say_where_and_how_to_fix(source, offset, message):
    parse(source)  # the syntax is fine...
    problem = error(source)  # ...but the meaning is not
    assert message in problem.message, problem.message
    assert problem.offset == offset, problem.message


def test_a_question_id_beats_an_option_with_the_same_id():
    earlier = {**EARLIER, "north": VarInfo("number"), "region": VarInfo("option", {"north"})}
    with pytest.raises(ConditionError) as info:
        compile_condition("region == north", earlier, [*earlier])
    assert info.value.message == "'north' is a question; to mean the option, quote it: " + ("region == 'north'")
    assert info.value.offset == 10
    # Quoting resolves it.
    compile_condition("region == 'north'", earlier, [*earlier])


def test_a_later_question_with_an_options_id_gets_a_quoting_hint():
    with pytest.raises(ConditionError) as info:
        compile_condition("area == north", EARLIER, [*ALL, "north"])
    assert info.value.message == ("'north' is a question asked later; to mean the option, quote it: area == 'north'")


def test_check_alone_raises_the_same_errors_as_compile():
    with pytest.raises(ConditionError, match="did you mean 'safety'"):
        check(parse("safty <= 2"), EARLIER, ALL)
    assert check(parse("safety <= 2"), EARLIER, ALL) is None


def test_the_first_question_ever_has_nothing_to_refer_to():
    with pytest.raises(ConditionError, match="asked later"):
        compile_condition("safety <= 2", {}, ALL)
    with pytest.raises(ConditionError, match=r"e\.g\. safety <= 2"):
        compile_condition("1 == 1", {}, ALL)


def test_messages_start_lower_case_and_are_short():
    sources = ["", "safty < 2", "safety == 'x'", "area < north", "1 == 2", "(", "safety = 2"]
    for source in sources:
        message = error(source).message
        assert message[0] == "'" or message[0].islower(), message
        assert len(message) <= 160, message


def test_condition_error_is_a_value_error_and_survives_pickling():
    problem = error("safty <= 2")
    assert isinstance(problem, ValueError)
    assert str(problem) == problem.message
    copy = pickle.loads(pickle.dumps(problem))
    assert (copy.message, copy.offset) == (problem.message, problem.offset)


# --------------------------------------------------------------------------
# Evaluation with unanswered questions: three-valued (Kleene) logic

TRUE = "safety >= 1"  # with safety=3
FALSE = "safety > 4"  # with safety=3
UNKNOWN = "age > 18"  # age never answered


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (UNKNOWN, False),
        (f"not {UNKNOWN}", False),  # the point: skipping does not flip to shown
        (f"{UNKNOWN} and {FALSE}", False),
        (f"{UNKNOWN} and {TRUE}", False),  # UNKNOWN, shown as False
        (f"not ({UNKNOWN} and {TRUE})", False),
        (f"not ({UNKNOWN} and {FALSE})", True),  # False whatever age is
        (f"{UNKNOWN} or {TRUE}", True),
        (f"{UNKNOWN} or {FALSE}", False),
        (f"not ({UNKNOWN} or {TRUE})", False),
        (f"not ({UNKNOWN} or {FALSE})", False),
        (f"not not {UNKNOWN}", False),
    ],
)
def test_kleene_logic(source, expected):
    assert shown(source, safety=3) is expected


@pytest.mark.parametrize(
    "source",
    [
        "area == north",
        "area != north",
        "not area == north",
        "youth-club in priorities",
        "youth-club not in priorities",
        "not youth-club in priorities",
        "comment != 'x'",
        "safety != 2",
        "age > safety",
    ],
)
@pytest.mark.parametrize("answers", [{}, {"area": None, "priorities": None, "comment": None}])
def test_a_condition_on_an_unanswered_or_skipped_question_is_false(source, answers):
    assert evaluate(compiled(source), {**answers, "age": 30}) is False


@pytest.mark.parametrize(
    ("source", "answers"),
    [
        ("safety <= 2", {"safety": "2"}),
        ("safety <= 2", {"safety": True}),  # bool is not a number here
        ("safety <= 2", {"safety": float("nan")}),
        ("safety != 2", {"safety": float("nan")}),
        ("safety <= 2", {"safety": [1]}),
        ("area != north", {"area": 3}),
        ("area != north", {"area": ["south"]}),
        ("youth-club not in priorities", {"priorities": "better-parks"}),  # a str is not a list
        ("youth-club not in priorities", {"priorities": [1, 2]}),
        ("youth-club not in priorities", {"priorities": {"youth-club": True}}),
        ("comment != 'x'", {"comment": object()}),
        ("age > safety", {"age": 1, "safety": "3"}),
    ],
)
def test_wrongly_typed_answers_count_as_unknown(source, answers):
    assert evaluate(compiled(source), answers) is False
    assert evaluate(compiled(f"not ({source})"), answers) is False


def test_substring_is_not_membership():
    assert not shown("youth-club in priorities", priorities="youth-club;better-parks")


def test_a_checked_but_unresolved_tree_still_evaluates_right():
    # Code that keeps parse()'s tree after check() must not see `north` as a
    # skipped question.
    tree = parse("area == north or youth-club in priorities or homes == 3")
    check(tree, EARLIER, ALL)
    assert evaluate(tree, {"area": "north"})
    assert evaluate(tree, {"priorities": ["youth-club"]})
    assert evaluate(tree, {"homes": "3"})
    assert not evaluate(tree, {"area": "south", "priorities": [], "homes": "2-bed"})
    assert not evaluate(parse("not area == north"), {})


def test_evaluate_never_raises_even_for_hand_built_deep_trees():
    tree = compiled("safety <= 2")
    for _ in range(5000):
        tree = Not(tree)
    assert evaluate(tree, {"safety": 1}) is False
    assert names(tree) == {"safety"}
    with pytest.raises(ConditionError, match="nested"):
        check(tree, EARLIER, ALL)


# --------------------------------------------------------------------------
# to_source


@pytest.mark.parametrize(
    ("source", "canonical"),
    [
        ("safety<=2", "safety <= 2"),
        ("(a==1 or b==2) and not (c==3 or d==4)", "(a == 1 or b == 2) and not (c == 3 or d == 4)"),
        ("((a == 1))", "a == 1"),
        ("a == 1 or (b == 2 or c == 3)", "a == 1 or (b == 2 or c == 3)"),
        ("not not x in p", "not not x in p"),
        ('c == "it\'s"', 'c == "it\'s"'),
        ("x not in p", "x not in p"),
        ("a == -1.50", "a == -1.50"),
    ],
)
def test_to_source_is_canonical_and_round_trips(source, canonical):
    tree = parse(source)
    assert tree.to_source() == canonical
    assert parse(canonical) == tree


def test_to_source_of_a_compiled_tree_quotes_options():
    assert to_source(compiled("area == north")) == "area == 'north'"


def test_to_source_refuses_strings_it_cannot_write():
    with pytest.raises(ValueError):
        to_source(Compare("==", Name("c"), Literal("'\"")))


# --------------------------------------------------------------------------
# Properties

# Pieces of the language, plus some near misses, for building token soups.
TOKENS = [
    *ALL,
    "north",
    "south",
    "2-bed",
    "youth-club",
    "nrth",
    "Area",
    "'north'",
    '"youth-club"',
    "'it''s'",
    "'",
    '"',
    "0",
    "2",
    "-1",
    "2.5",
    "1.",
    ".5",
    "-",
    "3",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "!",
    "&&",
    "and",
    "or",
    "not",
    "in",
    "AND",
    "(",
    ")",
    "((",
    "))",
    "#",
    "é",
    "\n",
]


def soups(tokens: list[str], max_size: int = 25) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(tokens), max_size=max_size).flatmap(
        lambda parts: st.sampled_from([" ".join(parts), "".join(parts)])
    )


# Conditions that are mostly valid, so compile_condition often succeeds.
VALID_PIECES = [
    "safety <= 2",
    "2 < age",
    "age >= safety",
    "area == north",
    "area != 'south'",
    "homes == 3",
    "youth-club in priorities",
    "'better-parks' not in priorities",
    "comment == 'yes'",
    'comment != "it\'s"',
]


token_soups = st.one_of(
    soups(TOKENS),
    # Whole comparisons and logic words: valid surprisingly often.
    soups([*VALID_PIECES, "and", "or", "not", "(", ")"], max_size=8),
)


@st.composite
def valid_conditions(draw: st.DrawFn) -> str:
    def build(depth: int) -> str:
        choice = draw(st.integers(0, 4 if depth < 4 else 0))
        if choice == 0:
            return draw(st.sampled_from(VALID_PIECES))
        if choice == 1:
            return f"not {build(depth + 1)}"
        if choice == 2:
            return f"({build(depth + 1)})"
        joiner = " and " if choice == 3 else " or "
        return joiner.join(build(depth + 1) for _ in range(draw(st.integers(2, 3))))

    return build(0)


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """A valid condition with one character deleted, replaced or inserted."""
    source = draw(valid_conditions())
    at = draw(st.integers(0, len(source)))
    edit = draw(st.sampled_from(["delete", "replace", "insert"]))
    char = draw(st.sampled_from(string.printable + "é‘≤"))
    if edit == "delete":
        return source[:at] + source[at + 1 :]
    if edit == "replace":
        return source[:at] + char + source[at + 1 :]
    return source[:at] + char + source[at:]


any_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.sampled_from(["north", "south", "3", "youth-club", "yes", "it's"]),
    st.lists(st.one_of(st.text(max_size=5), st.sampled_from(["youth-club", "better-parks"]))),
    st.frozensets(st.sampled_from(["youth-club", "better-parks", "community-cafe"])),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(object),
)
any_answers = st.dictionaries(st.sampled_from([*ALL, "north", "x"]), any_value)


@st.composite
def well_typed_answers(draw: st.DrawFn) -> dict[str, object]:
    """A full set of answers of the right types for EARLIER."""
    answers: dict[str, object] = {}
    for qid, info in EARLIER.items():
        options = sorted(info.options)
        if info.kind == "option":
            answers[qid] = draw(st.sampled_from(options))
        elif info.kind == "options":
            answers[qid] = draw(st.lists(st.sampled_from(options), unique=True))
        elif info.kind == "number":
            answers[qid] = draw(st.one_of(st.integers(-5, 100), st.floats(-5, 100)))
        else:
            answers[qid] = draw(st.sampled_from(["yes", "no", "it's", ""]))
    return answers


def compile_or_none(source: str):
    try:
        return compiled(source)
    except ConditionError as problem:
        assert 0 <= problem.offset <= len(source)
        assert problem.message
        return None


@given(st.text(max_size=300))
@settings(max_examples=500)
def test_random_text_only_ever_raises_condition_error(source):
    compile_or_none(source)


@given(st.text(alphabet=string.printable, max_size=300))
@settings(max_examples=500)
def test_random_printable_text_only_ever_raises_condition_error(source):
    compile_or_none(source)


@given(st.one_of(token_soups, near_misses()), any_answers)
@settings(max_examples=1000)
def test_token_soups_only_raise_condition_error_and_compiled_ones_evaluate_to_bool(source, answers):
    tree = compile_or_none(source)
    if tree is not None:
        assert isinstance(evaluate(tree, answers), bool)


@given(valid_conditions(), any_answers)
@settings(max_examples=300)
def test_valid_conditions_compile_and_evaluate_to_bool(source, answers):
    tree = compiled(source)
    assert isinstance(evaluate(tree, answers), bool)
    assert isinstance(evaluate(Not(tree), answers), bool)


@given(valid_conditions(), well_typed_answers())
@settings(max_examples=300)
def test_with_every_question_answered_not_is_plain_negation(source, answers):
    tree = compiled(source)
    assert evaluate(Not(tree), answers) is (not evaluate(tree, answers))


@given(valid_conditions(), well_typed_answers(), st.data())
@settings(max_examples=300)
def test_when_every_question_read_is_skipped_the_condition_is_false(source, answers, data):
    tree = compiled(source)
    skip_with_none = data.draw(st.booleans())
    for qid in names(tree):
        if skip_with_none:
            answers[qid] = None
        else:
            answers.pop(qid, None)
    assert evaluate(tree, answers) is False
    assert evaluate(Not(tree), answers) is False


@given(st.one_of(token_soups, near_misses(), valid_conditions()))
@settings(max_examples=500)
def test_to_source_round_trips(source):
    try:
        tree = parse(source)
    except ConditionError:
        return
    text = to_source(tree)
    assume(len(text) <= MAX_LENGTH)
    assert parse(text) == tree
    assert to_source(parse(text)) == text


@given(valid_conditions())
def test_compiled_trees_round_trip_and_recompile_to_the_same_tree(source):
    tree = compiled(source)
    assert compiled(to_source(tree)) == tree
    assert names(tree) <= set(EARLIER)
