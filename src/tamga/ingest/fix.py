"""The protocol-neutral position fix every device gateway produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
