"""Deterministic demo data: a few hundred contacts, companies and deals spread over stages,
lifecycle stages and the past year, plus lists, campaigns and marketing emails.

Most of its length is data (names, domains, stages, campaigns); the code is the loops that
spread it deterministically from one random seed."""

from __future__ import annotations

import random
import uuid
from typing import Any

from atom_hubspot.sandbox.objects import COMPANIES, CONTACTS, DEALS, iso_ms, lead_score_definition
from atom_hubspot.sandbox.state import Campaign, CrmList, Portal, Record

FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Dennis",
    "Barbara",
    "Ken",
    "Radia",
    "Edsger",
    "Frances",
    "John",
    "Katherine",
    "Tim",
    "Hedy",
    "Donald",
    "Sophie",
    "Yukihiro",
    "Guido",
    "Anita",
    "Niklaus",
    "Joan",
    "Bjarne",
    "Shafi",
    "Leslie",
    "Mary",
    "Vint",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Ritchie",
    "Liskov",
    "Thompson",
    "Perlman",
    "Dijkstra",
    "Allen",
    "McCarthy",
    "Johnson",
    "Berners-Lee",
    "Lamarr",
    "Knuth",
    "Wilson",
    "Matsumoto",
    "van Rossum",
    "Borg",
    "Wirth",
    "Clarke",
    "Stroustrup",
    "Goldwasser",
    "Lamport",
    "Keller",
    "Cerf",
]
WORDS = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Aperture",
    "Massive",
    "Oscorp",
    "Pied",
    "Gringotts",
    "Nakatomi",
    "Monarch",
    "Dunder",
]
SUFFIX = ["Labs", "Systems", "Industries", "Analytics", "Works", "Group", "Digital", "Foods"]
INDUSTRIES = [
    "COMPUTER_SOFTWARE",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "RETAIL",
    "MARKETING_AND_ADVERTISING",
    "EDUCATION_MANAGEMENT",
    "LOGISTICS_AND_SUPPLY_CHAIN",
]
CITIES = [
    ("Boston", "United States"),
    ("Dublin", "Ireland"),
    ("Berlin", "Germany"),
    ("Paris", "France"),
    ("Singapore", "Singapore"),
    ("Sydney", "Australia"),
    ("Toronto", "Canada"),
    ("Tokyo", "Japan"),
]
LIFECYCLE_WEIGHTS = [
    ("subscriber", 20),
    ("lead", 30),
    ("marketingqualifiedlead", 15),
    ("salesqualifiedlead", 10),
    ("opportunity", 10),
    ("customer", 12),
    ("evangelist", 3),
]
STAGE_WEIGHTS = [
    ("appointmentscheduled", 18),
    ("qualifiedtobuy", 16),
    ("presentationscheduled", 14),
    ("decisionmakerboughtin", 10),
    ("contractsent", 8),
    ("closedwon", 20),
    ("closedlost", 14),
]
N_COMPANIES, N_CONTACTS, N_DEALS = 80, 300, 160
DAY = 86_400.0


def _weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in table], weights=[w for _, w in table])[0]


