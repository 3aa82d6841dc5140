"""Wialon IPS codec: answers per field at fault, login, black box, prefix, stream splitting, round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tamga.ingest.fix import Fix
from tamga.ingest.wialon import (
    WialonError,
    answer,
    decode_lines,
    decode_message,
    encode_black_box,
    encode_data,
    encode_login,
    encode_ping,
    encode_short_data,
    split_lines,
    to_fixes,
)
from tamga.ingest.wialon.crc import crc16_arc

SD = "270413;205601;5544.6025;N;03739.6834;E;1;2;3;4"
D = "151216;140203;5312.59514;N;04830.37834;E;53;273;NA;10;0.9;5;0;1.5,NA,3;NA;EvId:1:1,Board:2:12.81,Name:3:x y"


def with_crc(body: str) -> str:
    return f"{body};{crc16_arc(body.encode() + b';'):04X}"


def replace_field(body: str, index: int, value: str) -> str:
    fields = body.split(";")
    fields[index] = value
    return ";".join(fields)


def test_crc16_arc_check_value() -> None:
    assert crc16_arc(b"123456789") == 0xBB3D


@pytest.mark.parametrize(
    ("index", "value", "code"),
    [
        (0, "320413", "0"),  # day 32
        (1, "2561", "0"),
        (2, "5599.0000", "10"),  # 99 minutes
        (3, "X", "10"),
        (4, "18100.0000", "10"),  # 181 degrees
        (2, "NA", "10"),  # latitude without longitude
        (6, "fast", "11"),
        (7, "361", "11"),
        (8, "1e5", "11"),
        (9, "-1", "12"),
    ],
)
def test_a_short_data_fault_is_answered_with_its_field_code(index: int, value: str, code: str) -> None:
    with pytest.raises(WialonError) as refused:
        decode_message(f"#SD#{replace_field(SD, index, value)}")
    assert refused.value.answer == f"#ASD#{code}\r\n"


@pytest.mark.parametrize(
    ("index", "value", "code"),
    [
        (0, "1612", "0"),
        (2, "53x", "10"),
        (8, "up", "11"),
        (9, "many", "12"),
        (10, "-0.5", "12"),  # HDOP
        (11, "on", "13"),
        (12, "1.5", "13"),
        (13, "1,,2", "14"),
        (13, "volts", "14"),
        (15, "EvId:1:1.5", "15"),
        (15, "EvId:4:1", "15"),
        (15, "novalue", "15"),
    ],
)
def test_a_data_fault_is_answered_with_its_field_code(index: int, value: str, code: str) -> None:
    with pytest.raises(WialonError) as refused:
        decode_message(f"#D#{replace_field(D, index, value)}")
    assert refused.value.answer == f"#AD#{code}\r\n"


def test_a_wrong_field_count_is_a_structure_error() -> None:
    with pytest.raises(WialonError) as short:
        decode_message("#SD#270413;205601;5544.6025;N")
    assert short.value.answer == "#ASD#-1\r\n"
    with pytest.raises(WialonError) as data:
        decode_message(f"#D#{D};extra;fields")
    assert data.value.answer == "#AD#-1\r\n"


def test_a_data_message_decodes_every_field() -> None:
    message = decode_message(f"#D#{with_crc(D)}\r\n")
    assert (message.type, message.version) == ("D", "2.0")
    (record,) = message.records
    assert record.time == datetime(2016, 12, 15, 14, 2, 3, tzinfo=UTC)
    assert record.lat == pytest.approx(53 + 12.59514 / 60) and record.lon == pytest.approx(48 + 30.37834 / 60)
    assert (record.speed_kmh, record.course, record.altitude_m, record.satellites) == (53.0, 273.0, None, 10)
    assert (record.hdop, record.inputs, record.outputs, record.adc) == (0.9, 5, 0, (1.5, None, 3.0))
    assert dict(record.params) == {"EvId": 1, "Board": 12.81, "Name": "x y"}
    (fix,) = to_fixes(message, "seal-1", first_record_id=40)
    assert (fix.record_id, fix.inputs, fix.analog, fix.hdop) == (40, 5, {1: 1.5, 3: 3.0}, 0.9)
    assert fix.params["outputs"] == 0 and not fix.from_black_box


def test_southern_and_western_hemispheres_are_negative() -> None:
    (record,) = decode_message("#SD#010125;000000;3330.0000;S;07015.0000;W;0;0;0;5").records
    assert (record.lat, record.lon) == (-33.5, -70.25)


def test_na_time_takes_the_reception_time_and_no_coordinates_give_no_fix() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    message = decode_message("#SD#NA;NA;5544.6025;N;03739.6834;E;NA;NA;NA;NA")
    assert message.records[0].time is None
    assert to_fixes(message, "seal-1") == []
    assert to_fixes(message, "seal-1", received_at=now)[0].time == now
    assert to_fixes(decode_message("#SD#270413;205601;NA;NA;NA;NA;NA;NA;NA;NA"), "seal-1") == []


def test_fewer_than_three_satellites_is_not_a_valid_fix() -> None:
    (fix,) = to_fixes(decode_message("#SD#270413;205601;5544.6025;N;03739.6834;E;1;2;3;2"), "seal-1")
    assert not fix.valid


def test_login_in_both_versions() -> None:
    old = decode_message("#L#865905021234567;NA")
    assert (old.type, old.version, old.imei, old.password) == ("L", "1.1", "865905021234567", None)
    new = decode_message(encode_login("865905021234567", "secret"))
    assert (new.version, new.imei, new.password) == ("2.0", "865905021234567", "secret")
    assert answer(new) == "#AL#1\r\n"


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        ("#L#2.0;865905021234567;secret;0000", "#AL#10\r\n"),
        ("#L#2.0;865905021234567;secret", "#AL#0\r\n"),
        ("#L#865905021234567", "#AL#0\r\n"),
        ("#L#;NA", "#AL#0\r\n"),
    ],
)
def test_a_refused_login_is_answered(line: str, reply: str) -> None:
    with pytest.raises(WialonError) as refused:
        decode_message(line)
    assert refused.value.answer == reply


def test_ping_and_unknown_types() -> None:
    ping = decode_message(encode_ping())
    assert ping.type == "P" and answer(ping) == "#AP#\r\n"
    with pytest.raises(WialonError) as unknown:
        decode_message("#M#hello driver")
    assert unknown.value.answer is None
    with pytest.raises(WialonError):
        decode_message("no frame at all")


def test_the_version_and_imei_prefix() -> None:
    message = decode_message(f"2.0;865905021234567;#SD#{with_crc(SD)}")
    assert (message.version, message.imei) == ("2.0", "865905021234567")
    with pytest.raises(WialonError) as refused:
        decode_message(f"2.0;865905021234567;#SD#{SD}")  # a 2.0 prefix, but no checksum
    assert refused.value.answer == "#ASD#13\r\n"
    assert decode_message(f"865905021234567#SD#{SD}").imei == "865905021234567"


def test_a_black_box_counts_what_it_accepted() -> None:
    bad = replace_field(D, 0, "991399")
    message = decode_message(f"#B#{SD}|{bad}|{D}")
    assert (message.version, len(message.records), message.rejected) == ("1.1", 2, 1)
    assert answer(message) == "#AB#2\r\n"
    assert all(fix.from_black_box for fix in to_fixes(message, "seal-1"))


def test_a_2_0_black_box_ends_with_its_checksum_either_way() -> None:
    spec = f"{SD}|{D}|"
    by_spec = decode_message(f"#B#{spec}{crc16_arc(spec.encode()):04X}")
    semicolon = f"{SD}|{D};"
    by_semicolon = decode_message(f"#B#{semicolon}{crc16_arc(semicolon.encode()):04X}")
    assert by_spec.version == by_semicolon.version == "2.0"
    assert by_spec.records == by_semicolon.records and len(by_spec.records) == 2
    with pytest.raises(WialonError) as refused:
        decode_message(f"#B#{spec}0000")
    assert refused.value.answer == "#AB#0\r\n"


def test_split_lines_keeps_the_partial_tail_and_the_received_bytes() -> None:
    latin = "#D#" + replace_field(D, 15, "Name:3:Бак").replace("Бак", "\udcc1\udce0\udcea")
    raw_line = latin.encode("utf-8", "surrogateescape")
    body = raw_line[3:]
    crc = f"{crc16_arc(body + b';'):04X}".encode()
    lines, rest = split_lines(b"#P#\r\n" + raw_line + b";" + crc + b"\r\n\r\n#SD#27041")
    assert rest == b"#SD#27041" and len(lines) == 2
    ping, data = decode_lines(lines)
    assert not isinstance(ping, WialonError) and ping.type == "P"
    assert not isinstance(data, WialonError) and data.version == "2.0"  # the checksum of the cp1251 bytes


def test_split_lines_refuses_an_endless_line() -> None:
    with pytest.raises(WialonError):
        split_lines(b"#D#" + b"1" * (1 << 20))


fixes = st.builds(
    Fix,
    device_id=st.just("seal-1"),
    record_id=st.none(),
    time=st.integers(0, 99 * 365 * 86400).map(
        lambda s: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(seconds=s)
    ),
    lat=st.floats(-90, 90, allow_nan=False),
    lon=st.floats(-180, 180, allow_nan=False),
    speed_kmh=st.none() | st.integers(0, 20000).map(lambda v: v / 10),
    course=st.none() | st.integers(0, 359),
    altitude_m=st.none() | st.integers(-5000, 9000).map(lambda v: v / 10),
    satellites=st.none() | st.integers(3, 40),
    hdop=st.none() | st.integers(0, 9999).map(lambda v: v / 100),
    inputs=st.none() | st.integers(0, 2**32 - 1),
    analog=st.dictionaries(st.integers(1, 8), st.integers(-50000, 50000).map(lambda v: v / 1000)),
    params=st.dictionaries(
        st.text("abcdefghij_0123456789", min_size=1, max_size=8),
        st.integers(-(2**40), 2**40)
        | st.integers(-(10**6), 10**6).map(lambda v: v / 1000)
        | st.text("abc xyz"),
        max_size=4,
    ),
)


def assert_same_fix(sent: Fix, back: Fix, *, short: bool) -> None:
    assert back.time == sent.time
    assert back.lat == pytest.approx(sent.lat, abs=1e-7) and back.lon == pytest.approx(sent.lon, abs=1e-7)
    assert back.speed_kmh == sent.speed_kmh and back.course == sent.course
    assert back.altitude_m == sent.altitude_m and back.satellites == sent.satellites
    if short:
        return
    assert back.hdop == sent.hdop and back.inputs == sent.inputs and back.analog == sent.analog
    assert back.params == sent.params


@settings(max_examples=150, deadline=None)
@given(fixes, st.sampled_from(["1.1", "2.0"]))
def test_data_and_short_data_round_trip(fix: Fix, version: str) -> None:
    assert version in ("1.1", "2.0")
    for line, short in ((encode_data(fix, version), False), (encode_short_data(fix, version), True)):
        (text,), rest = split_lines(line.encode())
        assert rest == b""
        message = decode_message(text, version)
        assert message.version == version
        (back,) = to_fixes(message, "seal-1")
        assert_same_fix(fix, back, short=short)


@settings(max_examples=100, deadline=None)
@given(st.lists(fixes, min_size=1, max_size=4), st.sampled_from(["1.1", "2.0"]))
def test_black_box_round_trip(sent: list[Fix], version: str) -> None:
    message = decode_message(encode_black_box(sent, version), version)
    assert answer(message) == f"#AB#{len(sent)}\r\n"
    back = to_fixes(message, "seal-1")
    for fix, got in zip(sent, back, strict=True):
        assert_same_fix(fix, got, short=False)
        assert got.from_black_box
