"""EGTS against the real-device conformance vectors: decoded values, and refusal of every one-byte change."""

from __future__ import annotations

from typing import Any

import pytest
from tests.ingest.conformance import parse_time, tolerance, vector_id, vectors

from tamga.ingest.egts import (
    EgtsError,
    PacketType,
    ResultCode,
    decode_packet,
    encode_packet,
    records_to_fixes,
    split_frames,
)

EGTS = vectors("egts")


def test_the_conformance_file_has_egts_vectors() -> None:
    assert len(EGTS) >= 10


@pytest.mark.parametrize("vector", EGTS, ids=vector_id)
def test_vector_decodes_to_its_expected_values(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["packet"])
    expect = vector["expect"]

    frames, rest = split_frames(raw)
    assert frames == [raw] and rest == b""
    packet = decode_packet(raw)
    fixes = records_to_fixes(packet, "device-1")

    # "positions" counts valid fixes; a RESPONSE vector gives none and carries no fix.
    assert sum(fix.valid for fix in fixes) == expect.get("positions", 0)
    if "object_id" in expect:
        assert packet.records[0].object_id == expect["object_id"]
    if "pid" in expect:
        assert packet.pid == expect["pid"]
    if "record_number" in expect:
        assert packet.records[0].number == expect["record_number"]
    if "packet_type" in expect:
        assert PacketType(packet.packet_type).name == expect["packet_type"]
    if "response_to_pid" in expect:
        assert packet.response_to_pid == expect["response_to_pid"]
    if "result" in expect:
        assert packet.result == expect["result"]
    valid = [fix for fix in fixes if fix.valid]
    for key, fix in (("first", valid[:1]), ("second", valid[1:2])):
        if key not in expect:
            continue
        wanted, (got,) = expect[key], fix
        assert got.time == parse_time(wanted["time"])
        assert got.lat == pytest.approx(wanted["lat"], abs=tolerance(wanted["lat"]))
        assert got.lon == pytest.approx(wanted["lon"], abs=tolerance(wanted["lon"]))
        if "speed_kmh" in wanted:
            assert got.speed_kmh == pytest.approx(wanted["speed_kmh"], abs=1e-9)
        if "course" in wanted:
            assert got.course == wanted["course"]
        if "valid" in wanted:
            assert got.valid is wanted["valid"]


@pytest.mark.parametrize("vector", EGTS, ids=vector_id)
def test_reencoding_the_transport_layer_gives_the_same_bytes(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["packet"])
    header = decode_packet(raw).header
    frame_data = raw[header.header_length : header.header_length + header.frame_data_length]
    assert header.header_length == 11
    rebuilt = encode_packet(
        header.pid,
        header.packet_type,
        frame_data,
        priority=header.priority,
        security_key_id=header.security_key_id,
    )
    assert rebuilt == raw


def expected_refusal(original: bytes, position: int, value: int) -> set[ResultCode]:
    """The processing result(s) the standard's check order gives a packet with one byte changed.

    The order is: protocol version and prefix, header length, header checksum, data checksum. PRV
    (byte 0) and a non-zero PRF (the top two bits of byte 2) are UNS_PROTOCOL; a header length that is
    neither 11 nor 16 is INC_HEADERFORM; any other header byte, including FDL, is caught by HCS. A header
    length changed to the other legal value moves the HCS position: HEADERCRC_ERROR unless the byte found
    there happens to match, and then the header is malformed (RTE does not agree with HL). Every byte
    after the header is covered by SFRCS, the checksum bytes included.
    """
    header_length = original[3]
    if position == 0:
        return {ResultCode.UNS_PROTOCOL}
    if position == 2 and value >> 6:
        return {ResultCode.UNS_PROTOCOL}
    if position == 3:
        if value not in (11, 16):
            return {ResultCode.INC_HEADERFORM}
        return {ResultCode.HEADERCRC_ERROR, ResultCode.INC_HEADERFORM}
    if position < header_length:
        return {ResultCode.HEADERCRC_ERROR}
    return {ResultCode.DATACRC_ERROR}


def mutations(raw: bytes) -> list[tuple[int, int]]:
    """(position, new value) pairs: every position, a few values each (one bit, top bit, all bits, +1)."""
    result = []
    for position, byte in enumerate(raw):
        for value in {byte ^ 0x01, byte ^ 0x80, byte ^ 0xFF, (byte + 1) & 0xFF, 0x10, 0x0B}:
            if value != byte:
                result.append((position, value))
    return result


@pytest.mark.parametrize("vector", EGTS, ids=vector_id)
def test_any_one_byte_changed_is_refused_with_the_right_code(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["packet"])
    for position, value in mutations(raw):
        changed = bytearray(raw)
        changed[position] = value
        changed_bytes = bytes(changed)
        expected = expected_refusal(raw, position, value)
        where = f"byte {position} {raw[position]:#04x} -> {value:#04x}"

        with pytest.raises(EgtsError) as refused:
            decode_packet(changed_bytes)
        assert refused.value.result_code in expected, where

        # The stream splitter refuses the same header, or waits for bytes that a changed length asks for,
        # or hands over a frame that decoding then refuses: it never crashes and never accepts it.
        try:
            frames, rest = split_frames(changed_bytes)
        except EgtsError as error:
            assert error.result_code in expected, where
        else:
            assert b"".join(frames) + rest == changed_bytes, where
            for frame in frames:
                with pytest.raises(EgtsError) as later:
                    decode_packet(frame)
                assert later.value.result_code in expected, where


@pytest.mark.parametrize("vector", EGTS, ids=vector_id)
def test_a_cut_packet_waits_in_the_splitter_and_is_refused_whole(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["packet"])
    for cut in range(len(raw)):
        frames, rest = split_frames(raw[:cut])
        assert frames == [] and rest == raw[:cut]
        with pytest.raises(EgtsError) as refused:
            decode_packet(raw[:cut])
        assert refused.value.result_code in {
            ResultCode.UNS_PROTOCOL,  # nothing at all
            ResultCode.INC_HEADERFORM,  # shorter than its header
            ResultCode.INVDATALEN,  # shorter than the header announces
        }


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 16, 64, 1000])
def test_the_splitter_reassembles_a_stream_read_in_pieces(chunk: int) -> None:
    packets = [bytes.fromhex(vector["packet"]) for vector in EGTS]
    stream = b"".join(packets)
    found: list[bytes] = []
    pending = b""
    for start in range(0, len(stream), chunk):
        frames, pending = split_frames(pending + stream[start : start + chunk])
        found.extend(frames)
    assert found == packets and pending == b""


def test_a_buffer_of_many_frames_splits_into_a_list() -> None:
    packets = [bytes.fromhex(vector["packet"]) for vector in EGTS]
    frames, rest = split_frames(b"".join(packets) + packets[0][:5])
    assert frames == packets and rest == packets[0][:5]
