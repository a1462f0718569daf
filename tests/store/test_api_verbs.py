"""What the HTTP API reads and writes in the store, on both databases: tokens kept only as a
digest (shown once, refused once revoked or altered), the store-wide do-not-call list (added
twice is one entry; honoured by the next claim), and pages of results by cursor and state."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from dialer.domain.campaign import Pacing
from dialer.domain.states import LeadState
from dialer.inputs.campaign_file import read_campaign_file
from dialer.operations.loading import import_campaign
from dialer.store import ClaimRequest, Store, TokenExistsError
from dialer.store.schema import api_tokens

from ..helpers import lead_rows, numbers, write_campaign

pytestmark = pytest.mark.anyio


async def test_a_token_is_kept_as_a_digest_and_refused_once_revoked(store: Store) -> None:
    token = await store.create_token("crm", read_only=False)
    reader = await store.create_token("bi", read_only=True)
    async with store.engine.connect() as conn:
        kept = [dict(r._mapping) for r in await conn.execute(select(api_tokens))]
    assert all(token not in str(row) and token.split(".")[1] not in str(row) for row in kept)

    holder = await store.token_holder(token)
    assert holder is not None and holder.name == "crm" and not holder.read_only
    bi = await store.token_holder(reader)
    assert bi is not None and bi.read_only
    with pytest.raises(TokenExistsError):
        await store.create_token("crm", read_only=True)
    assert [t.name for t in await store.tokens()] == ["bi", "crm"]

    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for wrong in (altered, "", "Bearer", "dlr_", "dlr_.x", token.split(".")[0], "x" * 500):
        assert await store.token_holder(wrong) is None, wrong
    assert await store.revoke_token("crm")
    assert await store.token_holder(token) is None
    assert not await store.revoke_token("crm")  # revoking again: nothing to revoke
    assert await store.token_holder(reader) is not None


async def test_the_do_not_call_list_is_honoured_at_the_next_claim(
    store: Store, tmp_path: Path
) -> None:
    nums = numbers(4)
    path = write_campaign(tmp_path, nums, name="dnc")
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    assert await store.add_do_not_call([nums[0], nums[1]], "consent revoked", "api token crm") == 2
    assert await store.add_do_not_call([nums[1]], "again", "api token crm") == 0  # kept once
    entry = await store.do_not_call_entry(nums[1])
    assert entry is not None and entry.reason == "consent revoked"
    assert [e.to_number for e in await store.do_not_call_page(None, 10)] == nums[:2]
    assert [e.to_number for e in await store.do_not_call_page(nums[0], 10)] == [nums[1]]
    assert await store.remove_do_not_call(nums[1])
    assert not await store.remove_do_not_call(nums[1])

    request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=20), 10, 30)
    claimed = (await store.claim(campaign_id, "w", request)).attempts
    assert sorted(a.to_number for a in claimed) == nums[1:]
    by_number = {row["to_number"]: row for row in await lead_rows(store)}
    assert by_number[nums[0]]["state"] == LeadState.SKIPPED
    assert by_number[nums[0]]["skip_reason"] == "do-not-call list"


async def test_results_come_page_by_page_and_by_state(store: Store, tmp_path: Path) -> None:
    nums = numbers(25)
    path = write_campaign(tmp_path, nums, name="pages")
    campaign_id = (await import_campaign(store, read_campaign_file(path))).campaign_id
    await store.add_do_not_call(nums[:5], "test", "test")
    request = ClaimRequest(Pacing(calls_per_second=50, max_concurrent_calls=20), 10, 30)
    await store.claim(campaign_id, "w", request)  # 5 skipped, 5 dialing, 15 pending

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        rows, after = await store.lead_rows_page(campaign_id, None, after, 7)
        pages += 1
        seen += [row["to_number"] for row in rows]
        assert "page_key" not in (rows[0] if rows else {})
        if after is None:
            break
    assert seen == nums and pages == 4

    skipped, more = await store.lead_rows_page(campaign_id, LeadState.SKIPPED, None, 100)
    assert more is None and [r["to_number"] for r in skipped] == nums[:5]
    assert all(r["next_attempt_at"] is None for r in skipped)
    pending, _ = await store.lead_rows_page(campaign_id, LeadState.PENDING, None, 100)
    assert len(pending) == 15
    empty, more = await store.lead_rows_page(campaign_id, LeadState.COMPLETED, None, 100)
    assert empty == [] and more is None
