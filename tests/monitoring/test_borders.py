"""Country boundaries from Natural Earth 1:10m (npm world-atlas): lookups, border names, the data itself."""

from __future__ import annotations

import numpy as np
import pytest

from tamga.monitoring import borders

PLACES = {
    "Minsk": ((53.90019, 27.56653), "BY"),
    "Brest": ((52.10894, 23.71749), "BY"),
    "Terespol": ((52.0755, 23.61614), "PL"),
    "Smolensk": ((54.77826, 32.05088), "RU"),
    "Moscow": ((55.75204, 37.61781), "RU"),
    "Kaliningrad": ((54.71, 20.51), "RU"),
    "Vilnius": ((54.68916, 25.2798), "LT"),
    "Riga": ((56.946, 24.10589), "LV"),
    "Kyiv": ((50.45466, 30.5238), "UA"),
    "Astana": ((51.1801, 71.44598), "KZ"),
    "Baikonur": ((45.6167, 63.3167), "KZ"),
    "the Baltic Sea": ((55.5, 18.5), None),
}


def test_country_at_real_places_vectorised() -> None:
    lat = [p[0][0] for p in PLACES.values()]
    lon = [p[0][1] for p in PLACES.values()]
    assert borders.country_at(lat, lon) == [p[1] for p in PLACES.values()]
    for (la, lo), code in PLACES.values():
        assert borders.country_of_point(la, lo) == code
    assert borders.country_index_at(np.array([np.nan]), np.array([27.5])).tolist() == [-1]


def test_the_boundaries_are_the_large_scale_ones() -> None:
    b = borders.load_boundaries()
    assert len(b.codes) > 200 and "1:10m" in b.source
    belarus = [p for p, c in zip(b.parts, b.part_country, strict=True) if c == b.index_of("BY")]
    # 1:110m draws Belarus with a few dozen points; 1:10m with over a thousand
    assert sum(len(p.exterior.coords) for p in belarus) > 1_000
    assert borders.load_boundaries() is b  # loaded once


@pytest.mark.parametrize(
    ("a", "b", "kind", "name"),
    [
        ("RU", "BY", "union_line", "BY-RU"),
        ("BY", "PL", "external", "BY-PL"),
        ("LT", "RU", "external", "LT-RU"),
        ("LT", "PL", "foreign", "LT-PL"),
    ],
)
def test_which_border(a: str, b: str, kind: str, name: str) -> None:
    assert borders.border_kind(a, b) == kind == borders.border_kind(b, a)
    assert borders.border_name(a, b) == name


def test_the_crossing_point_of_a_segment_vectorised_and_scalar() -> None:
    segments = [
        ((52.0755, 23.61614), (52.0832, 23.6576), "PL"),
        ((54.618, 31.036), (54.77826, 32.05088), "BY"),
    ]
    b = borders.load_boundaries()
    share = borders.crossing_point(
        np.array([s[0][0] for s in segments]),
        np.array([s[0][1] for s in segments]),
        np.array([s[1][0] for s in segments]),
        np.array([s[1][1] for s in segments]),
        np.array([b.index_of(s[2]) for s in segments]),
    )
    for f, ((lat0, lon0), (lat1, lon1), country) in zip(share.tolist(), segments, strict=True):
        assert f == borders.crossing_fraction(lat0, lon0, lat1, lon1, country)
        assert 0 < f < 1
        before = borders.country_of_point(
            lat0 + (f - 1e-6) * (lat1 - lat0), lon0 + (f - 1e-6) * (lon1 - lon0)
        )
        after = borders.country_of_point(lat0 + (f + 1e-6) * (lat1 - lat0), lon0 + (f + 1e-6) * (lon1 - lon0))
        assert before == country != after


def test_missing_boundaries_say_how_to_get_them(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv(borders.ATLAS_ENV, "/nonexistent/countries-10m.json")
    with pytest.raises(borders.BoundaryDataMissing, match="TAMGA_WORLD_ATLAS"):
        borders.atlas_path()
    monkeypatch.delenv(borders.ATLAS_ENV)
    assert borders.atlas_path().name == "countries-10m.json"


def exact_country_index(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Every point against every polygon part that its bounding box touches: what the grid must equal."""
    import shapely

    b = borders.load_boundaries()
    result = np.full(lat.shape, -1, dtype=np.int64)
    points, parts = b.tree.query(shapely.points(lon, lat))
    inside = shapely.contains_xy(b.parts[parts], lon[points], lat[points])
    result[points[inside]] = b.part_country[parts[inside]]
    return result


def test_the_grid_answers_what_the_polygons_answer_around_the_union() -> None:
    rng = np.random.default_rng(11)
    lat = rng.uniform(50.0, 57.0, 60_000)
    lon = rng.uniform(22.0, 40.0, 60_000)
    # points on tile and cell edges, and along the Russia-Belarus and Poland-Belarus lines
    edges = np.arange(51.0, 56.0, 1.0 / borders.TILE_CELLS)
    lat = np.concatenate([lat, edges, np.full(edges.size, 54.5), rng.uniform(51.5, 52.5, 5_000)])
    lon = np.concatenate([lon, np.full(edges.size, 31.0), edges - 24.0, rng.uniform(23.3, 23.9, 5_000)])
    assert np.array_equal(borders.country_index_at(lat, lon), exact_country_index(lat, lon))
    assert borders.country_index_at(np.array([91.0, -95.0]), np.array([0.0, 10.0])).tolist() == [-1, -1]
