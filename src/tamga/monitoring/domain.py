"""The monitoring rules' vocabulary: rules, severities, thresholds, a movement's plan and state, alarms.

No I/O. `engine.process_batch` (vectorised) and `reference.process_batch` (one fix at a time) both apply
the rules below; the tests hold them to the same output.

Rules, per released movement (each with one open alarm at most; `EVENT`s are not alarms):

| rule | opens | closes |
|---|---|---|
| corridor_deviation | a valid fix farther than the corridor width from the route, once the truck has been outside for `deviation_dwell` AND `deviation_min_fixes` consecutive valid fixes | the first valid fix back inside (return to the corridor) |
| unscheduled_stop | speed under `stop_speed_kmh` outside every authorised place for `stop_dwell` | the first fix moving again or inside a place |
| seal_opened (critical) | a fix reporting the seal opened or tampered (cut, removed) while not inside an authorised place | a fix reporting it closed and intact |
| signal_lost | no fix for longer than `signal_lost_periods` x the device's period (`check_time`; a gap between two fixes that `check_time` did not see opens and closes it) | the next fix (signal back) |
| late | the estimated arrival (fix time + remaining route distance / recent moving speed) passes the time limit | the estimate back before the limit by `late_margin` |
| time_limit_exceeded | a fix, or `check_time`, after the time limit | never (arrival takes the movement off monitoring) |
| border_crossing (event) | the country changes, confirmed by `border_confirm_fixes` valid fixes in the new country; the time and place are interpolated between the last fix in the old country and the first in the new one | - |
| implausible_movement | two consecutive valid fixes further apart than `max_speed_kmh` allows (jamming, spoofing) | the next plausible pair |
| low_battery | a fix whose battery is under the device model's threshold | a fix whose battery is not |

The speed and seal fields a rule needs come from the fix through the device model's profile
(`tamga.ingest.profiles.seal_state`); a fix without a valid position (`Fix.valid` false) counts for the
signal, the seal (as outside any authorised place: a seal opened where the device cannot say where is
treated as the worst case), the battery and the time limit, never for a position rule.

The speed for the stop rule is the fix's reported speed, else the speed implied by the previous valid fix.
The recent moving speed is an exponential average (time constant `speed_smoothing`) of the speeds implied
by consecutive valid fixes that moved (at least `stop_speed_kmh`, at most `max_speed_kmh`): resting does
not make a truck late, only slow driving does. It starts at `nominal_speed_kmh`. Without new fixes,
`check_time` takes the estimate from the last valid fix, but never earlier than `now`.

Out-of-order fixes (see `engine`): a batch is sorted by time per movement; a fix as old as the movement's
newest processed fix is a duplicate and dropped; older ones are replayed in their own sequence from a blank
state, and what they show of the order-independent incidents (deviation, unscheduled stop, seal opened,
implausible movement) comes out as `EVENT`s marked `retrospective`, never changing the movement's state.
A crossing is recorded once, from the fixes in hand when it is confirmed; late fixes do not re-record it.
The same late fixes delivered twice are replayed twice: retransmissions are for the gateway to drop by
`Fix.record_id` before the engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from tamga.ingest.profiles import DeviceProfile

DEFAULT_CORRIDOR_WIDTH_M: Final = 500.0
# A fix dated further than this after the batch's `now` is refused: a device clock in the future would
# otherwise make every later fix of the movement look old.
FUTURE_TOLERANCE: Final = timedelta(minutes=5)


class Rule(StrEnum):
    CORRIDOR_DEVIATION = "corridor_deviation"
    UNSCHEDULED_STOP = "unscheduled_stop"
    SEAL_OPENED = "seal_opened"
    SIGNAL_LOST = "signal_lost"
    LATE = "late"
    TIME_LIMIT_EXCEEDED = "time_limit_exceeded"
    BORDER_CROSSING = "border_crossing"
    IMPLAUSIBLE_MOVEMENT = "implausible_movement"
    LOW_BATTERY = "low_battery"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    HIGH = "high"
    CRITICAL = "critical"


class EventKind(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    EVENT = "event"  # a border crossing, or what a late black box shows happened (retrospective)


SEVERITY: Final[Mapping[Rule, Severity]] = {
    Rule.CORRIDOR_DEVIATION: Severity.HIGH,
    Rule.UNSCHEDULED_STOP: Severity.WARNING,
    Rule.SEAL_OPENED: Severity.CRITICAL,
    Rule.SIGNAL_LOST: Severity.HIGH,
    Rule.LATE: Severity.WARNING,
    Rule.TIME_LIMIT_EXCEEDED: Severity.HIGH,
    Rule.BORDER_CROSSING: Severity.INFO,
    Rule.IMPLAUSIBLE_MOVEMENT: Severity.HIGH,
    Rule.LOW_BATTERY: Severity.WARNING,
}

# The rules a late (older than the movement's state) fix is replayed for: what they say does not depend
# on what came after.
RETROSPECTIVE_RULES: Final = frozenset(
    {Rule.CORRIDOR_DEVIATION, Rule.UNSCHEDULED_STOP, Rule.SEAL_OPENED, Rule.IMPLAUSIBLE_MOVEMENT}
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The rules' thresholds for one movement; see the module docstring for what each one does."""

    deviation_dwell: timedelta = timedelta(minutes=3)
    deviation_min_fixes: int = 3
    stop_speed_kmh: float = 5.0
    stop_dwell: timedelta = timedelta(minutes=30)
    signal_lost_periods: float = 2.0
    late_margin: timedelta = timedelta(minutes=15)
    nominal_speed_kmh: float = 60.0
    speed_smoothing: timedelta = timedelta(minutes=30)
    max_speed_kmh: float = 200.0
    border_confirm_fixes: int = 2

    def __post_init__(self) -> None:
        positive = {
            "deviation_min_fixes": self.deviation_min_fixes,
            "signal_lost_periods": self.signal_lost_periods,
            "nominal_speed_kmh": self.nominal_speed_kmh,
            "speed_smoothing": self.speed_smoothing.total_seconds(),
            "max_speed_kmh": self.max_speed_kmh,
            "border_confirm_fixes": self.border_confirm_fixes,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"threshold {name} must be positive, not {value!r}")
        not_negative = {
            "deviation_dwell": self.deviation_dwell.total_seconds(),
            "stop_speed_kmh": self.stop_speed_kmh,
            "stop_dwell": self.stop_dwell.total_seconds(),
            "late_margin": self.late_margin.total_seconds(),
        }
        for name, value in not_negative.items():
            if value < 0:
                raise ValueError(f"threshold {name} may not be negative, not {value!r}")


