"""Seeded demo data: HubSpot contacts, companies and deals, and an overlapping Mailchimp audience.

Same `(contacts, seed, now)` gives the same data. Faker is slow per call, so it fills small
pools (names, companies, jobs) once per seed and a `random.Random` picks from them. Dates are
relative to `now`, so there are always fresh trials, recent opens and upcoming renewals. A
latent "engagement" score per person drives opens, clicks, page views and Mailchimp rates, so
engagement segments line up across both systems.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from faker import Faker

from syncd.sandbox import hubspot_props as hp
from syncd.sandbox.state import (
    Clock,
    HsObject,
    McMember,
    McSegment,
    State,
    iso_date,
    iso_ms,
    subscriber_hash,
)

DAY = 86_400_000

# code, weight, cities, language, timezone, region
COUNTRIES: tuple[tuple[str, float, tuple[str, ...], str, str, str], ...] = (
    ("US", 35, ("New York", "San Francisco", "Austin", "Chicago", "Boston", "Seattle", "Denver"),
     "en", "America/New_York", "NY"),
    ("GB", 12, ("London", "Manchester", "Bristol", "Edinburgh", "Leeds"), "en", "Europe/London",
     "ENG"),
    ("DE", 10, ("Berlin", "Munich", "Hamburg", "Cologne", "Frankfurt"), "de", "Europe/Berlin",
     "BE"),
    ("FR", 8, ("Paris", "Lyon", "Marseille", "Toulouse", "Lille"), "fr", "Europe/Paris", "IDF"),
    ("CA", 6, ("Toronto", "Vancouver", "Montreal", "Calgary"), "en", "America/Toronto", "ON"),
    ("IN", 5, ("Bangalore", "Mumbai", "Delhi", "Pune"), "en", "Asia/Kolkata", "KA"),
    ("AU", 5, ("Sydney", "Melbourne", "Brisbane", "Perth"), "en", "Australia/Sydney", "NSW"),
    ("NL", 4, ("Amsterdam", "Rotterdam", "Utrecht"), "nl", "Europe/Amsterdam", "NH"),
    ("ES", 4, ("Madrid", "Barcelona", "Valencia", "Seville"), "es", "Europe/Madrid", "MD"),
    ("BR", 4, ("São Paulo", "Rio de Janeiro", "Belo Horizonte"), "pt", "America/Sao_Paulo", "SP"),
    ("JP", 3, ("Tokyo", "Osaka", "Yokohama"), "ja", "Asia/Tokyo", "13"),
    ("SE", 2, ("Stockholm", "Gothenburg"), "sv", "Europe/Stockholm", "AB"),
    ("IE", 2, ("Dublin", "Cork"), "en", "Europe/Dublin", "D"),
)  # fmt: skip
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
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com")
DEAL_STAGES = (
    "appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
    "decisionmakerboughtin", "contractsent", "closedwon", "closedlost",
)  # fmt: skip
HAND_TAGS = ("VIP", "Webinar 2025", "Newsletter", "Customer Advisory Board")
EMAIL_NAMES = ("Monthly Newsletter", "Product Update", "Webinar Invite", "Trial Tips", "Renewal")


MC_STATUSES = ("subscribed", "unsubscribed", "cleaned", "archived", "pending")
_T = TypeVar("_T")


def _cum(weights: Sequence[float]) -> list[float]:
    return list(itertools.accumulate(weights))


_CW_COUNTRY = _cum([c[1] for c in COUNTRIES])
_CW_STAGE = _cum(LIFECYCLE_WEIGHTS)
_CW_LEAD = _cum(LEAD_STATUS_WEIGHTS)
_CW_INDUSTRY = _cum(INDUSTRY_WEIGHTS)
_CW_STATUS = _cum((82, 9, 4, 3, 2))


def _pick(rng: random.Random, items: Sequence[_T], cum: list[float]) -> _T:
    """Weighted choice with precomputed cumulative weights (`random.choices` is slow per call)."""
    return items[bisect.bisect(cum, rng.random() * cum[-1])]


def _ri(rng: random.Random, a: int, b: int) -> int:
    """Uniform integer in [a, b], cheaper than `randint`."""
    return a + int(rng.random() * (b - a + 1))


def _ch(rng: random.Random, items: Sequence[_T]) -> _T:
    """Uniform choice, cheaper than `random.choice`."""
    return items[int(rng.random() * len(items))]


@dataclass(frozen=True)
class _Pools:
    first: list[str]
    last: list[str]
    companies: list[str]
    jobs: list[str]


def _pools(seed: int, n_companies: int) -> _Pools:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    return _Pools(
        first=[fake.first_name() for _ in range(400)],
        last=[fake.last_name() for _ in range(400)],
        companies=[fake.company() for _ in range(n_companies)],
        jobs=[fake.job() for _ in range(120)],
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower()) or "x"


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def generate(contacts: int, seed: int, clock: Clock) -> State:
    """Build a fresh world with `contacts` HubSpot contacts (see `_generate`).

    The cyclic garbage collector is paused while it runs: generation allocates hundreds of
    thousands of small dicts and nothing cyclic, and the pauses would double its time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(contacts, seed, clock)
    finally:
        if enabled:
            gc.enable()


