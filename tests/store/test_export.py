"""`dialer export` on both stores and in both formats: one row per lead (or attempt), the
columns the README lists, values as the store holds them; cells a spreadsheet would run made
inert; the output file replaced only when complete."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import pytest
from click.testing import CliRunner

from dialer.cli import main
from dialer.domain.calls import CallEnd
from dialer.domain.campaign import Pacing
from dialer.domain.policy import Decision
from dialer.domain.states import LeadState
from dialer.domain.variants import Variant, assign_variant
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.reporting.export import ATTEMPT_FIELDS, LEAD_FIELDS, neutralized, runs_as_formula
from dialer.store import ClaimRequest, Store

from ..helpers import numbers, write_campaign

pytestmark = pytest.mark.anyio

README_LEAD_COLUMNS = [
    "lead_id",
    "to_number",
    "state",
    "attempts",
    "last_call_id",
    "last_call_status",
    "last_disconnection_reason",
    "last_attempt_at",
    "next_attempt_at",
    "duration_ms",
    "dynamic_variables",
    "skip_reason",
    "wait_reason",
    "call_successful",
    "user_sentiment",
    "call_summary",
    "in_voicemail",
    "recording_url",
    "cost_usd",
    "last_cost_usd",
    "from_number",
    "variant",  # the lead's experiment arm (empty without one)
]
ANALYSIS = {
    "call_successful": True,
    "user_sentiment": "Positive",
    "call_summary": '=HYPERLINK("http://evil.example")',
    "in_voicemail": False,
    "custom_analysis_data": {"renewed": "yes", "notes": "-- not interested"},
}


async def _one_call_ended(store: Store, tmp_path: Path) -> tuple[str, str]:
    called, waiting = numbers(2)
    path = write_campaign(tmp_path, [called, waiting], name="exported")
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=1), 1, 30)
    (attempt,) = (await store.claim(campaign_id, "w", request)).attempts
    assert await store.record_placed(attempt, "w", "call-1", "ongoing", 30)
    end = CallEnd(
        "call-1",
        "ended",
        "user_hangup",
        duration_ms=42_000,
        analysis=ANALYSIS,
        cost_cents=4.9,
        recording_url="https://recordings.example/call-1.wav",
    )
    assert (await store.record_call_end(attempt, "w", Decision(LeadState.COMPLETED), end)).written
    return called, waiting


async def _export(store_url: str, *args: str) -> str:
    """`dialer export exported …` as a user runs it (in a thread: it runs its own event loop)."""

    def invoke() -> str:
        result = CliRunner().invoke(
            main,
            ["export", "exported", "--database-url", store_url, *args],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        return result.output

    return await anyio.to_thread.run_sync(invoke)


async def test_lead_rows_in_csv_and_jsonl(store: Store, store_url: str, tmp_path: Path) -> None:
    called, waiting = await _one_call_ended(store, tmp_path)
    assert list(LEAD_FIELDS) == [*README_LEAD_COLUMNS, "analysis"]
    rows = list(csv.DictReader(io.StringIO(await _export(store_url, "--format", "csv"))))
    assert [r["to_number"] for r in rows] == [called, waiting]
    assert list(rows[0]) == [*README_LEAD_COLUMNS, "analysis.notes", "analysis.renewed"]
    done = rows[0]
    assert (done["state"], done["attempts"], done["last_call_id"]) == ("completed", "1", "call-1")
    assert (done["last_disconnection_reason"], done["duration_ms"]) == ("user_hangup", "42000")
    assert done["next_attempt_at"] == ""  # terminal: due never
    assert json.loads(done["dynamic_variables"]) == {"first_name": "Lead0"}
    assert (rows[1]["state"], rows[1]["last_call_id"]) == ("pending", "")
    # the outcome, extracted values one column each, spoken words made inert for spreadsheets
    assert (done["call_successful"], done["user_sentiment"]) == ("True", "Positive")
    assert done["call_summary"] == '\'=HYPERLINK("http://evil.example")'
    assert (done["analysis.renewed"], done["analysis.notes"]) == ("yes", "'-- not interested")
    assert (done["cost_usd"], done["last_cost_usd"]) == ("0.049", "0.049")
    assert done["recording_url"] == "https://recordings.example/call-1.wav"
    assert done["to_number"] == called  # our own E.164 numbers keep their +
    raw = list(csv.DictReader(io.StringIO(await _export(store_url, "--format", "csv", "--raw"))))
    assert raw[0]["call_summary"].startswith("=HYPERLINK")

    lines = [
        json.loads(line) for line in (await _export(store_url, "--format", "jsonl")).splitlines()
    ]
    assert [line["to_number"] for line in lines] == [called, waiting]
    assert lines[0]["dynamic_variables"] == {"first_name": "Lead0"}
    assert lines[0]["duration_ms"] == 42_000 and lines[0]["next_attempt_at"] is None
    assert lines[1]["next_attempt_at"] is not None
    assert lines[0]["analysis"] == {"renewed": "yes", "notes": "-- not interested"}
    assert lines[0]["call_summary"].startswith("=HYPERLINK")  # JSON is data, not a sheet
    assert lines[0]["cost_usd"] == 0.049 and lines[1]["cost_usd"] is None


async def test_a_lead_s_variant_is_the_one_recorded_else_the_one_assigned(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    called, never = numbers(2)
    arms = [{"name": "A"}, {"name": "B", "agent_id": "agent_b"}]
    extra = {"agent_id": "agent_a", "variants": arms}
    path = write_campaign(tmp_path, [called, never], name="exported", extra=extra)
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=2), 2, 30)

    async def claim_both() -> dict[str, Any]:
        return {a.to_number: a for a in (await store.claim(campaign_id, "w", request)).attempts}

    first = await claim_both()
    assert await store.record_placed(replace(first[called], variant="B"), "w", "c1", "ongoing", 30)
    now = await store.now()
    again = Decision(LeadState.RETRY_WAIT, next_attempt_at=now)
    end = CallEnd("c1", "not_connected", "dial_no_answer")
    assert (await store.record_call_end(first[called], "w", again, end)).written
    unsent = Decision(LeadState.PENDING, refund=True)
    assert await store.record_not_placed(first[never], "w", unsent, error=None, sent=False)
    second = await claim_both()  # refused this time: its row records no variant
    later = Decision(LeadState.RETRY_WAIT, next_attempt_at=now + timedelta(hours=1), refund=True)
    assert await store.record_not_placed(second[called], "w", later, error="HTTP 400")
    assert await store.record_not_placed(second[never], "w", unsent, error=None, sent=False)

    assigned = assign_variant("exported", never, [Variant.model_validate(v) for v in arms])
    assert assigned is not None
    expected = {called: "B", never: assigned.name}  # never dialed: its hash's, as reported
    rows = list(csv.DictReader(io.StringIO(await _export(store_url, "--format", "csv"))))
    assert {r["to_number"]: r["variant"] for r in rows} == expected
    page, _ = await store.lead_rows_page(campaign_id, None, None, 10)  # the API's leads
    assert {r["to_number"]: r["variant"] for r in page} == expected
    per_attempt = list(csv.DictReader(io.StringIO(await _export(store_url, "--attempts"))))
    assert [r["variant"] for r in per_attempt] == ["B", ""]  # the call's; none for the refused


async def test_attempt_rows(store: Store, store_url: str, tmp_path: Path) -> None:
    called, _ = await _one_call_ended(store, tmp_path)
    lines = [
        json.loads(line)
        for line in (await _export(store_url, "--attempts", "--format", "jsonl")).splitlines()
    ]
    assert len(lines) == 1 and list(lines[0]) == list(ATTEMPT_FIELDS)
    (attempt,) = lines
    assert (attempt["to_number"], attempt["attempt"], attempt["state"]) == (called, 1, "ended")
    assert attempt["analysis"] == {"renewed": "yes", "notes": "-- not interested"}
    assert (attempt["cost_usd"], attempt["user_sentiment"]) == (0.049, "Positive")
    out = tmp_path / "attempts.csv"
    await _export(store_url, "--attempts", "-o", str(out))
    (row,) = csv.DictReader(out.open(encoding="utf-8"))
    assert (row["call_id"], row["disconnection_reason"]) == ("call-1", "user_hangup")


async def test_an_unknown_campaign_is_a_usage_error(store_url: str) -> None:
    def invoke() -> tuple[int, str]:
        result = CliRunner().invoke(main, ["export", "nope", "--database-url", store_url])
        return result.exit_code, result.output

    code, output = await anyio.to_thread.run_sync(invoke)
    assert code == 2 and "no campaign named 'nope' in the store at " in output


@pytest.mark.parametrize(
    ("cell", "inert"),
    [
        ("=1+1", True),
        ("+1 555", True),
        ("-- not interested", True),
        ("@SUM(A1)", True),
        ("|calc", True),
        ("\tindented", True),
        ("\rreturn", True),
        (" =1+1", True),  # spreadsheets skip leading whitespace
        ("\n=HYPERLINK(1)", True),
        ("  \r\n @x", True),
        ("\u00a0+1", True),
        ("\uff1dSUM(A1)", True),  # full-width = + - @
        ("\uff0b1", True),
        ("\uff0d1", True),
        ("\uff20x", True),
        (" \uff1d1", True),
        ("renewed", False),
        ("yes = maybe", False),
        ("a|b", False),
        ("", False),
        ("   ", False),
        ("\nhello", False),
        ("42", False),
    ],
)
def test_csv_cells_a_spreadsheet_would_run_are_made_inert(cell: str, inert: bool) -> None:
    """Neutralization used to miss a leading space or line break, `|` and the full-width
    signs."""
    assert runs_as_formula(cell) is inert
    assert neutralized("call_summary", cell) == ("'" + cell if inert else cell)
    assert neutralized("to_number", "+14155550123") == "+14155550123"  # ours, E.164


async def _export_raw(store_url: str, *args: str) -> tuple[int, str]:
    def invoke() -> tuple[int, str]:
        result = CliRunner().invoke(main, ["export", *args, "--database-url", store_url])
        return result.exit_code, result.output

    return await anyio.to_thread.run_sync(invoke)


async def test_a_typo_in_the_name_leaves_the_previous_export_as_it_was(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    """`dialer export NAME -o results.csv` used to truncate results.csv before it looked NAME
    up: a typo left the previous results at 0 bytes."""
    await _one_call_ended(store, tmp_path)
    out = tmp_path / "results.csv"
    assert (await _export_raw(store_url, "exported", "-o", str(out)))[0] == 0
    previous = out.read_bytes()
    assert previous.count(b"\n") == 3
    code, output = await _export_raw(store_url, "exportd", "-o", str(out))
    assert code == 2 and "no campaign named 'exportd'" in output
    assert out.read_bytes() == previous
    page = tmp_path / "report.html"
    page.write_text("the previous report")

    def report_typo() -> int:
        return (
            CliRunner()
            .invoke(main, ["report", "exportd", "-o", str(page), "--database-url", store_url])
            .exit_code
        )

    assert await anyio.to_thread.run_sync(report_typo) == 2
    assert page.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir() if ".partial" in p.name) == []


async def test_a_failure_mid_export_leaves_the_previous_export(
    store: Store, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An export that fails half-way leaves the previous file whole and no temporary file."""
    await _one_call_ended(store, tmp_path)
    out = tmp_path / "results.csv"
    out.write_text("the previous results\n")
    out.chmod(0o640)
    from dialer.store.reports import ReportQueries

    original = ReportQueries.export_lead_rows

    async def breaks_after_one(
        self: ReportQueries, campaign_id: int
    ) -> AsyncIterator[dict[str, Any]]:
        async with contextlib.aclosing(original(self, campaign_id)) as rows:
            async for row in rows:
                yield row
                raise OSError(28, "No space left on device")

    monkeypatch.setattr(ReportQueries, "export_lead_rows", breaks_after_one)
    code, _ = await _export_raw(store_url, "exported", "--format", "jsonl", "-o", str(out))
    assert code == 1
    assert out.read_text() == "the previous results\n"
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == []
    monkeypatch.setattr(ReportQueries, "export_lead_rows", original)
    assert (await _export_raw(store_url, "exported", "-o", str(out)))[0] == 0
    assert out.read_text().startswith("lead_id,") and oct(out.stat().st_mode & 0o777) == "0o640"


