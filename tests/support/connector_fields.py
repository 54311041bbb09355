"""The field paths the connector tests read from each vendor: a realistic mix of plain,
nested and derived (deal and company) fields."""

from __future__ import annotations

from connectors.base import FieldMap

HUBSPOT_PATHS = {
    "email": "email",
    "first_name": "firstname",
    "lifecycle_stage": "lifecyclestage",
    "deals_won": "deals.won_count",
    "revenue": "deals.won_amount",
    "industry": "company.industry",
}
MAILCHIMP_PATHS = {
    "email": "email_address",
    "first_name": "merge_fields.FNAME",
    "open_rate": "stats.avg_open_rate",
    "country": "location.country_code",
    "member_rating": "member_rating",
}
FIELDS = FieldMap.from_paths(hubspot=HUBSPOT_PATHS, mailchimp=MAILCHIMP_PATHS)
