"""YAML lead lists: a list of mappings, read with limits, each made a lead by lead_rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dialer.domain.campaign import CampaignSettings
from dialer.domain.variables import stringify_variable
from dialer.inputs.campaign_file import CampaignSource, did_you_mean
from dialer.inputs.lead_rows import (
    ALTERNATE_COLUMN,
    LEAD_LIST_LIMITS,
    YAML_LEAD_KEYS,
    Lead,
    LeadScan,
    build_lead,
)
from dialer.inputs.problems import Problem
from dialer.inputs.yamlsource import (
    InputFileError,
    YamlRefusedError,
    YamlSyntaxError,
    control_character_problem,
    line_of,
    load_with_lines,
    read_text,
)


def yaml_file_rows(path: Path, loaded: CampaignSource, scan: LeadScan) -> Iterator[Lead]:
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
    yield from yaml_rows(data, path, lines, prefix, scan, loaded.campaign)


def yaml_rows(
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
        if check_text and not free_of_control_characters(item, path, line, scan):
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
        lead = build_lead(
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


def free_of_control_characters(item: dict[Any, Any], path: Path, line: int, scan: LeadScan) -> bool:
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
