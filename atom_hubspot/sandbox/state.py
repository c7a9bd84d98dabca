"""In-memory state of one sandbox portal: CRM records, associations, pipelines, lists,
campaigns, marketing emails and the sends performed.

One module on purpose: `Portal`'s methods are the sandbox's only write path, where every change
also becomes a webhook/journal event, and its record types are only meaningful beside it."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from atom_hubspot.sandbox.errors import ApiError, validation
from atom_hubspot.sandbox.objects import (
    OBJECT_TYPES,
    PROPERTY_TYPES,
    READ_ONLY,
    VALUE_KINDS,
    ObjectType,
    PropertyCheck,
    iso_ms,
)

# (from, to) -> (unlabelled default type id, primary type id or None), HubSpot-defined.
ASSOCIATION_TYPES: dict[tuple[str, str], tuple[int, int | None]] = {
    ("contacts", "companies"): (279, 1),
    ("companies", "contacts"): (280, 2),
    ("deals", "contacts"): (3, None),
    ("contacts", "deals"): (4, None),
    ("deals", "companies"): (341, 5),
    ("companies", "deals"): (342, 6),
}
INVERSE_TYPE = {279: 280, 280: 279, 1: 2, 2: 1, 3: 4, 4: 3, 341: 342, 342: 341, 5: 6, 6: 5}
TYPE_NAMES = {
    279: "contact_to_company_unlabeled",
    1: "contact_to_company",
    280: "company_to_contact_unlabeled",
    2: "company_to_contact",
    3: "deal_to_contact",
    4: "contact_to_deal",
    341: "deal_to_company_unlabeled",
    5: "deal_to_company",
    342: "company_to_deal_unlabeled",
    6: "company_to_deal",
}
PRIMARY_IDS = {1, 2, 5, 6}

DEFAULT_STAGES: list[tuple[str, str, str, bool]] = [
    # id, label, probability, closed
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("presentationscheduled", "Presentation Scheduled", "0.6", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
    ("contractsent", "Contract Sent", "0.9", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
]


@dataclass
class Record:
    id: int
    properties: dict[str, str]
    created: float
    updated: float
    archived: bool = False
    archived_at: float | None = None
    # What HubSpot's search index holds until it catches up with the latest write: the
    # properties and modification time before it (None: the record was created by it).
    indexed: tuple[dict[str, str], float] | None = None

    def search_view(self, cutoff: float) -> Record | None:
        """The record as search sees it when the index holds writes up to `cutoff`: itself,
        its state before the latest write, or nothing (created after the cutoff)."""
        if self.updated <= cutoff:
            return self
        if self.indexed is None:  # no older state kept: visible once its creation is indexed
            return self if self.created <= cutoff else None
        props, updated = self.indexed
        return Record(self.id, props, self.created, updated, self.archived, self.archived_at)


@dataclass
class Stage:
    id: str
    label: str
    display_order: int
    probability: str
    closed: bool
    created: float
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "displayOrder": self.display_order,
            "metadata": {
                "probability": self.probability,
                "isClosed": "true" if self.closed else "false",
            },
            "archived": self.archived,
            "createdAt": iso_ms(self.created),
            "updatedAt": iso_ms(self.created),
            "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
        }


@dataclass
class Pipeline:
    id: str
    label: str
    display_order: int
    stages: list[Stage]
    created: float
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "displayOrder": self.display_order,
            "archived": self.archived,
            "createdAt": iso_ms(self.created),
            "updatedAt": iso_ms(self.created),
            "stages": [s.to_json() for s in self.stages],
        }


@dataclass
class CrmList:
    list_id: int
    name: str
    processing_type: str
    object_type_id: str
    filter_branch: dict[str, Any] | None
    created: float
    updated: float
    members: dict[int, float] = field(default_factory=dict)  # record id -> added at


@dataclass
class Campaign:
    id: str
    properties: dict[str, str | None]
    created: float
    updated: float


@dataclass
class Portal:
    portal_id: int
    hub_domain: str
    account_type: str = "STANDARD"
    time_zone: str = "US/Eastern"
    company_currency: str = "USD"
    data_hosting_location: str = "na1"
    ui_domain: str = "app.hubspot.com"
    marketing_tier: str = "enterprise"
    transactional_addon: bool = True
    # Sequences need a Sales Hub (or Service Hub) Professional seat.
    sales_tier: str = "professional"
    user_id: int = 7000001
    owner_id: int = 8000001  # the portal user as a CRM owner (owners API)
    user_email: str = "owner@example.com"
    next_id: int = 1001
    records: dict[str, dict[int, Record]] = field(
        default_factory=lambda: {name: {} for name in OBJECT_TYPES}
    )
    # (type, id) -> {(to type, to id): {type ids}}
    associations: dict[tuple[str, int], dict[tuple[str, int], set[int]]] = field(
        default_factory=dict
    )
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    lists: dict[int, CrmList] = field(default_factory=dict)
    next_list_id: int = 1
    campaigns: dict[str, Campaign] = field(default_factory=dict)
    # Workflows (automation v4 flows) as HubSpot answers one flow: flow id -> JSON.
    flows: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Sequences (id -> JSON with steps) and their enrollments, oldest first.
    sequences: dict[str, dict[str, Any]] = field(default_factory=dict)
    sequence_enrollments: list[dict[str, Any]] = field(default_factory=list)
    emails: dict[int, dict[str, Any]] = field(default_factory=dict)
    email_stats: dict[int, dict[str, int]] = field(default_factory=dict)
    # What happened to marketing emails, oldest first: {"at", "emailId", "type" (SENT, OPEN,
    # CLICK), "count", "recipient" (None for a seeded aggregate)}; campaign metrics follow it.
    email_events: list[dict[str, Any]] = field(default_factory=list)
    sends: list[dict[str, Any]] = field(default_factory=list)
    send_ids: dict[str, str] = field(default_factory=dict)  # sendId -> statusId
    extra_properties: dict[str, set[str]] = field(default_factory=dict)
    # Custom properties created through the Properties API: type -> name -> definition JSON.
    property_defs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    # Dedup keys of live records (contact email, company domain): type -> value -> id.
    unique_index: dict[str, dict[str, int]] = field(default_factory=dict)
    # Change events as HubSpot's webhooks and journal report them, oldest first, until the
    # sandbox's webhook dispatcher and journal take them (see sandbox/webhooks.py).
    changes: list[dict[str, Any]] = field(default_factory=list)
    next_event_id: int = 1
    # Who is making the current changes: "API" through the API, "CRM_UI" as a user in HubSpot.
    change_source: str = "API"
    # Ids merged away: type -> merged id -> surviving id (reads of the old id answer the new).
    merged: dict[str, dict[int, int]] = field(default_factory=dict)

    def clone(self) -> Portal:
        """A copy sharing nothing mutable (cheaper than copy.deepcopy for seeded portals)."""

        def rec(r: Record) -> Record:
            return Record(r.id, dict(r.properties), r.created, r.updated, r.archived, r.archived_at)

        def lst(x: CrmList) -> CrmList:
            return CrmList(
                x.list_id,
                x.name,
                x.processing_type,
                x.object_type_id,
                copy.deepcopy(x.filter_branch),
                x.created,
                x.updated,
                dict(x.members),
            )

        out = copy.copy(self)
        out.records = {t: {i: rec(r) for i, r in rs.items()} for t, rs in self.records.items()}
        out.associations = {
            k: {k2: set(v2) for k2, v2 in v.items()} for k, v in self.associations.items()
        }
        out.pipelines = copy.deepcopy(self.pipelines)
        out.lists = {i: lst(x) for i, x in self.lists.items()}
        out.campaigns = {
            g: Campaign(c.id, dict(c.properties), c.created, c.updated)
            for g, c in self.campaigns.items()
        }
        out.emails = {i: copy.deepcopy(e) for i, e in self.emails.items()}
        out.flows = copy.deepcopy(self.flows)
        out.sequences = copy.deepcopy(self.sequences)
        out.sequence_enrollments = [dict(x) for x in self.sequence_enrollments]
        out.email_stats = {i: dict(v) for i, v in self.email_stats.items()}
        out.email_events = [dict(x) for x in self.email_events]
        out.sends = [dict(x) for x in self.sends]
        out.send_ids = dict(self.send_ids)
        out.extra_properties = {k: set(v) for k, v in self.extra_properties.items()}
        out.property_defs = copy.deepcopy(self.property_defs)
        out.unique_index = {k: dict(v) for k, v in self.unique_index.items()}
        out.changes = []
        out.merged = {k: dict(v) for k, v in self.merged.items()}
        return out

    # ------------------------------------------------------------------ email events

    def record_email_event(
        self, email_id: int, kind: str, at: float, recipient: str | None = None, count: int = 1
    ) -> None:
        """A send, open or click of a marketing email: its statistics and its campaign's
        metrics both follow these."""
        self.email_events.append(
            {"at": at, "emailId": email_id, "type": kind, "count": count, "recipient": recipient}
        )
        stats = self.email_stats.setdefault(email_id, {})
        for counter in {"SENT": ("sent", "delivered"), "OPEN": ("open",), "CLICK": ("click",)}[
            kind
        ]:
            stats[counter] = stats.get(counter, 0) + count

    # ------------------------------------------------------------------ change events

    def emit(self, subscription_type: str, now: float, **fields: Any) -> None:
        """Record a change as HubSpot would report it to webhook subscribers.
        https://developers.hubspot.com/docs/api-reference/webhooks-webhooks-v3/guide"""
        self.changes.append(
            {
                "eventId": self.next_event_id,
                "portalId": self.portal_id,
                "occurredAt": int(now * 1000),
                "subscriptionType": subscription_type,
                "attemptNumber": 0,
                "changeSource": self.change_source,
                **fields,
            }
        )
        self.next_event_id += 1

    # ------------------------------------------------------------------ properties

    def property_check(self, otype: ObjectType) -> PropertyCheck:
        known = dict(PROPERTY_TYPES[otype.name])
        for name in self.extra_properties.get(otype.name, ()):
            known.setdefault(name, "string")
        read_only = set(READ_ONLY)
        for name, definition in self.property_defs.get(otype.name, {}).items():
            # Values of a created property are checked by its declared type.
            known[name] = VALUE_KINDS.get(str(definition.get("type")), "string")
            if (definition.get("modificationMetadata") or {}).get("readOnlyValue"):
                read_only.add(name)  # e.g. a lead score: HubSpot calculates it
        return PropertyCheck(otype, known, read_only=frozenset(read_only))

    def unique_properties(self, otype: ObjectType) -> set[str]:
        """Properties whose values are unique: the type's own (contact email) and custom ones
        made with hasUniqueValue. Upserts and idProperty reads key on these."""
        custom = {
            name
            for name, d in self.property_defs.get(otype.name, {}).items()
            if d.get("hasUniqueValue")
        }
        return custom | ({otype.unique_prop} if otype.unique_prop else set())

    def known_properties(self, otype: ObjectType) -> set[str]:
        return set(PROPERTY_TYPES[otype.name]) | self.extra_properties.get(otype.name, set())

    # ------------------------------------------------------------------ records

    def live(self, otype: ObjectType, record_id: Any) -> Record | None:
        try:
            rid = int(str(record_id))
        except ValueError:
            return None
        rec = self.records[otype.name].get(rid)
        return rec if rec is not None and not rec.archived else None

    def find_by(self, otype: ObjectType, prop: str, value: str) -> Record | None:
        v = value.strip().lower()
        if prop == otype.unique_prop:
            rid = self.unique_index.get(otype.name, {}).get(v)
            return self.live(otype, rid) if rid is not None else None
        for rec in self.records[otype.name].values():
            if not rec.archived and rec.properties.get(prop, "").lower() == v and v:
                return rec
        return None

    def get_by(self, otype: ObjectType, key: str, id_property: str | None) -> Record | None:
        if id_property and id_property != "hs_object_id":
            if id_property not in self.known_properties(otype):
                raise validation(
                    f"Property {id_property} does not exist",
                    [
                        {
                            "message": f"Property {id_property} does not exist",
                            "code": "PROPERTY_DOESNT_EXIST",
                        }
                    ],
                )
            if id_property not in self.unique_properties(otype):
                raise validation(
                    f"{id_property} is not a unique property of {otype.name}: only "
                    "hs_object_id and unique-value properties identify a record",
                    [{"message": "not a unique-value property", "in": "idProperty"}],
                )
            return self.find_by(otype, id_property, key)
        return self.live(otype, key)

    def _index(self, otype: ObjectType, rec: Record, old: str | None) -> None:
        if otype.unique_prop is None:
            return
        idx = self.unique_index.setdefault(otype.name, {})
        if old and idx.get(old.lower()) == rec.id:
            del idx[old.lower()]
        new = rec.properties.get(otype.unique_prop)
        if new and not rec.archived:
            idx[new.lower()] = rec.id

    def _check_unique(
        self, otype: ObjectType, props: dict[str, str], own_id: int | None = None
    ) -> None:
        for prop in sorted(self.unique_properties(otype)):
            if not props.get(prop):
                continue
            other = self.find_by(otype, prop, props[prop])
            if other is not None and other.id != own_id:
                raise ApiError(
                    409,
                    f"{otype.singular.capitalize()} already exists. Existing ID: {other.id}",
                    "CONFLICT",
                )

    def _apply_deal_rules(self, props: dict[str, str], merged: dict[str, str]) -> None:
        if "dealstage" not in props and "pipeline" not in props:
            return
        pipeline_id = merged.get("pipeline") or "default"
        pipeline = self.pipelines.get(pipeline_id)
        if pipeline is None:
            raise validation(
                f"{pipeline_id} is not a valid pipeline ID",
                [
                    {
                        "message": f"{pipeline_id} is not a valid pipeline ID",
                        "code": "INVALID_OPTION",
                        "context": {"propertyName": ["pipeline"]},
                    }
                ],
            )
        stage_id = merged.get("dealstage")
        if not stage_id:
            return
        stage = next((s for s in pipeline.stages if s.id == stage_id), None)
        if stage is None:
            msg = f"{stage_id} is not a valid deal stage ID in pipeline {pipeline_id}"
            raise validation(
                msg,
                [
                    {
                        "message": msg,
                        "code": "INVALID_OPTION",
                        "context": {"propertyName": ["dealstage"]},
                    }
                ],
            )
        merged["pipeline"] = pipeline_id
        merged["hs_is_closed"] = "true" if stage.closed else "false"
        merged["hs_is_closed_won"] = (
            "true" if stage.closed and stage.probability != "0.0" else "false"
        )
        merged["hs_deal_stage_probability"] = stage.probability

    def create(
        self, otype: ObjectType, raw_props: Any, now: float, associations: Any = None
    ) -> Record:
        props = self.property_check(otype).clean(raw_props or {}, for_create=True)
        self._check_unique(otype, props)
        links = self._check_inline_associations(otype, associations)
        merged = {k: v for k, v in props.items() if v != ""}
        if otype.name == "deals":
            self._apply_deal_rules(props, merged)
        rid = self.next_id
        self.next_id += 1
        created = now
        if "createdate" in merged:
            from atom_hubspot.sandbox.objects import parse_datetime

            created = parse_datetime(merged["createdate"]) or now
        merged["createdate"] = iso_ms(created)
        merged[otype.modified_prop] = iso_ms(now)
        merged["hs_object_id"] = str(rid)
        rec = Record(rid, merged, created, now)
        self.records[otype.name][rid] = rec
        self._index(otype, rec, None)
        self.emit(f"{otype.singular}.creation", now, objectId=rid)
        for to_type, to_id, type_id in links:
            self.link(otype.name, rid, to_type, to_id, type_id, now=now)
        return rec

    def update(self, otype: ObjectType, rec: Record, raw_props: Any, now: float) -> Record:
        props = self.property_check(otype).clean(raw_props or {}, for_create=False)
        self._check_unique(otype, props, own_id=rec.id)
        merged = dict(rec.properties)
        for k, v in props.items():
            if v == "":
                merged.pop(k, None)  # "" clears a value
            else:
                merged[k] = v
        if otype.name == "deals":
            self._apply_deal_rules(props, merged)
        merged[otype.modified_prop] = iso_ms(now)
        old = rec.properties.get(otype.unique_prop) if otype.unique_prop else None
        changed = {k: merged.get(k, "") for k in props if merged.get(k) != rec.properties.get(k)}
        rec.indexed = (rec.properties, rec.updated)
        rec.properties = merged
        rec.updated = now
        self._index(otype, rec, old)
        for name, value in changed.items():
            self.emit(
                f"{otype.singular}.propertyChange",
                now,
                objectId=rec.id,
                propertyName=name,
                propertyValue=value,
            )
        return rec

    def update_as_user(self, otype: ObjectType, rec: Record, raw_props: Any, now: float) -> Record:
        """`update`, as a user in HubSpot's UI makes it (its events say changeSource CRM_UI)."""
        self.change_source = "CRM_UI"
        try:
            return self.update(otype, rec, raw_props, now)
        finally:
            self.change_source = "API"

    def archive(self, otype: ObjectType, rec: Record, now: float) -> None:
        rec.archived = True
        self._index(otype, rec, rec.properties.get(otype.unique_prop or "", None))
        rec.archived_at = now
        rec.updated = now
        self.emit(f"{otype.singular}.deletion", now, objectId=rec.id)

    def merge(self, otype: ObjectType, primary: Record, other: Record, now: float) -> Record:
        """`other` merges into `primary`: the primary keeps its id and gains the other's values
        where it has none, its associations move over, and the other id is gone (reads of it
        answer the primary). https://knowledge.hubspot.com/records/merge-records"""
        for k, v in other.properties.items():
            if k not in primary.properties and v not in (None, ""):
                primary.properties[k] = v
        ids = [
            *(primary.properties.get("hs_merged_object_ids") or "").split(";"),
            *(other.properties.get("hs_merged_object_ids") or "").split(";"),
            str(other.id),
        ]
        primary.properties["hs_merged_object_ids"] = ";".join(i for i in ids if i)
        links = list(self.associations.get((otype.name, other.id), {}).items())
        for (to_type, to_id), types in links:
            for type_id in types:
                self.link(otype.name, primary.id, to_type, to_id, type_id)
        self._forget(otype, other)
        merged = self.merged.setdefault(otype.name, {})
        for old, new in list(merged.items()):
            if new == other.id:
                merged[old] = primary.id
        merged[other.id] = primary.id
        primary.properties[otype.modified_prop] = iso_ms(now)
        primary.updated = now
        self.emit(
            f"{otype.singular}.merge",
            now,
            objectId=primary.id,
            primaryObjectId=primary.id,
            mergedObjectIds=[other.id],
            newObjectId=primary.id,
        )
        return primary

    def gdpr_delete(self, otype: ObjectType, rec: Record, now: float) -> None:
        """Permanently delete a record and what links to it (a privacy deletion)."""
        self._forget(otype, rec)
        for lst in self.lists.values():
            lst.members.pop(rec.id, None)
        if otype.name == "contacts":
            self.emit("contact.privacyDeletion", now, objectId=rec.id)

    def _forget(self, otype: ObjectType, rec: Record) -> None:
        if otype.unique_prop:
            key = (rec.properties.get(otype.unique_prop) or "").lower()
            if key and self.unique_index.get(otype.name, {}).get(key) == rec.id:
                del self.unique_index[otype.name][key]
        for to_type, to_id in list(self.associations.get((otype.name, rec.id), {})):
            self.unlink(otype.name, rec.id, to_type, to_id)
        self.associations.pop((otype.name, rec.id), None)
        del self.records[otype.name][rec.id]

    def bulk_create(
        self,
        otype: ObjectType,
        count: int,
        now: float,
        *,
        modified: float | None = None,
        properties: dict[str, str] | None = None,
    ) -> list[int]:
        """`count` records at once, every one stamped with the same modification time when
        `modified` is given (as HubSpot's own imports and bulk jobs do)."""
        stamp = now if modified is None else modified
        ids: list[int] = []
        base = dict(properties or {})
        for _ in range(count):
            rid = self.next_id
            self.next_id += 1
            props = dict(base)
            if otype.unique_prop == "email":
                props["email"] = f"bulk{rid}@bulk.example"
            elif otype.name == "companies":
                props["domain"] = f"bulk{rid}.example"
            props["createdate"] = iso_ms(stamp)
            props[otype.modified_prop] = iso_ms(stamp)
            props["hs_object_id"] = str(rid)
            rec = Record(rid, props, stamp, stamp)
            self.records[otype.name][rid] = rec
            self._index(otype, rec, None)
            ids.append(rid)
        return ids

    # ------------------------------------------------------------------ associations

    def _check_inline_associations(
        self, otype: ObjectType, associations: Any
    ) -> list[tuple[str, int, int]]:
        if not associations:
            return []
        if not isinstance(associations, list):
            raise validation("associations must be a list")
        links: list[tuple[str, int, int]] = []
        for assoc in associations:
            try:
                to_id = int(str(assoc["to"]["id"]))
                types = assoc["types"]
            except (KeyError, TypeError, ValueError):
                raise validation("Invalid association: expected {to:{id}, types:[...]}") from None
            for t in types:
                type_id = t.get("associationTypeId") if isinstance(t, dict) else None
                category = t.get("associationCategory") if isinstance(t, dict) else None
                pair = next(
                    (
                        (f, to)
                        for (f, to), ids in ASSOCIATION_TYPES.items()
                        if f == otype.name and type_id in ids
                    ),
                    None,
                )
                if pair is None or category != "HUBSPOT_DEFINED":
                    raise validation(
                        f"{category} {type_id} is not a valid association type from "
                        f"{otype.singular}",
                        [
                            {
                                "message": "invalid association type",
                                "code": "INVALID_ASSOCIATION_TYPE",
                            }
                        ],
                    )
                to_type = OBJECT_TYPES[pair[1]]
                if self.live(to_type, to_id) is None:
                    msg = f"No {to_type.singular} with ID {to_id} exists"
                    raise validation(msg, [{"message": msg, "code": "OBJECT_NOT_FOUND"}])
                links.append((to_type.name, to_id, int(str(type_id))))
        return links

    def link(
        self,
        from_type: str,
        from_id: int,
        to_type: str,
        to_id: int,
        type_id: int,
        *,
        now: float | None = None,
    ) -> None:
        self.associations.setdefault((from_type, from_id), {}).setdefault(
            (to_type, to_id), set()
        ).add(type_id)
        self.associations.setdefault((to_type, to_id), {}).setdefault(
            (from_type, from_id), set()
        ).add(INVERSE_TYPE[type_id])
        if now is not None:
            self._emit_association(from_type, from_id, to_type, to_id, now, removed=False)

    def _emit_association(
        self, from_type: str, from_id: int, to_type: str, to_id: int, now: float, *, removed: bool
    ) -> None:
        singular = OBJECT_TYPES[from_type].singular
        self.emit(
            f"{singular}.associationChange",
            now,
            objectId=from_id,
            associationType=f"{singular}_TO_{OBJECT_TYPES[to_type].singular}".upper(),
            fromObjectId=from_id,
            toObjectId=to_id,
            associationRemoved=removed,
        )

    def link_default(
        self, from_type: str, from_id: int, to_type: str, to_id: int, *, now: float | None = None
    ) -> int:
        type_id = ASSOCIATION_TYPES[(from_type, to_type)][0]
        self.link(from_type, from_id, to_type, to_id, type_id, now=now)
        return type_id

    def unlink(
        self, from_type: str, from_id: int, to_type: str, to_id: int, *, now: float | None = None
    ) -> bool:
        a = self.associations.get((from_type, from_id), {}).pop((to_type, to_id), None)
        self.associations.get((to_type, to_id), {}).pop((from_type, from_id), None)
        if a is not None and now is not None:
            self._emit_association(from_type, from_id, to_type, to_id, now, removed=True)
        return a is not None

    def associated(self, from_type: str, from_id: int, to_type: str) -> list[tuple[int, set[int]]]:
        out: list[tuple[int, set[int]]] = []
        to_otype = OBJECT_TYPES[to_type]
        for (t, tid), types in sorted(self.associations.get((from_type, from_id), {}).items()):
            if t == to_type and types and self.live(to_otype, tid) is not None:
                out.append((tid, types))
        return out

    # ------------------------------------------------------------------ pipelines

    def seed_default_pipeline(self, now: float) -> None:
        stages = [
            Stage(sid, label, n, prob, closed, now)
            for n, (sid, label, prob, closed) in enumerate(DEFAULT_STAGES)
        ]
        self.pipelines["default"] = Pipeline("default", "Sales Pipeline", 0, stages, now)
