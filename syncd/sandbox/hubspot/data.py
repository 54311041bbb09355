"""Seeded demo data for the HubSpot portal: companies, contacts and their deals.

Same `(contacts, rng state, pools, clock)` gives the same data. Dates are relative to the
clock's start, so there are always fresh trials, recent opens and upcoming renewals. A latent
"engagement" score per person drives opens, clicks, page views and conversions; the Mailchimp
audience is later derived from the same people (see `syncd.sandbox.world`).
"""

from __future__ import annotations

import random

from syncd.sandbox.core.clock import Clock, iso_date, iso_ms
from syncd.sandbox.core.random_data import (
    COUNTRIES,
    CW_COUNTRY,
    DAY,
    FREE_MAIL,
    NamePools,
    ch,
    cumulative,
    pick,
    ri,
    slug,
)
from syncd.sandbox.hubspot import property_catalog as hp
from syncd.sandbox.hubspot.state import HsObject, HubSpotState

INDUSTRIES = (
    "COMPUTER_SOFTWARE", "INFORMATION_TECHNOLOGY_AND_SERVICES", "MARKETING_AND_ADVERTISING",
    "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL", "EDUCATION_MANAGEMENT",
    "MANUFACTURING", "REAL_ESTATE", "NONPROFIT_ORGANIZATION_MANAGEMENT",
)  # fmt: skip
INDUSTRY_WEIGHTS = (22, 16, 14, 10, 8, 8, 6, 6, 5, 5)
B2B_TITLES = (
    "Marketing Manager", "Head of Growth", "VP Sales", "Sales Development Rep", "CTO", "CEO",
    "Founder", "Software Engineer", "Product Manager", "Operations Manager", "Data Analyst",
    "RevOps Manager", "Customer Success Manager", "CFO", "Office Manager",
)  # fmt: skip
LIFECYCLE_WEIGHTS = (12, 30, 15, 8, 8, 22, 3, 2)
LEAD_STATUS_WEIGHTS = (20, 15, 12, 8, 10, 15, 12, 8)
DEAL_STAGES = (
    "appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
    "decisionmakerboughtin", "contractsent", "closedwon", "closedlost",
)  # fmt: skip
EMAIL_NAMES = ("Monthly Newsletter", "Product Update", "Webinar Invite", "Trial Tips", "Renewal")

_CW_STAGE = cumulative(LIFECYCLE_WEIGHTS)
_CW_LEAD = cumulative(LEAD_STATUS_WEIGHTS)
_CW_INDUSTRY = cumulative(INDUSTRY_WEIGHTS)


