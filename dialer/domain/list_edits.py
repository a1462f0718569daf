"""A lead list loaded again: what each row of the file does to the lead the store has under its
key. Pure: the store reads the leads and the numbers dialed, these functions decide, the store
writes.

Within a campaign a number is one person. A row whose number was already dialed in this
campaign under another `lead_id` (a CRM re-keyed it) is not dialed again: it ends `skipped`,
`duplicate_of:<lead_id>`. A lead with history keeps it: its edited variables take effect at its
next call, and a changed number becomes its next number with a fresh attempt count (a lead
that already ended `failed` comes back for it; a lead that reached someone does not). A lead the
file no longer has is not dialed again (`removed from the list`) until a load has it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dialer.domain.states import LeadState

REMOVED_FROM_LIST = "removed from the list"


def duplicate_of(lead_key: str) -> str:
    return f"duplicate_of:{lead_key}"


class RowEdit(StrEnum):
    """What a load did with one row of the file (the words the load report counts)."""

    ADDED = "added"
    UPDATED = "updated"  # the edit took effect
    UNCHANGED = "unchanged"
    NUMBER_CHANGED = "number changed"  # the new number is the lead's next one
    # a lead with history whose new number is not called: it reached someone (completed) or
    # ended skipped, or the number was dialed under another lead_id
    NEW_NUMBER_IGNORED = "new number not called"
    KEPT = "kept as it was"  # edited, but the lead is over (completed, skipped or failed)
    DUPLICATE = "duplicate"  # its number was dialed under another lead_id: skipped
    RESTORED = "restored"  # removed by an earlier load, back in the file


# The edits a load report names a few lead_ids of: worth a look before dialing.
NOTED_EDITS = frozenset({RowEdit.DUPLICATE, RowEdit.NUMBER_CHANGED, RowEdit.NEW_NUMBER_IGNORED})


@dataclass(frozen=True)
class KnownLead:
    """A lead the store has under a key the file names."""

    state: LeadState
    attempts: int
    number_index: int
    content_hash: str
    numbers: frozenset[str]  # its current number, its alternates, and the numbers it was dialed at
    removed: bool = False

    @property
    def has_history(self) -> bool:
        return self.attempts > 0 or self.number_index > 0 or self.state is not LeadState.PENDING


@dataclass(frozen=True)
class Row:
    """A row of the file as a load sees it."""

    to_number: str
    content_hash: str


@dataclass(frozen=True)
class Edit:
    kind: RowEdit
    # DUPLICATE: the lead_id whose dial makes this row a duplicate
    duplicate_of: str | None = None
    # NUMBER_CHANGED: move to the new number now (the lead waits or failed), or only make it
    # the next number (its call is live: it moves on when the current number is spent)
    move_now: bool = False


def edit_for(row: Row, known: KnownLead | None, dialed_under: str | None) -> Edit:
    """What loading `row` does. `known`: the lead under its key, if any; `dialed_under`: the
    lead_id of another lead of the campaign that was dialed at `row.to_number`, if any."""
    if known is None:
        if dialed_under is not None:
            return Edit(RowEdit.DUPLICATE, duplicate_of=dialed_under)
        return Edit(RowEdit.ADDED)
    if known.content_hash == row.content_hash:
        return Edit(RowEdit.RESTORED if known.removed else RowEdit.UNCHANGED)
    new_number = row.to_number not in known.numbers
    if not known.has_history:
        if new_number and dialed_under is not None:  # another lead's number: a duplicate
            return Edit(RowEdit.DUPLICATE, duplicate_of=dialed_under)
        return Edit(RowEdit.UPDATED)  # never dialed: rewritten as the file says
    if new_number and dialed_under is not None:  # another lead's number: not this one's to dial
        return Edit(RowEdit.NEW_NUMBER_IGNORED, duplicate_of=dialed_under)
    if known.state in (LeadState.COMPLETED, LeadState.SKIPPED):
        return Edit(RowEdit.NEW_NUMBER_IGNORED if new_number else RowEdit.KEPT)
    if not new_number:
        return Edit(RowEdit.KEPT if known.state is LeadState.FAILED else RowEdit.UPDATED)
    live = known.state in (LeadState.DIALING, LeadState.IN_CALL)
    return Edit(RowEdit.NUMBER_CHANGED, move_now=not live)


@dataclass(frozen=True)
class LoadReport:
    """What a load changed, as `dialer run` and `dialer load` print it."""

    campaign: str
    in_file: int
    edits: dict[RowEdit, int]
    removed: int = 0  # leads the file no longer has, re-keyed ones apart (not dialed again)
    rekeyed: int = 0  # duplicates of a lead the file no longer has: a lead_id that changed
    suppressed: int = 0
    dialed_elsewhere: dict[str, int] | None = None  # campaign → numbers it dialed, last 30 days
    files_unchanged: bool = False  # the files are as last loaded: not read again
    notes: tuple[str, ...] = ()  # what else a person should know of this load (the budget, …)
    examples: dict[RowEdit, tuple[str, ...]] | None = None  # a few lead_ids per noted edit
    dedupe_across: bool = False  # the campaign skips numbers other campaigns dialed

    @property
    def added(self) -> int:
        return self.edits.get(RowEdit.ADDED, 0)

    def summary(self) -> str:
        """One line: every kind of change there was, in a fixed order."""
        if self.files_unchanged:
            return f"{self.campaign}: {self.in_file:,} leads; files unchanged since the last load"
        parts = [f"{self.edits[kind]:,} {kind.value}" for kind in RowEdit if self.edits.get(kind)]
        if self.rekeyed:
            parts.append(f"{self.rekeyed:,} of the duplicates re-keyed (a lead_id that changed)")
        if self.removed:
            parts.append(f"{self.removed:,} removed from the file (not dialed again)")
        if self.suppressed:
            parts.append(f"{self.suppressed:,} suppressed")
        return f"{self.campaign}: {self.in_file:,} leads in the file — " + ", ".join(
            parts or ["nothing changed"]
        )

    def _which(self, kind: RowEdit) -> str:
        named = (self.examples or {}).get(kind, ())
        return (
            f" (lead_id {', '.join(named)}{', …' if self.edits.get(kind, 0) > len(named) else ''})"
            if named
            else ""
        )

    def warnings(self) -> list[str]:
        """What a person should look at before dialing."""
        found = list(self.notes)
        duplicates = self.edits.get(RowEdit.DUPLICATE, 0)
        if duplicates:
            found.append(
                f"{duplicates:,} row(s) have a number already dialed in this campaign under "
                f"another lead_id: skipped, never dialed (skip_reason duplicate_of:<lead_id>)"
                f"{self._which(RowEdit.DUPLICATE)}"
            )
        changed = self.edits.get(RowEdit.NUMBER_CHANGED, 0)
        if changed:
            found.append(
                f"{changed:,} dialed lead(s) have a new number: it is their next number, with a "
                f"fresh attempt count{self._which(RowEdit.NUMBER_CHANGED)}"
            )
        ignored = self.edits.get(RowEdit.NEW_NUMBER_IGNORED, 0)
        if ignored:
            found.append(
                f"{ignored:,} lead(s) that are over (reached, or skipped) or whose new number "
                "another lead_id was dialed at have a new number in the file: it is not "
                f"called{self._which(RowEdit.NEW_NUMBER_IGNORED)}"
            )
        for name, count in sorted((self.dialed_elsewhere or {}).items()):
            if self.dedupe_across:
                what = "they are skipped (dedupe_across_campaigns)"
            else:
                what = "they WILL be called again; `dedupe_across_campaigns: 30d` skips them"
            found.append(
                f"{count:,} of the waiting leads' numbers were dialed by campaign {name} in the "
                f"last 30 days: {what}"
            )
        return found