def seed_portal(portal: Portal, rng: random.Random, now: float) -> None:
    today = now - now % DAY
    companies = []
    for i in range(N_COMPANIES):
        name = f"{WORDS[i % len(WORDS)]} {SUFFIX[(i // len(WORDS)) % len(SUFFIX)]}"
        city, country = rng.choice(CITIES)
        created = today - rng.uniform(30, 400) * DAY
        domain = name.lower().replace(" ", "") + ".example"
        rec = portal.create(
            COMPANIES,
            {
                "name": name,
                "domain": domain,
                "industry": rng.choice(INDUSTRIES),
                "numberofemployees": str(rng.choice([8, 25, 60, 120, 400, 1500, 8000])),
                "city": city,
                "country": country,
                "createdate": iso_ms(created),
            },
            created,
        )
        companies.append(rec)
    contacts = []
    for i in range(N_CONTACTS):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(companies)
        created = today - rng.uniform(0, 365) * DAY
        email = f"{first}.{last}.{i}".lower().replace(" ", "") + "@" + company.properties["domain"]
        rec = portal.create(
            CONTACTS,
            {
                "email": email,
                "firstname": first,
                "lastname": last,
                "phone": f"+1 617 555 {i:04d}",
                "company": company.properties["name"],
                "lifecyclestage": _weighted(rng, LIFECYCLE_WEIGHTS),
                "hs_lead_status": rng.choice(["NEW", "OPEN", "IN_PROGRESS", "CONNECTED"]),
                "city": company.properties.get("city", ""),
                "createdate": iso_ms(created),
            },
            created,
            [
                {
                    "to": {"id": str(company.id)},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1},
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279},
                    ],
                }
            ],
        )
        rec.updated = min(now, created + rng.uniform(0, 60) * DAY)
        # updatedAt and the modification-date property are one timestamp at HubSpot: a sync
        # by modification date must see what updatedAt says changed.
        rec.properties[CONTACTS.modified_prop] = iso_ms(rec.updated)
        contacts.append(rec)
    for i in range(N_DEALS):
        contact = rng.choice(contacts)
        company_id = next(
            (tid for tid, _ in portal.associated("contacts", contact.id, "companies")), None
        )
        stage = _weighted(rng, STAGE_WEIGHTS)
        created = today - rng.uniform(0, 330) * DAY
        closed = stage in ("closedwon", "closedlost")
        close = created + rng.uniform(10, 90) * DAY
        links = [
            {
                "to": {"id": str(contact.id)},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
            }
        ]
        if company_id is not None:
            links.append(
                {
                    "to": {"id": str(company_id)},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5},
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341},
                    ],
                }
            )
        rec = portal.create(
            DEALS,
            {
                "dealname": f"{contact.properties.get('company', 'Deal')} - "
                f"{rng.choice(['Pilot', 'Renewal', 'Expansion', 'Platform', 'Support'])}"
                f" #{i + 1}",
                "amount": str(rng.choice([1200, 4500, 9000, 15000, 25000, 48000, 120000])),
                "pipeline": "default",
                "dealstage": stage,
                "closedate": iso_ms(min(close, now) if closed else close + 30 * DAY),
                "dealtype": rng.choice(["newbusiness", "existingbusiness"]),
                "createdate": iso_ms(created),
            },
            created,
            links,
        )
        rec.updated = min(now, created + rng.uniform(0, 30) * DAY)
        rec.properties[DEALS.modified_prop] = iso_ms(rec.updated)

    # Lists: one of each processing type.
    manual = CrmList(
        portal.next_list_id,
        "Newsletter subscribers",
        "MANUAL",
        "0-1",
        None,
        today - 200 * DAY,
        today - 2 * DAY,
    )
    manual.members = {c.id: c.created for c in contacts[::6]}
    portal.next_list_id += 1
    customers = {
        "filterBranchType": "OR",
        "filters": [],
        "filterBranches": [
            {
                "filterBranchType": "AND",
                "filterBranches": [],
                "filters": [
                    {
                        "filterType": "PROPERTY",
                        "property": "lifecyclestage",
                        "operation": {
                            "operationType": "ENUMERATION",
                            "operator": "IS_ANY_OF",
                            "values": ["customer", "evangelist"],
                        },
                    }
                ],
            }
        ],
    }
    dynamic = CrmList(
        portal.next_list_id,
        "Customers",
        "DYNAMIC",
        "0-1",
        customers,
        today - 150 * DAY,
        today - 150 * DAY,
    )
    portal.next_list_id += 1
    snapshot = CrmList(
        portal.next_list_id,
        "Spring webinar attendees",
        "SNAPSHOT",
        "0-1",
        customers,
        today - 90 * DAY,
        today - 90 * DAY,
    )
    snapshot.members = {c.id: today - 90 * DAY for c in contacts[1::9]}
    portal.next_list_id += 1
    for lst in (manual, dynamic, snapshot):
        portal.lists[lst.list_id] = lst
    seed_automation(portal, manual.list_id, today)

    # Campaigns, and marketing emails belonging to them.
    names = [
        "Spring launch",
        "Summer webinar series",
        "Autumn product tour",
        "Holiday promotion",
        "Customer onboarding",
        "Partner enablement",
    ]
    campaign_ids = []
    for n, name in enumerate(names):
        guid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        start = today - (330 - n * 55) * DAY
        portal.campaigns[guid] = Campaign(
            guid,
            {
                "hs_name": name,
                "hs_start_date": iso_ms(start)[:10],
                "hs_end_date": iso_ms(start + 45 * DAY)[:10],
                "hs_notes": f"{name}: seeded by the sandbox",
                "hs_currency_code": "USD",
                "hs_campaign_status": "active" if n >= 4 else "completed",
            },
            start - 10 * DAY,
            start,
        )
        campaign_ids.append((guid, start))
    email_id = 100_000_001
    for n in range(12):
        guid, start = campaign_ids[n % len(campaign_ids)]
        published = n < 10
        ts = start + (n // len(campaign_ids)) * 14 * DAY + DAY
        portal.emails[email_id] = {
            "id": str(email_id),
            "name": f"{names[n % len(names)]} — email {n // 6 + 1}",
            "subject": f"{names[n % len(names)]}: news for {{{{ contact.firstname }}}}",
            "type": "AUTOMATED_EMAIL" if n % 4 == 3 else "BATCH_EMAIL",
            "state": "PUBLISHED" if published else "DRAFT",
            "isPublished": published,
            "publishDate": iso_ms(ts) if published else None,
            "campaign": guid,
            "from": {"fromName": "ATOM Demo", "replyTo": "hello@atom.example"},
            "createdAt": iso_ms(ts - 5 * DAY),
            "updatedAt": iso_ms(ts),
            "archived": False,
            "language": "en",
            "_published_ts": ts if published else None,
        }
        if published:
            sent = rng.randint(800, 5000)
            delivered = sent - rng.randint(5, 60)
            opened = int(delivered * rng.uniform(0.18, 0.45))
            clicked = int(opened * rng.uniform(0.08, 0.3))
            portal.email_stats[email_id] = {
                "sent": sent,
                "delivered": delivered,
                "open": opened,
                "click": clicked,
                "bounce": sent - delivered,
                "unsubscribed": rng.randint(0, 25),
                "spamreport": rng.randint(0, 3),
            }
            # The same history as events (one aggregate each, at the send), for campaign metrics.
            for kind, count, at in (
                ("SENT", sent, ts),
                ("OPEN", opened, ts + 3600),
                ("CLICK", clicked, ts + 7200),
            ):
                portal.email_events.append(
                    {"at": at, "emailId": email_id, "type": kind, "count": count, "recipient": None}
                )
        email_id += 1

    # Scores last, from their own generator: the data above stays as it was.
    seed_scores(portal, contacts, random.Random(rng.getrandbits(64)), now)  # noqa: S311


def _list_based(condition: dict[str, Any], *, unenroll: bool) -> dict[str, Any]:
    """List-based enrollment criteria of one condition (an OR of one AND branch), as a flow
    answers them. With `unenroll`, records that stop meeting it leave the flow.
    https://developers.hubspot.com/docs/api-reference/crm-lists-v3/list-filters"""
    return {
        "type": "LIST_BASED",
        "shouldReEnroll": False,
        "unEnrollObjectsNotMeetingCriteria": unenroll,
        "reEnrollmentTriggersFilterBranches": [],
        "listFilterBranch": {
            "filterBranchType": "OR",
            "filterBranchOperator": "OR",
            "filters": [],
            "filterBranches": [
                {
                    "filterBranchType": "AND",
                    "filterBranchOperator": "AND",
                    "filterBranches": [],
                    "filters": [condition],
                }
            ],
        },
    }


def seed_automation(portal: Portal, nurture_list_id: int, today: float) -> None:
    """Two workflows (a list-based nurture fed by a MANUAL list, and a property-based
    onboarding flow that is off) and one sequence of the portal's user."""
    created = iso_ms(today - 120 * DAY)
    common = {"flowType": "WORKFLOW", "type": "CONTACT_FLOW", "objectTypeId": "0-1"}
    portal.flows["585051946"] = {
        "id": "585051946",
        "uuid": str(uuid.UUID(int=585051946, version=4)),
        "name": "Newsletter nurture",
        "description": "Three emails over two weeks for new newsletter subscribers",
        "isEnabled": True,
        "revisionId": "7",
        "createdAt": created,
        "updatedAt": iso_ms(today - 10 * DAY),
        "startActionId": "1",
        "nextAvailableActionId": "4",
        "actions": [
            {
                "actionId": "1",
                "type": "SINGLE_CONNECTION",
                "actionTypeId": "0-4",
                "fields": {"content_id": "100000001"},
                "connection": {"edgeType": "STANDARD", "nextActionId": "2"},
            },
            {
                "actionId": "2",
                "type": "SINGLE_CONNECTION",
                "actionTypeId": "0-1",
                "fields": {"delta": "10080", "time_unit": "MINUTES"},
                "connection": {"edgeType": "STANDARD", "nextActionId": "3"},
            },
            {
                "actionId": "3",
                "type": "SINGLE_CONNECTION",
                "actionTypeId": "0-4",
                "fields": {"content_id": "100000002"},
            },
        ],
        "enrollmentCriteria": _list_based(
            {"filterType": "IN_LIST", "listId": str(nurture_list_id), "operator": "IN_LIST"},
            unenroll=True,
        ),
        "suppressionListIds": [],
        "timeWindows": [],
        "blockedDates": [],
        "customProperties": {},
        "canEnrollFromSalesforce": False,
        **common,
    }
    portal.flows["585051947"] = {
        "id": "585051947",
        "uuid": str(uuid.UUID(int=585051947, version=4)),
        "name": "Customer onboarding",
        "description": "Welcome series for contacts who become customers",
        "isEnabled": False,
        "revisionId": "3",
        "createdAt": created,
        "updatedAt": iso_ms(today - 30 * DAY),
        "startActionId": "1",
        "nextAvailableActionId": "2",
        "actions": [
            {
                "actionId": "1",
                "type": "SINGLE_CONNECTION",
                "actionTypeId": "0-4",
                "fields": {"content_id": "100000005"},
            },
        ],
        "enrollmentCriteria": _list_based(
            {
                "filterType": "PROPERTY",
                "property": "lifecyclestage",
                "operation": {
                    "operationType": "ENUMERATION",
                    "operator": "IS_ANY_OF",
                    "values": ["customer"],
                    "includeObjectsWithNoValueSet": False,
                },
            },
            unenroll=False,
        ),
        "suppressionListIds": [],
        "timeWindows": [],
        "blockedDates": [],
        "customProperties": {},
        "canEnrollFromSalesforce": False,
        **common,
    }
    portal.sequences["421001"] = {
        "id": "421001",
        "name": "Demo request follow-up",
        "userId": str(portal.user_id),
        "folderId": "11",
        "createdAt": created,
        "updatedAt": iso_ms(today - 5 * DAY),
        "steps": [
            {
                "id": "1",
                "stepOrder": 0,
                "actionType": "EMAIL",
                "delayMillis": 0,
                "createdAt": created,
                "updatedAt": created,
            },
            {
                "id": "2",
                "stepOrder": 1,
                "actionType": "TASK",
                "delayMillis": 172_800_000,
                "createdAt": created,
                "updatedAt": created,
            },
            {
                "id": "3",
                "stepOrder": 2,
                "actionType": "EMAIL",
                "delayMillis": 432_000_000,
                "createdAt": created,
                "updatedAt": created,
            },
        ],
        "dependencies": [],
    }


# The lead scoring tool's score the demo portal has published (a fit score, which may go
# below zero when rules subtract more than others add).
LEAD_SCORE = ("lead_fit_score", "Contact fit score")


def seed_scores(portal: Portal, contacts: list[Record], rng: random.Random, now: float) -> None:
    """`hubspotscore` (HubSpot's legacy default score) and one lead scoring tool score on the
    contacts, with values spread over 0..100 (the fit score also a little below), and some
    contacts without a score. Scores are calculated by HubSpot: no modification date moves."""
    name, label = LEAD_SCORE
    portal.property_defs.setdefault(CONTACTS.name, {})[name] = lead_score_definition(
        CONTACTS, name, label=label, created=now - 200 * DAY
    )
    portal.extra_properties.setdefault(CONTACTS.name, set()).add(name)
    for rec in contacts:
        if rng.random() < 0.9:
            rec.properties["hubspotscore"] = str(rng.randint(0, 100))
        if rng.random() < 0.85:
            rec.properties[name] = str(rng.randint(-10, 100))
