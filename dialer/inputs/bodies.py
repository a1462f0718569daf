"""What a request of the HTTP API sends, read as the files it stands for: a campaign (JSON, or
the text of a campaign file) and a lead list (CSV text, or a JSON array of leads). Problems
name the body (`body:LINE: field: message`): for CSV and YAML the line, for a JSON array of
leads the item (from 1); a JSON campaign's problems are located by their field alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dialer.inputs.campaign_file import CAMPAIGN_FILE_LIMITS
from dialer.inputs.leads import LeadBody
from dialer.inputs.problems import InputError, Problem
from dialer.inputs.yamlsource import YamlRefusedError, YamlSyntaxError, load_with_lines

BODY = Path("body")
Lines = dict[tuple[str | int, ...], int]


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError([Problem(BODY, line, "", f"not UTF-8 text ({exc.reason})")]) from None


def _json(data: bytes) -> Any:
    try:
        return json.loads(_text(data))
    except json.JSONDecodeError as exc:
        raise InputError([Problem(BODY, exc.lineno, "", f"malformed JSON: {exc.msg}")]) from None
    except RecursionError:
        raise InputError([Problem(BODY, 0, "", "JSON nested too deeply")]) from None


def campaign_body(data: bytes, *, yaml_text: bool) -> tuple[dict[str, Any], Lines]:
    """A campaign's settings as a mapping, and the lines of its keys (YAML text only)."""
    if not yaml_text:
        found = _json(data)
        lines: Lines = {}
    else:
        try:
            found, lines = load_with_lines(_text(data), CAMPAIGN_FILE_LIMITS)
        except YamlSyntaxError as exc:
            raise InputError([Problem(BODY, exc.line, "", f"malformed YAML: {exc}")]) from None
        except YamlRefusedError as exc:
            raise InputError([Problem(BODY, exc.line, exc.field, str(exc))]) from None
    if not isinstance(found, dict):
        message = "a campaign is a mapping (name:, from_number:, …), as in a campaign file"
        raise InputError([Problem(BODY, 1 if lines else 0, "", message)])
    return found, lines


def lead_body(data: bytes, *, csv: bool) -> LeadBody:
    """A lead list sent as CSV text or as a JSON array of leads (each as in a YAML list)."""
    if csv:
        return LeadBody(BODY, csv_text=_text(data))
    items = _json(data)
    if not isinstance(items, list):
        raise InputError(
            [Problem(BODY, 0, "", "a JSON lead list is an array of leads ({to_number, …})")]
        )
    return LeadBody(BODY, items=items)