def _generate(contacts: int, seed: int, clock: Clock) -> State:
    """Build a fresh world with `contacts` HubSpot contacts.

    Args:
        contacts: Number of HubSpot contacts (Mailchimp gets about 80% of them plus 10% more).
        seed: Seed for every random choice.
        clock: The sandbox clock; generated dates are relative to its start.

    Returns:
        The populated state.
    """
    rng = random.Random(seed)
    now = clock.base_ms
    state = State(seed=seed, clock=clock)
    state.properties = hp.default_contact_properties()
    n_companies = max(5, contacts // 8)
    pools = _pools(seed, min(n_companies, 800))

    # Companies
    for i in range(n_companies):
        cid = 10_000_000 + i + 1
        name = pools.companies[i % len(pools.companies)]
        if i >= len(pools.companies):
            name = f"{name} {COUNTRIES[i // len(pools.companies) % len(COUNTRIES)][2][0]}"
        country = _pick(rng, COUNTRIES, _CW_COUNTRY)
        employees = int(10 ** rng.uniform(0, 4.3))
        created = now - _ri(rng, 30, 2000) * DAY
        state.companies[cid] = HsObject(
            cid,
            {
                "name": name,
                "domain": f"{_slug(name)}{i // len(pools.companies) or ''}.com",
                "industry": _pick(rng, INDUSTRIES, _CW_INDUSTRY),
                "numberofemployees": str(employees),
                "annualrevenue": str(employees * _ri(rng, 40, 250) * 1000),
                "country": country[0],
                "city": _ch(rng, country[2]),
                "createdate": iso_ms(created),
                "hs_lastmodifieddate": iso_ms(created + _ri(rng, 0, 25) * DAY),
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
        first = _ch(rng, pools.first)
        last = _ch(rng, pools.last)
        country = _pick(rng, COUNTRIES, _CW_COUNTRY)
        stage = _pick(rng, hp.LIFECYCLE_STAGES, _CW_STAGE)
        engagement = rng.betavariate(2, 5)
        created = now - int(rng.triangular(1, 1500, 60) * DAY) - _ri(rng, 0, DAY)
        company_id = _ch(rng, company_ids) if rng.random() < 0.8 else None
        company = state.companies[company_id] if company_id else None
        domain = company.props["domain"] if company else _ch(rng, FREE_MAIL)
        local = f"{_slug(first)}.{_slug(last)}"
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
            "city": _ch(rng, country[2]),
            "jobtitle": _ch(rng, B2B_TITLES) if rng.random() < 0.7 else _ch(rng, pools.jobs),
            "lifecyclestage": stage,
            "createdate": iso_ms(created),
            "hs_object_id": str(cid),
            "hs_analytics_source": _ch(rng, hp.ANALYTICS_SOURCES),
        }
        if rng.random() < 0.1:
            p["phone"] = f"+1 555 {_ri(rng, 100, 999)} {_ri(rng, 1000, 9999)}"
        if stage not in ("subscriber", "other") and rng.random() < 0.8:
            p["hs_lead_status"] = _pick(rng, hp.LEAD_STATUSES, _CW_LEAD)
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
            last_send = now - _ri(rng, 1, 14) * DAY + _ri(rng, 0, DAY)
            p["hs_email_delivered"] = str(delivered)
            p["hs_email_open"] = str(opens)
            p["hs_email_click"] = str(clicks)
            p["hs_email_bounce"] = str(int(rng.random() < 0.03))
            p["hs_email_last_send_date"] = iso_ms(last_send)
            p["hs_email_last_email_name"] = _ch(rng, EMAIL_NAMES)
            if opens:
                recency = int((1 - engagement) ** 2 * min(age_days, 365)) + _ri(rng, 0, 5)
                last_open = min(last_send, now - recency * DAY - _ri(rng, 0, DAY))
                p["hs_email_last_open_date"] = iso_ms(last_open)
                p["hs_email_first_open_date"] = iso_ms(created + _ri(rng, 1, 10) * DAY)
                p["hs_email_sends_since_last_engagement"] = str(recency // 7)
                if clicks:
                    p["hs_email_last_click_date"] = iso_ms(last_open - _ri(rng, 0, 20) * DAY)
            p["hs_email_optout"] = "true" if rng.random() < 0.04 else "false"
        # Web engagement
        visits = int(engagement * 40 * rng.uniform(0.2, 1.5))
        p["hs_analytics_num_visits"] = str(visits)
        p["hs_analytics_num_page_views"] = str(int(visits * rng.uniform(1, 4)))
        if visits:
            last_visit = now - int((1 - engagement) * 120 * rng.random()) * DAY
            p["hs_analytics_last_visit_timestamp"] = iso_ms(last_visit - _ri(rng, 0, DAY))
        conv = int(engagement * 6 * rng.random())
        p["num_conversion_events"] = str(conv)
        p["hs_analytics_num_event_completions"] = str(conv + _ri(rng, 0, 3))
        if conv:
            p["recent_conversion_date"] = iso_ms(now - _ri(rng, 0, 200) * DAY)
        # Product
        if stage in ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity") and (
            rng.random() < 0.35
        ):
            p["trial_started_at"] = iso_ms(now - _ri(rng, 0, 60 * DAY))
            p["plan"] = "trial"
        elif stage in ("customer", "evangelist"):
            p["plan"] = _pick(rng, ("starter", "professional", "enterprise"), [5, 8, 9])
            # About one customer in ten let the renewal lapse over a month ago (churned).
            p["renewal_date"] = iso_date(now + _ri(rng, -75, 365) * DAY)
        elif rng.random() < 0.3:
            p["plan"] = "free"
        # Deals
        n_deals = 0
        if stage in ("opportunity", "customer", "evangelist") or (
            stage == "salesqualifiedlead" and rng.random() < 0.4
        ):
            n_deals = _pick(rng, (1, 2, 3), [6, 9, 10])
        won_total = 0
        deal_ids: list[int] = []
        for d in range(n_deals):
            deal_id += 1
            if stage in ("customer", "evangelist") and d == 0:
                dstage = "closedwon"
            elif stage == "opportunity" and d == 0:
                dstage = _ch(rng, DEAL_STAGES[:5])
            else:
                dstage = _ch(rng, DEAL_STAGES)
            amount = round(rng.lognormvariate(8.5, 0.9), -1)
            dcreated = created + _ri(rng, 0, max(1, age_days)) * DAY // 2
            closedate = dcreated + _ri(rng, 7, 120) * DAY
            won = dstage == "closedwon"
            won_total += int(amount) if won else 0
            state.deals[deal_id] = HsObject(
                deal_id,
                {
                    "dealname": f"{p.get('company', last)} - {_ch(rng, hp.PLANS[2:]).title()}",
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
    _audience(state, rng, pools, contacts)
    return state


def _dirty(state: State, rng: random.Random) -> None:
    """Mixed-case and padded emails, one duplicate address, one contact without email."""
    ids = state.contact_ids
    if len(ids) < 10:
        return
    for cid in rng.sample(ids[4:], max(1, len(ids) // 50)):
        c = state.contacts[cid]
        email = c.props["email"]
        fixed = email.title() if rng.random() < 0.6 else f"  {email} "
        c.props["email"] = fixed
    no_email, dup_src, dup = ids[1], ids[2], ids[3]
    state.email_index.pop(state.contacts[no_email].props.pop("email"), None)
    state.email_index.pop(state.contacts[dup].props["email"], None)
    state.contacts[dup].props["email"] = state.contacts[dup_src].props["email"].upper()


def _audience(state: State, rng: random.Random, pools: _Pools, contacts: int) -> None:
    """The one Mailchimp audience: ~80% of contacts, ~10% more people, a few hand-made tags."""
    now = state.clock.base_ms
    state.audience_id = _hex(rng, 10)
    state.audience_created_ms = now - 1500 * DAY
    for name in HAND_TAGS:
        sid = state.next_segment_id
        state.next_segment_id += 1
        created = now - _ri(rng, 60, 700) * DAY
        state.segments[sid] = McSegment(sid, name, "static", created, created)
    tag_ids = list(state.segments)
    statuses = MC_STATUSES
    rows: list[tuple[str, str, str, str, float, int]] = []
    for cid in state.contact_ids:
        c = state.contacts[cid]
        email = c.props.get("email")
        if email and rng.random() < 0.8:
            opens = int(c.props.get("hs_email_open", "0"))
            delivered = int(c.props.get("hs_email_delivered", "0")) or 1
            eng = min(1.0, opens / delivered)
            rows.append(
                (email.strip(), c.props["firstname"], c.props["lastname"], c.props["country"],
                 eng, c.created_ms)
            )  # fmt: skip
    for i in range(max(1, contacts // 10)):
        first, last = _ch(rng, pools.first), _ch(rng, pools.last)
        email = f"{_slug(first)}{_slug(last)}.mc{i}@{_ch(rng, FREE_MAIL)}"
        country = _pick(rng, COUNTRIES, _CW_COUNTRY)[0]
        created = now - _ri(rng, 1, 1000) * DAY
        rows.append((email, first, last, country, rng.betavariate(2, 5), created))
    by_code = {c[0]: c for c in COUNTRIES}
    for email, first, last, code, eng, created in rows:
        h = subscriber_hash(email)
        if h in state.members:
            continue  # the duplicate address lands once
        status = _pick(rng, statuses, _CW_STATUS)
        open_rate = round(min(1.0, max(0.0, eng * rng.uniform(0.7, 1.3))), 4)
        click_rate = round(open_rate * rng.uniform(0.05, 0.4), 4)
        signup = created + _ri(rng, 0, 30) * DAY
        cinfo = by_code[code]
        m = McMember(
            email=email,
            status=status,
            merge_fields={"FNAME": first, "LNAME": last, "ADDRESS": "", "PHONE": ""},
            avg_open_rate=open_rate,
            avg_click_rate=click_rate,
            member_rating=1 + min(4, int(eng * 6)) if status == "subscribed" else 1,
            country_code=code,
            timezone=cinfo[4],
            region=cinfo[5],
            language=cinfo[3],
            signup_ms=min(signup, now),
            opt_ms=min(signup + _ri(rng, 0, 3600_000), now),
            last_changed_ms=min(now, signup + int((now - signup) * rng.random())),
            unique_email_id=_hex(rng, 10),
            contact_id=_hex(rng, 32),
            web_id=_ri(rng, 100_000_000, 999_999_999),
            vip=rng.random() < 0.02,
        )
        if status == "archived":
            m.prior_status = _ch(rng, ("subscribed", "unsubscribed"))
        for sid, share in zip(tag_ids, (0.03, 0.08, 0.15, 0.01), strict=True):
            if rng.random() < share:
                m.tags[sid] = m.signup_ms + DAY
        state.members[h] = m
