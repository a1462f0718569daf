"""Campaign files: the YAML a user writes, read into typed settings with located errors."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from dialer.domain.campaign import CampaignSettings
from dialer.domain.results_push import CREDENTIALS_STORED
from dialer.domain.routing import step_problems
from dialer.domain.spelling import closest
from dialer.inputs.problems import InputError, Problem
from dialer.inputs.yamlsource import (
    MIB,
    InputFileError,
    YamlLimits,
    YamlRefusedError,
    YamlSyntaxError,
    line_of,
    load_with_lines,
    read_text,
)
from dialer.phones import InvalidNumberError, normalize_number

# Room for about ten thousand inline leads; a larger list belongs in a lead file.
CAMPAIGN_FILE_LIMITS = YamlLimits("campaign files", max_bytes=1 * MIB, max_values=250_000)
NUMBER_FILE_BYTES = 1 * MIB  # `from_numbers: pool.txt`: tens of thousands of numbers


class CampaignFile(CampaignSettings):
    """A campaign file, validated. `leads` is a path (relative to the file) or an inline list."""

    leads: str | list[dict[str, Any]]


class CampaignSource(BaseModel):
    """A campaign file as read: its settings, its path, and where each key stands (for
    locating problems in it and in its lead list)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    campaign: CampaignFile
    path: Path
    lines: dict[tuple[str | int, ...], int]

    @property
    def leads_path(self) -> Path | None:
        if isinstance(self.campaign.leads, str):
            return (self.path.parent / self.campaign.leads).resolve()
        return None


