"""The transit procedure's rules: the lifecycle state machine, time limits, the amount at stake. No I/O.

The lifecycle follows NCTS phase 5 and the EAEU Customs Code, art. 142-144:

    lodged -> accepted | rejected            (office of departure examines the declaration)
    lodged | accepted -> invalidated         (before release only)
    accepted -> released                     (guarantee reserved, seals armed, time limit set)
    released | en_route -> en_route          (crossing notification at a border office; incident)
    released | en_route -> enquiry           (time limit passed, no arrival)
    released | en_route | enquiry -> arrived (at the office of destination)
    arrived -> unloaded | discrepancies      (unloading remarks without / with discrepancies)
    unloaded | discrepancies -> discharged   (guarantee released)
    enquiry | discrepancies -> recovered     (duties and taxes recovered from the guarantee)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from pyproj import Geod

from tamga.kit.errors import IllegalTransition
from tamga.kit.money import round_money
from tamga.reference.catalog import AUTHORITY_OF_STATE, NATIONAL_CURRENCY

MAX_ITEMS = 1999


class Status(StrEnum):
    LODGED = "lodged"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    INVALIDATED = "invalidated"
    RELEASED = "released"
    EN_ROUTE = "en_route"
    ENQUIRY = "enquiry"
    ARRIVED = "arrived"
    UNLOADED = "unloaded"
    DISCREPANCIES = "discrepancies"
    DISCHARGED = "discharged"
    RECOVERED = "recovered"


class Action(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    INVALIDATE = "invalidate"
    RELEASE = "release"
    NOTIFY_CROSSING = "notify_crossing"
    RECORD_INCIDENT = "record_incident"
    OPEN_ENQUIRY = "open_enquiry"
    ARRIVE = "arrive"
    RECORD_UNLOADING = "record_unloading"
    DISCHARGE = "discharge"
    RECOVER = "recover"


S = Status
# action -> (states it is allowed from, the state it leads to; None where the outcome decides)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.ACCEPT: (frozenset({S.LODGED}), S.ACCEPTED),
    Action.REJECT: (frozenset({S.LODGED}), S.REJECTED),
    Action.INVALIDATE: (frozenset({S.LODGED, S.ACCEPTED}), S.INVALIDATED),
    Action.RELEASE: (frozenset({S.ACCEPTED}), S.RELEASED),
    Action.NOTIFY_CROSSING: (frozenset({S.RELEASED, S.EN_ROUTE}), S.EN_ROUTE),
    Action.RECORD_INCIDENT: (frozenset({S.RELEASED, S.EN_ROUTE}), S.EN_ROUTE),
    Action.OPEN_ENQUIRY: (frozenset({S.RELEASED, S.EN_ROUTE}), S.ENQUIRY),
    Action.ARRIVE: (frozenset({S.RELEASED, S.EN_ROUTE, S.ENQUIRY}), S.ARRIVED),
    Action.RECORD_UNLOADING: (frozenset({S.ARRIVED}), None),
    Action.DISCHARGE: (frozenset({S.UNLOADED, S.DISCREPANCIES}), S.DISCHARGED),
    Action.RECOVER: (frozenset({S.ENQUIRY, S.DISCREPANCIES}), S.RECOVERED),
}

# States in which the guarantee is drawn on by the movement.
GUARANTEE_HELD = frozenset({S.RELEASED, S.EN_ROUTE, S.ENQUIRY, S.ARRIVED, S.UNLOADED, S.DISCREPANCIES})
FINAL = frozenset({S.REJECTED, S.INVALIDATED, S.DISCHARGED, S.RECOVERED})


def allowed_from(action: Action) -> list[Status]:
    """Give the states an action is allowed from, in lifecycle order."""
    sources = TRANSITIONS[action][0]
    return [s for s in Status if s in sources]


def next_status(current: Status, action: Action, *, discrepancies: bool | None = None) -> Status:
    """Give the state an action leads to, or refuse it naming the states that allow it."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        allowed = ", ".join(allowed_from(action))
        raise IllegalTransition(
            f"cannot {action.value.replace('_', ' ')} a movement that is {current.value}; "
            f"allowed only when it is {allowed}",
            current_status=current.value,
            allowed_from=[s.value for s in allowed_from(action)],
        )
    if target is not None:
        return target
    if discrepancies is None:
        raise ValueError("unloading remarks need to say whether there were discrepancies")
    return S.DISCREPANCIES if discrepancies else S.UNLOADED


# --- route and time limit -------------------------------------------------------------------------

_GEOD = Geod(ellps="WGS84")


def route_length_km(points: Sequence[tuple[float, float]]) -> Decimal:
    """Give the geodesic length (WGS84) of a route through (lat, lon) points, in km to 0.001."""
    if len(points) < 2:
        return Decimal(0)
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    metres = _GEOD.line_length(lons, lats)
    return Decimal(str(round(metres / 1000.0, 3)))


def default_time_limit_days(length_km: Decimal, norm_km_per_day: Decimal) -> int:
    """Give the days allowed for a route at the speed norm: at least one."""
    return max(1, math.ceil(length_km / norm_km_per_day))


def legal_time_limit_days(length_km: Decimal, legal_km_per_month: Decimal) -> int:
    """Give the EAEU Customs Code ceiling (art. 144: 2,000 km per month by road), in days, at least one."""
    return max(1, math.ceil(length_km * 30 / legal_km_per_month))


def time_limit_problem(
    requested: datetime, released_at: datetime, length_km: Decimal, legal_km_per_month: Decimal
) -> str | None:
    """Say what is wrong with a time limit an officer asks for, or None if it stands."""
    if requested <= released_at:
        return "the time limit must be in the future"
    ceiling = released_at + timedelta(days=legal_time_limit_days(length_km, legal_km_per_month))
    if requested > ceiling:
        return f"the time limit may not pass {ceiling.isoformat()} (2,000 km per month over {length_km} km)"
    return None


# --- the amount at stake --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GoodsLine:
    hs_code: str
    value: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class StakeLine:
    """What one item puts at stake, in the destination state's currency, with its reasons."""

    value_national: Decimal
    duty_percent: Decimal
    duty: Decimal
    vat_percent: Decimal
    vat: Decimal


# (authority, currency, date) -> units of national currency for one unit of `currency`
Converter = Callable[[str, str, date], Decimal]


def amount_at_stake(
    lines: Iterable[GoodsLine],
    destination_country: str,
    on: date,
    duty_percent: Callable[[str], Decimal],
    vat_percent: Decimal,
    unit_rate: Converter,
) -> tuple[Decimal, list[StakeLine]]:
    """Give the duties and taxes at stake for goods at the destination state's rates, in its currency.

    Estimate per item: value converted at the central bank's rate in force on `on`, duty at the
    chapter's ad valorem rate, VAT on value plus duty; each rounded to kopecks, then summed.
    """
    national = NATIONAL_CURRENCY[destination_country]
    authority = AUTHORITY_OF_STATE[destination_country]
    total = Decimal(0)
    trace: list[StakeLine] = []
    for line in lines:
        rate = Decimal(1) if line.currency == national else unit_rate(authority, line.currency, on)
        value_national = round_money(line.value * rate)
        duty_rate = duty_percent(line.hs_code)
        duty = round_money(value_national * duty_rate / 100)
        vat = round_money((value_national + duty) * vat_percent / 100)
        trace.append(StakeLine(value_national, duty_rate, duty, vat_percent, vat))
        total += duty + vat
    return total, trace
