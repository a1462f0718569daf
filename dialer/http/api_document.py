"""The API's OpenAPI document: FastAPI's, with its paths under /v1 (where the API is mounted),
the campaign file's schema and a JSON lead's."""

# No `from __future__ import annotations`: FastAPI reads annotations at runtime.

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dialer import __version__
from dialer.http.api_models import LeadItem
from dialer.inputs.campaign_file import CampaignFile


def openapi_document(api: FastAPI) -> dict[str, Any]:
    """The API's OpenAPI document, its paths under /v1 (where it is mounted), with the
    campaign file's schema and a JSON lead's."""
    doc = get_openapi(
        title="dialer",
        version=__version__,
        description="Campaigns, lead intake, control and results of dialer. Every /v1 route "
        "needs `Authorization: Bearer <token>` (`dialer token create NAME [--read-only]`).",
        routes=api.routes,
    )
    doc["paths"] = {f"/v1{path}": item for path, item in doc.get("paths", {}).items()}
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    template = "#/components/schemas/{model}"
    campaign = CampaignFile.model_json_schema(ref_template=template)
    schemas.update(campaign.pop("$defs", {}))
    campaign["required"] = [k for k in campaign.get("required", []) if k not in ("leads", "name")]
    campaign["properties"]["leads"] = {
        "type": "array",
        "items": {"$ref": "#/components/schemas/LeadItem"},
        "description": "Leads added with the campaign (optional)",
    }
    campaign["title"] = "Campaign"
    schemas["Campaign"] = campaign
    schemas["LeadItem"] = LeadItem.model_json_schema(ref_template=template)
    return doc
