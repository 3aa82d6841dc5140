"""Country boundaries and border crossings, from Natural Earth 1:10m admin-0 (the npm package world-atlas).

The boundaries are `countries-10m.json` of `world-atlas` 2.0.2 (Natural Earth 4.1.0 as TopoJSON), which
`make install` brings with `npm ci` into `node_modules/` at the repository root. The file is found at
`$TAMGA_WORLD_ATLAS` if that is set, else in the nearest `node_modules/world-atlas/` above this module or
above the working directory. It is decoded here (TopoJSON arcs are delta-encoded integers, quantized by
the topology's transform), once per process.

Countries are ISO 3166-1 alpha-2 codes (from the features' numeric ids through pycountry); Baikonur, which
Natural Earth keeps apart without an id, counts as Kazakhstan, Kosovo as XK, and the other few id-less
units (bases, reefs, buffer zones) as no country. Natural Earth 1:10m places a land border to within a few
hundred metres: good enough to name the border a movement crossed and when, not to adjudicate a metre.

`country_at` is vectorised over a lazily built grid: the world is cut into 1-degree tiles, and the first
lookup in a tile classifies its 32 x 32 cells against the polygon parts that touch the tile (an STRtree
query): a cell wholly inside one part (`contains_properly`) is that part's country, a cell that touches
no part is no country, and only a point in a cell that a boundary runs through is tested exactly
(`contains_xy` against the tile's parts). The answer is the same as testing every point against every
part; most fixes lie away from boundaries and cost two array lookups, made in a compiled kernel
(`engine_kernels.tile_classes`) over the classified tiles stacked in one array. `crossing_point` finds where a
straight segment between two fixes leaves a country by bisection, vectorised over segments.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pycountry
import shapely

from tamga.monitoring import engine_kernels

ATLAS_ENV: Final = "TAMGA_WORLD_ATLAS"
ATLAS_RELATIVE: Final = Path("node_modules") / "world-atlas" / "countries-10m.json"
UNION: Final = frozenset({"RU", "BY"})
# Natural Earth units without an ISO numeric id that matter on the Union's routes.
UNITS_WITHOUT_ID: Final = {"Baikonur": "KZ", "Kosovo": "XK"}
BISECTION_STEPS: Final = 30  # halves a 100 km gap between fixes to 0.1 mm
TILE_CELLS: Final = 32  # cells per side of a 1-degree tile (about 3.5 km by 2 km at the Union's latitudes)
# A cell is classified by its box grown by this much (degrees), so that a point that floating-point rounding
# puts on the wrong side of a cell edge is still inside the box that was classified.
CELL_MARGIN_DEG: Final = 1e-9
MIXED: Final = -2  # a cell that a boundary runs through: its points are tested exactly
UNCLASSIFIED: Final = -3  # a point in a tile not classified yet (engine_kernels.tile_classes)

BorderKind = Literal["union_line", "external", "foreign"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class BoundaryDataMissing(FileNotFoundError):
    """The Natural Earth boundaries (npm package world-atlas) are not installed."""


@dataclass(slots=True)
class TileGrid:
    """The classified tiles for the compiled lookup: tile number -> row in `cells` (-1: not yet)."""

    row: npt.NDArray[np.int64] = field(default_factory=lambda: np.full(180 * 360, -1, dtype=np.int64))
    cells: npt.NDArray[np.int16] = field(
        default_factory=lambda: np.empty((0, TILE_CELLS, TILE_CELLS), dtype=np.int16)
    )


@dataclass(frozen=True, slots=True)
class Boundaries:
    """Every country's polygon parts, indexed: `codes[i]` is the alpha-2 code of country index i."""

    codes: tuple[str, ...]
    parts: npt.NDArray[np.object_]  # shapely Polygons, prepared
    part_country: IntArray  # country index of each part
    tree: shapely.STRtree
    source: str
    # tile number (lat row * 360 + lon column) -> its cells' country index (-1 none, MIXED) and its parts
    tiles: dict[int, tuple[npt.NDArray[np.int16], IntArray]] = field(default_factory=dict, repr=False)
    grid: TileGrid = field(default_factory=TileGrid, repr=False)

    def index_of(self, code: str) -> int:
        """Give the country index of an alpha-2 code; ValueError if the data has no such country."""
        return self.codes.index(code)

    def tile(self, number: int) -> tuple[npt.NDArray[np.int16], IntArray]:
        """Give a 1-degree tile's cell classes and the parts that touch it, classifying it on first use."""
        found = self.tiles.get(number)
        if found is None:
            found = self.tiles[number] = self._classify(number)
            self.grid.row[number] = self.grid.cells.shape[0]
            self.grid.cells = np.concatenate([self.grid.cells, found[0][None]])
        return found

    def _classify(self, number: int) -> tuple[npt.NDArray[np.int16], IntArray]:
        row, column = divmod(number, 360)
        lat0, lon0 = float(row - 90), float(column - 180)
        parts = self.tree.query(shapely.box(lon0, lat0, lon0 + 1.0, lat0 + 1.0)).astype(np.int64)
        parts.sort()
        cells = np.full((TILE_CELLS, TILE_CELLS), -1, dtype=np.int16)
        if parts.size == 0:
            return cells, parts
        step = 1.0 / TILE_CELLS
        edges = np.arange(TILE_CELLS, dtype=np.float64) * step
        south, west = np.meshgrid(lat0 + edges, lon0 + edges, indexing="ij")
        boxes = shapely.box(
            west - CELL_MARGIN_DEG,
            south - CELL_MARGIN_DEG,
            west + step + CELL_MARGIN_DEG,
            south + step + CELL_MARGIN_DEG,
        )
        for part in parts.tolist():
            geometry = self.parts[part]
            touched = shapely.intersects(geometry, boxes)
            if not touched.any():
                continue
            inside = shapely.contains_properly(geometry, boxes)
            cells[touched & ~inside] = MIXED
            cells[inside] = self.part_country[part]
        return cells, parts


