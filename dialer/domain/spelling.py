"""Did-you-mean: the known name a misspelt one most likely meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice `word` most likely misspells or shortens (`no_answer` → `dial_no_answer`,
    `fl` → `FL`, `last` → `last_attempt`), or None when none is close enough."""
    known = sorted(choices)
    lowered = word.lower()
    same_but_case = [c for c in known if c.lower() == lowered]
    if same_but_case:
        return same_but_case[0]
    starting_so = [c for c in known if c.lower().startswith(lowered)]
    if len(starting_so) == 1 and len(word) >= 3:  # `last` → `last_attempt`
        return starting_so[0]
    found = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return found[0] if found else None
