"""Seeded synthetic canonical profiles with realistic shapes, for tests and benchmarks.

Test and benchmark data only, so it lives outside the product: `bench/segments.py` imports it
with the repository root on `sys.path`, tests as `tests.support.synthetic_profiles`.

Values arrive as the sources send them: HubSpot numbers as text ("12"), dates as ISO strings,
Mailchimp rates as floats; many fields are missing for many contacts. Columns are generated
whole (fast for a million contacts); correlated fields (deals for customers, trial dates for
trial users) are derived from the lifecycle stage.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

LIFECYCLE = {
    "subscriber": 30, "lead": 25, "marketingqualifiedlead": 12, "salesqualifiedlead": 6,
    "opportunity": 5, "customer": 15, "evangelist": 3, "other": 1, None: 3,
}  # fmt: skip
LEAD_STATUS = {
    "NEW": 30, "OPEN": 20, "IN_PROGRESS": 15, "OPEN_DEAL": 5, "UNQUALIFIED": 10,
    "ATTEMPTED_TO_CONTACT": 10, "CONNECTED": 5, "BAD_TIMING": 5, None: 20,
}  # fmt: skip
COUNTRIES = {"US": 35, "GB": 10, "DE": 10, "FR": 7, "CA": 6, "AT": 2, "CH": 2, "NL": 4,
             "ES": 4, "AU": 5, "BR": 4, "IN": 6, None: 5}  # fmt: skip
CITIES = ["New York", "London", "Berlin", "Paris", "Toronto", "Vienna", "Zurich", "Amsterdam",
          "Madrid", "Sydney", "Sao Paulo", "Bangalore", None]  # fmt: skip
TITLES = {
    "Marketing Manager": 12, "Software Engineer": 10, "VP of Sales": 4, "Director of Marketing": 5,
    "CTO": 2, "Head of Growth": 3, "Account Executive": 8, "Data Analyst": 6, "Founder": 2,
    "Product Manager": 7, "Solutions Architect": 3, "Office Manager": 4, None: 34,
}  # fmt: skip
INDUSTRIES = {"COMPUTER_SOFTWARE": 20, "INFORMATION_TECHNOLOGY_AND_SERVICES": 12, "RETAIL": 10,
              "FINANCIAL_SERVICES": 10, "HEALTH_CARE": 8, "MARKETING_AND_ADVERTISING": 10,
              "EDUCATION_MANAGEMENT": 5, None: 25}  # fmt: skip
SIZES = {"5": 10, "20": 15, "45": 10, "120": 15, "350": 10, "800": 8, "2500": 6, "12000": 3,
         None: 23}  # fmt: skip
PLANS = {"starter": 40, "professional": 35, "enterprise": 25}
MC_STATUS = {"subscribed": 70, "unsubscribed": 10, "cleaned": 3, "pending": 2, None: 15}
LANGUAGES = {"en": 60, "de": 12, "fr": 8, "es": 6, "": 14}
CUSTOMERS = ("customer", "evangelist")


def _pick(rng: random.Random, weights: dict[Any, int], n: int) -> list[Any]:
    return rng.choices(list(weights), weights=list(weights.values()), k=n)


def _iso_pool(
    rng: random.Random, now: datetime, lo_days: int, hi_days: int, size: int = 4096
) -> list[str]:
    """`size` ISO timestamps (ms, "Z") between now+lo_days and now+hi_days (negative: past)."""
    base = now.replace(microsecond=0)
    start, span = lo_days * 86400_000, (hi_days - lo_days) * 86400_000
    out = []
    for _ in range(size):
        at = base + timedelta(milliseconds=start + rng.randrange(span))
        out.append(f"{at.isoformat(timespec='milliseconds')[:-6]}Z")
    return out


def generate_columns(
    n: int, seed: int, now: datetime, distinct_dates: int = 4096
) -> dict[str, list[Any]]:
    """`n` canonical profiles as columns (field name -> raw values).

    Args:
        n: Contacts.
        seed: Same seed, same data.
        now: Relative dates are placed around this instant.
        distinct_dates: Distinct timestamps per date field; use `n` for realistic parsing cost
            (polars caches repeated strings).
    """
    rng = random.Random(seed)
    pool = max(1, distinct_dates)
    cols: dict[str, list[Any]] = {}
    cols["email"] = [f"contact{i}@example.com" for i in range(n)]
    life = cols["lifecycle_stage"] = _pick(rng, LIFECYCLE, n)
    cols["lead_status"] = _pick(rng, LEAD_STATUS, n)
    cols["country"] = _pick(rng, COUNTRIES, n)
    cols["city"] = rng.choices(CITIES, k=n)
    cols["job_title"] = _pick(rng, TITLES, n)
    created = _iso_pool(rng, now, -1500, -1, pool)
    cols["created_at"] = rng.choices(created, k=n)
    counts = [str(i) for i in range(200)]
    opens = rng.choices(range(60), weights=[30] + [60 - i for i in range(1, 60)], k=n)
    cols["email_opens"] = [counts[o] for o in opens]
    cols["email_clicks"] = [counts[o // 4] for o in opens]
    recent, stale = _iso_pool(rng, now, -30, 0, pool), _iso_pool(rng, now, -400, -30, pool)
    cols["last_email_open"] = [
        None if o == 0 else (rng.choice(recent) if o > 10 else rng.choice(stale)) for o in opens
    ]
    cols["page_views"] = [
        None if r < 0.1 else counts[int(r * r * 60)] for r in (rng.random() for _ in range(n))
    ]
    cols["conversions"] = rng.choices([counts[i] for i in range(8)] + [None],
                                      weights=[40, 25, 12, 8, 5, 3, 2, 1, 4], k=n)  # fmt: skip
    rates = [round(i / 100, 2) for i in range(101)]
    rate_w = [max(1, 40 - abs(i - 25)) for i in range(101)]
    cols["open_rate"] = rng.choices(rates, weights=rate_w, k=n)
    cols["click_rate"] = [rates[int(r * 100) // 5] if r is not None else None
                          for r in cols["open_rate"]]  # fmt: skip
    cols["member_rating"] = rng.choices([1, 2, 3, 4, 5, None], weights=[5, 30, 30, 20, 10, 5], k=n)
    cols["mailchimp_status"] = _pick(rng, MC_STATUS, n)
    cols["language"] = _pick(rng, LANGUAGES, n)
    trials = _iso_pool(rng, now, -90, 0, pool)
    cols["trial_started_at"] = [
        rng.choice(trials) if s in ("lead", "marketingqualifiedlead") and rng.random() < 0.25
        else None
        for s in life
    ]  # fmt: skip
    plans = _pick(rng, PLANS, n)
    renewals = _iso_pool(rng, now, -120, 365, pool)
    customer = [s in CUSTOMERS for s in life]
    cols["plan"] = [p if c else None for p, c in zip(plans, customer, strict=True)]
    cols["renewal_date"] = [rng.choice(renewals) if c else None for c in customer]
    won = [rng.choice((1, 1, 1, 2, 3)) if c else 0 for c in customer]
    cols["deals_won"] = [counts[w] for w in won]
    amounts = [str(a) for a in (500, 1500, 4000, 8000, 15000, 30000, 75000)]
    cols["revenue"] = [rng.choice(amounts) if w else None for w in won]
    cols["industry"] = _pick(rng, INDUSTRIES, n)
    cols["company_size"] = _pick(rng, SIZES, n)
    return cols


def generate_rows(n: int, seed: int, now: datetime) -> list[dict[str, Any]]:
    """`n` canonical profiles as rows, without the keys of missing values."""
    cols = generate_columns(n, seed, now)
    names = list(cols)
    return [
        {k: v for k, v in zip(names, values, strict=True) if v is not None}
        for values in zip(*cols.values(), strict=True)
    ]