def atlas_path() -> Path:
    """Give the path of `countries-10m.json`; BoundaryDataMissing if it cannot be found."""
    configured = os.environ.get(ATLAS_ENV)
    if configured:
        path = Path(configured)
        if path.is_file():
            return path
        raise BoundaryDataMissing(f"{ATLAS_ENV}={configured} is not a file")
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for folder in (start, *start.parents):
            candidate = folder / ATLAS_RELATIVE
            if candidate.is_file():
                return candidate
    raise BoundaryDataMissing(
        "Natural Earth boundaries not found: run `npm ci` at the repository root (make install does) "
        f"or set {ATLAS_ENV} to the path of world-atlas's countries-10m.json"
    )


def _decode_arcs(topology: dict[str, Any]) -> list[FloatArray]:
    """Give every arc as an (n, 2) array of lon, lat: undo the delta encoding, then the quantization."""
    arcs = topology["arcs"]
    lengths = np.fromiter((len(arc) for arc in arcs), dtype=np.int64, count=len(arcs))
    flat = np.array([point for arc in arcs for point in arc], dtype=np.float64)
    if "transform" in topology:
        # running sums restart at each arc: subtract the arc's running total before its first point
        sums = np.cumsum(flat, axis=0)
        ends = np.cumsum(lengths)
        before = np.vstack([np.zeros((1, 2)), sums[ends[:-1] - 1]])
        flat = sums - np.repeat(before, lengths, axis=0)
        transform = topology["transform"]
        flat = flat * np.asarray(transform["scale"]) + np.asarray(transform["translate"])
    return np.split(flat, np.cumsum(lengths)[:-1])


def _ring(arcs: list[FloatArray], indices: Sequence[int]) -> FloatArray:
    pieces: list[FloatArray] = []
    for k, index in enumerate(indices):
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        pieces.append(arc if k == 0 else arc[1:])
    return np.concatenate(pieces)


def _country_code(feature: dict[str, Any]) -> str | None:
    numeric = feature.get("id")
    if numeric is None:
        return UNITS_WITHOUT_ID.get(feature.get("properties", {}).get("name", ""))
    country = pycountry.countries.get(numeric=str(numeric).zfill(3))
    return str(country.alpha_2) if country is not None else None


@functools.cache
def load_boundaries() -> Boundaries:
    """Give the Natural Earth 1:10m country boundaries, decoded and indexed once per process."""
    path = atlas_path()
    topology = json.loads(path.read_text(encoding="utf-8"))
    arcs = _decode_arcs(topology)
    codes: list[str] = []
    parts: list[Any] = []
    part_country: list[int] = []
    for feature in topology["objects"]["countries"]["geometries"]:
        code = _country_code(feature)
        if code is None or feature["type"] not in ("Polygon", "MultiPolygon"):
            continue
        if code not in codes:
            codes.append(code)
        polygons = [feature["arcs"]] if feature["type"] == "Polygon" else feature["arcs"]
        for rings in polygons:
            # quantization collapses a few islets (and lakes) to fewer than four points: they go
            shell, *holes = (_ring(arcs, ring) for ring in rings)
            if len(shell) < 4:
                continue
            holes = [hole for hole in holes if len(hole) >= 4]
            parts.append(shapely.Polygon(shell, holes))
            part_country.append(codes.index(code))
    geometries = np.array(parts, dtype=object)
    shapely.prepare(geometries)
    return Boundaries(
        codes=tuple(codes),
        parts=geometries,
        part_country=np.asarray(part_country, dtype=np.int64),
        tree=shapely.STRtree(geometries),
        source=f"Natural Earth 1:10m admin-0 via world-atlas ({path})",
    )


