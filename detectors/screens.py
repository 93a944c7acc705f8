"""Screens: where a recognizer's pattern could match, worked out from the pattern itself.

A dense column's cells are counted in bulk (``detectors.sweep``) only where no
number-shaped recognizer (cards, national IDs, IBANs) could find a value in
them. Two tools decide that without running those recognizers one value at a time:

- ``superset``: a recognizer's Python pattern rewritten as an RE2 pattern that
  matches wherever the original could (more, never less), for Arrow's kernels.
- ``could_match``: whether such a pattern can match anywhere in a cell of a
  fixed layout (``fixed_positions``: a phone column's ``+46 7d ddd dd dd``),
  decided once per layout from the two patterns (the screen is then not run
  on those cells at all). Unsure is yes: anything not understood here could match.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

# the standard library's own regex parser and its opcodes (no type stubs: private modules)
sre_parse: Any = importlib.import_module("re._parser")
sre: Any = importlib.import_module("re._constants")


def superset(pattern: str, flags: int = 0, ascii_digits: bool = False) -> str:
    """An RE2 pattern matching wherever a Python ``re``/``regex`` pattern of a recognizer could match (more,
    never less): lookarounds dropped, a backreference as the group it refers to, possessive quantifiers as
    plain ones, ``\\w``, ``\\d`` and ``\\s`` as wide as Python's (Unicode). For a dense column's screen: a
    row where it matches nothing holds no value of that recognizer. ``ascii_digits``: for text that holds no
    other digits (a swept cell's shapes allow none), ``\\d`` as ``[0-9]``, and no case folding for digits."""
    wide = dict(_WIDE, **({"\\d": "[0-9]"} if ascii_digits else {}))
    groups: list[str] = []  # the text of each capturing group, by number
    out: list[str] = []
    i = 0
    opened: list[tuple[int, bool]] = []  # (where in out, capturing)
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape = pattern[i:i + 2]
            if escape[1:].isdigit() and escape[1] != "0":
                number = int(escape[1])
                out.append(f"(?:{groups[number - 1]})" if number <= len(groups) else "[\\s\\S]*")
            else:
                out.append(wide.get(escape, escape))
            i += 2
            continue
        if char == "[":
            end = _class_end(pattern, i)
            body = pattern[i + 1:end]
            if body.startswith("^") and "\\" in body:
                out.append("[\\s\\S]")  # a negated class with shorthands: anything (wider)
            else:
                for short, wider in (("\\w", "\\pL\\pN_"), ("\\d", "0-9" if ascii_digits else "\\pN"),
                                     ("\\s", "\\s\\pZ")):
                    body = body.replace(short, wider)
                out.append(f"[{body}]")
            i = end + 1
            continue
        if pattern.startswith("(?<![", i) and pattern[_class_end(pattern, i + 4) + 1:][:1] == ")":
            end = _class_end(pattern, i + 4)  # not after one of a class: after none of it, or at the start
            body = pattern[i + 5:end]
            for short, narrow in (("\\w", "A-Za-z0-9_"), ("\\d", "0-9"), ("\\s", " \\t\\n\\r\\f\\v")):
                body = body.replace(short, narrow)  # (narrower here, so the complement is wider)
            out.append(f"(?:^|[{body[1:]}])" if body.startswith("^") else f"(?:^|[^{body}])")
            i = end + 2
            continue
        if pattern.startswith(("(?<!", "(?<=", "(?!", "(?="), i):
            i = _group_end(pattern, i) + 1  # a lookaround: dropped
            continue
        if char == "(":
            capturing = not pattern.startswith("(?", i) or pattern.startswith("(?P<", i)
            opened.append((len(out), capturing))
            if pattern.startswith("(?>", i):  # an atomic group
                out.append("(?:")
                i += 3
                continue
            out.append(char)
            i += 1
            continue
        if char == ")" and opened:
            start, capturing = opened.pop()
            out.append(char)
            if capturing:
                groups.append("".join(out[start + 1:-1]))
            i += 1
            continue
        if char == "+" and i and pattern[i - 1] in "+*?}" and (i < 2 or pattern[i - 2] != "\\"):
            i += 1  # possessive: as a plain quantifier
            continue
        out.append(char)
        i += 1
    prefix = "".join(flag for bit, flag in ((2, "i"), (8, "m"), (16, "s")) if flags & bit)
    return (f"(?{prefix})" if prefix else "") + "".join(out)


_WIDE = {"\\w": "[\\pL\\pN_]", "\\d": "\\pN", "\\s": "[\\s\\pZ]", "\\b": "", "\\B": "", "\\Z": "\\z"}


def _class_end(pattern: str, start: int) -> int:
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i


def _group_end(pattern: str, start: int) -> int:
    depth, i = 0, start
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "[":
            i = _class_end(pattern, i) + 1
            continue
        if pattern[i] == "(":
            depth += 1
        elif pattern[i] == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return len(pattern) - 1


DIGITS = "0123456789"
_META = set(".^$*+?{}[]()|\\")


@functools.lru_cache(maxsize=256)
def fixed_positions(pattern: str) -> tuple[str, ...] | None:
    """The characters each position of a fixed-length ASCII shape allows (``^``, then literal characters and
    ``\\d``, then ``$``: a phone layout), or None for any other pattern."""
    if not (pattern.startswith("^") and pattern.endswith("$")) or pattern.endswith("\\$"):
        return None
    positions: list[str] = []
    body, i = pattern[1:-1], 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            escaped = body[i + 1:i + 2]
            if escaped == "d":
                positions.append(DIGITS)
            elif escaped and escaped.isascii() and not escaped.isalnum():
                positions.append(escaped)
            else:
                return None
            i += 2
            continue
        if char in _META or not char.isascii() or not char.isprintable():
            return None
        positions.append(char)
        i += 1
    return tuple(positions) or None


class _Unsure(Exception):
    """A construct the analysis does not follow: the pattern could match."""


@functools.lru_cache(maxsize=1024)
def could_match(pattern: str, positions: tuple[str, ...]) -> bool:
    """Whether an RE2 ``pattern`` (a ``superset``) can match anywhere in some string whose ``i``-th character is
    one of ``positions[i]`` (ASCII), as ``match_substring_regex`` searches a cell. Exact for the constructs
    supersets are made of; True whenever unsure."""
    try:
        parsed = sre_parse.parse(_for_python(pattern), 0)
    except (re.error, _Unsure, RecursionError):
        return True
    try:
        return bool(_Positions(positions).run(list(parsed), frozenset(range(len(positions) + 1)),
                                              parsed.state.flags))
    except (_Unsure, RecursionError):
        return True


def _for_python(pattern: str) -> str:
    """An RE2 superset in Python's syntax, for characters the cells can hold (ASCII): ``\\pL`` as ASCII
    letters, ``\\pN`` as digits, ``\\pZ`` as a space, ``\\z`` as ``\\Z``."""
    out: list[str] = []
    i, depth = 0, 0  # depth: inside a character class
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escape = pattern[i:i + 2]
            if escape in ("\\p", "\\P"):
                if escape == "\\P" or pattern[i + 2:i + 3] not in ("L", "N", "Z"):
                    raise _Unsure(pattern[i:i + 3])
                chars = {"L": "A-Za-z", "N": "0-9", "Z": " "}[pattern[i + 2]]
                out.append(chars if depth else f"[{chars}]")
                i += 3
                continue
            out.append("\\Z" if escape == "\\z" else escape)
            i += 2
            continue
        if char == "[" and depth and pattern.startswith("[:", i):
            raise _Unsure("a POSIX class")  # (Python reads it as characters)
        if char == "[" and not depth:
            depth = 1
            out.append(char)
            i += 1
            for lead in ("^", "]"):  # a class may open with ^ and then a literal ]
                if pattern.startswith(lead, i):
                    out.append(lead)
                    i += 1
            continue
        if char == "]" and depth:
            depth = 0
        out.append(char)
        i += 1
    return "".join(out)


class _Positions:
    """A parsed pattern run over a string of fixed length whose characters are each one of a set: the set
    of positions each step can end at, from the positions it may start at (so a search is one pass)."""

    def __init__(self, positions: tuple[str, ...]) -> None:
        self.positions = positions
        self.size = len(positions)

    def run(self, items: list[tuple[Any, Any]], starts: frozenset[int], flags: int) -> frozenset[int]:
        current = starts
        for op, argument in items:
            if not current:
                break
            current = self.step(op, argument, current, flags)
        return current

    def step(self, op: Any, argument: Any, starts: frozenset[int], flags: int) -> frozenset[int]:
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN):
            return frozenset(p + 1 for p in starts if p < self.size
                             and any(self.one(op, argument, c, flags) for c in self.positions[p]))
        if op is sre.BRANCH:
            _, alternatives = argument
            return frozenset().union(*(self.run(list(a), starts, flags) for a in alternatives))
        if op is sre.SUBPATTERN:
            _, add, remove, items = argument
            return self.run(list(items), starts, (flags | add) & ~remove)
        if op is sre.ATOMIC_GROUP:  # as a plain group: it can only match less
            return self.run(list(argument), starts, flags)
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            least, most, items = argument
            return self.repeat(list(items), least, most, starts, flags)
        if op is sre.AT:
            if argument in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING):
                return frozenset(p for p in starts if p == 0)  # (a cell holds no line break)
            if argument in (sre.AT_END, sre.AT_END_STRING):
                return frozenset(p for p in starts if p == self.size)
            return starts  # a word boundary: taken as true (more, never less)
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            return starts  # a lookaround: taken as true
        raise _Unsure(str(op))

    def repeat(self, items: list[tuple[Any, Any]], least: int, most: int, starts: frozenset[int],
               flags: int) -> frozenset[int]:
        current = starts
        for _ in range(least):
            current = self.run(items, current, flags)
        if most != sre.MAXREPEAT and most - least <= self.size + 1:
            ends = set(current)
            for _ in range(most - least):
                current = self.run(items, current, flags)
                ends |= current
            return frozenset(ends)
        # unbounded (or more repeats than characters: the same): every position reachable from there
        reached, frontier = set(current), set(current)
        while frontier:
            frontier = set(self.run(items, frozenset(frontier), flags)) - reached
            reached |= frontier
        return frozenset(reached)

    def one(self, op: Any, argument: Any, char: str, flags: int) -> bool:
        return _one(op, argument, char, flags)


