"""EGTS codec: checksums, refusals in the standard's order, encoders, round trips, fixes from sensors."""

from __future__ import annotations

import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tamga.ingest.egts import (
    EgtsError,
    PacketType,
    ResultCode,
    confirmations,
    decode_packet,
    decode_packets,
    encode_auth_packet,
    encode_packet,
    encode_position_packet,
    encode_record,
    encode_response,
    packets_to_fixes,
    records_to_fixes,
    split_frames,
)
from tamga.ingest.egts.crc import crc8, crc16, crc16_reference
from tamga.ingest.egts.subrecords import (
    SERVICE_AUTH,
    SERVICE_ECALL,
    SERVICE_TELEDATA,
    AbsAnSensData,
    AbsDigSensData,
    AdSensorsData,
    CountersData,
    ExtPosData,
    LiquidLevelSensor,
    PosData,
    RawSubrecord,
    RecordResponse,
    StateData,
    Subrecord,
    TermIdentity,
    decode_subrecord,
)
from tamga.ingest.fix import Fix

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def header(pid: int = 1, pt: int = 1, fdl: int = 0, flags: int = 0, hl: int = 11, he: int = 0) -> bytes:
    """A transport header with a correct HCS, for building packets the encoders would not make."""
    head = struct.pack("<BBBBBHHB", 1, 0, flags, hl, he, fdl, pid, pt)
    if hl == 16:
        head += struct.pack("<HHB", 7, 8, 9)
    return head + bytes([crc8(head)])


def packet(frame_data: bytes, **kwargs: int) -> bytes:
    raw = header(fdl=len(frame_data), **kwargs) + frame_data
    return raw + struct.pack("<H", crc16(frame_data)) if frame_data else raw


def teledata(*subrecords: Subrecord, number: int = 1, object_id: int | None = 42) -> bytes:
    return encode_record(number, SERVICE_TELEDATA, subrecords, object_id=object_id)


def test_crc_check_values() -> None:
    assert crc8(b"123456789") == 0xF7
    assert crc16(b"123456789") == 0x29B1
    assert crc16_reference(b"123456789") == 0x29B1


@given(st.binary(max_size=600))
def test_fast_crc16_agrees_with_the_table_reference(data: bytes) -> None:
    assert crc16(data) == crc16_reference(data)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", ResultCode.INC_HEADERFORM),
        (b"\x02" + header()[1:], ResultCode.UNS_PROTOCOL),
        (header(flags=0x40), ResultCode.UNS_PROTOCOL),
        (header(hl=12)[:12], ResultCode.INC_HEADERFORM),
        (header()[:-1] + bytes([header()[-1] ^ 1]), ResultCode.HEADERCRC_ERROR),
        (header(flags=0x20), ResultCode.INC_HEADERFORM),  # RTE set, but an 11-byte header
        (header(hl=16), ResultCode.INC_HEADERFORM),  # a 16-byte header without RTE
        (header(he=1), ResultCode.INC_HEADERFORM),
        (header(fdl=3) + b"\x00\x00\x00", ResultCode.INVDATALEN),  # SFRCS missing
        (header() + b"\x00", ResultCode.INVDATALEN),  # a byte past the frame
        (packet(b"\x01\x02\x03")[:-1] + bytes([packet(b"\x01\x02\x03")[-1] ^ 1]), ResultCode.DATACRC_ERROR),
        (packet(b"\x00\x00\x00", flags=0x08), ResultCode.DECRYPT_ERROR),
        (packet(b"\x00\x00\x00", flags=0x04), ResultCode.INC_DATAFORM),
        (packet(b"\x00\x00\x00", pt=3), ResultCode.UNS_TYPE),
        (packet(b"\x01\x00", pt=0), ResultCode.INVDATALEN),  # RESPONSE without PR
        (packet(b"\x05\x00\x01", pt=2), ResultCode.INVDATALEN),  # signature overruns
        (packet(b"\x09\x00\x01\x00\x00\x02\x02"), ResultCode.INVDATALEN),  # record overruns
        (packet(b"\x00\x00\x01\x00\x01\x02"), ResultCode.INVDATALEN),  # record header cut
        (
            packet(b"\x04\x00\x01\x00\x00\x02\x02\x10\x05\x00\x00"),
            ResultCode.INVDATALEN,
        ),  # subrecord overruns
        (
            packet(b"\x05\x00\x01\x00\x00\x02\x02\x10\x02\x00\x00\x00"),
            ResultCode.INC_DATAFORM,
        ),  # POS_DATA short
    ],
)
def test_refusals_carry_the_processing_result_of_the_standard(raw: bytes, code: ResultCode) -> None:
    with pytest.raises(EgtsError) as refused:
        decode_packet(raw)
    assert refused.value.result_code == code


