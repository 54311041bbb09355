"""Safety guards: reasons to hold targets instead of writing them.

A held target keeps its plan in the outbox, writes nothing, and waits for a person to release
it (`syncd apply --run ID`) or reject it (`syncd reject --run ID`); the run applies the other
targets (see `engine/holds.py`). Guards are pure functions of the plan and the pull figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from syncd.engine.plan import Action, Change, Plan

#: Below this many removals the percentage guard stays quiet: losing 3 of 10 members of a
#: small segment is ordinary churn, not an accident.
PCT_GUARD_MIN_REMOVALS = 10


def removal_guard(plan: Plan, *, max_pct: float, max_abs: int) -> dict[str, str]:
    """Target -> why to hold it, for each target that would lose too many members."""
    removals: dict[str, int] = {}
    for change in plan.changes:
        if change.action is Action.REMOVE:
            removals[change.target] = removals.get(change.target, 0) + 1
    reasons: dict[str, str] = {}
    for target, count in sorted(removals.items()):
        owned = plan.owned.get(target, 0)
        pct = 100.0 * count / owned if owned else 100.0
        if count > max_abs:
            reasons[target] = f"{target}: {count} removals exceed safety.max_removals={max_abs}"
        elif count >= PCT_GUARD_MIN_REMOVALS and pct > max_pct:
            reasons[target] = (
                f"{target}: {count} of {owned} members ({pct:.0f}%) would be removed, "
                f"over safety.max_removals_pct={max_pct:g}"
            )
    return reasons


def empty_pull_guard(
    pulled: Mapping[str, int], previous: Mapping[str, int] | None, *, full: bool
) -> list[str]:
    """Reasons to hold because a full pull returned nothing where the last one did not.

    An incremental pull that finds no changes is normal, so only full pulls are judged; a
    connector absent from `pulled` (its pull failed, so its stored data is used) is not.
    """
    if not full or not previous:
        return []
    return [
        f"{api}: the full pull returned 0 contacts; the previous full pull returned {before}"
        for api, before in sorted(previous.items())
        if before > 0 and api in pulled and pulled[api] == 0
    ]


def stale_data_guard(plan: Plan) -> tuple[Plan, dict[str, dict[str, int]]]:
    """The plan without removals (and property rewrites), for a run missing a vendor's data.

    When a pull failed, rules see that vendor's last-known values, which is safe for adds but
    not for taking anything away: a field that did not arrive must not empty a segment. The
    property target is left alone too, since its value lists segments and would drop some.

    Returns:
        The plan kept, and target -> `{"pull_failed": n}` for the changes left for later.
    """
    kept: list[Change] = []
    deferred: dict[str, dict[str, int]] = {}
    for change in plan.changes:
        if change.action is Action.ADD:
            kept.append(change)
            continue
        row = deferred.setdefault(change.target, {"pull_failed": 0})
        row["pull_failed"] += 1
    return replace(plan, changes=kept), deferred
