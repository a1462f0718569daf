"""Lead lists: CSV or YAML rows streamed into `Lead`s, each problem located by file and line.

A CSV list is read row by row (a million rows never sit in memory). Duplicate detection keeps
only the numbers (as integers) and hashes of the keys it has seen, in compact tables.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, TextIO

from dialer.domain.calling_rules import Place
from dialer.domain.campaign import CampaignSettings, stringify_variable
from dialer.domain.state_rules import lead_states_key, state_code
from dialer.domain.timezones import NO_ZONE, canonical_zone, closest_zone, lead_zone_key
from dialer.inputs.campaign_file import CampaignSource, did_you_mean
from dialer.inputs.intset import IntSet
from dialer.inputs.problems import Problem
from dialer.inputs.yamlsource import (
    CONTROL_CHARACTER,
    MIB,
    InputFileError,
    YamlLimits,
    YamlRefusedError,
    YamlSyntaxError,
    check_regular_file,
    control_character_problem,
    line_of,
    load_with_lines,
    read_text,
)
from dialer.phones import (
    InvalidNumberError,
    number_facts,
    number_state,
    special_number_reason,
)

NUMBER_COLUMNS = ("to_number", "phone", "phone_number")
# `state` (the callee's address state) is read for state rules and stays a dynamic variable too,
# so a prompt that says {{state}} keeps working.
RESERVED_COLUMNS = frozenset({*NUMBER_COLUMNS, "lead_id", "timezone", "consent_at"})
YAML_LEAD_KEYS = [
    "to_number",
    "lead_id",
    "timezone",
    "state",
    "consent_at",
    "metadata",
    "retell_llm_dynamic_variables",
]
ALTERNATE_COLUMN = re.compile(r"alt_number_(\d+)", re.IGNORECASE)  # alt_number_1, alt_number_2…
MAX_REPORTED_PROBLEMS = 1000
MAX_LEAD_ID_CHARS = 200  # the store's lead_key column
# A YAML list is parsed whole, at some 250 KB/s and 100 MB of memory per MB (PyYAML keeps every
# node): about 40,000 leads. A larger list belongs in a CSV file, streamed and without a limit.
LEAD_LIST_LIMITS = YamlLimits(
    "YAML lead lists", max_bytes=4 * MIB, max_depth=32, max_values=1_000_000
)
# Separators a spreadsheet's CSV export may use, tried in this order when the header read with
# commas has no number column.
CSV_SEPARATORS = (",", ";", "\t", "|")
MAX_CSV_LINE = 1 << 20  # characters; the csv module's own limit is 131,072 per field


@dataclass(frozen=True, slots=True)
class Alternate:
    """Another number of the same callee, with what the rules need to judge it."""

    to_number: str
    zones: str
    states: str

    def as_json(self) -> dict[str, str]:
        return {"to_number": self.to_number, "zones": self.zones, "states": self.states}


@dataclass(slots=True)
class Lead:
    """One row of a lead list, normalized; campaign defaults are already merged in."""

    key: str
    to_number: str
    timezone: str | None
    dynamic_variables: dict[str, str]
    metadata: dict[str, Any]
    line: int
    zones: str = NO_ZONE  # for calling hours: dialer.domain.timezones.lead_zone_key
    consent_at: datetime | None = None  # when the callee agreed to be called, if on record
    # for state rules: its address state and its area code's (dialer.domain.state_rules)
    states: str = ""
    # numbers to try, in order, once the primary's attempts are spent without reaching anyone
    alternates: list[Alternate] = field(default_factory=list)

    @property
    def place(self) -> Place:
        return Place(self.zones, self.states)


@dataclass
class LeadScan:
    """What reading a lead list found: counts and problems (the first 1000 of them)."""

    leads: int = 0
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    # leads per place (zones and states), and the line of the first lead of each (at most a
    # few hundred places)
    places: Counter[Place] = field(default_factory=Counter)
    place_first_line: dict[Place, int] = field(default_factory=dict)

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)


class _Dedup:
    """Numbers seen, as exact integers (an E.164 number fits in 50 bits), and 64-bit hashes of
    the lead_ids that differ from their number (most lists have none); 8 bytes each."""

    def __init__(self) -> None:
        self.numbers = IntSet()
        self.keys = IntSet()

    def check(self, lead: Lead, path: Path) -> Problem | None:
        if not self.numbers.add(int(lead.to_number[1:])):
            return Problem(
                path,
                lead.line,
                "to_number",
                f"duplicate number {lead.to_number} (an earlier row has it)",
            )
        for index, alternate in enumerate(lead.alternates, start=1):
            if not self.numbers.add(int(alternate.to_number[1:])):
                return Problem(
                    path,
                    lead.line,
                    f"alt_number_{index}",
                    f"duplicate number {alternate.to_number} (this or an earlier row has it)",
                )
        # A lead's key is its lead_id, else its number: the two kinds must not collide either.
        if lead.key != lead.to_number:
            if self._is_seen_number(lead.key) or not self.keys.add(hash(lead.key)):
                return Problem(path, lead.line, "lead_id", f"duplicate lead_id {lead.key!r}")
        elif len(self.keys) and hash(lead.key) in self.keys:
            return Problem(path, lead.line, "to_number", f"{lead.key} is an earlier row's lead_id")
        return None

    def _is_seen_number(self, key: str) -> bool:
        digits = key[1:]
        return key.startswith("+") and digits.isdigit() and int(digits) in self.numbers


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
        rows = _yaml_rows(campaign.leads, loaded.path, loaded.lines, ("leads",), scan, campaign)
        source = loaded.path
    elif (refused := _unreadable(leads_path)) is not None:
        scan.add(Problem(loaded.path, line_of(loaded.lines, ("leads",)), "leads", refused))
        return
    elif leads_path.suffix.lower() == ".csv":
        rows = _csv_rows(leads_path, campaign, scan)
        source = leads_path
    elif leads_path.suffix.lower() in {".yaml", ".yml"}:
        rows = _yaml_file_rows(leads_path, loaded, scan)
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
        rows = _csv_handle_rows(io.StringIO(body.csv_text, newline=""), body.label, campaign, scan)
    else:
        items = body.items or []
        lines: dict[tuple[str | int, ...], int] = {(i,): i + 1 for i in range(len(items))}
        rows = _yaml_rows(items, body.label, lines, (), scan, campaign, check_text=True)
    yield from _checked(rows, body.label, scan)
    if not scan.leads and not scan.problem_count:
        scan.add(Problem(body.label, 0, "", "the body has no leads"))


def _checked(rows: Iterator[Lead], source: Path, scan: LeadScan) -> Iterator[Lead]:
    """The leads of `rows` that repeat no number or key of an earlier one, counted in `scan`."""
    dedup = _Dedup()
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


def _build_lead(
    campaign: CampaignSettings,
    path: Path,
    line: int,
    raw_number: object,
    lead_id: object,
    timezone: object,
    variables: dict[str, str],
    metadata: dict[str, Any],
    scan: LeadScan,
    number_field: str = "to_number",
    consent: object = None,
    address_state: object = None,
    alternates: list[tuple[str, object]] | None = None,
) -> Lead | None:
    ok = True
    if raw_number is None or (isinstance(raw_number, str) and not raw_number.strip()):
        scan.add(Problem(path, line, number_field, "phone number is missing"))
        return None
    if not isinstance(raw_number, str | int):
        scan.add(Problem(path, line, number_field, "must be a phone number string"))
        return None
    number_zones: tuple[str, ...] = ()
    try:
        number, number_zones = _dialable(str(raw_number), campaign)
    except InvalidNumberError as exc:
        scan.add(Problem(path, line, number_field, str(exc)))
        ok = False
    zone: str | None = None
    if timezone not in (None, ""):
        written = str(timezone).strip()
        zone = canonical_zone(written)
        if zone is None:
            guess = closest_zone(written)
            hint = f"did you mean {guess}?" if guess else "use an IANA name like America/Chicago"
            scan.add(Problem(path, line, "timezone", f"unknown time zone {written!r} ({hint})"))
            ok = False
    key: str | None = None
    if lead_id not in (None, ""):
        if not isinstance(lead_id, str | int):
            scan.add(Problem(path, line, "lead_id", "must be a string or number"))
            ok = False
        else:
            key = str(lead_id).strip()
            if len(key) > MAX_LEAD_ID_CHARS:
                scan.add(
                    Problem(path, line, "lead_id", f"longer than {MAX_LEAD_ID_CHARS} characters")
                )
                ok = False
    consent_at: datetime | None = None
    if consent not in (None, ""):
        consent_at = consent_instant(consent)
        if consent_at is None:
            scan.add(
                Problem(
                    path,
                    line,
                    "consent_at",
                    f"{consent!r} is not an ISO date or date and time "
                    "(like 2026-03-01 or 2026-03-01T14:30:00Z)",
                )
            )
            ok = False
    state: str | None = None
    # Judged only where state rules are on: with `state_rules: false` a `state` column is an
    # ordinary variable (Ontario's ON included) and not the lead's state.
    if address_state not in (None, "") and campaign.state_rules is not False:
        state = state_code(str(address_state))
        if state is None:
            scan.add(
                Problem(
                    path,
                    line,
                    "state",
                    f"{address_state!r} is not a US state (a code like FL, or a name); "
                    "state rules judge it (state_rules: false leaves it a plain variable)",
                )
            )
            ok = False
    others: list[Alternate] = []
    for field_name, raw in alternates or []:
        if raw in (None, ""):
            continue
        try:
            other, other_zones = _dialable(str(raw), campaign)
        except InvalidNumberError as exc:
            scan.add(Problem(path, line, field_name, str(exc)))
            ok = False
            continue
        other_states = lead_states_key(state, number_state(other))
        others.append(Alternate(other, _zone_key(zone, other_zones, state), other_states))
    if not ok:
        return None
    states = lead_states_key(state, number_state(number))
    return Lead(
        alternates=others,
        consent_at=consent_at,
        states=states,
        key=key or number,
        to_number=number,
        timezone=zone,
        dynamic_variables={**campaign.dynamic_variables, **variables},
        metadata={**campaign.metadata, **metadata},
        line=line,
        zones=_zone_key(zone, number_zones, state),
    )


def _dialable(raw: str, campaign: CampaignSettings) -> tuple[str, tuple[str, ...]]:
    """The number as E.164 with its zones; InvalidNumberError if it is not valid, or is a
    premium-rate or service number the campaign does not allow."""
    number, zones, premium = number_facts(raw, campaign.default_region)
    if not campaign.allow_premium_numbers:
        special = special_number_reason(number, premium)
        if special is not None:
            raise InvalidNumberError(
                f"{number} is {special}; set allow_premium_numbers: true in the campaign "
                "file to call such numbers"
            )
    return number, zones


def consent_instant(value: object) -> datetime | None:
    """A consent date or date-and-time as an aware instant (a date or a naive time is UTC);
    None when it is neither."""
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, date):
        instant = datetime.combine(value, time())
    else:
        try:
            instant = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


@functools.lru_cache(maxsize=4096)
def _zone_key(timezone: str | None, number_zones: tuple[str, ...], state: str | None) -> str:
    # a handful of distinct answers per list; `state` is the address's (the area code's state
    # adds nothing to the number's own zones)
    return lead_zone_key(timezone, number_zones, (state,) if state else ())


def _csv_rows(path: Path, campaign: CampaignSettings, scan: LeadScan) -> Iterator[Lead]:
    try:
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        scan.add(Problem(path, 0, "", f"cannot read: {exc.strerror}"))
        return
    yield from _csv_handle_rows(handle, path, campaign, scan)


def _csv_handle_rows(
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
                lead = _build_lead(
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


def _yaml_file_rows(path: Path, loaded: CampaignSource, scan: LeadScan) -> Iterator[Lead]:
    limits = LEAD_LIST_LIMITS
    try:
        text = read_text(path, limits.max_bytes, limits.what)
    except UnicodeDecodeError as exc:
        scan.add(Problem(path, 0, "", f"not UTF-8 text ({exc.reason}); save the file as UTF-8"))
        return
    except InputFileError as exc:
        where = line_of(loaded.lines, ("leads",))
        scan.add(Problem(loaded.path, where, "leads", f"{exc}; use a CSV file"))
        return
    except OSError as exc:
        scan.add(Problem(path, 0, "", f"cannot read: {exc.strerror}"))
        return
    try:
        data, lines = load_with_lines(text, limits)
    except YamlSyntaxError as exc:
        scan.add(Problem(path, exc.line, "", f"malformed YAML: {exc}"))
        return
    except YamlRefusedError as exc:
        # name the field within its lead, as other lead problems do
        first_index = next((i for i, part in enumerate(exc.loc) if isinstance(part, int)), -1)
        field = ".".join(str(part) for part in exc.loc[first_index + 1 :])
        scan.add(Problem(path, exc.line, field, str(exc)))
        return
    prefix: tuple[str, ...] = ()
    if isinstance(data, dict) and "leads" in data:
        data, prefix = data["leads"], ("leads",)
    if not isinstance(data, list):
        scan.add(Problem(path, 1, "", "a YAML lead list is a list of mappings with to_number"))
        return
    yield from _yaml_rows(data, path, lines, prefix, scan, loaded.campaign)


def _yaml_rows(
    items: object,
    path: Path,
    lines: dict[tuple[str | int, ...], int],
    prefix: tuple[str | int, ...],
    scan: LeadScan,
    campaign: CampaignSettings,
    *,
    check_text: bool = False,
) -> Iterator[Lead]:
    """`check_text`: look for control characters in every key and value (the YAML reader
    refuses them as it parses; JSON items come unchecked)."""
    assert isinstance(items, list)
    for index, item in enumerate(items):
        loc = (*prefix, index)
        line = line_of(lines, loc)
        if not isinstance(item, dict):
            scan.add(Problem(path, line, "", "a lead is a mapping with to_number"))
            continue
        if check_text and not _free_of_control_characters(item, path, line, scan):
            continue
        ok = True
        for key in item:
            if (
                key not in YAML_LEAD_KEYS
                and key not in ("phone", "phone_number")
                and not ALTERNATE_COLUMN.fullmatch(str(key))
            ):
                scan.add(
                    Problem(
                        path,
                        line_of(lines, (*loc, key)),
                        str(key),
                        f"unknown key{did_you_mean(str(key), YAML_LEAD_KEYS)}",
                    )
                )
                ok = False
        variables: dict[str, str] = {}
        raw_variables = item.get("retell_llm_dynamic_variables") or {}
        if not isinstance(raw_variables, dict):
            scan.add(
                Problem(
                    path,
                    line_of(lines, (*loc, "retell_llm_dynamic_variables")),
                    "retell_llm_dynamic_variables",
                    "must be a mapping of name: value",
                )
            )
            ok = False
        else:
            for name, value in raw_variables.items():
                try:
                    variables[str(name)] = stringify_variable(value)
                except ValueError as exc:
                    field_loc = (*loc, "retell_llm_dynamic_variables", name)
                    scan.add(
                        Problem(
                            path,
                            line_of(lines, field_loc),
                            f"retell_llm_dynamic_variables.{name}",
                            str(exc),
                        )
                    )
                    ok = False
        metadata = item.get("metadata") or {}
        if not isinstance(metadata, dict):
            scan.add(
                Problem(path, line_of(lines, (*loc, "metadata")), "metadata", "must be a mapping")
            )
            ok = False
        number = item.get("to_number", item.get("phone", item.get("phone_number")))
        lead = _build_lead(
            campaign,
            path,
            line,
            number,
            item.get("lead_id"),
            item.get("timezone"),
            variables,
            metadata if isinstance(metadata, dict) else {},
            scan,
            consent=item.get("consent_at"),
            address_state=item.get("state"),
            alternates=sorted(
                ((str(k), v) for k, v in item.items() if ALTERNATE_COLUMN.fullmatch(str(k))),
                key=lambda kv: int(kv[0].rsplit("_", 1)[1]),
            ),
        )
        if ok and lead is not None:
            yield lead


def _free_of_control_characters(
    item: dict[Any, Any], path: Path, line: int, scan: LeadScan
) -> bool:
    """Whether no key or text of `item` (nested ones included) holds a control character;
    each one that does is a problem of its field."""
    clean = True
    stack: list[tuple[str, object]] = [("", item)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, inner in value.items():
                field = f"{where}.{key}" if where else str(key)
                if (control := control_character_problem(str(key))) is not None:
                    scan.add(Problem(path, line, field, control))
                    clean = False
                stack.append((field, inner))
        elif isinstance(value, list):
            stack.extend((f"{where}.{i}", inner) for i, inner in enumerate(value))
        elif isinstance(value, str) and (control := control_character_problem(value)) is not None:
            scan.add(Problem(path, line, where, control))
            clean = False
    return clean
