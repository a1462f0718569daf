"""`dialer export`: a campaign's leads (or attempts) as CSV or JSON lines, streamed.

A lead's outcome comes from its last connected call: whether it succeeded, the callee's
sentiment, the agent's summary, voicemail, the recording, and every value the agent's post-call
analysis extracted (`custom_analysis_data`): nested under `analysis` in JSON lines, one
`analysis.<key>` column per key in CSV (the union of keys, so columns are stable across rows).
Cost is in US dollars (Retell reports cents). Summaries and extracted values are words a
stranger spoke into a phone: in CSV, a cell that begins with =, +, -, @, | or their full-width
forms (also after leading spaces or line breaks), a tab or a carriage return is prefixed with
a single quote (OWASP's advice against formula injection), unless `raw`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import IO, Any

from dialer.store import Store

# The transcript of a call, by its id (read from Retell when asked: dialer does not keep
# transcripts, they are large).
TranscriptSource = Callable[[str], Awaitable[str | None]]

OUTCOME_FIELDS = ("call_successful", "user_sentiment", "call_summary", "in_voicemail")
LEAD_FIELDS = (
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
    *OUTCOME_FIELDS,
    "recording_url",
    "cost_usd",
    "last_cost_usd",
    "from_number",
    "variant",
    "analysis",
)
ATTEMPT_FIELDS = (
    "attempt_id",
    "lead_id",
    "attempt",
    "to_number",
    "state",
    "call_id",
    "call_status",
    "disconnection_reason",
    "api_error",
    "created_at",
    "started_at",
    "ended_at",
    "duration_ms",
    *OUTCOME_FIELDS,
    "recording_url",
    "cost_usd",
    "from_number",
    "voicemail_action",
    "variant",
    "analysis",
)
# What makes a spreadsheet read a cell as a formula (or a DDE command): the ASCII signs, `|`,
# and their full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20, which some spreadsheets fold to
# ASCII), also after leading whitespace or a line break, which spreadsheets skip. A cell that
# begins with a tab or a carriage return is neutralized whatever follows (OWASP's list).
_FORMULA_SIGNS = frozenset("=+-@|\uff1d\uff0b\uff0d\uff20")
_CONTROL_STARTS = ("\t", "\r")
_OURS = frozenset({"to_number"})  # validated E.164 numbers: a leading + is no formula


def _dollars(cents: object) -> float | None:
    return round(float(cents) / 100, 6) if isinstance(cents, int | float) else None


def shaped(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """A store row as the export writes it: outcome fields out of the analysis, cents as
    dollars, instants in ISO 8601."""
    analysis = row.get("analysis") or {}
    out: dict[str, Any] = {}
    for name in fields:
        if name in OUTCOME_FIELDS:
            value = analysis.get(name)
        elif name == "analysis":
            value = analysis.get("custom_analysis_data") or {}
        elif name == "cost_usd":
            value = _dollars(row.get("cost_cents"))
        elif name == "last_cost_usd":
            value = _dollars(row.get("last_cost_cents"))
        else:
            value = row.get(name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet could take this cell for a formula."""
    if text.startswith(_CONTROL_STARTS):
        return True
    first = text.lstrip()[:1]
    return first in _FORMULA_SIGNS if first else False


def neutralized(name: str, value: object) -> object:
    """A CSV cell that a spreadsheet would run as a formula, made inert with a leading `'`."""
    if isinstance(value, str) and name not in _OURS and runs_as_formula(value):
        return "'" + value
    return value


async def write_export(
    store: Store,
    name: str,
    fmt: str,
    *,
    per_attempt: bool,
    out: IO[str],
    raw: bool = False,
    transcripts: TranscriptSource | None = None,
) -> bool:
    """Write the export to `out`; False when there is no campaign named `name`. With
    `transcripts`, a `transcript` field: the call's (per attempt) or the last connected
    call's (per lead)."""
    campaign_id = await store.campaign_id(name)
    if campaign_id is None:
        return False
    async for chunk in export_chunks(
        store, campaign_id, fmt, per_attempt=per_attempt, raw=raw, transcripts=transcripts
    ):
        out.write(chunk)
    return True


async def export_chunks(
    store: Store,
    campaign_id: int,
    fmt: str,
    *,
    per_attempt: bool,
    raw: bool = False,
    transcripts: TranscriptSource | None = None,
) -> AsyncIterator[str]:
    """The export of the campaign as text, a line at a time (the CSV header first), streamed
    from the store: for a file, or an HTTP answer."""
    fields: tuple[str, ...] = ATTEMPT_FIELDS if per_attempt else LEAD_FIELDS
    if transcripts is not None:
        fields = (*fields[:-1], "transcript", fields[-1])
    call_key = "call_id" if per_attempt else "outcome_call_id"

    async def rows() -> AsyncIterator[dict[str, Any]]:
        source = (
            store.export_attempt_rows(campaign_id)
            if per_attempt
            else store.export_lead_rows(campaign_id)
        )
        async for row in source:
            if transcripts is not None:
                call_id = row.get(call_key)
                row["transcript"] = await transcripts(call_id) if call_id else None
            yield row

    if fmt != "csv":
        async for row in rows():
            yield json.dumps(shaped(row, fields)) + "\n"
        return
    keys: set[str] = set()
    first_pass = store.export_attempt_rows if per_attempt else store.export_lead_rows
    async for row in first_pass(campaign_id):  # the union of the analysis keys
        keys.update(shaped(row, ("analysis",))["analysis"])
    columns = [f for f in fields if f != "analysis"] + [f"analysis.{k}" for k in sorted(keys)]
    line = io.StringIO()
    writer = csv.DictWriter(line, fieldnames=columns)

    def taken() -> str:
        text = line.getvalue()
        line.seek(0)
        line.truncate()
        return text

    writer.writeheader()
    yield taken()
    cell: Callable[[str, object], object] = (lambda _n, v: v) if raw else neutralized
    async for row in rows():
        data = shaped(row, fields)
        extracted = data.pop("analysis")
        data.update({f"analysis.{k}": v for k, v in extracted.items()})
        writer.writerow(
            {
                k: cell(k, json.dumps(v) if isinstance(v, dict | list) else v)
                for k, v in data.items()
            }
        )
        yield taken()
