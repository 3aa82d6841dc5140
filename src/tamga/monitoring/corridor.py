"""A movement's corridor in metres: the route in a local plane, its length, the authorised places.

Projection: each movement gets its own azimuthal equidistant plane, on a sphere of the Gaussian radius of
the WGS84 ellipsoid at the plane's centre, centred on the point halfway along the route. The formulas are
written out here in two forms, scalar (`Frame.project`, for the reference) and numpy over arrays whose
every element may have its own centre (`project_arrays`), so one call projects a batch that mixes
thousands of movements; pyproj would need a transformer and a call per movement.

Accuracy, against WGS84 geodesics (tests/monitoring/test_corridor.py measures it on the M1): distances from
the centre are exact on the sphere; elsewhere the plane stretches across the radial direction by about
(d/R)^2/6 at d from the centre (0.1% at 500 km, 0.4% at 1,000 km), and the sphere differs from the
ellipsoid by up to about 0.2% along the Union's routes. On the 1,034 km from Terespol to Moscow a point
500 m off the road measures 499.9 to 501.2 m, and the route's length is 0.06% short; a route much past
3,000 km should be split into legs.

The route is densified along geodesics every `DENSIFY_STEP_M` before projection, so the straight segments
of the plane follow the geodesic between the waypoints to a few centimetres.

The corridor itself is the route buffered by the width: a fix is inside when its distance to the route
line is at most the width (exactly what a buffer with round caps contains); `corridor_polygon` gives that
buffer in lon/lat, for maps and exports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Geod

from tamga.monitoring.domain import MovementPlan, MovementState

DENSIFY_STEP_M: Final = 10_000.0
WGS84_A: Final = 6_378_137.0
WGS84_E2: Final = 0.006694379990141317
SAME_POINT_M: Final = 1.0
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND: Final = timedelta(microseconds=1)

FloatArray = npt.NDArray[np.float64]
_GEOD = Geod(ellps="WGS84")


def gaussian_radius(lat: float) -> float:
    """Give the WGS84 Gaussian mean radius of curvature at a latitude, in metres."""
    s = math.sin(math.radians(lat))
    w = 1.0 - WGS84_E2 * s * s
    meridional = WGS84_A * (1.0 - WGS84_E2) / w**1.5
    normal = WGS84_A / math.sqrt(w)
    return math.sqrt(meridional * normal)


@dataclass(frozen=True, slots=True)
class Frame:
    """A spherical azimuthal equidistant plane: centre (degrees) and sphere radius (metres)."""

    lat0: float
    lon0: float
    radius: float

    def project(self, lat: float, lon: float) -> tuple[float, float]:
        """Give the plane coordinates (x east, y north, metres) of one point."""
        phi, phi0 = math.radians(lat), math.radians(self.lat0)
        dlon = math.radians(lon - self.lon0)
        east = math.cos(phi) * math.sin(dlon)
        north = math.cos(phi0) * math.sin(phi) - math.sin(phi0) * math.cos(phi) * math.cos(dlon)
        cos_c = math.sin(phi0) * math.sin(phi) + math.cos(phi0) * math.cos(phi) * math.cos(dlon)
        sin_c = math.hypot(east, north)
        if sin_c == 0.0:
            return 0.0, 0.0
        k = self.radius * math.atan2(sin_c, cos_c) / sin_c
        return k * east, k * north


def project_arrays(
    lat: FloatArray, lon: FloatArray, lat0: FloatArray, lon0: FloatArray, radius: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Give plane coordinates of points, each in its own frame (the arrays broadcast together)."""
    phi, phi0 = np.radians(lat), np.radians(lat0)
    dlon = np.radians(lon - lon0)
    cos_phi, sin_phi = np.cos(phi), np.sin(phi)
    cos_phi0, sin_phi0 = np.cos(phi0), np.sin(phi0)
    cos_dlon = np.cos(dlon)
    east = cos_phi * np.sin(dlon)
    north = cos_phi0 * sin_phi - sin_phi0 * cos_phi * cos_dlon
    cos_c = sin_phi0 * sin_phi + cos_phi0 * cos_phi * cos_dlon
    sin_c = np.hypot(east, north)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(sin_c == 0.0, 0.0, radius * np.arctan2(sin_c, cos_c) / sin_c)
    x: FloatArray = k * east
    y: FloatArray = k * north
    return x, y