def _models_in(annotation: Any) -> list[Any]:
    """The models an annotation holds: itself, a union's or a list's element (Annotated too)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[Any] = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found.extend(_models_in(arg))
    origin = getattr(annotation, "__origin__", None)
    if origin is not None and not found:
        found.extend(_models_in(origin))
    return found


def _known_fields(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The field names allowed at `loc` (the parent of an unknown key); a list's index
    (`steps.0`) stands for its element."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue  # the list's element model was found with the list's field
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = next(iter(_models_in(field.annotation)), None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(choices)})"


_BOUNDS = {
    "greater_than": ("gt", "must be more than"),
    "greater_than_equal": ("ge", "must be at least"),
    "less_than": ("lt", "must be less than"),
    "less_than_equal": ("le", "must be at most"),
}


def _shown(value: Any) -> str:
    said = repr(value)
    return said if len(said) <= 80 else f"{said[:77]}..."


def _readable(error: Any, loc: tuple[str | int, ...]) -> str | None:
    """pydantic's texts a user cannot act on, said plainly with the value: `must be more
    than 0; got 0`, `needs at least 1 item; got none`, `expected a mapping (keys: …); got 5`."""
    kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
    if kind in _BOUNDS:
        key, said = _BOUNDS[kind]
        bound = ctx.get(key)
        bound = f"{bound:g}" if isinstance(bound, float) else bound
        return f"{said} {bound}; got {_shown(value)}"
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        items = "item" if least == 1 else "items"
        return f"needs at least {least} {items}; got {ctx.get('actual_length') or 'none'}"
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else None
    if kind in ("model_type", "dict_type"):
        known = _known_fields(CampaignFile, loc)
        keys = f" (keys: {', '.join(known)})" if known else ""
        return f"expected a mapping{keys}; got {_shown(value)}"
    return None


def _naming_the_value(error: Any, loc: tuple[str | int, ...]) -> str:
    """pydantic's message, with the value it rejects: `'funday' is not a day; expected
    mon…sun`, `must be more than 0; got -2`."""
    readable = _readable(error, loc)
    if readable is not None:
        return readable
    message = str(error["msg"]).removeprefix("Value error, ")
    value = error.get("input")
    if not isinstance(value, str | int | float | bool) or value is None:
        return message
    if error["type"] == "literal_error":
        expected = str(error.get("ctx", {}).get("expected", ""))
        guess = closest(str(value), re.findall(r"'([^']*)'", expected))
        hint = f"; did you mean {guess}?" if guess else ""
        if len(loc) >= 2 and loc[-2] == "days":
            return f"{value!r} is not a day; expected mon, tue, wed, thu, fri, sat or sun{hint}"
        return f"{value!r} is not one of {expected}{hint}" if expected else message
    named = repr(value).lower() in message.lower() or str(value) in message
    if named or CREDENTIALS_STORED in message:
        return message  # (a URL's credentials are not repeated)
    return f"{message[0].lower()}{message[1:]}; got {value!r}"


def _is_union_branch(part: str | int) -> bool:
    return isinstance(part, str) and ("[" in part or part in {"str", "list", "bool", "int"})


def _problems_from(
    exc: ValidationError, path: Path, lines: dict[tuple[str | int, ...], int]
) -> list[Problem]:
    problems = []
    errors = exc.errors()
    # pydantic names the branch of a union (`str`, `bool`, `list[...]`) in the location; drop it
    locs = [tuple(p for p in error["loc"] if not _is_union_branch(p)) for error in errors]
    for error, loc in zip(errors, locs, strict=True):
        if len(loc) < len(error["loc"]) and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locs
        ):
            continue  # another branch of the union got further: its error says more
        field = ".".join(str(p) for p in loc)
        if error["type"] == "extra_forbidden":
            known = _known_fields(CampaignFile, loc[:-1])
            message = f"unknown key{did_you_mean(str(loc[-1]), known)}"
        elif error["type"] == "missing":
            message = "required key is missing"
        else:
            message = _naming_the_value(error, loc)
        problems.append(Problem(path, line_of(lines, loc), field, message))
    # one message per location is enough (a union can fail once per branch)
    seen: set[tuple[int, str]] = set()
    unique = []
    for p in problems:
        if (p.line, p.field) not in seen:
            seen.add((p.line, p.field))
            unique.append(p)
    return unique


def read_campaign_file(path: Path) -> CampaignSource:
    """Read and check a campaign file (not its leads). Raises InputError listing every problem."""
    path = Path(path)
    limits = CAMPAIGN_FILE_LIMITS
    try:
        text = read_text(path, limits.max_bytes, limits.what)
    except FileNotFoundError:
        raise InputError([Problem(path, 0, "", "campaign file not found")]) from None
    except UnicodeDecodeError as exc:
        raise InputError([Problem(path, 0, "", f"not UTF-8 text ({exc.reason})")]) from None
    except InputFileError as exc:
        raise InputError([Problem(path, 0, "", str(exc))]) from None
    except OSError as exc:
        raise InputError([Problem(path, 0, "", f"cannot read: {exc.strerror}")]) from None
    try:
        data, lines = load_with_lines(text, limits)
    except YamlSyntaxError as exc:
        raise InputError([Problem(path, exc.line, "", f"malformed YAML: {exc}")]) from None
    except YamlRefusedError as exc:
        raise InputError([Problem(path, exc.line, exc.field, str(exc))]) from None
    if not isinstance(data, dict):
        raise InputError(
            [
                Problem(
                    path,
                    1,
                    "",
                    "a campaign file is a YAML mapping (name:, from_number:, leads:, …)",
                )
            ]
        )
    if isinstance(data.get("from_numbers"), str):
        data = {**data, "from_numbers": _read_number_file(path, data["from_numbers"], lines)}
    campaign = validate_campaign(data, path, lines)
    return CampaignSource(campaign=campaign, path=path.resolve(), lines=lines)


def validate_campaign(
    data: dict[str, Any], path: Path, lines: dict[tuple[str | int, ...], int]
) -> CampaignFile:
    """`data` as a campaign file's settings, or InputError with every problem, located by
    `lines` (empty: line 0, the field alone locates it) and named by `path`."""
    try:
        campaign = CampaignFile.model_validate(data)
    except ValidationError as exc:
        problems = _problems_from(exc, path, lines)
        if not lines:
            problems = [Problem(p.file, 0, p.field, p.message) for p in problems]
        raise InputError(problems) from None
    found = step_problems(campaign)
    if found:
        raise InputError(
            [
                Problem(
                    path,
                    line_of(lines, ("steps", p.index, p.field)) if lines else 0,
                    f"steps.{p.index}.{p.field}",
                    p.message,
                )
                for p in found
            ]
        )
    return campaign


def _read_number_file(path: Path, name: str, lines: dict[tuple[str | int, ...], int]) -> list[str]:
    """`from_numbers: pool.txt`: one number a line (relative to the campaign file), `#`
    comments and blank lines allowed; each bad line is a problem with its file and line."""
    pool = (path.parent / name).resolve()
    where = line_of(lines, ("from_numbers",))
    try:
        text = read_text(pool, NUMBER_FILE_BYTES, "from_numbers files")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(pool, 0, "", f"not UTF-8 text ({exc.reason})")]) from None
    except InputFileError as exc:
        raise InputError([Problem(path, where, "from_numbers", str(exc))]) from None
    except OSError as exc:
        why = "file not found" if isinstance(exc, FileNotFoundError) else exc.strerror
        raise InputError([Problem(path, where, "from_numbers", f"{why}: {pool}")]) from None
    numbers, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            numbers.append(normalize_number(entry))
        except InvalidNumberError as exc:
            problems.append(Problem(pool, number, "number", f"{exc} (E.164 expected)"))
    if problems:
        raise InputError(problems)
    return numbers
