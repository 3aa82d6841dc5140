"""Real road corridors of the Union as waypoint lists, with the customs offices at their ends.

Town coordinates are GeoNames' town centres (rounded); the ends are the reference catalog's offices. A
corridor is a polyline through its waypoints: good enough to drive a simulated truck along and to tell
how far a point is from it, not a survey of the carriageway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Final

from tamga.reference.catalog import load_catalog

EARTH_RADIUS_M: Final = 6_371_008.8


@dataclass(frozen=True, slots=True)
class Waypoint:
    """A named point of a corridor; `town` slows traffic near it, `rest_area` is an authorised stop."""

    name: str
    lat: float
    lon: float
    town: bool = True
    rest_area: bool = False
    office_code: str | None = None


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points, in metres (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def _local_xy(origin: tuple[float, float], point: tuple[float, float]) -> tuple[float, float]:
    """Metres east and north of `origin` (equirectangular: exact enough within a segment)."""
    k = math.pi / 180 * EARTH_RADIUS_M
    return (point[1] - origin[1]) * k * math.cos(math.radians(origin[0])), (point[0] - origin[0]) * k


def bearing_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Initial course from a to b, degrees clockwise from north."""
    x, y = _local_xy(a, b)
    return math.degrees(math.atan2(x, y)) % 360