def unproject_arrays(x: FloatArray, y: FloatArray, frame: Frame) -> tuple[FloatArray, FloatArray]:
    """Give the lat, lon (degrees) of plane points of one frame."""
    rho = np.hypot(x, y)
    c = rho / frame.radius
    phi0 = math.radians(frame.lat0)
    sin_c, cos_c = np.sin(c), np.cos(c)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(rho == 0.0, 0.0, y * sin_c / rho)
    phi = np.arcsin(np.clip(cos_c * math.sin(phi0) + ratio * math.cos(phi0), -1.0, 1.0))
    dlon = np.arctan2(x * sin_c, rho * math.cos(phi0) * cos_c - y * math.sin(phi0) * sin_c)
    lat: FloatArray = np.degrees(phi)
    lon: FloatArray = frame.lon0 + np.degrees(dlon)
    return lat, lon


def densify(
    route: tuple[tuple[float, float], ...], step_m: float = DENSIFY_STEP_M
) -> list[tuple[float, float]]:
    """Give the route's (lat, lon) points with geodesic points added so none are over `step_m` apart."""
    points = [route[0]]
    if len(route) < 2:
        return points
    lats = np.array([p[0] for p in route], dtype=np.float64)
    lons = np.array([p[1] for p in route], dtype=np.float64)
    _, _, distances = _GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
    extras = np.maximum(0, np.ceil(np.asarray(distances) / step_m) - 1).astype(np.int64).tolist()
    for (lat1, lon1), (lat2, lon2), extra in zip(route[:-1], route[1:], extras, strict=True):
        if extra:
            points.extend((lat, lon) for lon, lat in _GEOD.npts(lon1, lat1, lon2, lat2, extra))
        points.append((lat2, lon2))
    return points


def full_route(plan: MovementPlan) -> list[tuple[float, float]]:
    """Give the plan's densified route, ending at the destination."""
    route = plan.route
    last_lat, last_lon = route[-1]
    dest_lat, dest_lon = plan.destination
    if _GEOD.inv(last_lon, last_lat, dest_lon, dest_lat)[2] > SAME_POINT_M:
        route = (*route, plan.destination)
    return densify(route)


def frame_for(route: list[tuple[float, float]]) -> Frame:
    """Give the frame centred on the point halfway along a (densified) route."""
    if len(route) == 1:
        lat, lon = route[0]
        return Frame(lat, lon, gaussian_radius(lat))
    lats = [p[0] for p in route]
    lons = [p[1] for p in route]
    lengths = _GEOD.line_lengths(lons, lats)
    half, walked = sum(lengths) / 2, 0.0
    for (lat, lon), length in zip(route, lengths, strict=False):
        if walked + length >= half:
            return Frame(lat, lon, gaussian_radius(lat))
        walked += length
    lat, lon = route[-1]
    return Frame(lat, lon, gaussian_radius(lat))


class PlanNumbers(NamedTuple):
    """A plan's numbers as the engine tabulates them: times in microseconds since the epoch."""

    lat0: float
    lon0: float
    radius: float
    length_m: float
    width_m: float
    released_us: int
    limit_us: int
    signal_after_us: int
    deviation_dwell_us: int
    deviation_min_fixes: int
    stop_speed_kmh: float
    stop_dwell_us: int
    late_margin_us: int
    smoothing_s: float
    max_speed_kmh: float
    border_confirm_fixes: int
    nominal_speed_kmh: float


