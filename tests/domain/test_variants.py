"""Which variant a lead gets: deterministic, sticky, in proportion to the weights."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from dialer.domain.campaign import CampaignSettings
from dialer.domain.variants import (
    Variant,
    assign_variant,
    dial_variant,
    lead_variant,
    variant_bucket,
    variant_changes,
)

A = Variant(name="A", weight=50)
B = Variant(name="B", agent_id="agent_b", agent_version=7, weight=50)


def test_no_experiment_no_variant() -> None:
    assert assign_variant("spring", "lead-1", []) is None


def test_the_same_lead_gets_the_same_variant_every_time() -> None:
    first = [assign_variant("spring", f"lead-{i}", [A, B]) for i in range(200)]
    again = [assign_variant("spring", f"lead-{i}", [A, B]) for i in range(200)]
    assert first == again


@pytest.mark.parametrize(("weights", "expected"), [((50, 50), 0.5), ((90, 10), 0.9)])
def test_weights_split_the_leads(weights: tuple[int, int], expected: float) -> None:
    arms = [Variant(name="A", weight=weights[0]), Variant(name="B", weight=weights[1])]
    counts = Counter(assign_variant("c", f"lead-{i}", arms).name for i in range(20_000))  # type: ignore[union-attr]
    assert counts["A"] / 20_000 == pytest.approx(expected, abs=0.02)


def test_another_campaign_splits_independently() -> None:
    here = [variant_bucket("spring", f"l{i}") < 0.5 for i in range(2_000)]
    there = [variant_bucket("autumn", f"l{i}") < 0.5 for i in range(2_000)]
    agree = sum(a == b for a, b in zip(here, there, strict=True)) / 2_000
    assert agree == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        ([{"name": "A"}, {"name": "A"}], "named twice"),
        ([{"name": "A"}], "at least two"),
        ([{"name": "A", "weight": 0}, {"name": "B"}], "greater than 0"),
        ([{"name": "A", "agent": "x"}, {"name": "B"}], "Extra inputs"),
        ([{"name": "has space"}, {"name": "B"}], "pattern"),
    ],
)
def test_bad_variants_are_refused(variants: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CampaignSettings(name="x", from_number="+14155550100", variants=variants)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("recorded", "variants", "expected"),
    [
        ("B", [A, B], "B"),  # what its attempts recorded
        ("old", [A, B], "old"),  # recorded, since renamed: kept
        (None, [A, B], "hash"),  # not dialed yet: the hash's
        (None, [], None),  # no experiment
        ("A", [], "A"),  # recorded before the variants were dropped
    ],
)
def test_a_lead_s_variant(
    recorded: str | None, variants: list[Variant], expected: str | None
) -> None:
    hashed = assign_variant("spring", "lead-7", variants)
    want = (hashed.name if hashed else None) if expected == "hash" else expected
    assert lead_variant(recorded, "spring", "lead-7", variants) == want


C = Variant(name="C", weight=50)
LOPSIDED = [Variant(name="A", weight=1), Variant(name="B", weight=99)]


@pytest.mark.parametrize(
    ("recorded", "variants", "expected"),
    [
        ("A", [A, B], "A"),  # what its attempts recorded, while the campaign has it
        ("A", LOPSIDED, "A"),  # reweighted 50/50 -> 1/99: stays in its arm
        ("B", [A, C], "hash"),  # B renamed to C: the hash's (over A, C)
        ("gone", [A, B], "hash"),  # removed
        (None, [A, B], "hash"),  # not dialed yet
        (None, [], None),  # no experiment
        ("A", [], None),  # the experiment was dropped: no variant to call with
    ],
)
def test_the_variant_a_lead_s_next_call_uses(
    recorded: str | None, variants: list[Variant], expected: str | None
) -> None:
    hashed = assign_variant("spring", "lead-7", variants)
    want = (hashed.name if hashed else None) if expected == "hash" else expected
    chosen = dial_variant(recorded, "spring", "lead-7", variants)
    assert (chosen.name if chosen else None) == want


def test_most_leads_would_change_arm_under_a_reweight_but_none_does() -> None:
    keys = [f"lead-{i}" for i in range(1000)]
    before = {k: assign_variant("c", k, [A, B]).name for k in keys}  # type: ignore[union-attr]
    moved = sum(assign_variant("c", k, LOPSIDED).name != before[k] for k in keys)  # type: ignore[union-attr]
    assert moved > 400  # what the hash alone would do
    assert all(dial_variant(before[k], "c", k, LOPSIDED).name == before[k] for k in keys)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("old", "new", "recorded", "expected"),
    [
        ([A, B], [A, B], {"A": 3, "B": 2}, None),  # nothing changed
        ([A, B], [A, C], {}, None),  # no lead dialed yet
        ([], [A, B], {}, None),  # an experiment added before anyone was dialed
        (
            [A, B],
            [A, C],
            {"A": 3, "B": 2},
            "variants changed: B removed, C added; 3 dialed lead(s) keep their variant; 2 recorded "
            "B, no longer a variant: their next calls get the hash's variant; the report keeps B "
            "as a column for the calls made so far",
        ),
        (
            [A, B],
            LOPSIDED,
            {"A": 3, "B": 2},
            "variants changed: A reweighted (50% → 1%), B reweighted (50% → 99%); "
            "5 dialed lead(s) keep their variant",
        ),
        ([A, B], [Variant(name="A", weight=2), Variant(name="B", weight=2)], {"A": 1}, None),
    ],
)
def test_what_a_reload_says_of_its_variants(
    old: list[Variant], new: list[Variant], recorded: dict[str, int], expected: str | None
) -> None:
    assert variant_changes(old, new, recorded) == expected
