"""EGTS decoding fuzzed: random bytes, well-framed random data, and mutated real packets.

Whatever comes in, decoding either gives a packet (whose fixes can be built) or raises `EgtsError`;
the splitter never loses or invents a byte. Marked slow: a few thousand examples in all.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ingest.conformance import vectors

from tamga.ingest.egts import EgtsError, decode_packet, records_to_fixes, split_frames
from tamga.ingest.egts.crc import crc8, crc16

pytestmark = pytest.mark.slow

FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PACKETS = [bytes.fromhex(vector["packet"]) for vector in vectors("egts")]


def decodes_or_refuses(raw: bytes) -> None:
    try:
        packet = decode_packet(raw)
    except EgtsError as error:
        assert 128 <= error.result_code <= 164
        return
    records_to_fixes(packet, "fuzz")


def splits_or_refuses(raw: bytes) -> None:
    try:
        frames, rest = split_frames(raw)
    except EgtsError:
        return
    assert b"".join(frames) + rest == raw
    for frame in frames:
        decodes_or_refuses(frame)


def framed(frame_data: bytes, flags: int, packet_type: int) -> bytes:
    """`frame_data` behind a header with correct checksums, so that decoding reaches the records."""
    head = struct.pack("<BBBBBHHB", 1, 0, flags, 11, 0, len(frame_data), 1, packet_type)
    head += bytes([crc8(head)])
    return head + frame_data + (struct.pack("<H", crc16(frame_data)) if frame_data else b"")


def subrecord(srt: int, data: bytes) -> bytes:
    return struct.pack("<BH", srt, len(data)) + data


records = st.builds(
    lambda rfl, optional, service, subs: (
        struct.pack("<HHB", len(subs), 1, rfl)
        + optional[: 4 * bin(rfl & 7).count("1")]
        + bytes([service] * 2)
        + subs
    ),
    st.integers(0, 255),
    st.binary(min_size=12, max_size=12),
    st.sampled_from([0, 1, 2, 4, 9, 10, 255]),
    st.lists(
        st.builds(subrecord, st.sampled_from([0, 1, 9, *range(16, 29), 99]), st.binary(max_size=40)),
        max_size=4,
    ).map(b"".join),
)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(raw: bytes) -> None:
    decodes_or_refuses(raw)
    splits_or_refuses(raw)


@FUZZ
@given(st.binary(max_size=200), st.integers(0, 0x3F), st.integers(0, 4))
def test_random_frame_data_behind_a_good_header(frame_data: bytes, flags: int, packet_type: int) -> None:
    decodes_or_refuses(framed(frame_data, flags, packet_type))


@settings(FUZZ, max_examples=500)
@given(st.lists(records, max_size=3).map(b"".join), st.sampled_from([0, 1, 2]), st.binary(max_size=4))
def test_records_of_random_subrecords(body: bytes, packet_type: int, lead: bytes) -> None:
    # A RESPONSE starts with RPID and PR, a SIGNED_APPDATA with SIGL: `lead` stands in for them.
    decodes_or_refuses(framed(lead + body, 0, packet_type))


@FUZZ
@given(
    st.sampled_from(PACKETS),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.sampled_from("sid")), max_size=4),
    st.booleans(),
)
def test_mutated_real_packets(raw: bytes, edits: list[tuple[int, int, str]], fix_checksums: bool) -> None:
    changed = bytearray(raw)
    for where, value, how in edits:
        at = where % (len(changed) + 1)
        if how == "s" and at < len(changed):
            changed[at] = value
        elif how == "i":
            changed.insert(at, value)
        elif how == "d" and at < len(changed):
            del changed[at]
    mutated = bytes(changed)
    if fix_checksums and len(mutated) > 13:
        # Keep the header as found and re-frame the rest, so the mutation reaches the record parser.
        mutated = framed(mutated[11:-2], mutated[2] & 0x03, mutated[9])
    decodes_or_refuses(mutated)
    splits_or_refuses(mutated)