def microseconds(at: datetime) -> int:
    """Give an aware datetime as whole microseconds since the Unix epoch."""
    return (at - EPOCH) // MICROSECOND


@dataclass(frozen=True, slots=True, weakref_slot=True)
class PreparedCorridor:
    """A plan's geometry in its plane: the route line (prepared), its length, the places; its numbers."""

    numbers: PlanNumbers
    frame: Frame
    route: tuple[tuple[float, float], ...]  # densified (lat, lon)
    line: shapely.LineString
    length_m: float
    width_m: float
    places_x: FloatArray
    places_y: FloatArray
    places_radius: FloatArray


def prepare(plan: MovementPlan) -> PreparedCorridor:
    """Give the plan's prepared corridor, built on first use and kept on the plan."""
    if plan.prepared is not None:
        prepared: PreparedCorridor = plan.prepared
        return prepared
    route = full_route(plan)
    frame = frame_for(route)
    lats = np.array([p[0] for p in route])
    lons = np.array([p[1] for p in route])
    x, y = project_arrays(lats, lons, np.array(frame.lat0), np.array(frame.lon0), np.array(frame.radius))
    coords = np.column_stack([x, y])
    if len(coords) == 1:
        coords = np.vstack([coords, coords])
    line = shapely.LineString(coords)
    shapely.prepare(line)
    places_lat = np.array([p.lat for p in plan.places], dtype=np.float64)
    places_lon = np.array([p.lon for p in plan.places], dtype=np.float64)
    px, py = project_arrays(
        places_lat, places_lon, np.array(frame.lat0), np.array(frame.lon0), np.array(frame.radius)
    )
    th = plan.thresholds
    numbers = PlanNumbers(
        lat0=frame.lat0,
        lon0=frame.lon0,
        radius=frame.radius,
        length_m=float(line.length),
        width_m=plan.corridor_width_m,
        released_us=microseconds(plan.released_at),
        limit_us=microseconds(plan.time_limit),
        signal_after_us=plan.signal_lost_after // MICROSECOND,
        deviation_dwell_us=th.deviation_dwell // MICROSECOND,
        deviation_min_fixes=th.deviation_min_fixes,
        stop_speed_kmh=th.stop_speed_kmh,
        stop_dwell_us=th.stop_dwell // MICROSECOND,
        late_margin_us=th.late_margin // MICROSECOND,
        smoothing_s=th.speed_smoothing.total_seconds(),
        max_speed_kmh=th.max_speed_kmh,
        border_confirm_fixes=th.border_confirm_fixes,
        nominal_speed_kmh=th.nominal_speed_kmh,
    )
    prepared = PreparedCorridor(
        numbers=numbers,
        frame=frame,
        route=tuple(route),
        line=line,
        length_m=float(line.length),
        width_m=plan.corridor_width_m,
        places_x=px,
        places_y=py,
        places_radius=np.array([p.radius_m for p in plan.places], dtype=np.float64),
    )
    object.__setattr__(plan, "prepared", prepared)
    return prepared


def corridor_polygon(plan: MovementPlan, quad_segs: int = 8) -> shapely.Polygon:
    """Give the corridor (the route buffered by the width) as a polygon in lon, lat degrees."""
    prepared = prepare(plan)
    buffer = shapely.buffer(prepared.line, prepared.width_m, quad_segs=quad_segs)

    def to_lonlat(ring: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lat, lon = unproject_arrays(ring[:, 0], ring[:, 1], prepared.frame)
        return np.column_stack([lon, lat])

    shell = to_lonlat(shapely.get_coordinates(buffer.exterior))
    holes = [to_lonlat(shapely.get_coordinates(ring)) for ring in buffer.interiors]
    return shapely.Polygon(shell, holes)


def initial_state(plan: MovementPlan) -> MovementState:
    """Give the state of a movement that has reported nothing yet."""
    return MovementState(speed_kmh=plan.thresholds.nominal_speed_kmh, remaining_m=prepare(plan).length_m)
