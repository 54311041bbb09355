"""Building blocks both vendors' seeded data generators share.

Countries, free-mail domains, fast weighted and uniform picks, and name pools.

Faker is slow per call, so it fills small pools (first and last names, companies, jobs) once per
seed and a `random.Random` picks from them. Faker is imported inside `name_pools`, so nothing
loads it until data is generated.
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

DAY = 86_400_000  # milliseconds

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
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com")
_T = TypeVar("_T")


def cumulative(weights: Sequence[float]) -> list[float]:
    """Running totals of `weights`, computed once for `pick`."""
    return list(itertools.accumulate(weights))


CW_COUNTRY = cumulative([c[1] for c in COUNTRIES])


def pick(rng: random.Random, items: Sequence[_T], cum: list[float]) -> _T:
    """Weighted choice with precomputed cumulative weights (`random.choices` is slow per call)."""
    return items[bisect.bisect(cum, rng.random() * cum[-1])]


def ri(rng: random.Random, a: int, b: int) -> int:
    """Uniform integer in [a, b], cheaper than `randint`."""
    return a + int(rng.random() * (b - a + 1))


def ch(rng: random.Random, items: Sequence[_T]) -> _T:
    """Uniform choice, cheaper than `random.choice`."""
    return items[int(rng.random() * len(items))]


def slug(text: str) -> str:
    """Lower-case letters and digits only (email local parts, domains)."""
    return re.sub(r"[^a-z0-9]+", "", text.lower()) or "x"


@dataclass(frozen=True)
class NamePools:
    """Faker-made names to pick from."""

    first: list[str]
    last: list[str]
    companies: list[str]
    jobs: list[str]


def name_pools(seed: int, n_companies: int) -> NamePools:
    """Fill the pools for `seed` (the only place faker runs)."""
    from faker import Faker  # imported here: importing the sandbox must not load faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    return NamePools(
        first=[fake.first_name() for _ in range(400)],
        last=[fake.last_name() for _ in range(400)],
        companies=[fake.company() for _ in range(n_companies)],
        jobs=[fake.job() for _ in range(120)],
    )
