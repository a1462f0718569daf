"""Which leading digits of a number phonenumbers' rules actually look at.

`phonenumbers` decides a number's validity and type with regular expressions matched against
its national significant number (the number patterns and leading-digit patterns of every region
sharing the country code, and lists of possible lengths). Walking those patterns along a given
number shows the last position any still-possible match tests with something narrower than
"any digit". Every number of the same length that shares the digits up to there gets the same
answers from every pattern, hence the same validity and type: one phonenumbers check can stand
for all of them. That is what lets a million-row list validate in seconds.

The analysis reads the installed phonenumbers' own patterns, so it follows its metadata; a
pattern it does not understand makes it answer None, and the caller then checks each number.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator
from typing import Any

from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

# The parser behind `re`: private, but in place since Python 3.11. Anything unexpected in its
# output makes the analysis give up (answer None), which is always safe.
_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")

_DIGITS = frozenset("0123456789")

# A compiled pattern is a sequence of nodes:
#   ("char", allowed digits, or None for any digit)
#   ("alt", [(first digits, sequence), ...]); first digits: what the sequence's first digit can
#       be, or None when it may be empty or start with any digit
#   ("repeat", least, most or None for unbounded, sequence)
Node = tuple[Any, ...]
Sequence = list[Node]


class _UnsupportedPatternError(Exception):
    """A construct phone patterns do not use; the analysis gives up on the pattern."""


def _allowed_digits(op: Any, arg: Any) -> frozenset[str] | None:
    if op is _c.ANY:
        return None
    if op is _c.LITERAL:
        allowed = frozenset({chr(arg)})
    elif op is _c.NOT_LITERAL:
        allowed = _DIGITS - {chr(arg)}
    else:  # IN
        chars: set[str] = set()
        negate = False
        for item_op, item_arg in arg:
            if item_op is _c.LITERAL:
                chars.add(chr(item_arg))
            elif item_op is _c.RANGE:
                chars.update(chr(c) for c in range(item_arg[0], item_arg[1] + 1))
            elif item_op is _c.CATEGORY and item_arg is _c.CATEGORY_DIGIT:
                chars.update(_DIGITS)
            elif item_op is _c.NEGATE:
                negate = True
            else:
                raise _UnsupportedPatternError
        allowed = frozenset(_DIGITS - chars if negate else chars & _DIGITS)
    return None if allowed == _DIGITS else allowed


def _compile(items: Any) -> Sequence:
    sequence: Sequence = []
    for op, arg in items:
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.IN, _c.ANY):
            sequence.append(("char", _allowed_digits(op, arg)))
        elif op is _c.SUBPATTERN:
            _group, add_flags, del_flags, body = arg
            if add_flags or del_flags:
                raise _UnsupportedPatternError
            sequence.extend(_compile(body))
        elif op is _c.BRANCH:
            alternatives = [_compile(alternative) for alternative in arg[1]]
            sequence.append(("alt", [(_first_digits(alt), alt) for alt in alternatives]))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
            least, most, body = arg
            compiled = _compile(body)
            if most is _c.MAXREPEAT:
                if _can_be_empty(compiled):
                    raise _UnsupportedPatternError
                most = None
            sequence.append(("repeat", least, most, compiled))
        else:  # anchors, lookarounds, back-references
            raise _UnsupportedPatternError
    return sequence


def _first_digits(sequence: Sequence) -> frozenset[str] | None:
    """The digits a match of `sequence` can start with; None if it can be empty or start with
    any digit (then it is simply walked)."""
    if not sequence or _can_be_empty(sequence[:1]):
        return None
    node = sequence[0]
    if node[0] == "char":
        allowed: frozenset[str] | None = node[1]
        return allowed
    if node[0] == "alt":
        firsts = [first for first, _alt in node[1]]
        if any(first is None for first in firsts):
            return None
        return frozenset().union(*firsts)
    return _first_digits(node[3])


def _can_be_empty(sequence: Sequence) -> bool:
    for node in sequence:
        if node[0] == "char":
            return False
        if node[0] == "alt" and not any(_can_be_empty(alt) for _first, alt in node[1]):
            return False
        if node[0] == "repeat" and node[1] > 0 and not _can_be_empty(node[3]):
            return False
    return True


def _walk(sequence: Sequence, starts: frozenset[int], digits: str) -> tuple[frozenset[int], int]:
    """Follow `sequence` over `digits` from each start position; return the positions where it
    can end and how many leading digits the narrower-than-any-digit tests along the way read."""
    reach = 0
    size = len(digits)
    for node in sequence:
        if not starts:
            break
        kind = node[0]
        if kind == "char":
            allowed = node[1]
            live = [p for p in starts if p < size]
            if allowed is not None and live:
                reach = max(reach, max(live) + 1)
                live = [p for p in live if digits[p] in allowed]
            starts = frozenset(p + 1 for p in live)
        elif kind == "alt":
            ends: set[int] = set()
            live = [p for p in starts if p < size]
            for first, alternative in node[1]:
                if first is not None:
                    # an alternative whose first digit cannot match dies reading it
                    if live:
                        reach = max(reach, max(live) + 1)
                    if not any(digits[p] in first for p in live):
                        continue
                alt_ends, alt_reach = _walk(alternative, starts, digits)
                ends |= alt_ends
                reach = max(reach, alt_reach)
            starts = frozenset(ends)
        else:
            _kind, least, most, body = node
            # bodies of unbounded repeats consume a digit each round (see _compile), so no
            # more than len(digits) + 1 rounds can reach anything
            limit = size + 1 if most is None else most
            current = starts
            ended: set[int] = set(starts) if least == 0 else set()
            for count in range(1, limit + 1):
                current, body_reach = _walk(body, current, digits)
                reach = max(reach, body_reach)
                if not current:
                    break
                if count >= least:
                    ended |= current
            starts = frozenset(ended)
    return starts, reach


class CountryPatterns:
    """Every pattern phonenumbers may consult for numbers of one country calling code."""

    def __init__(self, patterns: list[Sequence]) -> None:
        unique = {repr(p): p for p in patterns}.values()  # fixed-line and mobile often agree
        self._patterns = [(_first_digits(p), p) for p in unique]

    def deciding_digits(self, national: str) -> int:
        """How many leading digits of `national` (with its length) settle every pattern."""
        start = frozenset({0})
        reach = 0
        for first, pattern in self._patterns:
            if first is not None and national[:1] not in first:
                reach = max(reach, 1 if national else 0)  # dies reading its first digit
            else:
                reach = max(reach, _walk(pattern, start, national)[1])
        return reach


def pattern_reach(pattern: str, digits: str) -> int:
    """How many leading characters of `digits` one pattern reads (for tests and curiosity)."""
    return _walk(_compile(_parser.parse(pattern)), frozenset({0}), digits)[1]


def _pattern_texts(metadata: Any) -> Iterator[str]:
    for value in vars(metadata).values():
        pattern = getattr(value, "national_number_pattern", None)
        if pattern:
            yield pattern
    if metadata.leading_digits:
        yield metadata.leading_digits


@functools.cache
def country_patterns(country_code: int) -> CountryPatterns | None:
    """The patterns of a country calling code, or None if some are beyond this analysis."""
    compiled: list[Sequence] = []
    for region in COUNTRY_CODE_TO_REGION_CODE.get(country_code, ()):
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
        if metadata is None:
            return None
        try:
            compiled.extend(_compile(_parser.parse(text)) for text in _pattern_texts(metadata))
        except (_UnsupportedPatternError, ValueError, TypeError, AttributeError):
            return None
    return CountryPatterns(compiled)