class GoodsCategory(StrEnum):
    """Goods the EAEU tracks with navigation seals in the first stage, from 11 February 2026.

    Source: the Agreement on the use of navigation seals for tracking shipments in the EAEU (Moscow,
    19 April 2022) and the EEC Board's decision of 23 September 2025 on its first stage, as the EEC press
    service announced it (BelTA, 23 September 2025): sanctioned goods and certain excisable goods
    (alcohol, tobacco) by road or rail under transit, export and in mutual trade; clothing, footwear and
    equipment by road under transit; nicotine products of EAEU CN headings 2404, 2939 79 000 0 and
    2939 80 000 0 on export. Sanctioned goods are named by the special economic measures register, not by
    their code: only an operator can say so (`PUT /movements/{ref}/monitoring`).
    """

    ALCOHOL = "alcohol"
    TOBACCO = "tobacco"
    CLOTHING = "clothing"
    FOOTWEAR = "footwear"
    ELECTRONICS = "electronics"
    SANCTIONED = "sanctioned"


SENSITIVE_CATEGORIES: Final = frozenset(c.value for c in GoodsCategory)

# EAEU CN code prefixes of each category, most specific first. Alcohol: beer, wine, vermouth, other
# fermented beverages, ethyl alcohol and spirits (2203-2208); tobacco: chapter 24 with the nicotine
# headings above; clothing: chapters 61 and 62; footwear: chapter 64. "Equipment" is not given by code
# in the announcement: computers (8471), telephones (8517) and monitors and television sets (8528) are
# the platform's reading of it (illustrative, to be replaced by the EEC's list when published).
CATEGORY_PREFIXES: Final[tuple[tuple[str, GoodsCategory], ...]] = (
    *((p, GoodsCategory.ALCOHOL) for p in ("2203", "2204", "2205", "2206", "2207", "2208")),
    *((p, GoodsCategory.TOBACCO) for p in ("2401", "2402", "2403", "2404", "2939790000", "2939800000")),
    *((p, GoodsCategory.ELECTRONICS) for p in ("8471", "8517", "8528")),
    ("61", GoodsCategory.CLOTHING),
    ("62", GoodsCategory.CLOTHING),
    ("64", GoodsCategory.FOOTWEAR),
)