_SLOW_EXPORT = """
import os, pathlib, sys, time
import dialer.reporting.export
shaped = dialer.reporting.export.shaped
def slowly(row, fields):
    pathlib.Path(os.environ["MID_EXPORT"]).touch()
    time.sleep(30)  # mid-export: the test kills this process now
    return shaped(row, fields)
dialer.reporting.export.shaped = slowly
from dialer.cli import main
main(sys.argv[1:])
"""


async def test_a_kill_mid_export_leaves_the_previous_export(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    """A kill mid-export used to leave the previous results at 0 bytes: the file was opened
    for writing (truncated) before the first row."""
    await _one_call_ended(store, tmp_path)
    out = tmp_path / "results.csv"
    out.write_text("the previous results\n")
    args = ["export", "exported", "--format", "jsonl", "-o", str(out), "--database-url", store_url]
    mid_export = tmp_path / "mid-export"
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_EXPORT, *args],
        env={**os.environ, "MID_EXPORT": str(mid_export)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with anyio.fail_after(60):
            while not mid_export.exists():  # until the export is under way
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                await anyio.sleep(0.05)
    finally:
        process.kill()
        process.wait()
    assert out.read_text() == "the previous results\n"


async def test_transcripts_are_read_from_retell_when_asked(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    """--transcripts reads each call's transcript from Retell (dialer does not keep them)."""
    import os

    from dialer.simulator import SimulatedRetell, run_simulator_in_thread

    engine = SimulatedRetell(speed=1000, seed=2, call_seconds=(30, 60))
    with run_simulator_in_thread(engine) as server:
        placed = engine.handle(
            "POST",
            "/v2/create-phone-call",
            {"authorization": "Bearer sim-key"},
            json.dumps({"from_number": "+14155550100", "to_number": numbers(1)[0]}).encode(),
        ).body["call_id"]
        await anyio.sleep(0.2)  # 60 simulated seconds: over
        path = write_campaign(tmp_path, numbers(1), name="exported")
        campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
        request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=1), 1, 30)
        (attempt,) = (await store.claim(campaign_id, "w", request)).attempts
        assert await store.record_placed(attempt, "w", placed, "ongoing", 30)
        end = CallEnd(placed, "ended", "user_hangup", analysis=ANALYSIS)
        assert (
            await store.record_call_end(attempt, "w", Decision(LeadState.COMPLETED), end)
        ).written
        os.environ["RETELL_BASE_URL"], os.environ["RETELL_API_KEY"] = server.url, "sim-key"
        try:
            out = await _export(store_url, "--format", "jsonl", "--transcripts")
        finally:
            del os.environ["RETELL_BASE_URL"], os.environ["RETELL_API_KEY"]
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["transcript"] == "Agent: Hello!\nUser: Hi.\n"
    plain = json.loads((await _export(store_url, "--format", "jsonl")).splitlines()[0])
    assert "transcript" not in plain
