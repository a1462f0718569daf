"""`dialer export`: a campaign's leads (or attempts) as CSV or JSON lines, streamed. The
columns are the store's export fields, defined once beside its queries."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from typing import IO

from dialer.store import ATTEMPT_EXPORT_FIELDS, LEAD_EXPORT_FIELDS, Store


def _cell(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


async def write_export(
    store: Store, name: str, fmt: str, *, per_attempt: bool, out: IO[str]
) -> bool:
    """Write the export to `out`; False when there is no campaign named `name`."""
    campaign_id = await store.campaign_id(name)
    if campaign_id is None:
        return False
    fields = ATTEMPT_EXPORT_FIELDS if per_attempt else LEAD_EXPORT_FIELDS
    rows = (
        store.export_attempt_rows(campaign_id)
        if per_attempt
        else store.export_lead_rows(campaign_id)
    )
    writer = csv.DictWriter(out, fieldnames=fields) if fmt == "csv" else None
    if writer:
        writer.writeheader()
    async for row in rows:
        data = {k: _cell(row.get(k)) for k in fields}
        if writer:
            writer.writerow(
                {k: json.dumps(v) if isinstance(v, dict) else v for k, v in data.items()}
            )
        else:
            out.write(json.dumps(data) + "\n")
    return True
