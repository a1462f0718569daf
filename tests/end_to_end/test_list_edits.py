"""An operator edits the list between runs: a CRM re-keys a lead, a number changes, a row is
removed and comes back. Dialed through the simulator, on both stores; what was dialed is read
from the simulator's own records."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from dialer.domain.list_edits import REMOVED_FROM_LIST, RowEdit
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.simulator import OutcomeRule, SimulatedRetell
from dialer.store import Store

from ..helpers import lead_rows, run_in_process

pytestmark = pytest.mark.anyio

N1, N2, N3, N4, N5 = (f"+1212555{n:04d}" for n in (101, 102, 103, 104, 105))


def _campaign(tmp_path: Path, rows: list[tuple[str, str]], **extra: object) -> Path:
    (tmp_path / "leads.csv").write_text(
        "lead_id,to_number,first_name\n" + "".join(f"{k},{n},Pat\n" for k, n in rows)
    )
    config = {
        "name": "edits",
        "from_number": "+14155550100",
        "leads": "leads.csv",
        "pacing": {"calls_per_second": 50, "max_concurrent_calls": 5},
        "retry": {"max_attempts": 1, "backoff": ["100ms"]},
        **extra,
    }
    path = tmp_path / "edits.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _dialed(engine: SimulatedRetell) -> Counter[str]:
    return Counter(c.to_number for c in engine.calls.values())


async def test_a_re_keyed_lead_is_not_dialed_again(store: Store, tmp_path: Path) -> None:
    engine = SimulatedRetell(speed=200, seed=1, rules=[OutcomeRule(["user_hangup"], suffix="")])
    await run_in_process(store, engine, _campaign(tmp_path, [("A1", N1), ("A2", N2)]))
    assert _dialed(engine) == {N1: 1, N2: 1}
    # the CRM re-keys A1 as X1; A2 stays; A3 is new
    path = _campaign(tmp_path, [("X1", N1), ("A2", N2), ("A3", N3)])
    loaded = await import_campaign(store, read_campaign_file(path))
    report = loaded.report
    assert report.edits == {RowEdit.DUPLICATE: 1, RowEdit.UNCHANGED: 1, RowEdit.ADDED: 1}
    assert (report.rekeyed, report.removed) == (1, 0)  # A1 is re-keyed, not counted removed
    assert report.examples == {RowEdit.DUPLICATE: ("X1",)}
    assert any("(lead_id X1)" in w for w in report.warnings())
    await run_in_process(store, engine, path)
    assert _dialed(engine) == {N1: 1, N2: 1, N3: 1}  # N1 once: one person
    rows = {r["lead_key"]: r for r in await lead_rows(store)}
    assert (rows["X1"]["state"], rows["X1"]["skip_reason"]) == ("skipped", "duplicate_of:A1")
    assert rows["A1"]["state"] == "completed"  # its history stays
    assert rows["A1"]["removed_at"] is not None


async def test_a_dialed_lead_whose_number_changed_gets_it_as_its_next_number(
    store: Store, tmp_path: Path
) -> None:
    engine = SimulatedRetell(
        speed=200,
        seed=2,
        rules=[OutcomeRule(["dial_no_answer"], number=N4), OutcomeRule(["user_hangup"], suffix="")],
    )
    await run_in_process(store, engine, _campaign(tmp_path, [("B1", N4), ("B2", N2)]))
    rows = {r["lead_key"]: r for r in await lead_rows(store)}
    assert rows["B1"]["state"] == "failed"  # its one attempt spent without reaching anyone
    path = _campaign(tmp_path, [("B1", N5), ("B2", N2)])
    report = (await import_campaign(store, read_campaign_file(path))).report
    assert report.edits == {RowEdit.NUMBER_CHANGED: 1, RowEdit.UNCHANGED: 1}
    assert any("next number" in w for w in report.warnings())
    await run_in_process(store, engine, path)
    assert _dialed(engine) == {N4: 1, N2: 1, N5: 1}
    rows = {r["lead_key"]: r for r in await lead_rows(store)}
    assert (rows["B1"]["state"], rows["B1"]["to_number"]) == ("completed", N5)
    # a reload of the same file changes nothing more
    again = (await import_campaign(store, read_campaign_file(path))).report
    assert again.files_unchanged


async def test_a_row_removed_from_the_file_is_not_dialed_until_it_is_back(
    store: Store, tmp_path: Path
) -> None:
    engine = SimulatedRetell(speed=200, seed=3, rules=[OutcomeRule(["user_hangup"], suffix="")])
    await import_campaign(store, read_campaign_file(_campaign(tmp_path, [("C1", N1), ("C2", N2)])))
    path = _campaign(tmp_path, [("C1", N1)])
    report = (await import_campaign(store, read_campaign_file(path))).report
    assert (report.removed, report.edits) == (1, {RowEdit.UNCHANGED: 1})
    await run_in_process(store, engine, path)
    assert _dialed(engine) == {N1: 1}
    rows = {r["lead_key"]: r for r in await lead_rows(store)}
    assert (rows["C2"]["state"], rows["C2"]["skip_reason"]) == ("skipped", REMOVED_FROM_LIST)
    back = _campaign(tmp_path, [("C1", N1), ("C2", N2)])
    report = (await import_campaign(store, read_campaign_file(back))).report
    assert report.edits == {RowEdit.UNCHANGED: 1, RowEdit.RESTORED: 1}
    await run_in_process(store, engine, back)
    assert _dialed(engine) == {N1: 1, N2: 1}


async def test_numbers_another_campaign_dialed_are_reported_and_skipped_on_request(
    store: Store, tmp_path: Path
) -> None:
    engine = SimulatedRetell(speed=200, seed=4, rules=[OutcomeRule(["user_hangup"], suffix="")])
    first = tmp_path / "first"
    first.mkdir()
    await run_in_process(store, engine, _campaign(first, [("A", N1), ("B", N2)], name="winter"))
    # the same people, loaded again under a second campaign name
    second = tmp_path / "second"
    second.mkdir()
    path = _campaign(second, [("A", N1), ("B", N2), ("C", N3)], name="spring")
    report = (await import_campaign(store, read_campaign_file(path))).report
    assert report.dialed_elsewhere == {"winter": 2}
    assert any("campaign winter" in w for w in report.warnings())
    # without dedupe they would be called again; with it they are skipped
    path = _campaign(
        second,
        [("A", N1), ("B", N2), ("C", N3)],
        name="spring",
        dedupe_across_campaigns="30d",
    )
    await run_in_process(store, engine, path)
    assert _dialed(engine) == {N1: 1, N2: 1, N3: 1}
    rows = {(r["campaign_id"], r["lead_key"]): r for r in await lead_rows(store)}
    spring = max(campaign for campaign, _ in rows)
    assert rows[(spring, "A")]["skip_reason"] == "dialed_by:winter"
    assert rows[(spring, "C")]["state"] == "completed"