def country_index_at(lat: npt.ArrayLike, lon: npt.ArrayLike) -> IntArray:
    """Give the country index (into `load_boundaries().codes`) of each point, -1 where none."""
    b = load_boundaries()
    lats = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    lons = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    result = np.full(lats.shape, -1, dtype=np.int64)
    finite = np.flatnonzero(
        np.isfinite(lats) & np.isfinite(lons) & (np.abs(lats) <= 90.0) & (np.abs(lons) <= 180.0)
    )
    if finite.size == 0:
        return result
    la, lo = lats[finite], lons[finite]
    # the cells' classes by the compiled lookup, once the tiles the points fall in are classified
    classes, number = engine_kernels.tile_classes(la, lo, b.grid.row, b.grid.cells)
    unclassified = classes == UNCLASSIFIED
    if unclassified.any():
        for tile in np.unique(number[unclassified]).tolist():
            b.tile(tile)
        classes, number = engine_kernels.tile_classes(la, lo, b.grid.row, b.grid.cells)
    result[finite] = np.where(classes == MIXED, -1, classes)
    mixed = np.flatnonzero(classes == MIXED)
    if mixed.size:
        # the exact test, tile by tile, against the parts that touch the tile
        order = mixed[np.argsort(number[mixed], kind="stable")]
        bounds = np.flatnonzero(np.diff(number[order])) + 1
        for points in np.split(order, bounds):
            parts = b.tile(int(number[points[0]]))[1]
            inside = shapely.contains_xy(b.parts[parts][:, None], lo[points][None, :], la[points][None, :])
            part_of, point_of = np.nonzero(inside)
            # Natural Earth's parts do not overlap; on a shared edge neither contains the point
            result[finite[points[point_of]]] = b.part_country[parts[part_of]]
    return result


def country_at(lat: npt.ArrayLike, lon: npt.ArrayLike) -> list[str | None]:
    """Give the ISO alpha-2 country of each point (lat, lon in degrees), None at sea or off the data."""
    codes = load_boundaries().codes
    return [codes[i] if i >= 0 else None for i in country_index_at(lat, lon).tolist()]


def country_of_point(lat: float, lon: float) -> str | None:
    """Give the ISO alpha-2 country of one point: the scalar form of `country_at`."""
    return country_at([lat], [lon])[0]


def border_kind(a: str, b: str) -> BorderKind:
    """Say which border lies between two countries: the Russia-Belarus line, the Union's external
    border (one side in the Union), or a border between two other countries."""
    if {a, b} == UNION:
        return "union_line"
    if a in UNION or b in UNION:
        return "external"
    return "foreign"


def border_name(a: str, b: str) -> str:
    """Give the border's name, the two codes in alphabetical order (`BY-RU`, `BY-PL`)."""
    return "-".join(sorted((a, b)))


def crossing_point(
    lat0: FloatArray, lon0: FloatArray, lat1: FloatArray, lon1: FloatArray, country0: IntArray
) -> FloatArray:
    """Give, for each segment, the fraction (0..1) along it where it leaves `country0`, by bisection.

    Points are interpolated linearly in lat, lon: fixes are minutes apart, so the straight line between
    them is as good a guess of the road as any. A segment that crosses more than one border gives one
    of the places where it leaves the country.
    """
    low = np.zeros(lat0.shape, dtype=np.float64)
    high = np.ones(lat0.shape, dtype=np.float64)
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        lat = lat0 + middle * (lat1 - lat0)
        lon = lon0 + middle * (lon1 - lon0)
        still = country_index_at(lat, lon) == country0
        low = np.where(still, middle, low)
        high = np.where(still, high, middle)
    result: FloatArray = (low + high) / 2
    return result


def crossing_fraction(lat0: float, lon0: float, lat1: float, lon1: float, country0: str) -> float:
    """Give the fraction along one segment where it leaves `country0`: the scalar form of
    `crossing_point`, one bisection step at a time."""
    low, high = 0.0, 1.0
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        still = country_of_point(lat0 + middle * (lat1 - lat0), lon0 + middle * (lon1 - lon0)) == country0
        low, high = (middle, high) if still else (low, middle)
    return (low + high) / 2
