"""A set of 64-bit integers in 8 bytes each (a Python set of ints costs about 65).

Duplicate detection over a million-row lead list keeps every number it has seen; as a Python set
that alone is about 65 MB. This is an open-addressing hash table over one `array('q')`, kept at
most half full: 16 MB for a million
numbers, exact, and a few hundred nanoseconds an insert.
"""

from __future__ import annotations

from array import array

_EMPTY = 0  # slot marker; the value 0 itself is tracked apart
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads runs of consecutive numbers
_MASK64 = (1 << 64) - 1
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class IntSet:
    def __init__(self, bits: int = 16) -> None:
        self._bits = bits
        self._slots = array("q", bytes(8 << bits))
        self._size = 0
        self._has_zero = False

    def __len__(self) -> int:
        return self._size + self._has_zero

    def __contains__(self, value: int) -> bool:
        if value == _EMPTY:
            return self._has_zero
        return self._slots[self._slot_of(value)] == value

    def add(self, value: int) -> bool:
        """Add `value` (a signed 64-bit integer); False if it was there already."""
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise OverflowError(f"{value} does not fit in 64 bits")
        if value == _EMPTY:
            added = not self._has_zero
            self._has_zero = True
            return added
        index = self._slot_of(value)
        if self._slots[index] == value:
            return False
        self._slots[index] = value
        self._size += 1
        if 2 * self._size > len(self._slots):
            self._grow()
        return True

    def _slot_of(self, value: int) -> int:
        """The slot holding `value`, else the empty slot where it belongs (linear probing)."""
        slots = self._slots
        mask = len(slots) - 1
        index = ((value * _GOLDEN) & _MASK64) >> (64 - self._bits)
        while slots[index] != value and slots[index] != _EMPTY:
            index = (index + 1) & mask
        return index

    def _grow(self) -> None:
        old = self._slots
        self._bits += 1
        self._slots = array("q", bytes(8 << self._bits))
        self._size = 0
        for value in old:
            if value != _EMPTY:
                self.add(value)
