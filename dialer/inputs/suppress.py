"""Suppression files: numbers a campaign must never call, one per line.

Any common format is accepted (`+1 212-555-0100`, `(212) 555-0100`, `212.555.0100`); national
numbers are read in the campaign's `default_region`, else in the region of its `from_number`.
`#` starts a comment; blank lines are ignored. A line that is not a number is a problem
reported with its file and line, like any other bad input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import phonenumbers

from dialer.inputs.campaign_file import CampaignSource
from dialer.inputs.problems import Problem
from dialer.inputs.yamlsource import MIB, InputFileError, line_of, read_text
from dialer.phones import InvalidNumberError, normalize_number

SUPPRESS_FILE_BYTES = 64 * MIB  # about four million numbers


@dataclass
class SuppressList:
    """Suppressed numbers (E.164) with the file that names each."""

    sources: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def source_of(self, number: str) -> str | None:
        return self.sources.get(number)


def _region(loaded: CampaignSource) -> str | None:
    campaign = loaded.campaign
    if campaign.default_region:
        return campaign.default_region
    region = phonenumbers.region_code_for_number(phonenumbers.parse(campaign.caller_ids[0]))
    return region if region and region != "ZZ" else None


def read_suppress_files(loaded: CampaignSource) -> SuppressList:
    """Read every file of the campaign's `suppress:` list (paths relative to the campaign)."""
    result = SuppressList()
    region = _region(loaded)
    for index, name in enumerate(loaded.campaign.suppress):
        path = (loaded.path.parent / name).resolve()
        where = line_of(loaded.lines, ("suppress", index))
        try:
            text = read_text(path, SUPPRESS_FILE_BYTES, "suppression files")
        except FileNotFoundError:
            result.problems.append(
                Problem(loaded.path, where, f"suppress.{index}", f"file not found: {path}")
            )
            continue
        except UnicodeDecodeError as exc:
            result.problems.append(Problem(path, 0, "", f"not UTF-8 text ({exc.reason})"))
            continue
        except InputFileError as exc:
            result.problems.append(Problem(loaded.path, where, f"suppress.{index}", str(exc)))
            continue
        except OSError as exc:
            result.problems.append(Problem(path, 0, "", f"cannot read: {exc.strerror}"))
            continue
        for number, raw in enumerate(text.splitlines(), start=1):
            entry = raw.split("#", 1)[0].strip().strip(",;").strip()
            if not entry:
                continue
            try:
                result.sources.setdefault(normalize_number(entry, region), path.name)
            except InvalidNumberError as exc:
                result.problems.append(Problem(path, number, "number", str(exc)))
    return result
