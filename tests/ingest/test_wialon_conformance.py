"""Wialon IPS against the real-device conformance vectors: decoded values, and refusal of changed 2.0 messages."""

from __future__ import annotations

from typing import Any

import pytest
from tests.ingest.conformance import parse_time, tolerance, vector_id, vectors

from tamga.ingest.wialon import WialonError, answer, decode_message, to_fixes

WIALON = vectors("wialon")
CRC_ANSWER = {"SD": "#ASD#13\r\n", "D": "#AD#16\r\n", "B": "#AB#0\r\n"}


def test_the_conformance_file_has_wialon_vectors() -> None:
    assert len(WIALON) >= 5


@pytest.mark.parametrize("vector", WIALON, ids=vector_id)
def test_vector_decodes_to_its_expected_values(vector: dict[str, Any]) -> None:
    expect = vector["expect"]
    message = decode_message(vector["packet"])
    fixes = to_fixes(message, "seal-1")

    assert sum(fix.valid for fix in fixes) == expect["positions"]
    assert answer(message) in {"#ASD#1\r\n", "#AD#1\r\n", f"#AB#{len(message.records)}\r\n"}
    if "first" in expect:
        wanted, got = expect["first"], fixes[0]
        assert got.time == parse_time(wanted["time"])
        assert got.lat == pytest.approx(wanted["lat"], abs=tolerance(wanted["lat"]))
        assert got.lon == pytest.approx(wanted["lon"], abs=tolerance(wanted["lon"]))
    for name, value in expect.get("attributes", {}).items():
        assert fixes[0].params[name] == value
    if message.type == "B":
        assert all(fix.from_black_box for fix in fixes)


def carries_crc(packet: str) -> bool:
    """A 2.0 message: SD with 11 fields or D with 17, the last one four hex digits."""
    kind, body = packet[1:].split("#", 1)
    fields = body.split(";")
    wanted = {"SD": 11, "D": 17}.get(kind)
    return (
        len(fields) == wanted
        and len(fields[-1]) == 4
        and all(c in "0123456789ABCDEFabcdef" for c in fields[-1])
    )


CRC_VECTORS = [vector for vector in WIALON if carries_crc(vector["packet"])]


def test_three_vectors_carry_a_checksum() -> None:
    assert len(CRC_VECTORS) == 3
    assert all(decode_message(vector["packet"]).version == "2.0" for vector in CRC_VECTORS)
    assert all(decode_message(v["packet"]).version == "1.1" for v in WIALON if v not in CRC_VECTORS)


@pytest.mark.parametrize("vector", CRC_VECTORS, ids=vector_id)
def test_any_one_character_changed_in_a_2_0_message_is_a_checksum_error(vector: dict[str, Any]) -> None:
    packet: str = vector["packet"]
    kind = packet[1:].split("#", 1)[0]
    body_start = len(kind) + 2
    assert decode_message(packet, version="2.0").type == kind
    for position in range(body_start, len(packet)):
        for replacement in "0A;x#|.-":
            if replacement == packet[position]:
                continue
            changed = packet[:position] + replacement + packet[position + 1 :]
            with pytest.raises(WialonError) as refused:
                decode_message(changed, version="2.0")
            assert refused.value.answer == CRC_ANSWER[kind], f"{position}: {changed}"


@pytest.mark.parametrize("vector", CRC_VECTORS, ids=vector_id)
def test_a_changed_type_or_frame_is_refused(vector: dict[str, Any]) -> None:
    packet: str = vector["packet"]
    kind = packet[1:].split("#", 1)[0]
    for position in range(len(kind) + 2):
        for replacement in "#;xQ":
            if replacement == packet[position]:
                continue
            changed = packet[:position] + replacement + packet[position + 1 :]
            with pytest.raises(WialonError):
                decode_message(changed, version="2.0")


@pytest.mark.parametrize("vector", CRC_VECTORS, ids=vector_id)
def test_a_2_0_session_refuses_the_message_without_its_checksum(vector: dict[str, Any]) -> None:
    packet: str = vector["packet"]
    kind = packet[1:].split("#", 1)[0]
    without = packet.rsplit(";", 1)[0]
    with pytest.raises(WialonError) as refused:
        decode_message(without, version="2.0")
    assert refused.value.answer == CRC_ANSWER[kind]