def test_a_refusal_after_the_header_names_the_packet_to_answer() -> None:
    raw = packet(b"\x01\x02\x03", pid=777)
    with pytest.raises(EgtsError) as refused:
        decode_packet(raw[:-1] + bytes([raw[-1] ^ 0xFF]))
    assert refused.value.pid == 777
    with pytest.raises(EgtsError) as garbage:
        decode_packet(b"\x01\x00\x00\x0b\x00\x00\x00\x00\x00\x01\x00")
    assert garbage.value.result_code == ResultCode.HEADERCRC_ERROR and garbage.value.pid is None


def test_a_routed_header_is_read() -> None:
    raw = packet(b"", flags=0x20, hl=16)
    decoded = decode_packet(raw)
    assert decoded.header.route and decoded.header.header_length == 16
    assert (decoded.header.peer_address, decoded.header.recipient_address, decoded.header.ttl) == (7, 8, 9)


def test_signed_appdata_keeps_its_signature_and_records() -> None:
    record = teledata(RawSubrecord(srt=99, data=b"xyz"))
    decoded = decode_packet(packet(b"\x02\x00\xaa\xbb" + record, pt=2))
    assert decoded.signature == b"\xaa\xbb"
    assert decoded.records[0].subrecords == (RawSubrecord(srt=99, data=b"xyz"),)


def test_the_splitter_hands_over_good_frames_before_a_bad_one() -> None:
    good = packet(b"\x01\x00\x00", pt=0)
    frames, rest = split_frames(good + b"\x07garbage")
    assert frames == [good] and rest == b"\x07garbage"
    with pytest.raises(EgtsError) as refused:
        split_frames(rest)
    assert refused.value.result_code == ResultCode.UNS_PROTOCOL


def test_decode_packets_keeps_each_result_in_order() -> None:
    good = packet(b"\x01\x00\x00", pt=0)
    bad = good[:-1] + bytes([good[-1] ^ 1])
    first, second = decode_packets([good, bad])
    assert not isinstance(first, EgtsError) and first.response_to_pid == 1
    assert isinstance(second, EgtsError) and second.result_code == ResultCode.DATACRC_ERROR


def test_encode_response_matches_a_captured_response() -> None:
    # kuznetsovin/egts-protocol egts_pt_response_test.go, conformance vector; its priority bits are 3.
    captured = bytes.fromhex("0100030b0003008900004a15380033e8")
    assert encode_packet(137, PacketType.RESPONSE, struct.pack("<HB", 14357, 0), priority=3) == captured
    # traccar EgtsProtocolDecoderTest, a bare RESPONSE to PID 1.
    assert encode_response(1, 0, [], own_pid=0x436C) == bytes.fromhex("0100000b0003006c430004010000acfb")


def test_encode_response_confirms_each_record_in_its_service() -> None:
    appdata = decode_packet(encode_auth_packet(5, 1234, imei="861234567890123", record_number=9))
    answered = [*confirmations(appdata), (10, ResultCode.DATACRC_ERROR)]
    response = decode_packet(encode_response(5, ResultCode.OK, answered, own_pid=300))
    assert response.packet_type == PacketType.RESPONSE and response.pid == 300
    assert (response.response_to_pid, response.result) == (5, 0)
    got = [(record.source_service, record.subrecords) for record in response.records]
    assert got == [
        (SERVICE_AUTH, (RecordResponse(confirmed_record=9, result=0),)),
        (SERVICE_TELEDATA, (RecordResponse(confirmed_record=10, result=138),)),
    ]
    assert not response.records[0].source_on_device


def test_encode_auth_packet_carries_the_terminal_identity() -> None:
    decoded = decode_packet(
        encode_auth_packet(
            7, 3636500978, imei="865905000000000", msisdn="79001234567", buffer_size=512, home_dispatcher=3
        )
    )
    (record,) = decoded.records
    assert record.source_service == SERVICE_AUTH and record.object_id == 3636500978
    assert record.source_on_device
    assert record.subrecords == (
        TermIdentity(
            terminal_id=3636500978,
            home_dispatcher=3,
            imei="865905000000000",
            buffer_size=512,
            msisdn="79001234567",
        ),
    )


