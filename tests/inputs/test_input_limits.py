"""Input files read with limits: YAML nesting, alias expansion and loops, control characters,
file sizes and special files. Each is refused with its file and line, at once."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from dialer.cli import main
from dialer.inputs.yamlsource import (
    InputFileError,
    YamlLimits,
    YamlRefusedError,
    load_with_lines,
    read_bytes,
)

LIMITS = YamlLimits("test files", max_bytes=1 << 20, max_depth=10, max_values=1000)
CAMPAIGN = 'name: c\nfrom_number: "+14155550100"\nleads: leads.csv\n'
LEADS = "to_number,first_name\n+14155550101,Ann\n"


def alias_bomb(levels: int) -> str:
    text = 'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels + 1):
        text += f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n"
    return text


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (alias_bomb(9), 4, "aliases expand this document past 1,000 values (an alias bomb?)"),
        ("a: " + "[" * 11 + "]" * 11 + "\n", 1, "nested deeper than 10 levels"),
        ("a:\n  b: &b\n    - 1\n    - *b\n", 2, "an alias refers to the node it is in"),
        ("a: &a {x: *a}\n", 1, "an alias refers to the node it is in"),
        # depth reached through aliases, each written at a shallow level
        (
            "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 12)),
            10,
            "aliases nest it deeper than 10 levels",
        ),
        ("a: ok\nb: x\x00y\n", 2, "control character U+0000 (NUL) is not allowed in YAML text"),
        ("a: ok\nb: x\x1by\n", 2, "control character U+001B (ESC) is not allowed in YAML text"),
    ],
)
def test_yaml_beyond_its_limits_is_refused_with_its_line(text: str, line: int, words: str) -> None:
    with pytest.raises(YamlRefusedError) as caught:
        load_with_lines(text, LIMITS)
    assert caught.value.line == line
    assert words in str(caught.value)


def test_a_control_character_written_as_an_escape_is_refused_with_its_path() -> None:
    with pytest.raises(YamlRefusedError) as caught:
        load_with_lines('leads:\n  - to_number: "+14155550101"\n    name: "A\\0"\n', LIMITS)
    assert (caught.value.line, caught.value.field) == (3, "leads.0.name")
    assert "U+0000 (NUL)" in str(caught.value)


def test_ordinary_aliases_tabs_and_newlines_are_fine() -> None:
    leads = "defaults: &d {plan: gold, company: Acme}\nleads:\n" + "".join(
        f'  - {{<<: *d, to_number: "+1415555{i:04d}"}}\n' for i in range(300)
    )
    data, lines = load_with_lines(leads, YamlLimits("test files", max_bytes=1 << 20))
    assert len(data["leads"]) == 300 and data["leads"][299]["plan"] == "gold"
    assert lines[("leads", 299)] == 302
    data, _ = load_with_lines('a: "tab\\there"\nb: |\n  two\n  lines\n', LIMITS)
    assert data == {"a": "tab\there", "b": "two\nlines\n"}


def test_a_file_larger_than_its_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2000)
    assert read_bytes(big, 2000, "test files") == b"x" * 2000
    with pytest.raises(InputFileError, match=r"big\.txt is larger than 1,999 bytes, the limit"):
        read_bytes(big, 1999, "test files")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes: it must not be opened at all."""
    fifo = tmp_path / "leads.yaml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_bytes(fifo, 100, "test files")
        except InputFileError as exc:
            outcome.append(exc)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # free the blocked reader before failing
        with fifo.open("wb"):
            pass
        pytest.fail("reading the FIFO blocked")
    assert "is a FIFO, not a regular file" in str(outcome[0])


def _validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", str(path)])
    return result.exit_code, result.output


def test_oversized_campaign_lead_and_suppression_files_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "leads.csv").write_text(LEADS)
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(CAMPAIGN + "# " + "x" * 600 + "\n")
    monkeypatch.setattr(
        "dialer.inputs.campaign_file.CAMPAIGN_FILE_LIMITS", YamlLimits("campaign files", 500)
    )
    code, output = _validate(campaign)
    assert code == 2
    assert f"{campaign}: campaign.yaml is larger than 500 bytes, the limit for campaign" in output

    campaign.write_text(CAMPAIGN.replace("leads.csv", "leads.yaml") + "suppress: [dnc.txt]\n")
    (tmp_path / "leads.yaml").write_text('- to_number: "+14155550101"\n' * 1 + "# pad\n" * 100)
    (tmp_path / "dnc.txt").write_text("+14155550199\n" * 100)
    monkeypatch.setattr(
        "dialer.inputs.yaml_leads.LEAD_LIST_LIMITS", YamlLimits("YAML lead lists", max_bytes=300)
    )
    monkeypatch.setattr("dialer.inputs.suppress.SUPPRESS_FILE_BYTES", 1000)
    code, output = _validate(campaign)
    assert code == 2
    assert (
        f"{campaign}:3: leads: leads.yaml is larger than 300 bytes, the limit for YAML lead "
        "lists; use a CSV file"
    ) in output
    assert (
        f"{campaign}:4: suppress.0: dnc.txt is larger than 1,000 bytes, the limit for "
        "suppression files"
    ) in output


def test_a_special_file_as_the_campaign_or_pool_is_refused(tmp_path: Path) -> None:
    code, output = _validate(Path("/dev/zero"))
    assert (code, output.strip()) == (
        2,
        "/dev/zero: /dev/zero is a character device, not a regular file",
    )
    (tmp_path / "leads.csv").write_text(LEADS)
    campaign = tmp_path / "campaign.yaml"
    campaign.write_text(CAMPAIGN.replace('from_number: "+14155550100"', "from_numbers: /dev/zero"))
    code, output = _validate(campaign)
    assert code == 2
    assert f"{campaign}:2: from_numbers: /dev/zero is a character device" in output
    campaign.write_text(CAMPAIGN + "suppress: [.]\n")
    code, output = _validate(campaign)
    assert code == 2
    assert f"{campaign}:4: suppress.0: {tmp_path} is a directory, not a regular file" in output
