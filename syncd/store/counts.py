"""A run's figures: what `sync_runs.counts` holds, typed in memory and JSON in the column.

The engine fills a `RunCounts` while a run goes; `finish_run` stores it; `syncd runs`, the
console, the metrics and the empty-pull guard read it back with `RunCounts.from_json`. The JSON
keys are the attribute names, so the stored shape stays readable by hand and by older rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Per-target figure names, in display order: planned by the run, then outcomes of apply.
TARGET_FIGURES = (
    "planned_add",
    "planned_remove",
    "planned_set",
    "added",
    "removed",
    "set",
    "rejected",
    "retry",
    "skipped_consent",
)

TargetFigures = dict[str, int]
"""One target's figures: a name of `TARGET_FIGURES` -> rows (absent when zero)."""


@dataclass
class RunCounts:
    """Everything a run counted.

    Attributes:
        targets: Target key -> its figures (see `TARGET_FIGURES`).
        pulled: Connector -> records pulled.
        api_calls: API -> calls made (a released run adds its own to its planning run's).
        http_429: API -> rate-limit answers received.
        segment_sizes: Segment key -> members after this run's evaluation.
        stage_sizes: Journey stage -> contacts.
        held_reasons: Why guards held the run (empty when they did not).
        drift: Target key -> `removed_by_hand` / `added_by_hand` found by a full pull.
        held: Target -> guard reason, for the targets this run holds (until decided).
        waiting: Target -> the run holding it, for holds this run found waiting and kept.
        decisions: What people decided on this run's holds: `target`, `decision`
            (`released` / `rejected`), `by`, `at` (ISO time).
        deferred: Target -> changes left for a later run (`dwell`: `min_dwell` not yet
            passed; `pull_failed`: removals kept while a vendor's data is stale).
        stale_sources: Connectors whose pull failed: the run used their last stored data.
        undo_of: The run an undo run reverts.
        interrupted: For a run closed by recovery: outbox rows it left `in_flight`/`pending`.
    """

    targets: dict[str, TargetFigures] = field(default_factory=dict)
    pulled: dict[str, int] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    http_429: dict[str, int] = field(default_factory=dict)
    segment_sizes: dict[str, int] = field(default_factory=dict)
    stage_sizes: dict[str, int] = field(default_factory=dict)
    held_reasons: list[str] = field(default_factory=list)
    drift: dict[str, dict[str, int]] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)
    waiting: dict[str, int] = field(default_factory=dict)
    decisions: list[dict[str, str]] = field(default_factory=list)
    deferred: dict[str, dict[str, int]] = field(default_factory=dict)
    stale_sources: list[str] = field(default_factory=list)
    undo_of: int | None = None
    interrupted: dict[str, int] | None = None

    def totals(self) -> dict[str, int]:
        """Each per-target figure summed over targets, every name of `TARGET_FIGURES` present."""
        out = dict.fromkeys(TARGET_FIGURES, 0)
        for figures in self.targets.values():
            for name, value in figures.items():
                out[name] = out.get(name, 0) + int(value)
        return out

    def to_json(self) -> dict[str, Any]:
        """The column's JSON; empty optional parts are left out, as older rows have them."""
        out: dict[str, Any] = {
            "targets": self.targets,
            "pulled": self.pulled,
            "api_calls": self.api_calls,
            "http_429": self.http_429,
        }
        optional: dict[str, Any] = {
            "segment_sizes": self.segment_sizes,
            "stage_sizes": self.stage_sizes,
            "held_reasons": self.held_reasons,
            "drift": self.drift,
            "held": self.held,
            "waiting": self.waiting,
            "decisions": self.decisions,
            "deferred": self.deferred,
            "stale_sources": self.stale_sources,
            "undo_of": self.undo_of,
            "interrupted": self.interrupted,
        }
        out.update({k: v for k, v in optional.items() if v})
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RunCounts:
        """Read the column back (any missing part is empty; unknown keys are ignored)."""
        data = data or {}
        undo_of = data.get("undo_of")
        return cls(
            targets={str(t): _ints(f) for t, f in (data.get("targets") or {}).items()},
            pulled=_ints(data.get("pulled")),
            api_calls=_ints(data.get("api_calls")),
            http_429=_ints(data.get("http_429")),
            segment_sizes=_ints(data.get("segment_sizes")),
            stage_sizes=_ints(data.get("stage_sizes")),
            held_reasons=[str(r) for r in data.get("held_reasons") or []],
            drift={str(t): _ints(f) for t, f in (data.get("drift") or {}).items()},
            held={str(t): str(r) for t, r in (data.get("held") or {}).items()},
            waiting=_ints(data.get("waiting")),
            decisions=[{str(k): str(v) for k, v in d.items()} for d in data.get("decisions") or []],
            deferred={str(t): _ints(f) for t, f in (data.get("deferred") or {}).items()},
            stale_sources=[str(s) for s in data.get("stale_sources") or []],
            undo_of=int(undo_of) if undo_of is not None else None,
            interrupted=_ints(data["interrupted"]) if data.get("interrupted") else None,
        )


def _ints(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in (value or {}).items()}
