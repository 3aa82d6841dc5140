"""Stored fixes as bytes for a message bus between processes (NATS JetStream), as columns.

    payloads = encode(stored)          # one or more messages, each at most `MAX_FIXES_PER_MESSAGE` fixes
    fixes = decode(payload)            # StoredFixes of `StoredBlock`s, columns as lists

What a message carries is what the monitoring reads of a stored fix: the seal, movement, protocol and
receipt time, the device's identity of the fix (device, record number), its time, position, speed and
validity, and the seal state as stored. The rest of a fix (course, inputs, protocol parameters...) is in
the `fixes` table, which stays the record; `carried` gives a fix as the bus carries it.

Layout: `MAGIC`, the length of a JSON header (u32, little-endian), the header (the fix count and the
segments: runs of fixes sharing seal, movement, protocol, receipt and device, each
`[seal_id, movement_id, protocol, received_us, device_id, count]`), zero padding to a multiple of 8, then
one little-endian column after the other (`COLUMNS`): record numbers and times as int64 (record number
None as INT64_MIN), latitude, longitude, speed and battery as float64 (None as NaN), validity as a byte,
the seal's opened, tampered, armed and low-battery flags as int8 (-1 for None, 0, 1). About 53 bytes a
fix; a JSON object per fix (`encode_reference`, kept as the plain reference for tests) is about 235.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, Final

import numpy as np
import orjson

from tamga.ingest.bus import Part, StoredBlock, StoredFix, StoredFixes
from tamga.ingest.fix import Fix, FixBlock, block_entries
from tamga.ingest.profiles import SealState

MAGIC: Final = b"TFB1"
# 10,000 fixes (a full group commit) is about 530 kB: under NATS's default message limit of 1 MB
MAX_FIXES_PER_MESSAGE: Final = 10_000
NO_RECORD: Final = -(2**63)
COLUMNS: Final = (
    ("record_id", "<i8"),
    ("time_us", "<i8"),
    ("lat", "<f8"),
    ("lon", "<f8"),
    ("speed_kmh", "<f8"),
    ("battery_v", "<f8"),
    ("valid", "u1"),
    ("opened", "i1"),
    ("tampered", "i1"),
    ("armed", "i1"),
    ("low_battery", "i1"),
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)
_LENGTH: Final = struct.Struct("<I")
_FLAG: Final = {None: -1, False: 0, True: 1}
_FLAG_VALUE: Final = {-1: None, 0: False, 1: True}


class BusCodecError(ValueError):
    """A payload that is not an encoding of stored fixes."""


def us(at: datetime) -> int:
    """Give an aware datetime as microseconds since the Unix epoch."""
    return (at - _EPOCH) // _US


def _at(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _none(value: float) -> float | None:
    return None if math.isnan(value) else value


def carried(stored: StoredFix) -> StoredFix:
    """Give a stored fix as the bus carries it (`decode(encode(...))` gives it so)."""
    fix = stored.fix
    return StoredFix(
        stored.seal_id,
        stored.movement_id,
        stored.protocol,
        stored.received_at,
        Fix(
            fix.device_id,
            fix.record_id,
            fix.time,
            fix.lat,
            fix.lon,
            speed_kmh=None if fix.speed_kmh is None or math.isnan(fix.speed_kmh) else fix.speed_kmh,
            valid=fix.valid,
        ),
        stored.state,
    )


# --- encoding -------------------------------------------------------------------------------------


def _messages(parts: Iterable[Part], limit: int) -> Iterator[list[Part]]:
    """Cut parts into messages of at most `limit` fixes, in order (a block split where a limit falls)."""
    message: list[Part] = []
    room = limit
    for part in parts:
        size = len(part) if isinstance(part, StoredBlock) else 1
        while size > room:  # the message is full, or only part of a block fits in it
            if isinstance(part, StoredBlock) and room:
                message.append(part[:room])
                part, size = part[room:], size - room
            yield message
            message, room = [], limit
        if size:
            message.append(part)
            room -= size
    if message:
        yield message


def encode(fixes: Iterable[StoredFix], max_fixes: int = MAX_FIXES_PER_MESSAGE) -> list[bytes]:
    """Give stored fixes as messages of at most `max_fixes` each, in order (none for no fixes)."""
    if max_fixes < 1:
        raise ValueError("a message holds at least one fix")
    parts: Iterable[Part] = fixes.parts if isinstance(fixes, StoredFixes) else fixes
    return [_encode_message(message) for message in _messages(parts, max_fixes)]


def _encode_message(parts: Sequence[Part]) -> bytes:
    segments: list[list[Any]] = []
    columns: dict[str, list[Iterable[Any]]] = {name: [] for name, _ in COLUMNS}
    states: list[Iterable[SealState]] = []
    singles: list[StoredFix] = []

    def flush() -> None:
        if not singles:
            return
        columns["record_id"].append(
            [NO_RECORD if f.fix.record_id is None else f.fix.record_id for f in singles]
        )
        columns["time_us"].append([us(f.fix.time) for f in singles])
        columns["lat"].append([f.fix.lat for f in singles])
        columns["lon"].append([f.fix.lon for f in singles])
        columns["speed_kmh"].append([_nan(f.fix.speed_kmh) for f in singles])
        columns["valid"].append([f.fix.valid for f in singles])
        states.append([f.state for f in singles])
        singles.clear()

    for part in parts:
        if isinstance(part, StoredBlock):
            flush()
            block, rows, count = part.block, part.rows, len(part)
            segments.append(
                [part.seal_id, part.movement_id, part.protocol, us(part.received_at), block.device_id, count]
            )
            columns["record_id"].append(block_entries(block.record_id, rows))
            columns["time_us"].append(block_entries(block.time_us, rows))
            columns["lat"].append(block_entries(block.lat, rows))
            columns["lon"].append(block_entries(block.lon, rows))
            columns["speed_kmh"].append(block_entries(block.speed_kmh, rows))
            columns["valid"].append(block_entries(block.valid, rows))
            states.append(part.states)
            continue
        key = [part.seal_id, part.movement_id, part.protocol, us(part.received_at), part.fix.device_id]
        if singles and segments[-1][:5] == key:
            segments[-1][5] += 1
        else:
            segments.append([*key, 1])
        singles.append(part)
    flush()
    count = sum(segment[5] for segment in segments)
    every = list(chain.from_iterable(states))
    columns["battery_v"] = [(_nan(s.battery_v) for s in every)]
    for name in ("opened", "tampered", "armed", "low_battery"):
        columns[name] = [(_FLAG[getattr(s, name)] for s in every)]
    header = orjson.dumps({"n": count, "segments": segments})
    head = MAGIC + _LENGTH.pack(len(header)) + header
    pieces = [head, bytes(-len(head) % 8)]
    for name, dtype in COLUMNS:
        column = np.fromiter(chain.from_iterable(columns[name]), dtype=dtype, count=count)
        pieces.append(column.tobytes())
    return b"".join(pieces)


# --- decoding -------------------------------------------------------------------------------------


class BusFixBlock(FixBlock):
    """Fixes of one device as a bus message carried them: the columns of the whole message (lists), of
    which a `StoredBlock`'s rows are this device's. Course, black box, inputs and attributes are not
    carried (the table has them): those columns are empty."""

    __slots__ = ()

    def __init__(self, device_id: str, columns: dict[str, list[Any]]) -> None:
        self.device_id = device_id
        self.record_id = columns["record_id"]
        self.time_us = columns["time_us"]
        self.lat, self.lon = columns["lat"], columns["lon"]
        self.speed_kmh = columns["speed_kmh"]
        self.valid = columns["valid"]
        self.course, self.black_box, self.inputs, self.attributes = (), (), (), ()

    def fix(self, index: int) -> Fix:
        record = self.record_id[index]
        return Fix(
            self.device_id,
            None if record == NO_RECORD else record,
            _at(self.time_us[index]),
            self.lat[index],
            self.lon[index],
            speed_kmh=_none(self.speed_kmh[index]),
            valid=self.valid[index],
        )


def read_header(payload: bytes) -> tuple[dict[str, Any], int]:
    if payload[:4] != MAGIC or len(payload) < 8:
        raise BusCodecError("not a message of stored fixes")
    (length,) = _LENGTH.unpack_from(payload, 4)
    end = 8 + length
    try:
        header = orjson.loads(payload[8:end])
        count = int(header["n"])
        segments = header["segments"]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise BusCodecError(f"unreadable header: {error}") from None
    if sum(int(s[5]) for s in segments) != count:
        raise BusCodecError("the segments do not add up to the fix count")
    return header, end + (-end % 8)


def count(payload: bytes) -> int:
    """Give how many fixes a message carries, from its header."""
    header, _ = read_header(payload)
    return int(header["n"])


def oldest_received_at(payload: bytes) -> datetime | None:
    """Give when the oldest fix of a message was received (None for a message of none), from its header."""
    header, _ = read_header(payload)
    return _at(min(int(s[3]) for s in header["segments"])) if header["segments"] else None


def decode(payload: bytes) -> StoredFixes:
    """Give the stored fixes of a message `encode` made, in order; `BusCodecError` if it is not one."""
    header, offset = read_header(payload)
    count = int(header["n"])
    need = offset + sum(np.dtype(dtype).itemsize for _, dtype in COLUMNS) * count
    if len(payload) != need:
        raise BusCodecError(f"{len(payload)} bytes where {need} were expected")
    columns: dict[str, list[Any]] = {}
    for name, dtype in COLUMNS:
        column = np.frombuffer(payload, dtype=dtype, count=count, offset=offset)
        offset += column.nbytes
        columns[name] = column.astype(bool).tolist() if name == "valid" else column.tolist()
    interned: dict[tuple[Any, ...], SealState] = {}
    states: list[SealState] = []
    flags = _FLAG_VALUE
    for key in zip(
        columns["opened"],
        columns["tampered"],
        columns["armed"],
        columns["battery_v"],
        columns["low_battery"],
        strict=True,
    ):
        state = interned.get(key)
        if state is None:
            opened, tampered, armed, battery, low = key
            state = interned[key] = SealState(
                flags[opened], flags[tampered], flags[armed], _none(battery), flags[low]
            )
        states.append(state)
    fixes = StoredFixes()
    start = 0
    for seal_id, movement_id, protocol, received_us, device_id, size in header["segments"]:
        rows = range(start, start + size)
        block = BusFixBlock(device_id, columns)
        fixes.add(
            StoredBlock(
                seal_id, movement_id, protocol, _at(received_us), block, rows, states[start : start + size]
            )
        )
        start += size
    return fixes


# --- the plain reference --------------------------------------------------------------------------


def encode_reference(fixes: Iterable[StoredFix]) -> bytes:
    """Give stored fixes as a JSON list of one object per fix (what `encode` carries, fix by fix)."""
    return orjson.dumps(
        [
            {
                "seal_id": f.seal_id,
                "movement_id": f.movement_id,
                "protocol": f.protocol,
                "received_us": us(f.received_at),
                "device_id": f.fix.device_id,
                "record_id": f.fix.record_id,
                "time_us": us(f.fix.time),
                "lat": f.fix.lat,
                "lon": f.fix.lon,
                "speed_kmh": None
                if f.fix.speed_kmh is None or math.isnan(f.fix.speed_kmh)
                else f.fix.speed_kmh,
                "valid": f.fix.valid,
                "state": [
                    f.state.opened,
                    f.state.tampered,
                    f.state.armed,
                    f.state.battery_v,
                    f.state.low_battery,
                ],
            }
            for f in fixes
        ]
    )


def decode_reference(payload: bytes) -> list[StoredFix]:
    """Give the stored fixes of `encode_reference`'s JSON."""
    return [
        StoredFix(
            d["seal_id"],
            d["movement_id"],
            d["protocol"],
            _at(d["received_us"]),
            Fix(
                d["device_id"],
                d["record_id"],
                _at(d["time_us"]),
                d["lat"],
                d["lon"],
                speed_kmh=d["speed_kmh"],
                valid=d["valid"],
            ),
            SealState(*d["state"]),
        )
        for d in orjson.loads(payload)
    ]
