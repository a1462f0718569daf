"""What each row of a list loaded again does to the lead the store has under its key."""

from __future__ import annotations

import pytest

from dialer.domain.list_edits import Edit, KnownLead, LoadReport, Row, RowEdit, edit_for
from dialer.domain.states import LeadState

N1, N2, N3 = "+12125550101", "+12125550102", "+12125550103"


def known(
    state: LeadState = LeadState.PENDING,
    attempts: int = 0,
    *,
    content_hash: str = "old",
    numbers: tuple[str, ...] = (N1,),
    removed: bool = False,
) -> KnownLead:
    return KnownLead(state, attempts, 0, content_hash, frozenset(numbers), removed)


@pytest.mark.parametrize(
    ("row", "lead", "dialed_under", "expected"),
    [
        # new keys
        (Row(N1, "h"), None, None, Edit(RowEdit.ADDED)),
        (Row(N1, "h"), None, "OLD-7", Edit(RowEdit.DUPLICATE, duplicate_of="OLD-7")),
        # the same row again
        (Row(N1, "old"), known(), None, Edit(RowEdit.UNCHANGED)),
        (Row(N1, "old"), known(LeadState.COMPLETED, 1), None, Edit(RowEdit.UNCHANGED)),
        (Row(N1, "old"), known(removed=True), None, Edit(RowEdit.RESTORED)),
        # never dialed: rewritten as the file says, number and all …
        (Row(N2, "new"), known(), None, Edit(RowEdit.UPDATED)),
        # … unless its new number was dialed under another lead_id
        (Row(N2, "new"), known(), "B", Edit(RowEdit.DUPLICATE, duplicate_of="B")),
        # dialed, still waiting: edits take effect at its next call
        (Row(N1, "new"), known(LeadState.RETRY_WAIT, 1), None, Edit(RowEdit.UPDATED)),
        (Row(N1, "new"), known(LeadState.IN_CALL, 1), None, Edit(RowEdit.UPDATED)),
        # over: kept as it was
        (Row(N1, "new"), known(LeadState.COMPLETED, 1), None, Edit(RowEdit.KEPT)),
        # … and a new number of a lead that is over is not called (reported)
        (Row(N2, "new"), known(LeadState.COMPLETED, 1), None, Edit(RowEdit.NEW_NUMBER_IGNORED)),
        (Row(N2, "new"), known(LeadState.SKIPPED, 0), None, Edit(RowEdit.NEW_NUMBER_IGNORED)),
        (Row(N1, "new"), known(LeadState.FAILED, 3), None, Edit(RowEdit.KEPT)),
        # a dialed lead's number changed: its next number, now unless its call is live
        (
            Row(N2, "new"),
            known(LeadState.RETRY_WAIT, 1),
            None,
            Edit(RowEdit.NUMBER_CHANGED, move_now=True),
        ),
        (
            Row(N2, "new"),
            known(LeadState.FAILED, 3),
            None,
            Edit(RowEdit.NUMBER_CHANGED, move_now=True),
        ),
        (Row(N2, "new"), known(LeadState.IN_CALL, 1), None, Edit(RowEdit.NUMBER_CHANGED)),
        (Row(N2, "new"), known(LeadState.DIALING, 1), None, Edit(RowEdit.NUMBER_CHANGED)),
        # … to a number the lead already has (an alternate): no new number
        (
            Row(N2, "new"),
            known(LeadState.RETRY_WAIT, 1, numbers=(N1, N2)),
            None,
            Edit(RowEdit.UPDATED),
        ),
        # … to a number dialed under another lead_id: not this lead's to dial
        (
            Row(N3, "new"),
            known(LeadState.RETRY_WAIT, 1),
            "C",
            Edit(RowEdit.NEW_NUMBER_IGNORED, duplicate_of="C"),
        ),
    ],
)
def test_what_a_row_does(
    row: Row, lead: KnownLead | None, dialed_under: str | None, expected: Edit
) -> None:
    assert edit_for(row, lead, dialed_under) == expected


def test_the_report_says_every_kind_of_change_in_one_line() -> None:
    report = LoadReport(
        "spring",
        352,
        {RowEdit.ADDED: 2, RowEdit.UNCHANGED: 345, RowEdit.DUPLICATE: 1, RowEdit.NUMBER_CHANGED: 1},
        removed=3,
        rekeyed=1,
        dialed_elsewhere={"winter": 12},
    )
    assert report.summary() == (
        "spring: 352 leads in the file — 2 added, 345 unchanged, 1 number changed, "
        "1 duplicate, 1 of the duplicates re-keyed (a lead_id that changed), "
        "3 removed from the file (not dialed again)"
    )
    warnings = report.warnings()
    assert any("duplicate_of" in w for w in warnings)
    assert any("next number" in w for w in warnings)
    assert any("campaign winter" in w and "dedupe_across_campaigns" in w for w in warnings)
    unchanged = LoadReport("spring", 5, {}, files_unchanged=True)
    assert unchanged.summary() == "spring: 5 leads; files unchanged since the last load"


def test_a_report_says_whether_numbers_other_campaigns_dialed_will_be_called() -> None:
    called = LoadReport("spring", 3, {}, dialed_elsewhere={"winter": 3}).warnings()
    assert called == [
        "3 of the waiting leads' numbers were dialed by campaign winter in the last 30 days: "
        "they WILL be called again; `dedupe_across_campaigns: 30d` skips them"
    ]
    skipped = LoadReport(
        "spring", 3, {}, dialed_elsewhere={"winter": 3}, dedupe_across=True
    ).warnings()
    assert skipped[0].endswith("they are skipped (dedupe_across_campaigns)")


def test_a_report_names_a_few_lead_ids_of_what_to_look_at() -> None:
    report = LoadReport(
        "spring",
        10,
        {RowEdit.NEW_NUMBER_IGNORED: 5},
        examples={RowEdit.NEW_NUMBER_IGNORED: ("A", "B", "C")},
    )
    (warning,) = report.warnings()
    assert warning.endswith("it is not called (lead_id A, B, C, …)")
