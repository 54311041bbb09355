"""Benchmark: synthetic contacts through the default rule set, end to end.

End to end = from in-memory raw columns (canonical field -> raw values as the sources send
them: HubSpot numbers as text, ISO date strings, Mailchimp floats) to the assignment of every
contact (journey stage + final segment set): field typing, every stage and segment, exclusive
groups, and `BatchResult.assignments()` materialising one `Assignment` per contact.
Data generation and rule loading are not timed. Also times `explain` one contact at a time,
as `syncd segments explain` and the console call it. Prints figures; never fails on them.

Beside it, the real path a sync takes (`--store`, on by default): the same contacts stored as
a merge leaves them (per-source canonical fields in `contacts.attributes`, on a SQLite file),
then `engine.segmentation.segment_store`, which reads them back as typed columns (load:
fetch, decode and merge the attributes JSON), evaluates the rules and builds the planner's
view (assign), handing each batch's views to a sink as a sync hands them to its planner.
Figures `store_*`; the load alone is timed in a second pass (`store_load_s`);
`store_peak_rss_growth_mb` is how far the process's peak RSS rose during the real path.
Seeding the store is not timed.

With `--holdout P` (default 10) every goal segment holds out P percent of its members and the
contacts carry stable ids, as in a sync; `--derived` (default on) adds two segments over the
built-in derived fields (`rfm_score`, `engagement_score`), so RFM quintiles and the engagement
score are computed for every contact. `--holdout 0 --no-derived` measures the plain rules.

    .venv/bin/python bench/segments.py [--contacts 20000] [--seed 1] [--explain 100] [--no-store]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from syncd.engine.profiles.columns import iter_profile_batches  # noqa: E402
from syncd.engine.profiles.read import STATUS_KEY  # noqa: E402
from syncd.engine.segmentation import BATCH, segment_store  # noqa: E402
from syncd.segments import RuleSet, assign, explain, load_mappings  # noqa: E402
from syncd.store import make_engine, upgrade  # noqa: E402
from syncd.store.models import Contact  # noqa: E402
from syncd.store.types import table_of  # noqa: E402
from tests.support.synthetic_profiles import generate_columns  # noqa: E402


def main() -> None:
    """Parse the options, measure, print the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mappings", type=Path, default=ROOT / "mappings")
    parser.add_argument(
        "--explain", type=int, default=100,
        help="also time explain on this many contacts, one call each (0: skip)",
    )  # fmt: skip
    parser.add_argument(
        "--holdout",
        type=float,
        default=10.0,
        help="holdout percent on every goal segment (0: none)",
    )
    parser.add_argument("--store", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure the real path from the store")  # fmt: skip
    parser.add_argument("--derived", action=argparse.BooleanOptionalAction, default=True,
                        help="add segments over rfm_score and engagement_score")  # fmt: skip
    args = parser.parse_args()
    now = datetime(2026, 7, 1, tzinfo=UTC)
    ruleset = refine(args.mappings, args.holdout, args.derived)
    n = args.contacts
    t0 = time.perf_counter()
    # distinct_dates=n: every timestamp unique, so polars' parse cache gets no free ride.
    cols = generate_columns(n, args.seed, now, distinct_dates=n)
    gen_s = time.perf_counter() - t0
    print(f"generated {n} contacts in {gen_s:.1f}s", file=sys.stderr)

    gc.collect()
    gc.freeze()  # the input is long-lived; keep the collector off it, as a daemon would
    t0 = time.perf_counter()
    ids = list(range(1, n + 1)) if args.holdout else None
    result = assign(ruleset, cols, now, ids=ids)
    t_batch = time.perf_counter() - t0
    assignments = list(result.assignments())
    wall = time.perf_counter() - t0
    assert len(assignments) == n

    figures = {
        "contacts": n,
        "segments": len(ruleset.segments),
        "stages": len(ruleset.stages),
        "technique": "columnar polars (rule AST -> expressions); explain reads the same "
        "evaluation, one column per rule node",
        "typing_and_rules_s": round(t_batch, 3),
        "assignments_s": round(wall - t_batch, 3),
        "holdout_pct": args.holdout,
        "derived_fields": list(ruleset.derived_fields),
    }
    if args.explain:
        k = min(args.explain, n)
        rows = [{f: c[i] for f, c in cols.items() if c[i] is not None} for i in range(k)]
        t1 = time.perf_counter()
        for row in rows:
            explain(ruleset, row, now)
        figures["explain_ms"] = round((time.perf_counter() - t1) / k * 1000, 2)
    figures |= {
        "contacts_per_s": round(n / wall),
        "wall_s": round(wall, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.store:
        del assignments, result
        gc.collect()
        # The generated input (tens of millions of objects) stays out of the collector's way:
        # a sync holds nothing like it while it segments.
        gc.freeze()
        figures |= real_path(ruleset, cols, now)
        figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(figures))


def real_path(ruleset: RuleSet, cols: dict[str, list[Any]], now: datetime) -> dict[str, Any]:
    """Store the contacts as a merge would, then time `segment_store` and the load alone."""
    n = len(cols["email"])
    by_source: dict[str, list[str]] = {"hubspot": [], "mailchimp": []}
    for name, field in ruleset.fields.items():
        if name in cols and name != "mailchimp_status":
            by_source["hubspot" if field.hubspot is not None else "mailchimp"].append(name)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'segments.db'}"
        upgrade(url)
        db = make_engine(url)
        with db.begin() as conn:
            for start in range(0, n, 10_000):
                rows = []
                for i in range(start, min(n, start + 10_000)):
                    hubspot = {
                        f: cols[f][i] for f in by_source["hubspot"] if cols[f][i] is not None
                    }
                    mailchimp = {
                        f: cols[f][i] for f in by_source["mailchimp"] if cols[f][i] is not None
                    }
                    mailchimp[STATUS_KEY] = cols["mailchimp_status"][i]
                    rows.append({
                        "workspace": "bench", "email": cols["email"][i], "hubspot_id": str(i + 1),
                        "mailchimp_id": f"m{i + 1}", "attributes": {"hubspot": hubspot,
                        "mailchimp": mailchimp}, "created_at": now, "updated_at": now,
                    })  # fmt: skip
                conn.execute(table_of(Contact).insert(), rows)
        del rows
        gc.collect()
        rss_before = _rss_mb()
        t0 = time.perf_counter()
        # As a sync: each batch's views go to a sink (there, the planner) and are not kept.
        seen = {"views": 0, "sets": set()}

        def sink(views: list[Any]) -> None:
            seen["views"] += len(views)
            seen["sets"].update(id(v.segments) for v in views)

        segmented = segment_store(db, "bench", ruleset, now, sink)
        wall = time.perf_counter() - t0
        assert seen["views"] == n
        per_set = n / len(seen["sets"])
        del segmented
        gc.collect()
        t1 = time.perf_counter()
        loaded = sum(len(b) for b in iter_profile_batches(db, "bench", ruleset, BATCH))
        load = time.perf_counter() - t1
        assert loaded == n
        db.dispose()
    return {
        "store_path": "SQLite file; engine.segmentation.segment_store (load: fetch, decode and "
        "merge the attributes JSON as columns + evaluate + planner views)",
        "store_wall_s": round(wall, 3),
        "store_contacts_per_s": round(n / wall),
        "store_load_s": round(load, 3),
        "store_evaluate_and_assign_s": round(wall - load, 3),
        "store_contacts_per_segment_set": round(per_set, 1),
        "store_peak_rss_growth_mb": round(_rss_mb() - rss_before, 1),
    }


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def refine(mappings: Path, holdout: float, derived: bool) -> RuleSet:
    """The mappings with holdouts on goal segments and segments over derived fields."""
    doc = yaml.safe_load((mappings / "segments.yaml").read_text(encoding="utf-8"))
    for seg in doc["segments"]:
        if seg.get("goal") and holdout:
            seg["holdout"] = holdout
    if derived:
        doc["segments"] += [
            {"key": "rfm-champions", "model": "value", "when": {"field": "rfm_score", "gte": 12}},
            {"key": "engaged-by-score", "model": "engagement",
             "when": {"field": "engagement_score", "gte": 60}},
        ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(mappings / "fields.yaml", Path(tmp) / "fields.yaml")
        (Path(tmp) / "segments.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
        return load_mappings(Path(tmp))


if __name__ == "__main__":
    main()
