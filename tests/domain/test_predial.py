"""The pre-dial hook's answers, judged (fail closed). Pure."""

from __future__ import annotations

import pytest

from dialer.domain.predial import Allow, Failed, HookVerdict, Refuse, judge


@pytest.mark.parametrize(
    ("status", "body", "verdict"),
    [
        (200, b'{"allow": true}', Allow()),
        (204, b'{"allow": true, "dynamic_variables": {"tier": "gold"}}', Allow({"tier": "gold"})),
        (
            200,
            b'{"allow": false, "reason": "opted out in CRM"}',
            Refuse("refused by the pre-dial hook: opted out in CRM"),
        ),
        (200, b'{"allow": false}', Refuse("refused by the pre-dial hook: no reason given")),
        (500, b'{"allow": true}', Failed("the hook answered 500")),
        (302, b"", Failed("the hook answered 302")),
        (200, b"<html>", Failed("the hook's answer is not JSON")),
        (200, b'{"allow": "yes"}', Failed('the hook\'s answer has no "allow": true or false')),
        (200, b"[true]", Failed('the hook\'s answer has no "allow": true or false')),
        (
            200,
            b'{"allow": true, "dynamic_variables": {"n": 3}}',
            Failed("the hook's dynamic_variables are not a mapping of strings"),
        ),
    ],
)
def test_judge(status: int, body: bytes, verdict: HookVerdict) -> None:
    assert judge(status, body) == verdict


def test_a_long_reason_is_cut() -> None:
    verdict = judge(200, b'{"allow": false, "reason": "' + b"x" * 500 + b'"}')
    assert isinstance(verdict, Refuse) and len(verdict.reason) < 250
