"""CSV lead lists: a header (its separator sniffed), rows streamed with a bounded line length,
each made a lead by lead_rows."""

from __future__ import annotations

import csv
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from dialer.domain.campaign import CampaignSettings
from dialer.inputs.lead_rows import (
    ALTERNATE_COLUMN,
    NUMBER_COLUMNS,
    RESERVED_COLUMNS,
    Lead,
    LeadScan,
    build_lead,
)
from dialer.inputs.problems import Problem
from dialer.inputs.yamlsource import (
    CONTROL_CHARACTER,
    control_character_problem,
)

# Separators a spreadsheet's CSV export may use, tried in this order when the header read with
# commas has no number column.
CSV_SEPARATORS = (",", ";", "\t", "|")


MAX_CSV_LINE = 1 << 20  # characters; the csv module's own limit is 131,072 per field


def csv_rows(path: Path, campaign: CampaignSettings, scan: LeadScan) -> Iterator[Lead]:
    try:
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        scan.add(Problem(path, 0, "", f"cannot read: {exc.strerror}"))
        return
    yield from csv_handle_rows(handle, path, campaign, scan)


def csv_handle_rows(
    handle: TextIO, path: Path, campaign: CampaignSettings, scan: LeadScan
) -> Iterator[Lead]:
    """The leads of CSV text open as `handle` (closed at the end); problems name `path`."""
    with handle:
        reader = csv.reader(handle)  # the handlers below read its line_num
        try:
            first_line = handle.readline(MAX_CSV_LINE)
            separator = _separator(first_line)
            handle.seek(0)
            reader = csv.reader(_bounded_lines(handle), delimiter=separator)
            header = next(reader, None)
            if header is None:
                scan.add(
                    Problem(
                        path,
                        1,
                        "",
                        "the lead file is empty (a header row with to_number is required)",
                    )
                )
                return
            columns = [c.strip() for c in header]
            number_columns = [c for c in columns if c.lower() in NUMBER_COLUMNS]
            header_ok = True
            if not number_columns:
                scan.add(Problem(path, 1, "to_number", _no_number_column(columns, first_line)))
                header_ok = False
            elif len(number_columns) > 1:
                scan.add(
                    Problem(
                        path,
                        1,
                        "to_number",
                        f"several number columns: {', '.join(number_columns)}; keep one",
                    )
                )
                header_ok = False
            seen: set[str] = set()
            for i, name in enumerate(columns, start=1):
                if not name:
                    scan.add(Problem(path, 1, f"column {i}", "empty column name"))
                    header_ok = False
                elif (control := control_character_problem(name)) is not None:
                    scan.add(Problem(path, 1, f"column {i}", control))
                    header_ok = False
                elif name in seen:
                    scan.add(Problem(path, 1, name, "duplicate column name"))
                    header_ok = False
                seen.add(name)
            if not header_ok:
                return
            lowered = [c.lower() for c in columns]
            number_at = lowered.index(number_columns[0].lower())
            id_at = lowered.index("lead_id") if "lead_id" in lowered else None
            zone_at = lowered.index("timezone") if "timezone" in lowered else None
            consent_at = lowered.index("consent_at") if "consent_at" in lowered else None
            state_at = lowered.index("state") if "state" in lowered else None
            alternate_columns = sorted(
                (
                    (int(m.group(1)), i, c)
                    for i, c in enumerate(columns)
                    if (m := ALTERNATE_COLUMN.fullmatch(c))
                ),
            )
            variable_columns = [
                (i, c)
                for i, c in enumerate(columns)
                if c.lower() not in RESERVED_COLUMNS and not ALTERNATE_COLUMN.fullmatch(c)
            ]
            width = len(columns)
            line = reader.line_num + 1
            for row in reader:
                row_line = line
                line = reader.line_num + 1
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) != width:
                    scan.add(
                        Problem(
                            path, row_line, "", f"row has {len(row)} fields, the header has {width}"
                        )
                    )
                    continue
                if CONTROL_CHARACTER.search("".join(row)):  # one search a row; cells if found
                    for name, cell in zip(columns, row, strict=True):
                        if (control := control_character_problem(cell)) is not None:
                            scan.add(Problem(path, row_line, name, control))
                    continue
                lead = build_lead(
                    campaign,
                    path,
                    row_line,
                    row[number_at],
                    row[id_at] if id_at is not None else None,
                    row[zone_at] if zone_at is not None else None,
                    {name: row[i] for i, name in variable_columns},
                    {},
                    scan,
                    number_field=columns[number_at],
                    consent=row[consent_at] if consent_at is not None else None,
                    address_state=row[state_at] if state_at is not None else None,
                    alternates=[(c, row[i]) for _, i, c in alternate_columns],
                )
                if lead is not None:
                    yield lead
        except UnicodeDecodeError as exc:
            # the decoder reads ahead in chunks; find the line in the raw bytes
            line, reason = _first_undecodable_line(path) or (reader.line_num + 1, exc.reason)
            scan.add(Problem(path, line, "", f"not UTF-8 text ({reason}); save the file as UTF-8"))
        except _LineTooLongError:
            scan.add(
                Problem(
                    path,
                    reader.line_num + 1,
                    "",
                    f"a line longer than {MAX_CSV_LINE:,} characters: is this a CSV lead list?",
                )
            )
        except csv.Error as exc:
            scan.add(Problem(path, max(reader.line_num, 1), "", f"malformed CSV: {exc}"))


class _LineTooLongError(Exception):
    """A CSV line past MAX_CSV_LINE characters (a file that is not a lead list)."""


def _bounded_lines(handle: TextIO) -> Iterator[str]:
    """The file's lines, refusing one longer than MAX_CSV_LINE before it fills the memory (a
    file of zeros without a line break)."""
    while line := handle.readline(MAX_CSV_LINE):
        if len(line) == MAX_CSV_LINE and not line.endswith(("\n", "\r")):
            raise _LineTooLongError
        yield line


def _separator(header_line: str) -> str:
    """The file's separator, judged by its header: a comma, unless the header read with commas
    has no number column and read with `;`, a tab or `|` has one (a spreadsheet's export)."""
    for separator in CSV_SEPARATORS:
        try:
            columns = next(csv.reader([header_line], delimiter=separator), [])
        except csv.Error:  # the reading proper reports it
            continue
        if any(c.strip().lower() in NUMBER_COLUMNS for c in columns):
            return separator
    return ","


_SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


def _no_number_column(columns: list[str], header_line: str) -> str:
    message = f"no to_number column (header has: {', '.join(columns)})"
    seen = [_SEPARATOR_NAMES[s] for s in CSV_SEPARATORS if s in header_line]
    if not seen:
        return f"{message}; name the column to_number, phone or phone_number"
    return (
        f"{message}; the header holds {' and '.join(seen)}, and read with any of ',', ';', "
        "tab or '|' it has no to_number, phone or phone_number column"
    )


def _first_undecodable_line(path: Path) -> tuple[int, str] | None:
    with path.open("rb") as raw:
        # at most 4 bytes a character: a longer line is refused as too long anyway
        lines = iter(functools.partial(raw.readline, 4 * MAX_CSV_LINE), b"")
        for number, line in enumerate(lines, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, exc.reason
    return None