def _one(op: Any, argument: Any, char: str, flags: int) -> bool:
    """Whether one character matches a one-character item."""
    forms = {char, char.lower(), char.upper(), *_FOLDED.get(char.lower(), "")} \
        if flags & sre.SRE_FLAG_IGNORECASE else {char}
    if op is sre.LITERAL:
        return chr(argument) in forms
    if op is sre.NOT_LITERAL:
        return chr(argument) not in forms
    if op is sre.ANY:
        return char != "\n" or bool(flags & sre.SRE_FLAG_DOTALL)
    return any(_in_class(argument, form) for form in forms)


def _in_class(items: list[tuple[Any, Any]], char: str) -> bool:
    negated = bool(items) and items[0][0] is sre.NEGATE
    found = False
    for op, argument in items[1:] if negated else items:
        if op is sre.LITERAL:
            found = chr(argument) == char
        elif op is sre.RANGE:
            low, high = argument
            found = low <= ord(char) <= high
        elif op is sre.CATEGORY:
            found = _category(argument, char)
        else:
            raise _Unsure(str(op))
        if found:
            break
    return found != negated


def could_hold(pattern: str, flags: int, char: str) -> bool:
    """Whether a match of a recognizer's Python ``pattern`` can contain ``char`` (what a lookaround looks at
    is no part of a match). True whenever unsure (a construct not followed, the ``regex`` module's syntax)."""
    try:
        parsed = sre_parse.parse(pattern, flags)
        return _holds(list(parsed), char, parsed.state.flags)
    except (re.error, _Unsure, RecursionError, ValueError, TypeError):
        return True