def offset_point(origin: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    """The point `east_m`, `north_m` metres from `origin`."""
    k = math.pi / 180 * EARTH_RADIUS_M
    return origin[0] + north_m / k, origin[1] + east_m / (k * math.cos(math.radians(origin[0])))


@dataclass(frozen=True)
class Corridor:
    """A named route from one customs office to another through real towns."""

    key: str
    road: str
    start_office: str
    end_office: str
    waypoints: tuple[Waypoint, ...]

    @cached_property
    def cumulative_m(self) -> tuple[float, ...]:
        total = [0.0]
        for a, b in zip(self.waypoints, self.waypoints[1:], strict=False):
            total.append(total[-1] + distance_m((a.lat, a.lon), (b.lat, b.lon)))
        return tuple(total)

    @property
    def length_m(self) -> float:
        return self.cumulative_m[-1]

    def at(self, s: float) -> tuple[tuple[float, float], float]:
        """The point `s` metres along the corridor, and the course there."""
        s = min(max(s, 0.0), self.length_m)
        cum = self.cumulative_m
        i = next((j for j in range(1, len(cum)) if cum[j] >= s), len(cum) - 1)
        a, b = self.waypoints[i - 1], self.waypoints[i]
        seg = cum[i] - cum[i - 1]
        t = 0.0 if seg == 0 else (s - cum[i - 1]) / seg
        point = (a.lat + (b.lat - a.lat) * t, a.lon + (b.lon - a.lon) * t)
        return point, bearing_deg((a.lat, a.lon), (b.lat, b.lon))

    def distance_from(self, point: tuple[float, float]) -> float:
        """How far `point` is from the corridor's polyline, in metres."""
        best = math.inf
        for a, b in zip(self.waypoints, self.waypoints[1:], strict=False):
            ax, ay = 0.0, 0.0
            bx, by = _local_xy((a.lat, a.lon), (b.lat, b.lon))
            px, py = _local_xy((a.lat, a.lon), point)
            seg2 = bx * bx + by * by
            t = 0.0 if seg2 == 0 else max(0.0, min(1.0, (px * bx + py * by) / seg2))
            best = min(best, math.hypot(px - (ax + t * bx), py - (ay + t * by)))
        return best

    def town_distance_m(self, s: float) -> float:
        """Distance along the corridor from `s` to the nearest town waypoint."""
        return min(
            (abs(s - c) for c, w in zip(self.cumulative_m, self.waypoints, strict=True) if w.town),
            default=math.inf,
        )

    def itinerary(self) -> list[dict[str, object]]:
        """The corridor as a transit declaration's itinerary: offices by code, other places by name and
        coordinates (what `POST /api/v1/movements` takes)."""
        return [
            {"office_code": w.office_code}
            if w.office_code is not None
            else {"name": w.name, "lat": w.lat, "lon": w.lon, "rest_area": w.rest_area}
            for w in self.waypoints
        ]

    def rest_areas_m(self) -> tuple[float, ...]:
        """Positions along the corridor of its authorised rest areas."""
        return tuple(c for c, w in zip(self.cumulative_m, self.waypoints, strict=True) if w.rest_area)


def _office(code: str) -> Waypoint:
    found = load_catalog().office(code)
    if found is None:  # the catalog is versioned data: a missing office is a broken build
        raise LookupError(f"customs office {code} is not in the reference catalog")
    return Waypoint(found.name("en"), found.lat, found.lon, town=False, rest_area=True, office_code=code)


def _w(name: str, lat: float, lon: float, *, town: bool = True, rest: bool = False) -> Waypoint:
    return Waypoint(name, lat, lon, town=town, rest_area=rest)


_M1_BY: Final = (
    _w("Brest", 52.10894, 23.71749),
    _w("Kobryn", 52.21173, 24.3563),
    _w("Byaroza", 52.53129, 24.9782, rest=True),
    _w("Ivatsevichi", 52.70793, 25.33509),
    _w("Baranovichi", 53.13255, 26.00775, rest=True),
    _w("Stowbtsy", 53.47994, 26.7351),
    _w("Dzyarzhynsk", 53.68477, 27.13171),
)
_M1_EAST: Final = (
    _w("Zhodzina", 54.0985, 28.3331),
    _w("Barysaw", 54.2279, 28.505),
    _w("Krupki", 54.3178, 29.1374),
    _w("Tolochin rest area", 54.40988, 29.69348, town=False, rest=True),
    _w("Orsha", 54.51362, 30.40365),
    _w("Dubrowna", 54.57187, 30.69117),
)


def _build() -> dict[str, Corridor]:
    corridors = [
        Corridor(
            "m1-brest-moscow",
            "M1/E30",
            "09132",
            "10013000",
            (
                _office("09132"),
                *_M1_BY,
                _w("Minsk ring road (MKAD)", 53.8417, 27.4133, town=False),
                _office("02000"),
                *_M1_EAST,
                _office("07290"),
                _office("10113090"),
                _w("Smolensk", 54.77826, 32.05088, rest=True),
                _w("Yartsevo", 55.06491, 32.69693),
                _w("Safonovo", 55.11091, 33.23728),
                _w("Vyazma", 55.20997, 34.29695, rest=True),
                _w("Gagarin", 55.55329, 34.99684),
                _w("Mozhaysk", 55.50194, 36.02722),
                _w("Kubinka", 55.57957, 36.70392),
                _w("Odintsovo", 55.66977, 37.27716),
                _office("10013000"),
            ),
        ),
        Corridor(
            "m7-kamenny-log-minsk",
            "M7/E28",
            "16133",
            "02000",
            (
                _office("16133"),
                _w("Ashmyany", 54.4247, 25.9375, rest=True),
                _w("Smarhon", 54.4798, 26.3957),
                _w("Maladzyechna", 54.3104, 26.8389),
                _w("Radashkovichi", 54.1553, 27.2409),
                _office("02000"),
            ),
        ),
        Corridor(
            "p20-grigorovschina-vitebsk-smolensk",
            "P20, M8/E95, P21",
            "07131",
            "10113000",
            (
                _office("07131"),
                _w("Verkhnyadzvinsk", 55.7797, 27.9417),
                _w("Polotsk", 55.4879, 28.7856, rest=True),
                _w("Beshankovichy", 55.0466, 29.4586),
                _office("07000"),
                _w("Liozna", 55.0244, 30.7982),
                _w("Rudnya", 54.9424, 31.0944, rest=True),
                _office("10113000"),
            ),
        ),
        Corridor(
            "m1-kozlovichi-brest-minsk",
            "M1/E30",
            "09131",
            "02000",
            (_office("09131"), _office("09000"), *_M1_BY, _office("02000")),
        ),
        Corridor(
            "m6-bruzgi-grodno-minsk",
            "M6/E28",
            "16131",
            "02000",
            (
                _office("16131"),
                _office("16000"),
                _w("Shchuchyn", 53.6014, 24.7465),
                _w("Lida", 53.8885, 25.2846, rest=True),
                _w("Ivye", 53.9292, 25.7717),
                _w("Valozhyn", 54.0893, 26.5256),
                _office("02000"),
            ),
        ),
    ]
    return {c.key: c for c in corridors}


CORRIDORS: Final = _build()
"""Every corridor the simulator drives, by key."""