def company_count(contacts: int) -> int:
    """How many companies a portal of `contacts` contacts gets."""
    return max(5, contacts // 8)


def generate_portal(
    contacts: int, rng: random.Random, pools: NamePools, clock: Clock
) -> HubSpotState:
    """Build a portal with `contacts` contacts, their companies and deals, and a few dirty rows.

    Args:
        contacts: Number of contacts.
        rng: The seeded random stream; the Mailchimp audience goes on drawing from it after.
        pools: Names to pick from (`name_pools` for the same seed).
        clock: The sandbox clock; generated dates are relative to its start.

    Returns:
        The populated portal state.
    """
    now = clock.base_ms
    state = HubSpotState(clock=clock)
    state.properties = hp.default_contact_properties()
    n_companies = company_count(contacts)

    # Companies
    for i in range(n_companies):
        cid = 10_000_000 + i + 1
        name = pools.companies[i % len(pools.companies)]
        if i >= len(pools.companies):
            name = f"{name} {COUNTRIES[i // len(pools.companies) % len(COUNTRIES)][2][0]}"
        country = pick(rng, COUNTRIES, CW_COUNTRY)
        employees = int(10 ** rng.uniform(0, 4.3))
        created = now - ri(rng, 30, 2000) * DAY
        state.companies[cid] = HsObject(
            cid,
            {
                "name": name,
                "domain": f"{slug(name)}{i // len(pools.companies) or ''}.com",
                "industry": pick(rng, INDUSTRIES, _CW_INDUSTRY),
                "numberofemployees": str(employees),
                "annualrevenue": str(employees * ri(rng, 40, 250) * 1000),
                "country": country[0],
                "city": ch(rng, country[2]),
                "createdate": iso_ms(created),
                "hs_lastmodifieddate": iso_ms(created + ri(rng, 0, 25) * DAY),
                "hs_object_id": str(cid),
            },
            created,
            created,
        )
    company_ids = list(state.companies)

    emails_seen: set[str] = set()
    deal_id = 20_000_000
    for i in range(contacts):
        cid = i + 1
        first = ch(rng, pools.first)
        last = ch(rng, pools.last)
        country = pick(rng, COUNTRIES, CW_COUNTRY)
        stage = pick(rng, hp.LIFECYCLE_STAGES, _CW_STAGE)
        engagement = rng.betavariate(2, 5)
        created = now - int(rng.triangular(1, 1500, 60) * DAY) - ri(rng, 0, DAY)
        company_id = ch(rng, company_ids) if rng.random() < 0.8 else None
        company = state.companies[company_id] if company_id else None
        domain = company.props["domain"] if company else ch(rng, FREE_MAIL)
        local = f"{slug(first)}.{slug(last)}"
        email = f"{local}@{domain}"
        k = 2
        while email in emails_seen:
            email = f"{local}{k}@{domain}"
            k += 1
        emails_seen.add(email)
        p: dict[str, str] = {
            "email": email,
            "firstname": first,
            "lastname": last,
            "country": country[0],
            "city": ch(rng, country[2]),
            "jobtitle": ch(rng, B2B_TITLES) if rng.random() < 0.7 else ch(rng, pools.jobs),
            "lifecyclestage": stage,
            "createdate": iso_ms(created),
            "hs_object_id": str(cid),
            "hs_analytics_source": ch(rng, hp.ANALYTICS_SOURCES),
        }
        if rng.random() < 0.1:
            p["phone"] = f"+1 555 {ri(rng, 100, 999)} {ri(rng, 1000, 9999)}"
        if stage not in ("subscriber", "other") and rng.random() < 0.8:
            p["hs_lead_status"] = pick(rng, hp.LEAD_STATUSES, _CW_LEAD)
        if company is not None:
            p["company"] = company.props["name"]
            p["industry"] = company.props["industry"]
            p["associatedcompanyid"] = str(company_id)
            emp = int(company.props["numberofemployees"])
            bounds = (5, 25, 50, 100, 500, 1000)
            p["numemployees"] = hp.NUMEMPLOYEES[sum(1 for b in bounds if emp > b)]
            state.contact_companies[cid] = [company_id]  # type: ignore[list-item]
        age_days = max(1, (now - created) // DAY)
        # Email engagement
        delivered = min(int(age_days / 7 * rng.uniform(0.3, 1.0)), 120)
        if delivered:
            opens = int(delivered * min(1.0, engagement * rng.uniform(0.6, 1.6)))
            clicks = int(opens * engagement * rng.uniform(0.2, 0.8))
            last_send = now - ri(rng, 1, 14) * DAY + ri(rng, 0, DAY)
            p["hs_email_delivered"] = str(delivered)
            p["hs_email_open"] = str(opens)
            p["hs_email_click"] = str(clicks)
            p["hs_email_bounce"] = str(int(rng.random() < 0.03))
            p["hs_email_last_send_date"] = iso_ms(last_send)
            p["hs_email_last_email_name"] = ch(rng, EMAIL_NAMES)
            if opens:
                recency = int((1 - engagement) ** 2 * min(age_days, 365)) + ri(rng, 0, 5)
                last_open = min(last_send, now - recency * DAY - ri(rng, 0, DAY))
                p["hs_email_last_open_date"] = iso_ms(last_open)
                p["hs_email_first_open_date"] = iso_ms(created + ri(rng, 1, 10) * DAY)
                p["hs_email_sends_since_last_engagement"] = str(recency // 7)
                if clicks:
                    p["hs_email_last_click_date"] = iso_ms(last_open - ri(rng, 0, 20) * DAY)
            p["hs_email_optout"] = "true" if rng.random() < 0.04 else "false"
        # Web engagement
        visits = int(engagement * 40 * rng.uniform(0.2, 1.5))
        p["hs_analytics_num_visits"] = str(visits)
        p["hs_analytics_num_page_views"] = str(int(visits * rng.uniform(1, 4)))
        if visits:
            last_visit = now - int((1 - engagement) * 120 * rng.random()) * DAY
            p["hs_analytics_last_visit_timestamp"] = iso_ms(last_visit - ri(rng, 0, DAY))
        conv = int(engagement * 6 * rng.random())
        p["num_conversion_events"] = str(conv)
        p["hs_analytics_num_event_completions"] = str(conv + ri(rng, 0, 3))
        if conv:
            p["recent_conversion_date"] = iso_ms(now - ri(rng, 0, 200) * DAY)
        # Product
        if stage in ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity") and (
            rng.random() < 0.35
        ):
            p["trial_started_at"] = iso_ms(now - ri(rng, 0, 60 * DAY))
            p["plan"] = "trial"
        elif stage in ("customer", "evangelist"):
            p["plan"] = pick(rng, ("starter", "professional", "enterprise"), [5, 8, 9])
            # About one customer in ten let the renewal lapse over a month ago (churned).
            p["renewal_date"] = iso_date(now + ri(rng, -75, 365) * DAY)
        elif rng.random() < 0.3:
            p["plan"] = "free"
        # Deals
        n_deals = 0
        if stage in ("opportunity", "customer", "evangelist") or (
            stage == "salesqualifiedlead" and rng.random() < 0.4
        ):
            n_deals = pick(rng, (1, 2, 3), [6, 9, 10])
        won_total = 0
        deal_ids: list[int] = []
        for d in range(n_deals):
            deal_id += 1
            if stage in ("customer", "evangelist") and d == 0:
                dstage = "closedwon"
            elif stage == "opportunity" and d == 0:
                dstage = ch(rng, DEAL_STAGES[:5])
            else:
                dstage = ch(rng, DEAL_STAGES)
            amount = round(rng.lognormvariate(8.5, 0.9), -1)
            dcreated = created + ri(rng, 0, max(1, age_days)) * DAY // 2
            closedate = dcreated + ri(rng, 7, 120) * DAY
            won = dstage == "closedwon"
            won_total += int(amount) if won else 0
            state.deals[deal_id] = HsObject(
                deal_id,
                {
                    "dealname": f"{p.get('company', last)} - {ch(rng, hp.PLANS[2:]).title()}",
                    "amount": f"{amount:.0f}",
                    "dealstage": dstage,
                    "pipeline": "default",
                    "closedate": iso_ms(closedate),
                    "createdate": iso_ms(dcreated),
                    "hs_lastmodifieddate": iso_ms(min(now, closedate)),
                    "hs_is_closed_won": "true" if won else "false",
                    "hs_is_closed": "true" if dstage.startswith("closed") else "false",
                    "hs_object_id": str(deal_id),
                },
                dcreated,
                min(now, closedate),
            )
            deal_ids.append(deal_id)
        if deal_ids:
            state.contact_deals[cid] = deal_ids
            p["num_associated_deals"] = str(len(deal_ids))
            p["recent_deal_amount"] = state.deals[deal_ids[-1]].props["amount"]
        if won_total:
            p["total_revenue"] = str(won_total)
            p["hs_analytics_revenue"] = str(won_total)
        modified = created + int((now - created) * rng.random() ** 0.5)
        p["lastmodifieddate"] = iso_ms(modified)
        state.contacts[cid] = HsObject(cid, p, created, modified)
        state.contact_ids.append(cid)
        state.email_index[email] = cid

    state.next_contact_id = contacts + 1
    _dirty(state, rng)
    return state


def _dirty(state: HubSpotState, rng: random.Random) -> None:
    """Mixed-case and padded emails and one contact without email.

    Never two contacts with one address (not even differing in case or padding): HubSpot's
    email is unique per portal, and the sandbox's own create and update refuse that with 409,
    so seeded data must not hold it either.
    """
    ids = state.contact_ids
    if len(ids) < 10:
        return
    for cid in rng.sample(ids[4:], max(1, len(ids) // 50)):
        c = state.contacts[cid]
        email = c.props["email"]
        fixed = email.title() if rng.random() < 0.6 else f"  {email} "
        c.props["email"] = fixed
    no_email = ids[1]
    state.email_index.pop(state.contacts[no_email].props.pop("email"), None)