def goods_category(hs_codes: Iterable[str]) -> GoodsCategory | None:
    """Give the tracked category of a consignment: the first category (in `GoodsCategory` order) that
    one of its items' codes falls in; None when no item is tracked."""
    found = {
        category for code in hs_codes for prefix, category in CATEGORY_PREFIXES if code.startswith(prefix)
    }
    return next((c for c in GoodsCategory if c in found), None)


# Goods tracked with navigation seals get tighter thresholds: the platform's choice, not a regulation's
# number (the regulations say what is tracked, not how quickly a deviation must be raised).
CATEGORY_OVERRIDES: Final[Mapping[str, Mapping[str, Any]]] = {
    category: {
        "deviation_dwell": timedelta(minutes=1),
        "deviation_min_fixes": 2,
        "stop_dwell": timedelta(minutes=15),
    }
    for category in SENSITIVE_CATEGORIES
}
# The thresholds that are durations (kept in seconds in documents and the API).
DURATION_THRESHOLDS: Final = frozenset({"deviation_dwell", "stop_dwell", "late_margin", "speed_smoothing"})
THRESHOLD_NAMES: Final = tuple(f.name for f in dataclasses.fields(Thresholds))


def thresholds_for(category: str | None = None, **overrides: Any) -> Thresholds:
    """Give the thresholds of a goods category (defaults for None or an unlisted one), then `overrides`."""
    values = dict(CATEGORY_OVERRIDES.get(category or "", {}))
    values.update(overrides)
    return dataclasses.replace(Thresholds(), **values)


@dataclass(frozen=True, slots=True)
class MonitoringSettings:
    """What a monitoring operator set for one movement: a category (else the goods' own), a corridor
    width (else the platform's), threshold overrides by name (durations in seconds)."""

    category: GoodsCategory | None = None
    corridor_width_m: float | None = None
    thresholds: Mapping[str, float | int] = field(default_factory=dict)

    def as_document(self) -> dict[str, Any]:
        """Give the settings as stored on the movement (JSON)."""
        return {
            "category": self.category.value if self.category else None,
            "corridor_width_m": self.corridor_width_m,
            "thresholds": dict(self.thresholds),
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any] | None) -> MonitoringSettings:
        """Give the settings stored on a movement (None: nothing set)."""
        if not document:
            return cls()
        category = document.get("category")
        return cls(
            category=GoodsCategory(category) if category else None,
            corridor_width_m=document.get("corridor_width_m"),
            thresholds=dict(document.get("thresholds") or {}),
        )

    def overrides(self) -> dict[str, Any]:
        """Give the threshold overrides as `Thresholds` fields (durations as timedeltas)."""
        return {
            name: timedelta(seconds=value) if name in DURATION_THRESHOLDS else value
            for name, value in self.thresholds.items()
        }


def effective_thresholds(
    settings: MonitoringSettings, goods: GoodsCategory | None
) -> tuple[GoodsCategory | None, Thresholds]:
    """Give the category that applies (the operator's, else the goods') and the thresholds that follow."""
    category = settings.category or goods
    return category, thresholds_for(category.value if category else None, **settings.overrides())


def settings_problems(settings: MonitoringSettings) -> list[tuple[str, str]]:
    """Give (threshold name, reason) for every threshold that is unknown or inconsistent with the others."""
    problems = [(name, "not a threshold") for name in settings.thresholds if name not in THRESHOLD_NAMES]
    if problems:
        return problems
    try:
        _, thresholds = effective_thresholds(settings, None)
    except ValueError as error:
        return [("thresholds", str(error))]
    if thresholds.stop_speed_kmh >= thresholds.max_speed_kmh:
        problems.append(("stop_speed_kmh", "must be under max_speed_kmh"))
    if thresholds.nominal_speed_kmh > thresholds.max_speed_kmh:
        problems.append(("nominal_speed_kmh", "may not exceed max_speed_kmh"))
    return problems


