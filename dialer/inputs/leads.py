"""Lead lists: CSV or YAML rows streamed into `Lead`s, each problem located by file and line.

A CSV list is read row by row (a million rows never sit in memory). Duplicate detection keeps
only the numbers (as integers) and hashes of the keys it has seen, in compact tables.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.domain.campaign import CampaignSettings
from dialer.inputs.campaign_file import CampaignSource
from dialer.inputs.csv_leads import (
    csv_handle_rows,
    csv_rows,
)
from dialer.inputs.lead_rows import (
    Dedup,
    Lead,
    LeadScan,
)
from dialer.inputs.problems import Problem
from dialer.inputs.yaml_leads import (
    yaml_file_rows,
    yaml_rows,
)
from dialer.inputs.yamlsource import (
    InputFileError,
    check_regular_file,
    line_of,
)


@dataclass(frozen=True)
class LeadBody:
    """A lead list sent in a request: CSV text, or the items of a JSON array."""

    label: Path  # how its problems name it
    csv_text: str | None = None
    items: list[Any] | None = None


def iter_leads(loaded: CampaignSource, scan: LeadScan) -> Iterator[Lead]:
    """Yield every valid lead; record every problem in `scan` (the caller decides what to do)."""
    leads_path = loaded.leads_path
    campaign = loaded.campaign
    if leads_path is None:
        rows = yaml_rows(campaign.leads, loaded.path, loaded.lines, ("leads",), scan, campaign)
        source = loaded.path
    elif (refused := _unreadable(leads_path)) is not None:
        scan.add(Problem(loaded.path, line_of(loaded.lines, ("leads",)), "leads", refused))
        return
    elif leads_path.suffix.lower() == ".csv":
        rows = csv_rows(leads_path, campaign, scan)
        source = leads_path
    elif leads_path.suffix.lower() in {".yaml", ".yml"}:
        rows = yaml_file_rows(leads_path, loaded, scan)
        source = leads_path
    else:
        line = line_of(loaded.lines, ("leads",))
        scan.add(
            Problem(
                loaded.path,
                line,
                "leads",
                f"unsupported lead file type {leads_path.suffix!r} (.csv, .yaml or .yml)",
            )
        )
        return
    yield from _checked(rows, source, scan)
    if not scan.leads and not scan.problem_count and not campaign.allow_empty:
        line = line_of(loaded.lines, ("leads",)) if leads_path is None else 1
        scan.add(
            Problem(
                source,
                line,
                "leads",
                "the list has no leads; add some, or set allow_empty: true in the campaign "
                "file if that is meant",
            )
        )


def iter_body_leads(campaign: CampaignSettings, body: LeadBody, scan: LeadScan) -> Iterator[Lead]:
    """Like `iter_leads`, for a lead list sent in a request (the HTTP API): CSV text, read
    exactly as a CSV file, or JSON items, each read as a YAML list's lead. Problems name
    `body.label` and, for CSV, the line (the header is line 1), for JSON the item (from 1)."""
    if body.csv_text is not None:
        rows = csv_handle_rows(io.StringIO(body.csv_text, newline=""), body.label, campaign, scan)
    else:
        items = body.items or []
        lines: dict[tuple[str | int, ...], int] = {(i,): i + 1 for i in range(len(items))}
        rows = yaml_rows(items, body.label, lines, (), scan, campaign, check_text=True)
    yield from _checked(rows, body.label, scan)
    if not scan.leads and not scan.problem_count:
        scan.add(Problem(body.label, 0, "", "the body has no leads"))


def _checked(rows: Iterator[Lead], source: Path, scan: LeadScan) -> Iterator[Lead]:
    """The leads of `rows` that repeat no number or key of an earlier one, counted in `scan`."""
    dedup = Dedup()
    for lead in rows:
        duplicate = dedup.check(lead, source)
        if duplicate is not None:
            scan.add(duplicate)
            continue
        scan.leads += 1
        place = lead.place
        scan.places[place] += 1
        scan.place_first_line.setdefault(place, lead.line)
        yield lead


def _unreadable(path: Path) -> str | None:
    """Why the lead file cannot be read at all (missing, or not a regular file), or None."""
    try:
        check_regular_file(path)
    except FileNotFoundError:
        return f"lead file not found: {path}"
    except InputFileError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    return None


__all__ = [
    "Lead",
    "LeadBody",
    "LeadScan",
    "iter_body_leads",
    "iter_leads",
]
