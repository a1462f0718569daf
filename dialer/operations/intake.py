"""What the HTTP API writes: a campaign put from a request's body, leads added to a campaign
from one, numbers put on or taken off the store-wide do-not-call list.

Leads go through the very reader and importer a file does (dialer.inputs.leads,
dialer.operations.loading), so the same rules hold: every problem is reported and nothing is
stored; a lead is keyed by its lead_id (else its number), so sending it again changes nothing;
an edited lead follows the list-edit rules of a reloaded file. One difference: what a request
sends is added to the list, never the whole list, so a lead it does not name stays as it is,
and a number another lead of the campaign has already is a duplicate (skipped), not a new
person."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialer.domain.campaign import FROM_STORE, CampaignSettings
from dialer.domain.states import CampaignStatus
from dialer.inputs.bodies import BODY, Lines
from dialer.inputs.campaign_file import CampaignFile, CampaignSource, validate_campaign
from dialer.inputs.leads import Lead, LeadBody, LeadScan, iter_body_leads
from dialer.inputs.problems import InputError, Problem
from dialer.inputs.review import CampaignReview
from dialer.inputs.suppress import SuppressList, read_suppress_files
from dialer.operations.loading import (
    ImportResult,
    ListLoad,
    with_conflict_retries,
    write_list,
)
from dialer.operations.steering import reopen_if_new_leads
from dialer.phones import InvalidNumberError, normalize_number
from dialer.store import CampaignNotFoundError, Store

__all__ = [
    "CampaignNotFoundError",
    "CampaignPut",
    "IntakeRefusedError",
    "add_leads",
    "checked_numbers",
    "put_campaign",
]


class IntakeRefusedError(Exception):
    """The campaign cannot take leads as it stands (cancelled; suppression files this process
    cannot read): nothing was stored."""


@dataclass(frozen=True)
class CampaignPut:
    created: bool
    loaded: ImportResult  # its leads, when the body had some (an empty load otherwise)


def _settings_from(name: str, data: dict[str, Any], lines: Lines) -> tuple[CampaignFile, Any]:
    """The body's settings (checked as a campaign file's) and its inline leads, if any. What
    names a file is refused: the API never reads the server's files."""
    problems = []

    def where(key: str) -> int:
        return lines.get((key,), 0)

    leads = data.get("leads")
    if isinstance(leads, str):
        problems.append(
            Problem(
                BODY,
                where("leads"),
                "leads",
                f"{leads!r} names a file, which the API does not read: leave `leads` out and "
                f"POST the list to /v1/campaigns/{name}/leads (CSV or JSON), or list the leads "
                "inline",
            )
        )
    if data.get("suppress"):
        problems.append(
            Problem(
                BODY,
                where("suppress"),
                "suppress",
                "suppression files are not read over the API: put the numbers on the "
                "store-wide do-not-call list (POST /v1/do-not-call)",
            )
        )
    if isinstance(data.get("from_numbers"), str):
        problems.append(
            Problem(
                BODY,
                where("from_numbers"),
                "from_numbers",
                "a file is not read over the API: list the numbers",
            )
        )
    given = data.get("name", name)
    if given != name:
        problems.append(
            Problem(BODY, where("name"), "name", f"{given!r} is not {name!r}, the campaign's URL")
        )
    if problems:
        raise InputError(problems)
    settings = validate_campaign({**data, "name": name, "leads": []}, BODY, lines)
    return settings, leads


def _inline_leads(settings: CampaignSettings, items: Any, scan: LeadScan) -> Iterator[Lead]:
    if not items:
        return iter(())
    return iter_body_leads(settings, LeadBody(Path("leads"), items=list(items)), scan)


async def put_campaign(
    store: Store, name: str, data: dict[str, Any], lines: Lines | None = None
) -> CampaignPut:
    """Create the campaign `name` from a request's settings, or replace its settings; leads
    listed inline are added as `add_leads` adds them. Raises InputError (nothing stored)."""
    settings, items = _settings_from(name, data, lines or {})
    existing = await store.campaign(name)
    if existing is not None and items:
        await _refuse_if_cancelled(store, existing.status, name)

    async def load() -> ImportResult:
        review = CampaignReview(LeadScan(), SuppressList())
        job = ListLoad(name, settings, whole_list=False)
        return await write_list(store, job, _inline_leads(settings, items, review.scan), review)

    loaded = await with_conflict_retries(store, load)
    await _after_adding(store, loaded)
    return CampaignPut(existing is None, loaded)


async def add_leads(store: Store, name: str, body: LeadBody) -> ImportResult:
    """Add a request's leads to the campaign `name`: all of them or, on any problem, none
    (InputError). Raises CampaignNotFoundError, IntakeRefusedError."""
    row = await store.campaign(name)
    if row is None:
        raise CampaignNotFoundError(name)
    await _refuse_if_cancelled(store, row.status, name)
    settings = row.settings()
    suppress = await _suppression_files(store, row.id, settings)

    async def load() -> ImportResult:
        review = CampaignReview(LeadScan(), suppress)
        job = ListLoad(name, None, whole_list=False)
        return await write_list(store, job, iter_body_leads(settings, body, review.scan), review)

    loaded = await with_conflict_retries(store, load)
    await _after_adding(store, loaded)
    return loaded


async def _refuse_if_cancelled(store: Store, status: CampaignStatus, name: str) -> None:
    if status is CampaignStatus.CANCELLED:
        raise IntakeRefusedError(
            f"{name} was cancelled: a cancelled campaign takes no leads (make a new one)"
        )


async def _suppression_files(
    store: Store, campaign_id: int, settings: CampaignSettings
) -> SuppressList:
    """The numbers of the campaign's `suppress:` files (a campaign loaded from a file), read
    where its file lies; a file this process cannot read refuses the leads (fail closed)."""
    if not settings.suppress:
        return SuppressList()
    source = await store.source_path(campaign_id)
    if source is None:
        raise IntakeRefusedError("the campaign names suppression files but no campaign file")
    loaded = CampaignSource(
        campaign=CampaignFile.model_validate(
            {**settings.model_dump(), "leads": []}, context=FROM_STORE
        ),
        path=Path(source),
        lines={},
    )
    found = read_suppress_files(loaded)
    if found.problems:
        raise IntakeRefusedError(
            "the campaign's suppression files cannot be read here, so its leads cannot be "
            "screened: " + "; ".join(str(p) for p in found.problems)
        )
    return found


async def _after_adding(store: Store, loaded: ImportResult) -> None:
    """A finished campaign with leads to dial again is active again (workers serve it); one
    cancelled meanwhile skips them, as its cancel would have."""
    if not loaded.report.in_file:
        return
    row = await store.campaign(loaded.campaign_id)
    if row is None:
        return
    if row.status is CampaignStatus.FINISHED:
        await reopen_if_new_leads(store, row.id)
    elif row.status is CampaignStatus.CANCELLED:
        await store.cancel(row.id)


def checked_numbers(raw: list[str], region: str | None) -> list[str]:
    """`raw` numbers as E.164 (national ones read in `region`), or InputError naming each one
    that is not a number (by its place in the list, from 1)."""
    numbers, problems = [], []
    for index, entry in enumerate(raw, start=1):
        try:
            numbers.append(normalize_number(entry, region))
        except InvalidNumberError as exc:
            problems.append(Problem(BODY, index, "numbers", f"{entry!r}: {exc}"))
    if problems:
        raise InputError(problems)
    return numbers