@dataclass(frozen=True, slots=True)
class AuthorisedPlace:
    """A place where stopping and opening the seal are allowed: a customs office, a declared rest area."""

    lat: float
    lon: float
    radius_m: float
    name: str


@dataclass(frozen=True, slots=True)
class MovementPlan:
    """What a released movement was allowed: its route, corridor, places, time limit and device.

    `route` is (lat, lon) waypoints from departure to destination (the destination is appended if the
    route does not end there); `device_period_s` defaults to the device model's reporting period.
    """

    movement_id: int
    route: tuple[tuple[float, float], ...]
    released_at: datetime
    time_limit: datetime
    destination: tuple[float, float]
    device_profile: DeviceProfile
    corridor_width_m: float = DEFAULT_CORRIDOR_WIDTH_M
    places: tuple[AuthorisedPlace, ...] = ()
    device_period_s: float | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    # the prepared corridor (tamga.monitoring.corridor.prepare), built on first use
    prepared: Any = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if len(self.route) < 1:
            raise ValueError("a route needs at least one point")
        for at in (self.released_at, self.time_limit):
            if at.tzinfo is None or at.utcoffset() is None:
                raise ValueError("plan times must be timezone-aware")
        if not self.corridor_width_m > 0:
            raise ValueError("the corridor width must be positive")
        if self.device_period_s is not None and not self.device_period_s > 0:
            raise ValueError("the device period must be positive")

    @property
    def period_s(self) -> float:
        """Give the device's reporting period in seconds."""
        return self.device_period_s or float(self.device_profile.reporting_period_s)

    @property
    def signal_lost_after(self) -> timedelta:
        """Give how long without a fix counts as signal lost."""
        return timedelta(seconds=self.period_s * self.thresholds.signal_lost_periods)


@dataclass(frozen=True, slots=True)
class FixRef:
    """A fix named as evidence: its position in the batch (None if it came in an earlier batch), its time."""

    index: int | None
    time: datetime


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """An alarm opened or closed, or an event (border crossing, retrospective finding), with its evidence."""

    movement_id: int
    rule: Rule
    kind: EventKind
    severity: Severity
    at: datetime
    evidence: tuple[FixRef, ...]
    details: Mapping[str, float | int | str | bool | None]


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch gave: its events in canonical order, the fixes refused (batch position, reason), how
    many were duplicates, how many were late (replayed retrospectively)."""

    events: list[AlarmEvent]
    rejected: list[tuple[int, str]] = field(default_factory=list)
    duplicates: int = 0
    late: int = 0


@dataclass(slots=True)
class MovementState:
    """What the engine keeps of one movement between batches: a few scalars, no history.

    `border_anchor_*` is the last valid fix in the confirmed country; `candidate_*` counts the valid fixes
    in another country since (the first of them is where the crossing is interpolated from).
    """

    speed_kmh: float
    remaining_m: float
    last_time: datetime | None = None
    last_pos_time: datetime | None = None
    last_lat: float | None = None
    last_lon: float | None = None
    outside_since: datetime | None = None
    outside_fixes: int = 0
    stopped_since: datetime | None = None
    country: str | None = None
    border_anchor_time: datetime | None = None
    border_anchor_lat: float | None = None
    border_anchor_lon: float | None = None
    candidate_country: str | None = None
    candidate_fixes: int = 0
    candidate_time: datetime | None = None
    candidate_lat: float | None = None
    candidate_lon: float | None = None
    open_alarms: set[Rule] = field(default_factory=set)


def sort_events(events: Sequence[AlarmEvent]) -> list[AlarmEvent]:
    """Give events in a canonical order: by movement, time, rule, kind, evidence."""
    rule_order = {rule: i for i, rule in enumerate(Rule)}
    kind_order = {kind: i for i, kind in enumerate(EventKind)}
    return sorted(
        events,
        key=lambda e: (
            e.movement_id,
            e.at,
            rule_order[e.rule],
            kind_order[e.kind],
            tuple((-1 if r.index is None else r.index, r.time) for r in e.evidence),
        ),
    )
