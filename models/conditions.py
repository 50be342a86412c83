"""The `show_if` condition language: a small, safe expression language.

A survey question may carry `show_if: safety <= 2`. Survey files are written
by organisers, not programmers, and are loaded by the bot, so conditions are
parsed by hand here and never handed to Python's `eval`:

* `parse` turns text into a tree of frozen dataclasses (syntax only);
* `check` type-checks a tree against the questions that come before it;
* `compile_condition` does both and returns the tree to store and evaluate;
* `evaluate` answers "show this question?" for one resident's answers.

Every problem is a `ConditionError` carrying a short message that says what
is wrong and how to fix it, and the 0-based character offset where it starts,
so the survey loader can report `file:line:col: message`.

Language::

    condition  := or_expr
    or_expr    := and_expr ('or' and_expr)*
    and_expr   := not_expr ('and' not_expr)*
    not_expr   := 'not' not_expr | primary
    primary    := '(' or_expr ')'
                | value [('==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not' 'in') value]
    value      := word | number | string

A word is `[A-Za-z0-9_][A-Za-z0-9_-]*`; an all-digit word is a number, and so
are decimals (`1.5`) and negatives (`-1`). A word is either a question id
(`[a-z0-9_]+`) or a bare option id (`[a-z0-9-]+`, e.g. `youth-club`); only
`check` can tell which. Strings are quoted with `'...'` or `"..."` and have
no escapes (use the other quote character to include one). `and`, `or`,
`not` and `in` are keywords and always win over a question or option with
that id (quote such an option).

Unanswered or skipped questions make a comparison UNKNOWN, and the logic is
three-valued (Kleene), so a condition on an unanswered question is false even
under `not`.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
import typing
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "QUESTION_KINDS",
    "And",
    "Compare",
    "Condition",
    "ConditionError",
    "Contains",
    "Literal",
    "Name",
    "Node",
    "Not",
    "Operand",
    "Or",
    "VarInfo",
    "check",
    "compile_condition",
    "evaluate",
    "names",
    "parse",
    "to_source",
]

MAX_LENGTH = 1000
"""Longest accepted condition, in characters; longer ones are surely a mistake."""

MAX_DEPTH = 50
"""Deepest accepted nesting of parentheses and `not`, so recursion stays bounded."""


class ConditionError(ValueError):
    """A problem in a condition, with where it is.

    `message` says what is wrong and how to fix it; `offset` is the 0-based
    character offset into the condition's source where the problem starts
    (`len(source)` when the condition ends too early).
    """

    message: str
    offset: int

    def __init__(self, message: str, offset: int) -> None:
        # Both go to args so the exception pickles and copies faithfully.
        super().__init__(message, offset)
        self.message = message
        self.offset = offset

    def __str__(self) -> str:
        return self.message


# --------------------------------------------------------------------------
# What check needs to know about earlier questions

Kind = typing.Literal["option", "options", "number", "text"]

QUESTION_KINDS: Mapping[str, Kind] = {
    "choice": "option",
    "multi_choice": "options",
    "scale": "number",
    "number": "number",
    "text": "text",
}
"""The `VarInfo.kind` for each survey question type that conditions can use."""


@dataclass(frozen=True)
class VarInfo:
    """What a condition may do with one earlier question.

    kind "option" is a choice question (answer: one option id), "options" a
    multi_choice question (answer: a collection of option ids), "number" a
    scale or number question, "text" a text question. `options` holds the
    option ids for "option" and "options".
    """

    kind: Kind
    options: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Fail loudly at the call site: a wrong kind would otherwise surface
        # as baffling condition errors in survey files.
        if self.kind not in ("option", "options", "number", "text"):
            raise ValueError(f"unknown VarInfo kind {self.kind!r}")
        if isinstance(self.options, str):
            raise TypeError("VarInfo options must be a collection of option ids, not a string")
        if not isinstance(self.options, frozenset):
            object.__setattr__(self, "options", frozenset(self.options))


# --------------------------------------------------------------------------
# The tree


@dataclass(frozen=True)
class Node:
    """Base of every tree node.

    `source` is the whole condition text and `start`/`end` the node's span in
    it, for error messages. They are left out of equality and hashing, so two
    trees are equal when they mean the same thing, wherever they came from.
    """

    source: str = field(default="", kw_only=True, compare=False, repr=False)
    start: int = field(default=0, kw_only=True, compare=False, repr=False)
    end: int = field(default=0, kw_only=True, compare=False, repr=False)

    @property
    def snippet(self) -> str:
        """The part of the source this node was parsed from."""
        return self.source[self.start : self.end]

    def to_source(self) -> str:
        """Canonical text for this tree; `parse` of it gives an equal tree."""
        return to_source(self)


@dataclass(frozen=True)
class Name(Node):
    """A bare word: a question id, or (until checked) possibly a bare option id."""

    id: str


@dataclass(frozen=True)
class Literal(Node):
    """A fixed value.

    kind "number" (value int or float), "string" (a quoted string; value is
    the text between the quotes) or "option" (an option id, as resolved by
    `check`; value is the id). `text` is how the value was written, so that a
    number like `1` can still match an option id "1".
    """

    value: int | float | str
    kind: typing.Literal["number", "string", "option"] = "string"
    text: str = ""

    def __post_init__(self) -> None:
        if not self.text:
            object.__setattr__(self, "text", str(self.value))


Operand: typing.TypeAlias = Name | Literal


@dataclass(frozen=True)
class Compare(Node):
    """`left op right`, op one of == != < <= > >=."""

    op: str
    left: Operand
    right: Operand
    op_start: int = field(default=0, kw_only=True, compare=False, repr=False)


@dataclass(frozen=True)
class Contains(Node):
    """`item in container`, or `item not in container` when negated."""

    item: Operand
    container: Operand
    negated: bool = False
    op_start: int = field(default=0, kw_only=True, compare=False, repr=False)


@dataclass(frozen=True)
class Not(Node):
    operand: Condition


@dataclass(frozen=True)
class And(Node):
    """All operands; n-ary so a long chain does not make a deep tree."""

    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Or(Node):
    """Any operand; n-ary so a long chain does not make a deep tree."""

    operands: tuple[Condition, ...]


Condition: typing.TypeAlias = Or | And | Not | Compare | Contains | Name | Literal
"""A parsed condition. A bare Name or Literal only appears before `check`,
which rejects it ("needs a comparison")."""

_COMPARE_OPS: dict[str, Callable[[typing.Any, typing.Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_KEYWORDS = frozenset({"and", "or", "not", "in"})


# --------------------------------------------------------------------------
# Tokens

_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_DIGITS = re.compile(r"[0-9]+")  # not \d: int() would accept other scripts' digits
_DECIMAL_TAIL = re.compile(r"\.[0-9]+")
_NUMBERISH = re.compile(r"[A-Za-z0-9_.-]*")

# Things people type from other languages, and what to write instead.
_STRAY: tuple[tuple[str, str], ...] = (
    ("&&", "use 'and' instead of '&&'"),
    ("||", "use 'or' instead of '||'"),
    ("<>", "use '!=' instead of '<>'"),
    ("=>", "use '>=' instead of '=>'"),
    ("=<", "use '<=' instead of '=<'"),
    ("=", "use '==' to compare, not '='"),
    ("&", "use 'and' instead of '&'"),
    ("|", "use 'or' instead of '|'"),
    ("!", "use 'not' instead of '!', or '!=' to compare"),
    ("≤", "use '<=' instead of '≤'"),
    ("≥", "use '>=' instead of '≥'"),
    ("≠", "use '!=' instead of '≠'"),
    ("‘", "use straight quotes ' or \" instead of curly ones"),
    ("’", "use straight quotes ' or \" instead of curly ones"),
    ("“", "use straight quotes ' or \" instead of curly ones"),
    ("”", "use straight quotes ' or \" instead of curly ones"),
    ("[", "lists are not supported; join comparisons with 'or', e.g. area == 'a' or area == 'b'"),
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "word", "number", "string", "op", "keyword", "(", ")", "end"
    text: str  # as written (a string's text includes its quotes)
    start: int
    end: int
    value: int | float | str | None = None

    @property
    def shown(self) -> str:
        """The token quoted for a message (a string already is)."""
        return self.text if self.kind == "string" else repr(self.text)


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "'\"":
            close = source.find(ch, i + 1)
            if close < 0:
                raise ConditionError(f"unterminated string; add the closing {ch}", i)
            tokens.append(_Token("string", source[i : close + 1], i, close + 1, source[i + 1 : close]))
            i = close + 1
            continue
        if ch == "-" and i + 1 < n and source[i + 1].isascii() and source[i + 1].isdigit():
            tokens.append(_number(source, i, i + 1))
            i = tokens[-1].end
            continue
        word = _WORD.match(source, i)
        if word:
            if _DIGITS.fullmatch(word.group()):
                tokens.append(_number(source, i, i))
            elif word.group() in _KEYWORDS:
                tokens.append(_Token("keyword", word.group(), i, word.end()))
            elif word.group().lower() in _KEYWORDS:
                raise ConditionError(f"write {word.group().lower()!r} in lower case", i)
            else:
                tokens.append(_Token("word", word.group(), i, word.end()))
            i = tokens[-1].end
            continue
        if ch in "()":
            tokens.append(_Token(ch, ch, i, i + 1))
            i += 1
            continue
        if ch == "." and source[i + 1 : i + 2].isdigit():
            raise ConditionError("write decimals with a digit before the point, e.g. 0.5", i)
        if ch == "-":
            raise ConditionError("unexpected '-'; write negative numbers like -1, and quote other values", i)
        for bad, advice in _STRAY:
            if source.startswith(bad, i) and not source.startswith(("==", "!="), i):
                raise ConditionError(advice, i)
        op = next((op for op in ("==", "!=", "<=", ">=", "<", ">") if source.startswith(op, i)), None)
        if op is None:
            raise ConditionError(f"unexpected character {ch!r}; remove it, or put text in quotes", i)
        tokens.append(_Token("op", op, i, i + len(op)))
        i += len(op)
    tokens.append(_Token("end", "", n, n))
    return tokens


def _number(source: str, start: int, digits_at: int) -> _Token:
    """Read a number whose digits begin at `digits_at` (after a '-' if any)."""
    word = _WORD.match(source, digits_at)
    assert word is not None  # the caller saw a digit there
    end = word.end()
    if not _DIGITS.fullmatch(word.group()):
        # e.g. -2-bed: not a number, and a bare word cannot start with '-'.
        raise ConditionError(f"unexpected '-'; quote values that start with '-', e.g. '{source[start:end]}'", start)
    decimal = _DECIMAL_TAIL.match(source, end)
    if decimal:
        end = decimal.end()
    tail = _NUMBERISH.match(source, end)
    if tail and tail.end() > end:
        # 1.5.2, 1.x, 1.: a version number or typo; text must be quoted.
        whole = source[start : tail.end()]
        raise ConditionError(f"{whole!r} is not a number; put text in quotes, e.g. '{whole}'", start)
    text = source[start:end]
    value: int | float = float(text) if decimal else int(text)
    return _Token("number", text, start, end, value)


# --------------------------------------------------------------------------
# Parser


def parse(source: str) -> Condition:
    """Parse a condition's text into a tree; syntax only (see `check`).

    Raises ConditionError, and nothing else, for any input.
    """
    if not isinstance(source, str):
        raise ConditionError("a condition must be text, e.g. safety <= 2", 0)
    if len(source) > MAX_LENGTH:
        raise ConditionError(f"condition is longer than {MAX_LENGTH} characters; make it shorter", MAX_LENGTH)
    return _Parser(source, _tokenize(source)).parse()


class _Parser:
    """Recursive descent; depth is bounded by MAX_DEPTH, so no RecursionError."""

    def __init__(self, source: str, tokens: list[_Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def is_keyword(self, token: _Token, word: str) -> bool:
        return token.kind == "keyword" and token.text == word

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError(f"condition is nested more than {MAX_DEPTH} deep; simplify it", token.start)

    def parse(self) -> Condition:
        if self.peek().kind == "end":
            raise ConditionError("empty condition; write one such as safety <= 2, or remove show_if", 0)
        node = self.or_expr()
        token = self.peek()
        if token.kind == ")":
            raise ConditionError("unbalanced ')'; remove it or add a '(' before it", token.start)
        if token.kind != "end":
            self.after_condition(token, in_parens=False)
        return node

    def or_expr(self) -> Condition:
        operands = [self.and_expr()]
        while self.is_keyword(self.peek(), "or"):
            self.advance()
            operands.append(self.and_expr())
        if len(operands) == 1:
            return operands[0]
        return Or(tuple(operands), **self.span(operands[0].start, operands[-1].end))

    def and_expr(self) -> Condition:
        operands = [self.not_expr()]
        while self.is_keyword(self.peek(), "and"):
            self.advance()
            operands.append(self.not_expr())
        if len(operands) == 1:
            return operands[0]
        return And(tuple(operands), **self.span(operands[0].start, operands[-1].end))

    def not_expr(self) -> Condition:
        token = self.peek()
        if not self.is_keyword(token, "not"):
            return self.primary()
        self.advance()
        self.enter(token)
        operand = self.not_expr()
        self.depth -= 1
        return Not(operand, **self.span(token.start, operand.end))

    def primary(self) -> Condition:
        token = self.peek()
        if token.kind == "(":
            self.advance()
            self.enter(token)
            inner = self.or_expr()
            close = self.peek()
            if close.kind == "end":
                raise ConditionError("'(' is never closed; add a ')'", token.start)
            if close.kind != ")":
                self.after_condition(close, in_parens=True)
            self.advance()
            self.depth -= 1
            return replace(inner, start=token.start, end=close.end)
        if token.kind not in ("word", "number", "string"):
            raise self.expected_condition(token)
        left = self.operand(self.advance())
        token = self.peek()
        if token.kind == "op":
            self.advance()
            right = self.operand_after(token)
            node: Condition = Compare(token.text, left, right, op_start=token.start, **self.span(left.start, right.end))
        elif self.is_keyword(token, "in") or (self.is_keyword(token, "not") and self.is_keyword(self.peek(1), "in")):
            negated = token.text == "not"
            self.advance()
            if negated:
                self.advance()
            right = self.operand_after(token)
            node = Contains(left, right, negated, op_start=token.start, **self.span(left.start, right.end))
        elif self.is_keyword(token, "not"):
            following = self.peek(1)
            example = ""
            if following.kind in ("word", "number", "string"):
                example = f", e.g. {left.snippet} != {following.text}"
            raise ConditionError(f"'not' here needs 'in' after it; to compare, use !={example}", token.start)
        elif token.kind in ("word", "number", "string"):
            raise self.missing_operator(left, token)
        else:
            return left  # a bare value; check says it needs a comparison
        following = self.peek()
        if following.kind == "op" or self.is_keyword(following, "in"):
            raise self.chained(following)
        return node

    def operand(self, token: _Token) -> Operand:
        span = self.span(token.start, token.end)
        if token.kind == "word":
            return Name(token.text, **span)
        if token.kind == "number":
            assert isinstance(token.value, int | float)
            return Literal(token.value, "number", token.text, **span)
        assert isinstance(token.value, str)
        return Literal(token.value, "string", token.value, **span)

    def operand_after(self, op: _Token) -> Operand:
        token = self.peek()
        if token.kind in ("word", "number", "string"):
            return self.operand(self.advance())
        word = "not in" if op.text == "not" else op.text
        what = "a multi-choice question" if word.endswith("in") else "a value"
        raise ConditionError(f"expected {what} after {word!r}", token.start)

    def after_condition(self, token: _Token, *, in_parens: bool) -> typing.NoReturn:
        """Raise for a token where 'and', 'or', ')' or the end should be."""
        if token.kind == "op" or self.is_keyword(token, "in"):
            raise self.chained(token)
        close = ", or close the '(' with ')'" if in_parens else ""
        raise ConditionError(f"unexpected {token.shown}; join conditions with 'and' or 'or'{close}", token.start)

    def expected_condition(self, token: _Token) -> ConditionError:
        if token.kind == "end":
            before = self.tokens[self.pos - 1].text if self.pos else ""
            return ConditionError(f"expected a condition after {before!r}, e.g. safety <= 2", token.start)
        if token.kind == ")":
            return ConditionError("expected a condition before ')'", token.start)
        if token.kind == "op" or self.is_keyword(token, "in"):
            return ConditionError(f"expected a question or value before {token.shown}", token.start)
        return ConditionError(f"expected a condition before {token.shown}", token.start)

    def missing_operator(self, left: Operand, token: _Token) -> ConditionError:
        if token.text == "is":
            return ConditionError("use '==' instead of 'is'", token.start)
        return ConditionError(
            f"missing operator before {token.shown}; e.g. {left.snippet} == {token.text}",
            token.start,
        )

    def chained(self, token: _Token) -> ConditionError:
        return ConditionError(
            "comparisons cannot be chained; join them with 'and', e.g. 1 <= safety and safety <= 3",
            token.start,
        )

    def span(self, start: int, end: int) -> dict[str, typing.Any]:
        return {"source": self.source, "start": start, "end": end}


# --------------------------------------------------------------------------
# Checker


def check(cond: Condition, earlier: Mapping[str, VarInfo], all_questions: Collection[str]) -> None:
    """Type-check a parsed condition against the questions asked before it.

    `earlier` maps each earlier question's id to what it is; `all_questions`
    holds every question id in the survey, so that a reference to a later
    question gets its own message. Raises ConditionError.
    """
    _Checker(earlier, all_questions).run(cond)


def compile_condition(source: str, earlier: Mapping[str, VarInfo], all_questions: Collection[str]) -> Condition:
    """Parse and check; returns the tree to store and pass to `evaluate`.

    The returned tree has bare option ids resolved into Literal(kind="option")
    nodes, so only real question references remain as Name nodes (and
    `names` of it is exactly the questions it reads). Raises ConditionError.
    """
    return _Checker(earlier, all_questions).run(parse(source))


_KIND_WORDS: Mapping[str, str] = {
    "option": "a choice",
    "options": "a multi-choice question",
    "number": "a number",
    "text": "text",
}


def _quote(text: str) -> str:
    return f'"{text}"' if "'" in text else f"'{text}'"


def _options_of(owner: str, options: frozenset[str]) -> str:
    """`(options of 'area': centre, north, south)`, shortened if long."""
    if not options:
        return f"({owner!r} has no options)"
    shown = sorted(options)
    more = ", ..." if len(shown) > 10 else ""
    return f"(options of {owner!r}: " + ", ".join(shown[:10]) + more + ")"


class _Checker:
    def __init__(self, earlier: Mapping[str, VarInfo], all_questions: Collection[str]) -> None:
        self.earlier = dict(earlier)
        self.all = frozenset(all_questions) | frozenset(self.earlier)

    def run(self, cond: Condition) -> Condition:
        if not isinstance(cond, Node):
            raise TypeError(f"check needs a parsed condition, not {type(cond).__name__}")
        try:
            return self.condition(cond)
        except RecursionError:
            # Only a hand-built tree can be this deep; parse bounds its trees.
            raise ConditionError(f"condition is nested more than {MAX_DEPTH} deep; simplify it", cond.start) from None

    # -- examples for messages

    def example(self, qid: str, info: VarInfo, value: str | None = None, negated: bool = False) -> str:
        """A condition that would be valid for this question, for 'e.g.'."""
        if info.kind == "number":
            return f"{qid} {'>' if negated else '<='} 2"
        if info.kind == "text":
            return f"{qid} {'!=' if negated else '=='} {_quote(value or 'yes')}"
        option = value if value in info.options else min(info.options, default="yes")
        if info.kind == "option":
            return f"{qid} {'!=' if negated else '=='} {_quote(option)}"
        return f"{_quote(option)} {'not in' if negated else 'in'} {qid}"

    def any_example(self, value: str | None = None) -> str:
        """An example for messages not about one question: prefer a question
        that has `value` as an option, then the first earlier question."""
        for qid, info in self.earlier.items():
            if value is not None and value in info.options:
                return self.example(qid, info, value)
        for qid, info in self.earlier.items():
            return self.example(qid, info)
        return "safety <= 2"

    # -- errors

    def later(self, name: Name, owner: str | None = None, info: VarInfo | None = None) -> ConditionError:
        if owner is not None and info is not None and name.id in info.options:
            return ConditionError(
                f"{name.id!r} is a question asked later; to mean the option, quote it: "
                f"{self.example(owner, info, name.id)}",
                name.start,
            )
        return ConditionError(
            f"{name.id!r} is asked later; a condition can only use questions that come before it",
            name.start,
        )

    def quote_option(self, name: Name, owner: str, info: VarInfo) -> ConditionError:
        return ConditionError(
            f"{name.id!r} is a question; to mean the option, quote it: {self.example(owner, info, name.id)}",
            name.start,
        )

    def suggestion(self, word: str, options: Iterable[str] = ()) -> str | None:
        candidates = [*self.earlier, *sorted(options)]
        matches = difflib.get_close_matches(word, candidates, n=1)
        return matches[0] if matches else None

    def unknown(self, name: Name, owner: str | None = None, info: VarInfo | None = None) -> ConditionError:
        options = info.options if info is not None else frozenset()
        match = self.suggestion(name.id, options)
        message = f"unknown name {name.id!r}"
        if match:
            message += f"; did you mean {match!r}?"
        if owner is not None:
            message += f" {_options_of(owner, options)}"
        elif not match:
            message += "; use the id of a question asked before this one"
        return ConditionError(message, name.start)

    def not_an_option(self, value: Literal, owner: str, info: VarInfo) -> ConditionError:
        matches = difflib.get_close_matches(value.text, sorted(info.options), n=1)
        hint = f"; did you mean {matches[0]!r}?" if matches else ""
        listed = _options_of(owner, info.options)
        return ConditionError(f"{value.text!r} is not an option of {owner!r}{hint} {listed}", value.start)

    # -- walking the tree

    def condition(self, node: Condition) -> Condition:
        if isinstance(node, Or | And):
            return replace(node, operands=tuple(self.condition(o) for o in node.operands))
        if isinstance(node, Not):
            return replace(node, operand=self.condition(node.operand))
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, Contains):
            return self.contains(node)
        if isinstance(node, Name):
            return self.bare_name(node)
        if isinstance(node, Literal):
            raise ConditionError(
                f"{node.snippet or to_source(node)} on its own is not a condition; "
                f"compare a question with it, e.g. {self.any_example(node.text)}",
                node.start,
            )
        raise TypeError(f"not a condition node: {type(node).__name__}")

    def bare_name(self, node: Name) -> Condition:
        info = self.earlier.get(node.id)
        if info is not None:
            raise ConditionError(f"{node.id!r} needs a comparison, e.g. {self.example(node.id, info)}", node.start)
        if node.id in self.all:
            raise self.later(node)
        if any(node.id in i.options for i in self.earlier.values()):
            raise ConditionError(
                f"{node.id!r} on its own is not a condition; "
                f"compare a question with it, e.g. {self.any_example(node.id)}",
                node.start,
            )
        raise self.unknown(node)

    def info(self, operand: Operand) -> VarInfo | None:
        """The VarInfo if operand names an earlier question, else None."""
        return self.earlier.get(operand.id) if isinstance(operand, Name) else None

    def is_later(self, operand: Operand) -> bool:
        return isinstance(operand, Name) and operand.id not in self.earlier and operand.id in self.all

    def compare(self, node: Compare) -> Compare:
        left_info, right_info = self.info(node.left), self.info(node.right)
        for side, other, other_info in (
            (node.left, node.right, right_info),
            (node.right, node.left, left_info),
        ):
            if self.is_later(side):
                assert isinstance(side, Name)
                owner = other.id if isinstance(other, Name) else None
                raise self.later(side, owner, other_info)
        if left_info is None and right_info is None:
            for side in (node.left, node.right):
                if isinstance(side, Name):
                    raise self.unknown(side)
            raise ConditionError(
                f"compares two fixed values; name a question, e.g. {self.any_example()}",
                node.start,
            )
        if left_info is not None and isinstance(node.left, Name):
            question, info, value = node.left, left_info, node.right
        else:
            assert right_info is not None and isinstance(node.right, Name)
            question, info, value = node.right, right_info, node.left
        resolved = self.compared_value(node, question, info, value)
        if value is node.right:
            return replace(node, right=resolved)
        return replace(node, left=resolved)

    def compared_value(self, node: Compare, question: Name, info: VarInfo, value: Operand) -> Operand:
        """Check `value` against `question` (either side of node); return it
        with a bare option id resolved to an option Literal."""
        qid, value_info = question.id, self.info(value)
        # The user's own value, for examples; never another question's id.
        value_text: str | None = None
        if isinstance(value, Literal):
            value_text = value.text
        elif value_info is None:
            value_text = value.id
        if info.kind == "options":
            # The example keeps the user's own option if it is a real one.
            example = self.example(qid, info, value_text, negated=node.op == "!=")
            raise ConditionError(
                f"{qid!r} is a multi-choice question, so test one option with 'in', e.g. {example}",
                node.op_start,
            )
        if info.kind == "number":
            if value_info is not None and value_info.kind == "number":
                return value
            if isinstance(value, Literal) and value.kind == "number":
                return value
            if isinstance(value, Name) and value_info is None and self.suggestion(value.id):
                raise self.unknown(value)
            raise ConditionError(
                f"{qid!r} is a number, so compare it with a number, e.g. {self.example(qid, info)}",
                value.start,
            )
        if node.op not in ("==", "!="):
            raise ConditionError(
                f"{qid!r} is {_KIND_WORDS[info.kind]}, so use == or !=, e.g. {self.example(qid, info, value_text)}",
                node.op_start,
            )
        if info.kind == "text":
            if isinstance(value, Literal) and value.kind == "string":
                return value
            if isinstance(value, Name) and value_info is None and self.suggestion(value.id):
                raise self.unknown(value)
            raise ConditionError(
                f"{qid!r} is text, so compare it with a quoted string, e.g. {self.example(qid, info, value_text)}",
                value.start,
            )
        return self.option_value(value, qid, info)

    def option_value(self, value: Operand, owner: str, info: VarInfo) -> Literal:
        """`value` as one of the options of `owner` (a choice or multi-choice)."""
        if isinstance(value, Name):
            if value.id in self.earlier:
                if value.id in info.options:
                    raise self.quote_option(value, owner, info)
                raise ConditionError(
                    f"{value.id!r} is a question; use one of the options of {owner!r} instead, "
                    f"e.g. {self.example(owner, info)}",
                    value.start,
                )
            if value.id not in info.options:
                raise self.unknown(value, owner, info)
            text = value.id
        else:
            if value.text not in info.options:
                raise self.not_an_option(value, owner, info)
            text = value.text
        return Literal(text, "option", text, source=value.source, start=value.start, end=value.end)

    def contains(self, node: Contains) -> Contains:
        item, container = node.item, node.container
        item_info, container_info = self.info(item), self.info(container)
        if self.is_later(container):
            assert isinstance(container, Name)
            raise self.later(container)
        if self.is_later(item):
            assert isinstance(item, Name)
            owner = container.id if isinstance(container, Name) else None
            raise self.later(item, owner, container_info)
        word = "not in" if node.negated else "in"
        if container_info is None or not isinstance(container, Name):
            if isinstance(container, Name):
                raise self.unknown(container)
            if item_info is not None and item_info.kind == "options":
                raise ConditionError(
                    f"put the option before {word!r}: {container.snippet or container.text} {word} {item.snippet}",
                    node.start,
                )
            if isinstance(item, Name) and item_info is None:
                raise self.unknown(item)
            if item_info is None:
                raise ConditionError(
                    f"compares two fixed values; name a question, e.g. {self.any_example()}",
                    node.start,
                )
            raise ConditionError(
                f"{word!r} needs a multi-choice question on its right, e.g. 'youth-club' {word} priorities",
                container.start,
            )
        qid = container.id
        if container_info.kind != "options":
            item_text = item.text if isinstance(item, Literal) else item.id
            example = self.example(qid, container_info, item_text, negated=node.negated)
            raise ConditionError(
                f"{qid!r} is {_KIND_WORDS[container_info.kind]}, not multi-choice, "
                f"so compare it instead, e.g. {example}",
                node.op_start,
            )
        return replace(node, item=self.option_value(item, qid, container_info))


# --------------------------------------------------------------------------
# Evaluation

_MISSING = object()
_MULTI = (list, tuple, set, frozenset)


def evaluate(cond: Condition, answers: Mapping[str, object]) -> bool:
    """Should the question be shown, given these answers?

    `answers` maps question id to answer: an option id (choice), a list,
    tuple or set of option ids (multi_choice), an int or float (scale,
    number) or a str (text). A missing id or None means unanswered or
    skipped; a comparison on it is UNKNOWN, and so is one on an answer of the
    wrong type. Logic is Kleene's: `not UNKNOWN` is UNKNOWN, `UNKNOWN and
    False` is False, `UNKNOWN or True` is True; an UNKNOWN result is False.
    So a condition on an unanswered or skipped question is false, even
    under `not`. Never raises.

    Pass the tree from `compile_condition`. (A tree that was only `parse`d
    and `check`ed also works: a bare word that is not answered, opposite an
    answered question, is read as an option id, as `check` decided it is.)
    """
    try:
        return _eval(cond, answers) is True
    except RecursionError:  # only hand-built trees can be this deep
        return False


def _eval(node: Condition, answers: Mapping[str, object]) -> bool | None:
    """True, False or None for UNKNOWN."""
    if isinstance(node, Or):
        result: bool | None = False
        for operand in node.operands:
            value = _eval(operand, answers)
            if value is True:
                return True
            if value is None:
                result = None
        return result
    if isinstance(node, And):
        result = True
        for operand in node.operands:
            value = _eval(operand, answers)
            if value is False:
                return False
            if value is None:
                result = None
        return result
    if isinstance(node, Not):
        value = _eval(node.operand, answers)
        return None if value is None else not value
    if isinstance(node, Compare):
        return _eval_compare(node, answers)
    if isinstance(node, Contains):
        return _eval_contains(node, answers)
    return None  # a bare value is no condition; check rejects it


def _lookup(operand: Operand, answers: Mapping[str, object]) -> object:
    if isinstance(operand, Literal):
        return operand.value
    return answers.get(operand.id, _MISSING)


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not (isinstance(value, float) and math.isnan(value))


def _eval_compare(node: Compare, answers: Mapping[str, object]) -> bool | None:
    left, right = _lookup(node.left, answers), _lookup(node.right, answers)
    # A bare option id in a checked but unresolved tree; see evaluate().
    if left is _MISSING and isinstance(node.left, Name) and isinstance(node.right, Name):
        left = node.left.id if isinstance(right, str) else left
    if right is _MISSING and isinstance(node.right, Name) and isinstance(node.left, Name):
        right = node.right.id if isinstance(left, str) else right
    # A number written where an option id like "1" is meant.
    if isinstance(left, str) and isinstance(node.right, Literal) and node.right.kind == "number":
        right = node.right.text
    if isinstance(right, str) and isinstance(node.left, Literal) and node.left.kind == "number":
        left = node.left.text
    if _is_number(left) and _is_number(right):
        return _COMPARE_OPS[node.op](left, right)
    if isinstance(left, str) and isinstance(right, str) and node.op in ("==", "!="):
        return (left == right) == (node.op == "==")
    return None


def _eval_contains(node: Contains, answers: Mapping[str, object]) -> bool | None:
    if not isinstance(node.container, Name):
        return None
    chosen = answers.get(node.container.id)
    # Only a real collection of option ids: a str would do substring tests.
    if not isinstance(chosen, _MULTI) or not all(isinstance(c, str) for c in chosen):
        return None
    item: object
    if isinstance(node.item, Literal):
        item = node.item.text if node.item.kind == "number" else node.item.value
    else:
        item = answers.get(node.item.id, _MISSING)
        if item is _MISSING:
            item = node.item.id  # a bare option id in an unresolved tree
    if not isinstance(item, str):
        return None
    return (item in chosen) != node.negated


# --------------------------------------------------------------------------
# Reading trees


def names(cond: Condition) -> frozenset[str]:
    """The question ids a condition reads, e.g. to know which answers matter.

    On a tree from `compile_condition` this is exact. On a tree that was
    only parsed, every bare word counts, including bare option ids.
    """
    found: set[str] = set()
    stack: list[Node] = [cond]  # iterative: any depth of tree is fine
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            found.add(node.id)
        elif isinstance(node, Or | And):
            stack.extend(node.operands)
        elif isinstance(node, Not):
            stack.append(node.operand)
        elif isinstance(node, Compare):
            stack.extend((node.left, node.right))
        elif isinstance(node, Contains):
            stack.extend((node.item, node.container))
    return frozenset(found)


def to_source(cond: Condition) -> str:
    """Canonical text for a tree, with single spaces and only the needed
    parentheses; `parse(to_source(t)) == t` for every tree `parse` makes.

    Raises ValueError for a hand-built string literal holding both quote
    characters, which the language cannot write.
    """
    if isinstance(cond, Or):
        return " or ".join(_grouped(o, isinstance(o, Or)) for o in cond.operands)
    if isinstance(cond, And):
        return " and ".join(_grouped(o, isinstance(o, Or | And)) for o in cond.operands)
    if isinstance(cond, Not):
        return "not " + _grouped(cond.operand, isinstance(cond.operand, Or | And))
    if isinstance(cond, Compare):
        return f"{to_source(cond.left)} {cond.op} {to_source(cond.right)}"
    if isinstance(cond, Contains):
        word = "not in" if cond.negated else "in"
        return f"{to_source(cond.item)} {word} {to_source(cond.container)}"
    if isinstance(cond, Name):
        return cond.id
    if isinstance(cond, Literal):
        if cond.kind == "number":
            return cond.text
        text = str(cond.value)
        if "'" in text and '"' in text:
            raise ValueError(f"cannot write a string with both kinds of quote: {text!r}")
        return _quote(text)
    raise TypeError(f"not a condition node: {type(cond).__name__}")


def _grouped(node: Condition, parens: bool) -> str:
    return f"({to_source(node)})" if parens else to_source(node)
