"""Cut a long Telegram HTML digest into messages that each parse on their own.

Telegram refuses a message over 4096 characters, and refuses HTML whose
tags do not match. A digest is cut only between blocks (blank lines) when
it can be, else between lines, else between words, and as a last resort
between characters: never inside a tag or an `&...;` entity. Tags still
open at a cut are closed at the end of that message and opened again at
the start of the next, so every message is valid HTML by itself.

Lengths are counted in UTF-16 code units of the raw HTML, tags included.
Telegram counts the visible text (after parsing) in UTF-16 units, which is
never more, so a message that fits here always fits there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TELEGRAM_LIMIT = 4096
MIN_LIMIT = 32
#: The tags a digest may use (Telegram accepts a few more; digests need none of them).
ALLOWED_TAGS = frozenset({"b", "i", "u", "s", "code", "pre", "a"})

_ENTITY = re.compile(r"&(?:#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot);")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")

TEXT, OPEN, CLOSE = 0, 1, 2


class HTMLError(ValueError):
    """The text is not valid Telegram HTML of the kind a digest uses."""


@dataclass(frozen=True)
class _Atom:
    kind: int
    raw: str
    name: str = ""
    cost: int = 0  # UTF-16 code units of `raw`


def _utf16(text: str) -> int:
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _atoms(html: str) -> list[_Atom]:
    """Text characters, entities and tags, checked to be balanced and allowed."""
    atoms: list[_Atom] = []
    stack: list[str] = []
    i, size = 0, len(html)
    while i < size:
        char = html[i]
        if char == "<":
            match = _TAG.match(html, i)
            if match is None:
                raise HTMLError(f"a '<' that starts no tag at character {i}: write it as &lt;")
            closing, name = match.group(1) == "/", match.group(2).lower()
            if name not in ALLOWED_TAGS:
                raise HTMLError(f"the tag <{name}> is not allowed (only {', '.join(sorted(ALLOWED_TAGS))})")
            if closing:
                if not stack or stack[-1] != name:
                    raise HTMLError(f"</{name}> at character {i} does not close the last open tag")
                stack.pop()
                atoms.append(_Atom(CLOSE, match.group(0), name, _utf16(match.group(0))))
            else:
                if match.group(3) and name != "a":
                    raise HTMLError(f"<{name}> takes no attributes (character {i})")
                stack.append(name)
                atoms.append(_Atom(OPEN, match.group(0), name, _utf16(match.group(0))))
            i = match.end()
        elif char == "&":
            match = _ENTITY.match(html, i)
            if match is None:
                raise HTMLError(f"a bare '&' at character {i}: write it as &amp;")
            atoms.append(_Atom(TEXT, match.group(0), "", len(match.group(0))))
            i = match.end()
        elif char == ">":
            raise HTMLError(f"a bare '>' at character {i}: write it as &gt;")
        else:
            atoms.append(_Atom(TEXT, char, "", 2 if ord(char) > 0xFFFF else 1))
            i += 1
    if stack:
        raise HTMLError(f"<{stack[-1]}> is never closed")
    return atoms


def check_html(html: str) -> None:
    """Raise HTMLError unless `html` is balanced Telegram HTML using only the digest's tags."""
    _atoms(html)


def _closers(atoms: list[_Atom], open_tags: list[int]) -> str:
    return "".join(f"</{atoms[i].name}>" for i in reversed(open_tags))


def _break_rank(atoms: list[_Atom], q: int) -> int:
    """How good a cut just before atoms[q] is: 3 blank line, 2 line break, 1 space, 0 anywhere."""
    raw = atoms[q].raw if atoms[q].kind == TEXT else ""
    if raw == "\n":
        return 3 if q + 1 < len(atoms) and atoms[q + 1].raw == "\n" else 2
    if raw in (" ", "\t"):
        return 1
    return 0


def _visible(atom: _Atom) -> bool:
    return atom.kind == TEXT and bool(atom.raw) and not atom.raw.isspace()


