"""YAML with line numbers: parse once, remember where every key and item stands.

Input files are read with limits, so that a mistake or a hostile file is refused at once rather
than after minutes of work and a MemoryError: a file must be a regular file (not /dev/zero or
a FIFO) no larger than its kind's limit; a YAML document may nest only so deep, its aliases may
expand it only so far (a "billion laughs" document is a few hundred bytes), it may not refer to
itself, and its text may hold no control characters.
"""

from __future__ import annotations

import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Loc = tuple[str | int, ...]
MIB = 1 << 20

# C0 controls but tab, LF and CR; DEL; C1 controls. Never meant in a name, a number or a prompt
# variable, and Postgres refuses NUL in text outright.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def describe_control(character: str) -> str:
    """`U+0000 (NUL)`-style naming of a control character, for messages."""
    names = {"\x00": "NUL", "\x1b": "ESC", "\x7f": "DEL"}
    code = f"U+{ord(character):04X}"
    return f"{code} ({names[character]})" if character in names else code


def control_character_problem(text: str) -> str | None:
    """Why `text` may not be used as it is (it holds a control character), or None."""
    match = CONTROL_CHARACTER.search(text)
    if match is None:
        return None
    return f"control character {describe_control(match.group())} is not allowed; remove it"


@dataclass(frozen=True)
class YamlLimits:
    """How large a YAML document of one kind may be: bytes on disk, nesting depth, and values
    once its aliases are expanded (PyYAML builds some 100 bytes of objects per value and reads
    about a megabyte in a few seconds: these bound both time and memory)."""

    what: str  # "campaign files", for messages
    max_bytes: int
    max_depth: int = 64
    max_values: int = 250_000


class YamlSyntaxError(ValueError):
    """The text is not YAML; `line` is 1-based."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(message)


class YamlRefusedError(ValueError):
    """YAML refused for its shape or content (too deep, aliases expanding too far, a reference
    to itself, a control character); `line` is 1-based, `loc` the path to the value if known."""

    def __init__(self, line: int, message: str, loc: Loc = ()) -> None:
        self.line = line
        self.loc = loc
        super().__init__(message)

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.loc)


class InputFileError(ValueError):
    """A file dialer will not read: not a regular file, or larger than its kind's limit."""


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that keeps scalars as YAML typed them (strings stay strings) and refuses
    nesting deeper than its limit while composing (before Python's recursion limit)."""

    def __init__(self, text: str, max_depth: int) -> None:
        super().__init__(text)
        self._depth = 0
        self._max_depth = max_depth

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > self._max_depth:
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise YamlRefusedError(
                    line, f"nested deeper than {self._max_depth} levels; flatten it"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """A date or time YAML reads, or a refusal naming it: `2027-02-30` looks like a date
        but is none (YAML would raise ValueError)."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise YamlRefusedError(
                node.start_mark.line + 1,
                f"{node.value!r} is not a date ({exc}); correct it, or quote it if it is not "
                "meant as one",
            ) from None


_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _LineLoader.construct_yaml_timestamp)


def load_with_lines(text: str, limits: YamlLimits) -> tuple[Any, dict[Loc, int]]:
    """Parse `text`; return the data and a map from a path (keys/indexes) to its 1-based line.
    Raises YamlSyntaxError for text that is not YAML, YamlRefusedError for YAML beyond
    `limits` or holding control characters."""
    try:
        loader = _LineLoader(text, limits.max_depth)
        try:
            node = loader.get_single_node()
            if node is not None:
                _check_expansion(node, limits)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:  # a control character in the raw text
        line = text[: max(exc.position, 0)].count("\n") + 1
        character = chr(exc.character)
        kind = "control character" if CONTROL_CHARACTER.match(character) else "character"
        message = f"{kind} {describe_control(character)} is not allowed in YAML text"
        raise YamlRefusedError(line, f"{message}; remove it") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise YamlSyntaxError(line, str(exc.problem or exc.context or "malformed YAML")) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(1, str(exc)) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _index(node, (), lines)
    return data, lines


def _check_expansion(root: yaml.Node, limits: YamlLimits) -> None:
    """Refuse a document whose aliases refer to the node they sit in, or expand it past its
    value or depth limit. Each distinct node is measured once (aliases share nodes), so a
    billion-laughs document is refused after a few hundred steps."""
    most = limits.max_values
    measured: dict[int, tuple[int, int]] = {}  # id(node) → (values, depth) once expanded
    open_nodes: set[int] = set()

    def measure(node: yaml.Node) -> tuple[int, int]:
        key = id(node)
        if key in measured:
            return measured[key]
        line = node.start_mark.line + 1
        if key in open_nodes:
            raise YamlRefusedError(line, "an alias refers to the node it is in (a loop); remove it")
        open_nodes.add(key)
        values, depth = 1, 0
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        for child in children:
            child_values, child_depth = measure(child)
            values += child_values
            depth = max(depth, child_depth)
        open_nodes.discard(key)
        if values > most:
            raise YamlRefusedError(
                line,
                f"aliases expand this document past {most:,} values (an alias bomb?); "
                "write the values out or use fewer aliases",
            )
        if depth + 1 > limits.max_depth:
            raise YamlRefusedError(
                line, f"aliases nest it deeper than {limits.max_depth} levels; flatten it"
            )
        measured[key] = (values, depth + 1)
        return measured[key]

    measure(root)


def _index(node: yaml.Node, path: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _refuse_control(key_node, (*path, key))
            _index(value_node, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _index(item, (*path, i), lines)
    else:
        _refuse_control(node, path)


def _refuse_control(node: yaml.Node, path: Loc) -> None:
    """A control character written as an escape ("\\0", "\\x1b") in a scalar."""
    if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str):
        problem = control_character_problem(node.value)
        if problem is not None:
            raise YamlRefusedError(node.start_mark.line + 1, problem, path)


def line_of(lines: dict[Loc, int], loc: Loc) -> int:
    """The line of `loc`, or of its nearest ancestor that has one."""
    for end in range(len(loc), -1, -1):
        found = lines.get(tuple(loc[:end]))
        if found is not None:
            return found
    return 1


def check_regular_file(path: Path) -> None:
    """Raise InputFileError unless `path` is a regular file (so reading it ends: /dev/zero,
    a FIFO or a directory would not); OSError (FileNotFoundError, …) as `stat` raises it."""
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        kinds = [
            (stat.S_ISDIR, "a directory"),
            (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"),
            (stat.S_ISFIFO, "a FIFO"),
        ]
        kind = next((name for test, name in kinds if test(mode)), "a socket")
        raise InputFileError(f"{path} is {kind}, not a regular file")


def read_bytes(path: Path, max_bytes: int, what: str) -> bytes:
    """A regular file's bytes, at most `max_bytes` of them: InputFileError beyond that (`what`
    names the kind of file in the message)."""
    check_regular_file(path)
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputFileError(
            f"{path.name} is larger than {format_size(max_bytes)}, the limit for {what}"
        )
    return data


def format_size(size: int) -> str:
    return f"{size // MIB} MiB" if size >= MIB and size % MIB == 0 else f"{size:,} bytes"


def read_text(path: Path, max_bytes: int, what: str) -> str:
    """Read a UTF-8 text file (a BOM is fine) of at most `max_bytes`; UnicodeDecodeError names
    the line, InputFileError says why the file is refused."""
    data = read_bytes(path, max_bytes, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnicodeDecodeError(
            exc.encoding, exc.object, exc.start, exc.end, f"line {line}: {exc.reason}"
        ) from None
