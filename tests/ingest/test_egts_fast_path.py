"""The gateway's fast path for EGTS position packets (`decode_positions`) against the general decoder:
whenever it takes a packet, it gives exactly the fixes `records_to_fixes(decode_packet(...))` gives;
anything else it leaves to the general path (None); it never raises."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tamga.ingest.egts import EgtsError, decode_packet, records_to_fixes
from tamga.ingest.egts.codec import (
    SERVICE_TELEDATA,
    PacketType,
    decode_positions,
    encode_position_packet,
)
from tamga.ingest.egts.crc import crc8, crc16
from tamga.ingest.fix import Fix

OID = 12345
DEVICE = "868000000000001"
T0 = datetime(2026, 3, 1, tzinfo=UTC)

fixes = st.lists(
    st.builds(
        Fix,
        device_id=st.just(DEVICE),
        record_id=st.integers(0, 65535),
        time=st.integers(0, 10**8).map(lambda s: T0 + timedelta(seconds=s)),
        lat=st.floats(-89.9, 89.9),
        lon=st.floats(-179.9, 179.9),
        speed_kmh=st.floats(0, 250).map(lambda v: round(v, 1)),
        course=st.integers(0, 359),
        valid=st.booleans(),
        from_black_box=st.booleans(),
        inputs=st.integers(0, 255),
    ),
    min_size=1,
    max_size=6,
)


def general(frame: bytes) -> list[Fix] | None:
    """What the general path stores of a packet from this device, or None where it would not store."""
    try:
        packet = decode_packet(frame)
    except EgtsError:
        return None
    if packet.packet_type != PacketType.APPDATA:
        return None
    for record in packet.records:
        if record.source_service != SERVICE_TELEDATA or record.object_id not in (None, OID):
            return None
    return records_to_fixes(packet, DEVICE)


def with_checksums(frame: bytearray) -> bytes:
    """The frame with its header and data checksums made right again (so the mutation reaches the body)."""
    header_length = frame[3]
    if 11 <= header_length <= len(frame):
        frame[header_length - 1] = crc8(bytes(frame[: header_length - 1]))
        data_length = frame[5] | frame[6] << 8
        if len(frame) >= header_length + data_length + 2:
            del frame[header_length + data_length + 2 :]
            end = header_length + data_length
            frame[end : end + 2] = struct.pack("<H", crc16(bytes(frame[header_length:end])))
    return bytes(frame)


def same_as_general(frame: bytes) -> bool:
    fast = decode_positions(frame, OID, DEVICE)
    if fast is None:
        return True
    _, block = fast
    reference = general(frame)
    return reference is not None and [block.fix(i) for i in range(len(block))] == reference


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pid=st.integers(0, 65535), track=fixes)
def test_a_position_packet_takes_the_fast_path_and_gives_the_general_fixes(
    pid: int, track: list[Fix]
) -> None:
    frame = encode_position_packet(pid, OID, track)
    fast = decode_positions(frame, OID, DEVICE)
    assert fast is not None and fast[0] == pid
    assert same_as_general(frame)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    track=fixes,
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255), st.sampled_from("sdx")), max_size=4),
)
def test_a_mutated_packet_is_left_to_the_general_path_or_read_as_it_reads_it(
    track: list[Fix], edits: list[tuple[int, int, str]]
) -> None:
    frame = bytearray(encode_position_packet(7, OID, track))
    for at, value, kind in edits:
        where = 11 + at % max(1, len(frame) - 11)
        if kind == "s" and where < len(frame):
            frame[where] = value  # a byte changed
        elif kind == "d":
            del frame[where:]  # cut short
        else:
            frame += bytes([value]) * (1 + at % 20)  # trailing bytes
    assert same_as_general(with_checksums(frame))