def _holds(items: list[tuple[Any, Any]], char: str, flags: int) -> bool:
    for op, argument in items:
        if op in (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN):
            held = _one(op, argument, char, flags)
        elif op is sre.BRANCH:
            held = any(_holds(list(alternative), char, flags) for alternative in argument[1])
        elif op is sre.SUBPATTERN:
            _, add, remove, inner = argument
            held = _holds(list(inner), char, (flags | add) & ~remove)
        elif op is sre.ATOMIC_GROUP:
            held = _holds(list(argument), char, flags)
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            _, most, inner = argument
            held = bool(most) and _holds(list(inner), char, flags)
        elif op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            held = False  # a position, or a look around it: nothing of the match
        elif op is sre.GROUPREF:
            held = False  # what its group matched, and the group came first: already looked at
        else:
            raise _Unsure(str(op))
        if held:
            return True
    return False


@functools.lru_cache(maxsize=256)
def required(pattern: str) -> frozenset[str]:
    """Characters every match of an RE2 shape holds: its literals outside repeats and alternatives (the
    ``@`` of an e-mail form). Empty when unsure."""
    try:
        parsed = sre_parse.parse(_for_python(pattern), 0)
    except (re.error, _Unsure, RecursionError):
        return frozenset()
    found: set[str] = set()
    items = list(parsed)
    while items:
        op, argument = items.pop()
        if op is sre.LITERAL and not parsed.state.flags & sre.SRE_FLAG_IGNORECASE:
            found.add(chr(argument))
        elif op is sre.SUBPATTERN and not argument[1] & sre.SRE_FLAG_IGNORECASE:
            items.extend(argument[3])
    return frozenset(found)


# the characters case-blind matching takes for an ASCII letter besides its two cases (Unicode's case folding,
# as RE2 has it): KELVIN SIGN and LONG S
_FOLDED = {"k": "\u212a", "s": "\u017f"}


def _category(category: Any, char: str) -> bool:
    """``\\d``, ``\\s``, ``\\w`` and their negations for an ASCII character, as Python has them (RE2's
    are narrower or the same there: taking Python's matches more, never less)."""
    tests = {
        sre.CATEGORY_DIGIT: char.isdigit(),
        sre.CATEGORY_SPACE: char in " \t\n\r\f\v",
        sre.CATEGORY_WORD: char.isalnum() or char == "_",
    }
    for positive, negative in ((sre.CATEGORY_DIGIT, sre.CATEGORY_NOT_DIGIT),
                               (sre.CATEGORY_SPACE, sre.CATEGORY_NOT_SPACE),
                               (sre.CATEGORY_WORD, sre.CATEGORY_NOT_WORD)):
        if category is positive:
            return tests[positive]
        if category is negative:
            return not tests[positive]
    raise _Unsure(str(category))
