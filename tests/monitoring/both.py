"""Run the vectorised engine and the per-fix reference side by side and hold them to the same output."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from tamga.ingest.fix import Fix
from tamga.monitoring import engine, reference
from tamga.monitoring.domain import AlarmEvent, EventKind, MovementPlan, MovementState, Rule

Step = tuple[str, Any, datetime]  # ("batch", [(movement id, fix)], now) or ("check", None, now)


def batch(fixes: Sequence[tuple[int, Fix]], now: datetime) -> Step:
    return ("batch", list(fixes), now)


def check(now: datetime) -> Step:
    return ("check", None, now)


def _close(a: Any, b: Any, key: str = "") -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-6) or (math.isnan(a) and math.isnan(b))
    if key == "eta" and isinstance(a, str) and isinstance(b, str):
        return abs((datetime.fromisoformat(a) - datetime.fromisoformat(b)).total_seconds()) <= 1
    return bool(a == b)


def same_events(ours: Sequence[AlarmEvent], theirs: Sequence[AlarmEvent]) -> bool:
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs, strict=True):
        head_a = (a.movement_id, a.rule, a.kind, a.severity, a.at, a.evidence)
        head_b = (b.movement_id, b.rule, b.kind, b.severity, b.at, b.evidence)
        if head_a != head_b or set(a.details) != set(b.details):
            return False
        if not all(_close(a.details[k], b.details[k], k) for k in a.details):
            return False
    return True


def same_state(a: MovementState, b: MovementState) -> bool:
    return all(_close(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(MovementState))


def show(events: Sequence[AlarmEvent]) -> str:
    return "\n".join(
        f"  {e.movement_id} {e.at.isoformat()} {e.rule.value} {e.kind.value} "
        f"{[(r.index, r.time.strftime('%H:%M:%S')) for r in e.evidence]} {dict(e.details)}"
        for e in events
    )


def run_both(plans: Mapping[int, MovementPlan], steps: Sequence[Step]) -> list[list[AlarmEvent]]:
    """Run the steps through both implementations; assert equal events and states; give the events."""
    ours: dict[int, MovementState] = {}
    theirs: dict[int, MovementState] = {}
    out: list[list[AlarmEvent]] = []
    for number, (kind, fixes, now) in enumerate(steps):
        if kind == "batch":
            got = engine.process_batch(plans, ours, fixes, now)
            want = reference.process_batch(plans, theirs, fixes, now)
            assert (got.rejected, got.duplicates, got.late) == (want.rejected, want.duplicates, want.late)
            a, b = got.events, want.events
        else:
            a, b = engine.check_time(plans, ours, now), reference.check_time(plans, theirs, now)
        assert same_events(a, b), f"step {number} ({kind}):\nengine:\n{show(a)}\nreference:\n{show(b)}"
        assert ours.keys() == theirs.keys()
        for movement_id in ours:
            assert same_state(ours[movement_id], theirs[movement_id]), (
                f"step {number}: state of {movement_id}\nengine:    {ours[movement_id]}\n"
                f"reference: {theirs[movement_id]}"
            )
        out.append(list(a))
    return out


def alarms(events: Sequence[AlarmEvent]) -> list[tuple[Rule, EventKind, int | None]]:
    """Give (rule, kind, batch index of the deciding fix) of the events that are not border crossings."""
    return [
        (e.rule, e.kind, e.evidence[-1].index if e.evidence else None)
        for e in events
        if e.rule is not Rule.BORDER_CROSSING
    ]


def crossings(events: Sequence[AlarmEvent]) -> list[AlarmEvent]:
    return [e for e in events if e.rule is Rule.BORDER_CROSSING]
