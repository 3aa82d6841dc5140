"""The protocol-neutral position fix every device gateway produces, the same fixes as columns (`FixBlock`,
what a gateway may decode a packet into instead), and the attributes a stored fix keeps."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Fix:
    """One position report of one device, whatever protocol carried it.

    `record_id` is the device's own identity of the fix (the EGTS record number, the index of a Wialon
    message), so a retransmitted fix can be recognised. `inputs` holds the digital inputs as bits (input 1
    is bit 0); `analog` and `counters` are keyed by input number. What an input means for a seal is a
    property of the device model: see `tamga.ingest.profiles`.
    """

    device_id: str
    record_id: int | None
    time: datetime
    lat: float
    lon: float
    speed_kmh: float | None = None
    course: int | None = None
    altitude_m: float | None = None
    valid: bool = True
    from_black_box: bool = False
    satellites: int | None = None
    hdop: float | None = None
    inputs: int | None = None
    analog: dict[int, float] = field(default_factory=dict)
    counters: dict[int, int] = field(default_factory=dict)
    battery_v: float | None = None
    params: dict[str, int | float | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError("Fix.time must be timezone-aware")


_json: Final = json.JSONEncoder(separators=(",", ":")).encode  # compact; one encoder, not one per call


def fix_attributes(fix: Fix) -> dict[str, Any]:
    """What a stored row of `fix` keeps beyond its columns: its protocol parameters, then its altitude,
    satellites, HDOP, inputs, analog inputs and counters where it has them."""
    attributes: dict[str, Any] = dict(fix.params)
    for name, value in (
        ("altitude_m", fix.altitude_m),
        ("satellites", fix.satellites),
        ("hdop", fix.hdop),
        ("inputs", fix.inputs),
    ):
        if value is not None:
            attributes[name] = value
    if fix.analog:
        attributes["analog"] = {str(k): v for k, v in sorted(fix.analog.items())}
    if fix.counters:
        attributes["counters"] = {str(k): v for k, v in sorted(fix.counters.items())}
    return attributes


def attributes_json(fix: Fix) -> str:
    """`fix_attributes` as the compact JSON text the row stores."""
    return _json(fix_attributes(fix))


class FixBlock(ABC):
    """Fixes of one device as columns, one entry per fix in the order reported: what a gateway decodes a
    packet of plain position records into, so that storing and monitoring them needs no `Fix` per fix.

    `time_us` is microseconds since the Unix epoch (UTC); `attributes` the JSON text of each fix's row
    attributes (what `ingest.service` would make of the fix's `Fix`); `fix(i)` gives the `Fix` itself,
    built only when something asks for it. A block's fixes carry no battery reading and no analog input,
    so their seal state depends on their digital `inputs` alone.
    """

    __slots__ = (
        "attributes",
        "black_box",
        "course",
        "device_id",
        "inputs",
        "lat",
        "lon",
        "record_id",
        "speed_kmh",
        "time_us",
        "valid",
    )

    device_id: str
    record_id: Sequence[int]
    time_us: Sequence[int]
    lat: Sequence[float]
    lon: Sequence[float]
    speed_kmh: Sequence[float]
    course: Sequence[int]
    valid: Sequence[bool]
    black_box: Sequence[bool]
    inputs: Sequence[int]
    attributes: Sequence[str]

    def __len__(self) -> int:
        return len(self.time_us)

    @abstractmethod
    def fix(self, index: int) -> Fix:
        """The `Fix` of one entry, as the protocol's general decoder gives it."""


def block_entries(column: Sequence[T], rows: Sequence[int] | None) -> Sequence[T]:
    """The entries `rows` of one of a block's columns, in that order (all of them when None; a range as
    a slice of the column)."""
    if rows is None:
        return column
    if isinstance(rows, range):
        return column[rows.start : rows.stop : rows.step]
    return [column[i] for i in rows]
