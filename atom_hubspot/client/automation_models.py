"""Typed views of what HubSpot's automation APIs answer: workflows (automation v4 flows),
sequences and the owners a sequence is read and sent as. Same rules as `models.py`: every
field optional unless HubSpot cannot answer without it, enum-like fields plain strings,
unknown fields kept.

Flows: https://developers.hubspot.com/docs/api-reference/legacy/automation/workflows/get-workflows
Sequences: https://developers.hubspot.com/docs/api-reference/latest/automation/sequences/get-sequences
Owners: https://developers.hubspot.com/docs/api-reference/crm-crm-owners-v3/guide
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from atom_hubspot.client.models import HubSpotModel


def _ids_as_strings(data: Any, *keys: str) -> Any:
    """HubSpot sends some ids as numbers and some as strings; they are strings here."""
    if isinstance(data, dict):
        data = dict(data)
        for key in keys:
            if data.get(key) is not None and not isinstance(data[key], str):
                data[key] = str(data[key])
    return data


# --------------------------------------------------------------------------- flows


class Flow(HubSpotModel):
    """One workflow. The list answers the summary fields only; one flow (and batch read) adds
    `enrollmentCriteria`, `actions` and the rest."""

    id: str
    name: str | None = None
    uuid: str | None = None
    is_enabled: bool | None = None
    flow_type: str | None = None  # WORKFLOW, ACTION_SET
    type: str | None = None  # CONTACT_FLOW, PLATFORM_FLOW
    object_type_id: str | None = None  # "0-1" for contacts
    revision_id: str | None = None
    description: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # LIST_BASED (listFilterBranch), EVENT_BASED, MANUAL, ...: kept as HubSpot sent it.
    enrollment_criteria: dict[str, Any] | None = None
    suppression_list_ids: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _strings(cls, data: Any) -> Any:
        data = _ids_as_strings(data, "id", "revisionId", "objectTypeId")
        if isinstance(data, dict) and isinstance(data.get("suppressionListIds"), list):
            data["suppressionListIds"] = [str(x) for x in data["suppressionListIds"]]
        return data


class FlowPage(HubSpotModel):
    results: list[Flow] = Field(default_factory=list)
    next_after: str | None = None


class HistogramPoint(HubSpotModel):
    """One bucket of a flow's performance: `series` (ENROLLED, UNENROLLED, COMPLETED, ...),
    `bucket` (the bucket's day, YYYY-MM-DD) and `frequency` (how many)."""

    series: str
    bucket: str
    frequency: int = 0


class FlowPerformance(HubSpotModel):
    results: list[HistogramPoint] = Field(default_factory=list)


# --------------------------------------------------------------------------- sequences


class Sequence(HubSpotModel):
    id: str
    name: str | None = None
    user_id: str | None = None
    folder_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    steps: list[dict[str, Any]] = Field(default_factory=list)  # one sequence's read only

    @model_validator(mode="before")
    @classmethod
    def _strings(cls, data: Any) -> Any:
        return _ids_as_strings(data, "id", "userId", "folderId")


class SequencePage(HubSpotModel):
    results: list[Sequence] = Field(default_factory=list)
    next_after: str | None = None
    total: int | None = None


class SequenceEnrollment(HubSpotModel):
    """HubSpot's answer to an enrollment: the enrollment's id and when."""

    id: str
    to_email: str | None = None
    enrolled_at: datetime | None = None
    updated_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _strings(cls, data: Any) -> Any:
        return _ids_as_strings(data, "id")


class ContactSequenceEnrollment(HubSpotModel):
    """The sequence a contact is enrolled in, as HubSpot reports it for the contact.
    https://developers.hubspot.com/docs/api-reference/legacy/automation/sequences/get-enrollment"""

    id: str
    sequence_id: str | None = None
    sequence_name: str | None = None
    to_email: str | None = None
    enrolled_by: str | None = None
    enrolled_by_email: str | None = None
    enrolled_at: datetime | None = None
    updated_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _strings(cls, data: Any) -> Any:
        return _ids_as_strings(data, "id", "sequenceId", "enrolledBy")


# --------------------------------------------------------------------------- owners


class Owner(HubSpotModel):
    """A HubSpot user as an owner: `id` assigns records, `user_id` is the user (what the
    sequences API takes as `userId`)."""

    id: str
    email: str | None = None
    user_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    archived: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _strings(cls, data: Any) -> Any:
        return _ids_as_strings(data, "id", "userId")