def _without_empty_tags(atoms: list[_Atom]) -> list[_Atom]:
    """Drop the tags of elements with nothing visible inside (Telegram ignores them anyway).

    Their content (spaces, line breaks) stays. Without this, a run of empty
    tags longer than a message could never be cut, as a cut needs text.
    """
    keep = [True] * len(atoms)
    stack: list[tuple[int, bool]] = []  # (index of the open tag, whether text was seen inside)
    for index, atom in enumerate(atoms):
        if atom.kind == OPEN:
            stack.append((index, False))
        elif atom.kind == CLOSE:
            opened, seen = stack.pop()
            if not seen:
                keep[opened] = keep[index] = False
            elif stack:
                stack[-1] = (stack[-1][0], True)
        elif _visible(atom) and stack:
            stack[-1] = (stack[-1][0], True)
    return [atom for atom, kept in zip(atoms, keep, strict=True) if kept]


def _partners(atoms: list[_Atom]) -> dict[int, int]:
    """Index of each open tag -> index of its close tag."""
    partner: dict[int, int] = {}
    opened: list[int] = []
    for index, atom in enumerate(atoms):
        if atom.kind == OPEN:
            opened.append(index)
        elif atom.kind == CLOSE:
            partner[opened.pop()] = index
    return partner


_DROPPED = _Atom(TEXT, "", "", 0)


def split_messages(html: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """`html` as one or more messages, each at most `limit` UTF-16 units and valid on its own.

    Returns no message at all when there is no visible text (Telegram refuses
    an empty message). In the odd case where tags nested around one piece of
    text leave no room for the text itself (a tiny `limit`), the outermost
    of those tags is dropped rather than the text.
    """
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT}")
    atoms = _atoms(html)
    if not any(_visible(atom) for atom in atoms):
        return []
    html = html.strip()
    if _utf16(html) <= limit:
        return [html]
    atoms = _without_empty_tags(atoms)
    partner = _partners(atoms)
    parts: list[str] = []
    stack: list[int] = []  # indices of the tags open where the next message starts
    p = 0
    while p < len(atoms):
        # The separator at a cut belongs to neither message, and a tag that closes
        # right after the cut is simply not reopened.
        while p < len(atoms) and (atoms[p].kind == CLOSE or (atoms[p].kind == TEXT and not _visible(atoms[p]))):
            if atoms[p].kind == CLOSE:
                stack = stack[:-1]
            p += 1
        if p >= len(atoms):
            break
        prefix = "".join(atoms[i].raw for i in stack)
        cost = _utf16(prefix)
        open_now = list(stack)
        closing_cost = sum(len(atoms[i].name) + 3 for i in open_now)
        best: dict[int, tuple[int, list[int]]] = {}
        visible = False
        q = p
        while q < len(atoms):
            atom = atoms[q]
            if atom.kind == OPEN:
                new_closing = closing_cost + len(atom.name) + 3
            elif atom.kind == CLOSE:
                new_closing = closing_cost - (len(atom.name) + 3)
            else:
                new_closing = closing_cost
            if cost + atom.cost + new_closing > limit:
                break
            cost += atom.cost
            closing_cost = new_closing
            if atom.kind == OPEN:
                open_now.append(q)
            elif atom.kind == CLOSE:
                open_now.pop()
            elif _visible(atom):
                visible = True
            q += 1
            if visible and q < len(atoms):
                best[_break_rank(atoms, q)] = (q, list(open_now))
        if q >= len(atoms):
            if visible:
                parts.append(prefix + "".join(atom.raw for atom in atoms[p:]) + _closers(atoms, open_now))
            break
        if not best:
            # No room for any text: give up the outermost tag around it (text matters more).
            outer = stack[0] if stack else next((i for i in range(p, q + 1) if atoms[i].kind == OPEN), -1)
            if outer < 0:  # pragma: no cover - an entity is at most 10 units, far below MIN_LIMIT
                raise ValueError(f"limit {limit} is too small")
            atoms[outer] = atoms[partner[outer]] = _DROPPED
            stack = [i for i in stack if i != outer]
            continue
        cut, stack_at_cut = best[max(best)]
        parts.append(prefix + "".join(atom.raw for atom in atoms[p:cut]) + _closers(atoms, stack_at_cut))
        stack = stack_at_cut
        p = cut
    return [part.strip() for part in parts]