def test_sensor_subrecords_become_inputs_analog_counters_and_battery() -> None:
    position = PosData(time=T0, lat=53.9, lon=27.56, digital_inputs=0b0000_0101, speed_kmh=12.5, course=300)
    record = teledata(
        position,
        ExtPosData(hdop=0.9, vdop=1.2, satellites=11, nav_systems=3),
        AdSensorsData(digital_octets={1: 0x81}, outputs=2, analog={1: 3700, 3: 12}),
        AbsDigSensData(number=2, state=1),
        AbsDigSensData(number=3, state=0),
        AbsAnSensData(number=12, value=999),
        CountersData(counters={1: 5, 8: 70000}),
        StateData(state=2, main_v=12.4, backup_v=4.1, internal_v=3.9),
        LiquidLevelSensor(number=1, value=3758, unit=2),
        number=77,
    )
    (fix,) = records_to_fixes(decode_packet(packet(record)), "seal-9")
    assert (fix.device_id, fix.record_id, fix.time) == ("seal-9", 77, T0)
    assert fix.inputs == 0b1000_0001_0000_0011  # DIN 1 and 3, input 2 set, input 3 cleared, octet 1 = 0x81
    assert fix.analog == {1: 3700.0, 3: 12.0, 12: 999.0}
    assert fix.counters == {1: 5, 8: 70000}
    assert fix.battery_v == pytest.approx(3.9)
    assert (fix.satellites, fix.hdop) == (11, 0.9)
    assert fix.params["object_id"] == 42 and fix.params["lls1"] == 3758 and fix.params["outputs"] == 2
    assert fix.params["power_main_v"] == pytest.approx(12.4)


def test_a_record_without_position_gives_no_fix_and_invalid_fixes_are_kept() -> None:
    state_only = teledata(StateData(internal_v=3.6), number=1)
    invalid = teledata(PosData(time=T0, lat=0.0, lon=0.0, valid=False), number=2)
    fixes = records_to_fixes(decode_packet(packet(state_only + invalid)), "seal-1")
    assert [(fix.record_id, fix.valid) for fix in fixes] == [(2, False)]
    assert packets_to_fixes([decode_packet(packet(state_only + invalid))] * 2, "seal-1") == fixes * 2


def test_subrecords_are_decoded_per_service() -> None:
    # Type 20 is STATE_DATA in TELEDATA, but ACCEL_DATA in the ECALL service: kept raw there.
    assert isinstance(decode_subrecord(SERVICE_TELEDATA, 20, bytes(5)), StateData)
    assert decode_subrecord(SERVICE_ECALL, 20, bytes(5)) == RawSubrecord(srt=20, data=bytes(5))
    assert decode_subrecord(SERVICE_TELEDATA, 1, b"x") == RawSubrecord(srt=1, data=b"x")
    assert isinstance(decode_subrecord(SERVICE_ECALL, 0, b"\x01\x00\x00"), RecordResponse)


def test_pos_data_layout_follows_the_standard() -> None:
    # South-west, course 300 (DIR 44 + DIRH), below sea level, from the black box.
    position = PosData(
        time=T0, lat=-33.5, lon=-70.25, speed_kmh=200.0, course=300, altitude_m=-12, from_black_box=True
    )
    data = position.encode()
    flags, spd, direction = data[12], int.from_bytes(data[13:15], "little"), data[15]
    assert flags & 0x20 and flags & 0x40 and flags & 0x80 and flags & 0x08
    assert spd & 0x3FFF == 2000 and spd & 0x4000 and spd >> 15 == 1 and direction == 44
    assert int.from_bytes(data[21:24], "little") == 12
    decoded = PosData.decode(data)
    assert decoded.lat == pytest.approx(-33.5, abs=1e-7) and decoded.lon == pytest.approx(-70.25, abs=1e-7)
    assert replace(decoded, lat=-33.5, lon=-70.25) == position


