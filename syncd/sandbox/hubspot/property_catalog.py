"""The contact property definitions of the sandbox portal.

They are what `GET /crm/v3/properties/contacts` serves.

The property type decides how search compares values (numbers and dates numerically) and which
writes are refused (read-only and unknown properties), as HubSpot does.
"""

from __future__ import annotations

from typing import Any

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)
NUMEMPLOYEES = ("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")
PLANS = ("free", "trial", "starter", "professional", "enterprise")
ANALYTICS_SOURCES = (
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "EMAIL_MARKETING",
    "SOCIAL_MEDIA",
    "REFERRALS",
    "DIRECT_TRAFFIC",
    "OFFLINE",
)

# name, type, fieldType, group, read-only value, options
_S, _N, _DT, _D, _E, _B = "string", "number", "datetime", "date", "enumeration", "bool"
_RO = True
_DEFS: tuple[tuple[str, str, str, str, bool, tuple[str, ...]], ...] = (
    ("email", _S, "text", "contactinformation", False, ()),
    ("firstname", _S, "text", "contactinformation", False, ()),
    ("lastname", _S, "text", "contactinformation", False, ()),
    ("phone", _S, "phonenumber", "contactinformation", False, ()),
    ("company", _S, "text", "contactinformation", False, ()),
    ("jobtitle", _S, "text", "contactinformation", False, ()),
    ("city", _S, "text", "contactinformation", False, ()),
    ("state", _S, "text", "contactinformation", False, ()),
    ("country", _S, "text", "contactinformation", False, ()),
    ("industry", _S, "text", "contactinformation", False, ()),
    ("numemployees", _E, "select", "contactinformation", False, NUMEMPLOYEES),
    ("lifecyclestage", _E, "radio", "contactinformation", False, LIFECYCLE_STAGES),
    ("hs_lead_status", _E, "radio", "sales_properties", False, LEAD_STATUSES),
    ("hubspot_owner_id", _E, "select", "sales_properties", False, ()),
    ("createdate", _DT, "date", "contactinformation", _RO, ()),
    ("lastmodifieddate", _DT, "date", "contactinformation", _RO, ()),
    ("hs_object_id", _N, "number", "contactinformation", _RO, ()),
    ("hs_merged_object_ids", _S, "text", "contactinformation", _RO, ()),
    ("hs_additional_emails", _S, "text", "contactinformation", _RO, ()),
    ("associatedcompanyid", _N, "number", "contactinformation", False, ()),
    ("num_associated_deals", _N, "number", "deal_information", _RO, ()),
    ("total_revenue", _N, "number", "deal_information", _RO, ()),
    ("recent_deal_amount", _N, "number", "deal_information", _RO, ()),
    ("recent_deal_close_date", _DT, "date", "deal_information", _RO, ()),
    ("hs_email_delivered", _N, "number", "emailinformation", _RO, ()),
    ("hs_email_open", _N, "number", "emailinformation", _RO, ()),
    ("hs_email_click", _N, "number", "emailinformation", _RO, ()),
    ("hs_email_bounce", _N, "number", "emailinformation", _RO, ()),
    ("hs_email_replied", _N, "number", "emailinformation", _RO, ()),
    ("hs_email_last_open_date", _DT, "date", "emailinformation", _RO, ()),
    ("hs_email_last_click_date", _DT, "date", "emailinformation", _RO, ()),
    ("hs_email_last_send_date", _DT, "date", "emailinformation", _RO, ()),
    ("hs_email_first_open_date", _DT, "date", "emailinformation", _RO, ()),
    ("hs_email_first_click_date", _DT, "date", "emailinformation", _RO, ()),
    ("hs_email_last_email_name", _S, "text", "emailinformation", _RO, ()),
    ("hs_email_sends_since_last_engagement", _N, "number", "emailinformation", _RO, ()),
    ("hs_email_optout", _B, "booleancheckbox", "emailinformation", _RO, ("true", "false")),
    ("hs_email_quarantined", _B, "booleancheckbox", "emailinformation", _RO, ("true", "false")),
    ("hs_email_bad_address", _B, "booleancheckbox", "emailinformation", _RO, ("true", "false")),
    ("hs_analytics_num_page_views", _N, "number", "analyticsinformation", _RO, ()),
    ("hs_analytics_num_visits", _N, "number", "analyticsinformation", _RO, ()),
    ("hs_analytics_num_event_completions", _N, "number", "analyticsinformation", _RO, ()),
    ("hs_analytics_last_visit_timestamp", _DT, "date", "analyticsinformation", _RO, ()),
    ("hs_analytics_source", _E, "select", "analyticsinformation", _RO, ANALYTICS_SOURCES),
    ("hs_analytics_revenue", _N, "number", "analyticsinformation", _RO, ()),
    ("num_conversion_events", _N, "number", "conversioninformation", _RO, ()),
    ("recent_conversion_date", _DT, "date", "conversioninformation", _RO, ()),
    ("num_contacted_notes", _N, "number", "sales_properties", _RO, ()),
    ("notes_last_contacted", _DT, "date", "sales_properties", _RO, ()),
    ("trial_started_at", _DT, "date", "product_usage", False, ()),
    ("plan", _E, "select", "product_usage", False, PLANS),
    ("renewal_date", _D, "date", "product_usage", False, ()),
)
CUSTOM = frozenset({"trial_started_at", "plan", "renewal_date"})
DEFAULT_CONTACT_PROPS = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
DEFAULT_COMPANY_PROPS = ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name")
DEFAULT_DEAL_PROPS = (
    "amount",
    "closedate",
    "createdate",
    "dealname",
    "dealstage",
    "hs_lastmodifieddate",
    "hs_object_id",
    "pipeline",
)
# Deal and company properties the sandbox knows; the read-only ones HubSpot calculates.
DEAL_PROPS = frozenset({"dealname", "amount", "dealstage", "pipeline", "closedate"})
COMPANY_PROPS = frozenset(
    {"name", "domain", "industry", "numberofemployees", "annualrevenue", "country", "city"}
)
OTHER_READ_ONLY = frozenset(
    {"createdate", "hs_lastmodifieddate", "hs_object_id", "hs_is_closed_won", "hs_is_closed"}
)
PROPERTY_TYPES = ("bool", "date", "datetime", "enumeration", "number", "phone_number", "string")


def property_definition(
    name: str,
    ptype: str,
    field_type: str,
    group: str,
    read_only: bool,
    options: tuple[str, ...] | list[dict[str, Any]],
    *,
    label: str | None = None,
    hubspot_defined: bool = True,
    created_at: str = "2019-08-06T02:41:52.000Z",
) -> dict[str, Any]:
    """One property in the wire shape of the properties API."""
    opts = [
        o if isinstance(o, dict) else {"label": o, "value": o, "displayOrder": i, "hidden": False}
        for i, o in enumerate(options)
    ]
    return {
        "name": name,
        "label": label or name.replace("_", " ").title(),
        "type": ptype,
        "fieldType": field_type,
        "description": "",
        "groupName": group,
        "options": opts,
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": name == "email",
        "hidden": False,
        "hubspotDefined": hubspot_defined,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
        "formField": not read_only,
        "createdAt": created_at,
        "updatedAt": created_at,
        "archived": False,
    }


def default_contact_properties() -> dict[str, dict[str, Any]]:
    """Name → definition for every contact property the portal starts with."""
    return {
        name: property_definition(
            name, ptype, ftype, group, ro, opts, hubspot_defined=name not in CUSTOM
        )
        for name, ptype, ftype, group, ro, opts in _DEFS
    }
