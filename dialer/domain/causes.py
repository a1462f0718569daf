"""An exception's chain of causes, walked once for every part that explains a failure (the
store's faults, the Retell client's transport faults)."""

from __future__ import annotations

from collections.abc import Iterator


def causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what caused it, down to the root (each link once)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
