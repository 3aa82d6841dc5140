"""The corridor in metres: projection accuracy against WGS84 geodesics on the M1, the polygon, the route."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import shapely
from tests.monitoring.tracks import GEOD, M1, MOSCOW_CUSTOMS, Road, plan_for

from tamga.monitoring.corridor import (
    corridor_polygon,
    densify,
    frame_for,
    full_route,
    initial_state,
    prepare,
    project_arrays,
    unproject_arrays,
)


def test_distance_to_the_route_is_within_two_metres_of_the_geodesic_offset_from_brest_to_moscow() -> None:
    plan = plan_for()
    road = Road(plan)
    corridor = prepare(plan)
    frame = corridor.frame
    stations = np.arange(1_000.0, road.length - 1_000.0, 5_000.0)
    for offset in (500.0, -500.0, 2_000.0, 0.0):
        points = [road.at(float(s), offset) for s in stations]
        lat = np.array([p[0] for p in points])
        lon = np.array([p[1] for p in points])
        x, y = project_arrays(lat, lon, np.array(frame.lat0), np.array(frame.lon0), np.array(frame.radius))
        distance = shapely.distance(corridor.line, shapely.points(x, y))
        assert np.abs(distance - abs(offset)).max() < 2.0 + abs(offset) * 0.003
    assert corridor.length_m == pytest.approx(road.length, rel=1e-3)


def test_the_scalar_and_the_vectorised_projection_agree_and_invert() -> None:
    frame = frame_for(full_route(plan_for()))
    lat = np.array([52.0755, 53.90019, 55.75204, 54.62, frame.lat0])
    lon = np.array([23.61614, 27.56653, 37.61781, 31.065, frame.lon0])
    x, y = project_arrays(lat, lon, np.array(frame.lat0), np.array(frame.lon0), np.array(frame.radius))
    for i in range(lat.size):
        assert frame.project(float(lat[i]), float(lon[i])) == pytest.approx((x[i], y[i]), abs=1e-6)
    back_lat, back_lon = unproject_arrays(x, y, frame)
    assert back_lat == pytest.approx(lat, abs=1e-9)
    assert back_lon == pytest.approx(lon, abs=1e-9)
    # distances from the centre are the sphere's great-circle distances
    _, _, geodesic = GEOD.inv(np.full(lat.size, frame.lon0), np.full(lat.size, frame.lat0), lon, lat)
    assert np.hypot(x, y) == pytest.approx(geodesic, rel=2e-3, abs=1e-6)


def test_the_route_is_densified_along_geodesics_and_ends_at_the_destination() -> None:
    points = densify(M1[:4])
    assert points[0] == M1[0] and points[-1] == M1[3]
    steps = [GEOD.inv(a[1], a[0], b[1], b[0])[2] for a, b in itertools.pairwise(points)]
    assert max(steps) <= 10_000.0 + 1e-6
    short = plan_for(route=M1[:3])
    assert full_route(short)[-1] == M1[2]
    elsewhere = plan_for(route=M1[-4:-1])
    elsewhere = type(elsewhere)(**{**_fields(elsewhere), "destination": MOSCOW_CUSTOMS})
    assert full_route(elsewhere)[-1] == MOSCOW_CUSTOMS


def _fields(plan: object) -> dict[str, object]:
    return {
        name: getattr(plan, name)
        for name in plan.__dataclass_fields__  # type: ignore[attr-defined]
        if name != "prepared"
    }


def test_the_corridor_polygon_is_the_route_buffered_by_the_width() -> None:
    plan = plan_for(route=M1[9:15], width_m=500.0)  # Minsk to Orsha
    road = Road(plan)
    polygon = corridor_polygon(plan)
    assert polygon.is_valid
    for s in np.linspace(0, road.length, 40):
        assert polygon.contains(shapely.Point(*reversed(road.at(float(s), 400.0))))
        assert not polygon.contains(shapely.Point(*reversed(road.at(float(s), 700.0))))
    assert initial_state(plan).remaining_m == prepare(plan).length_m
    assert initial_state(plan).speed_kmh == plan.thresholds.nominal_speed_kmh


def test_a_plan_refuses_what_makes_no_sense() -> None:
    plan = plan_for()
    with pytest.raises(ValueError, match="width"):
        type(plan)(**{**_fields(plan), "corridor_width_m": 0.0})
    with pytest.raises(ValueError, match="timezone"):
        type(plan)(**{**_fields(plan), "time_limit": plan.time_limit.replace(tzinfo=None)})