subrecords = st.one_of(
    st.builds(RecordResponse, st.integers(0, 0xFFFF), st.integers(0, 255)),
    st.builds(
        TermIdentity,
        terminal_id=st.integers(0, 0xFFFFFFFF),
        home_dispatcher=st.none() | st.integers(0, 0xFFFF),
        imei=st.none() | st.text("0123456789", min_size=1, max_size=15),
        imsi=st.none() | st.text("0123456789", min_size=1, max_size=16),
        language=st.none() | st.sampled_from(["rus", "eng"]),
        simple_service_algorithm=st.booleans(),
        network_id=st.none() | st.integers(0, 0xFFFFFF),
        buffer_size=st.none() | st.integers(0, 0xFFFF),
        msisdn=st.none() | st.text("0123456789", min_size=1, max_size=15),
    ),
    st.builds(
        ExtPosData,
        vdop=st.none() | st.integers(0, 0xFFFF).map(lambda v: v / 100),
        hdop=st.none() | st.integers(0, 0xFFFF).map(lambda v: v / 100),
        pdop=st.none() | st.integers(0, 0xFFFF).map(lambda v: v / 100),
        satellites=st.none() | st.integers(0, 255),
        nav_systems=st.none() | st.integers(0, 0xFFFF),
    ),
    st.builds(
        AdSensorsData,
        digital_octets=st.dictionaries(st.integers(1, 8), st.integers(0, 255)),
        outputs=st.integers(0, 255),
        analog=st.dictionaries(st.integers(1, 8), st.integers(0, 0xFFFFFF)),
    ),
    st.builds(CountersData, counters=st.dictionaries(st.integers(1, 8), st.integers(0, 0xFFFFFF))),
    st.builds(
        StateData,
        state=st.integers(0, 255),
        main_v=st.integers(0, 255).map(lambda v: v / 10),
        backup_v=st.integers(0, 255).map(lambda v: v / 10),
        internal_v=st.integers(0, 255).map(lambda v: v / 10),
        navigation_on=st.booleans(),
        internal_battery_used=st.booleans(),
        backup_battery_used=st.booleans(),
    ),
    st.builds(AbsDigSensData, st.integers(0, 0xFFF), st.integers(0, 15)),
    st.builds(AbsAnSensData, st.integers(0, 255), st.integers(0, 0xFFFFFF)),
    st.builds(
        LiquidLevelSensor,
        number=st.integers(0, 7),
        address=st.integers(0, 0xFFFF),
        value=st.integers(0, 0xFFFFFFFF),
        error=st.booleans(),
        unit=st.integers(0, 3),
    ),
    st.builds(
        LiquidLevelSensor,
        number=st.integers(0, 7),
        value=st.none(),
        raw=st.binary(max_size=20),
        unit=st.integers(0, 3),
    ),
)


@given(subrecords)
def test_every_subrecord_round_trips(subrecord: Subrecord) -> None:
    service = SERVICE_AUTH if isinstance(subrecord, TermIdentity) else SERVICE_TELEDATA
    decoded = decode_packet(packet(encode_record(3, service, [subrecord])))
    assert decoded.records[0].subrecords == (subrecord,)


fixes = st.builds(
    Fix,
    device_id=st.just("seal-1"),
    record_id=st.integers(0, 0xFFFF),
    time=st.integers(0, 2**32 - 1).map(lambda s: datetime(2010, 1, 1, tzinfo=UTC) + timedelta(seconds=s)),
    lat=st.floats(-90, 90, allow_nan=False),
    lon=st.floats(-180, 180, allow_nan=False),
    speed_kmh=st.integers(0, 0x3FFF).map(lambda v: v / 10),
    course=st.integers(0, 359),
    altitude_m=st.none() | st.integers(-0xFFFFFF, 0xFFFFFF).map(float),
    valid=st.booleans(),
    from_black_box=st.booleans(),
    satellites=st.none() | st.integers(0, 255),
    hdop=st.none() | st.integers(0, 0xFFFF).map(lambda v: v / 100),
    inputs=st.integers(0, 2**72 - 1),
    analog=st.dictionaries(st.integers(1, 255), st.integers(0, 0xFFFFFF).map(float), max_size=10),
    counters=st.dictionaries(st.integers(1, 8), st.integers(0, 0xFFFFFF)),
    battery_v=st.none() | st.integers(1, 255).map(lambda v: v / 10),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(fixes, min_size=1, max_size=5), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF))
def test_encode_position_packet_round_trips_the_fix(sent: list[Fix], pid: int, object_id: int) -> None:
    raw = encode_position_packet(pid, object_id, sent)
    frames, rest = split_frames(raw)
    assert frames == [raw] and rest == b""
    decoded = decode_packet(raw)
    assert decoded.pid == pid and all(record.object_id == object_id for record in decoded.records)
    got = records_to_fixes(decoded, "seal-1")
    assert len(got) == len(sent)
    for fix, back in zip(sent, got, strict=True):
        assert back.lat == pytest.approx(fix.lat, abs=1e-7)
        assert back.lon == pytest.approx(fix.lon, abs=1e-7)
        assert (back.lat < 0) == (fix.lat < 0) or fix.lat == 0 or back.lat == 0
        same = ("device_id", "record_id", "time", "speed_kmh", "course", "altitude_m", "valid")
        assert [getattr(back, name) for name in same] == [getattr(fix, name) for name in same]
        more = ("from_black_box", "satellites", "hdop", "inputs", "analog", "counters", "battery_v")
        assert [getattr(back, name) for name in more] == [getattr(fix, name) for name in more]
