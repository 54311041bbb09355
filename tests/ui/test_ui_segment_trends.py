"""The segments page's history chart: a chosen few segments, one metric by date, the lift."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

from syncd.segments.kpis import Moments
from syncd.store.models import SegmentSnapshot
from syncd.store.types import table_of
from syncd.ui.segment_trends import PALETTE
from tests.ui.seed import NOW, WS, Seeded


def moments(n: int, mean: float, var: float) -> dict[str, float | int]:
    return Moments.from_dict({"n": n, "mean": mean, "var": var}).to_dict()


def snapshots(db: Engine) -> None:
    rows = []
    for day in range(3):
        at = NOW - timedelta(days=3 - day)
        for key, size in (("trial-to-paid", 100 + 10 * day), ("newsletter", 400 - day)):
            rows.append(
                {"workspace": WS, "run_id": None, "at": at, "segment": key, "size": size,
                 "entered": 10, "exited": 2, "holdout_size": 10 if key == "trial-to-paid" else 0,
                 "kpis": {"members": {"open_rate": moments(90, 0.30 + day / 100, 0.01)},
                          "holdout": {"open_rate": moments(10, 0.25, 0.01)}}}
            )  # fmt: skip
    with db.begin() as conn:
        conn.execute(insert(table_of(SegmentSnapshot)), rows)


def test_history_chart_shows_the_chosen_segments_and_metric(
    client: TestClient, db: Engine, seeded: Seeded
) -> None:
    snapshots(db)
    page = client.get(
        "/segments", params={"show": ["trial-to-paid", "newsletter"], "metric": "open_rate"}
    ).text
    assert "open_rate by date for trial-to-paid, newsletter" in page
    assert page.count('class="series"') >= 2
    assert f'stroke="{PALETTE[0]}"' in page and f'stroke="{PALETTE[1]}"' in page
    for day in range(3):
        assert (NOW - timedelta(days=3 - day)).date().isoformat() in page
    # A point's tooltip: members and holdout together, (90 x 0.32 + 10 x 0.25) / 100.
    assert "open_rate 0.313</title>" in page
    assert "New Trial Nancy" in page  # persona beside the chart
    assert "Members vs holdout" in page and "not enough data yet" in page


def test_history_chart_ignores_unknown_segments_and_metrics(
    client: TestClient, db: Engine, seeded: Seeded
) -> None:
    snapshots(db)
    response = client.get("/segments", params={"show": "<script>x</script>", "metric": "bogus"})
    assert response.status_code == 200
    page = response.text
    assert "<script>x</script>" not in page
    assert "size by date for renewal-due, trial-to-paid" in page  # the goal segments, by size
    assert client.get("/segments", params={"metric": "a\x00b"}).status_code == 422
