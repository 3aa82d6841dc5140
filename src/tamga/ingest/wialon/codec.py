"""Wialon IPS 1.1 and 2.0: split a TCP stream into messages, decode them, answer them, write them.

Pure functions over text: no sockets, no clock. Decoding raises nothing but `WialonError`, whose `answer`
is the line the protocol prescribes for the refusal (None where it prescribes none).

A message is `#TYPE#body\\r\\n`, optionally prefixed by `version;imei;` (UDP). Version 2.0 ends a
message body with a CRC-16/ARC as four hex digits, computed over the body up to and including the
separator before it. A connection's version is set by its login (`#L#2.0;imei;password;crc` against
`#L#imei;password`): pass it to `decode_message` so that a 2.0 session cannot be fed an unchecked
message. Without it the version is inferred from the field count.

Answer codes (Wialon IPS 1.1 and 2.0 specifications, Gurtam):
  #AL#  1 accepted, 0 refused, 01 wrong password, 10 checksum error (2.0)
  #ASD# 1 accepted, -1 structure, 0 time, 10 coordinates, 11 speed/course/altitude, 12 satellites,
        13 checksum (2.0)
  #AD#  1 accepted, -1 structure, 0 time, 10 coordinates, 11 speed/course/altitude,
        12 satellites or HDOP, 13 inputs or outputs, 14 ADC, 15 parameters, 16 checksum (2.0)
  #AB#n n messages accepted; #AP# to a ping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from tamga.ingest.fix import Fix
from tamga.ingest.wialon.crc import crc16_arc

__all__ = [
    "LOGIN_ACCEPTED",
    "LOGIN_REFUSED",
    "LOGIN_WRONG_PASSWORD",
    "MAX_LINE",
    "WialonError",
    "WialonMessage",
    "WialonRecord",
    "answer",
    "decode_lines",
    "decode_message",
    "encode_black_box",
    "encode_data",
    "encode_login",
    "encode_ping",
    "encode_short_data",
    "split_lines",
    "to_fixes",
]

MessageType = Literal["L", "SD", "D", "B", "P"]
Version = Literal["1.1", "2.0"]
Fault = Literal[
    "structure", "time", "coordinates", "motion", "satellites", "hdop", "io", "adc", "params", "crc"
]

LOGIN_ACCEPTED: Final = "#AL#1\r\n"
LOGIN_REFUSED: Final = "#AL#0\r\n"
LOGIN_WRONG_PASSWORD: Final = "#AL#01\r\n"  # noqa: S105 - an answer code, not a secret
LOGIN_CRC_ERROR: Final = "#AL#10\r\n"
MAX_LINE: Final = 1 << 20
"""A line longer than this without CRLF is refused (a black box holds at most 5000 messages)."""

_SD_FIELDS: Final = 10
_D_FIELDS: Final = 16
_SD_CODES: Final[Mapping[Fault, str]] = {
    "structure": "-1",
    "time": "0",
    "coordinates": "10",
    "motion": "11",
    "satellites": "12",
    "crc": "13",
}
_D_CODES: Final[Mapping[Fault, str]] = {
    "structure": "-1",
    "time": "0",
    "coordinates": "10",
    "motion": "11",
    "satellites": "12",
    "hdop": "12",
    "io": "13",
    "adc": "14",
    "params": "15",
    "crc": "16",
}

_LINE: Final = re.compile(r"(?P<prefix>[^#]*)#(?P<type>[A-Z]{1,3})#(?P<body>.*)", re.DOTALL)
_HEX4: Final = re.compile(r"[0-9A-Fa-f]{4}")
# Bounded lengths keep every value finite (float) and convertible (int) whatever a device sends.
_DECIMAL: Final = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{0,20})?")
_UNSIGNED: Final = re.compile(r"[0-9]{1,20}(?:\.[0-9]{0,20})?")
_INTEGER: Final = re.compile(r"-?[0-9]{1,40}")
_DIGITS: Final = re.compile(r"[0-9]{1,20}")
_SIX_DIGITS: Final = re.compile(r"[0-9]{6}")


class WialonError(Exception):
    """A message the Wialon IPS codec refuses, with the protocol's answer to it (None if there is none)."""

    def __init__(self, answer: str | None, reason: str) -> None:
        super().__init__(f"{answer.strip() if answer else 'no answer'}: {reason}")
        self.answer = answer
        self.reason = reason


class _FieldFault(Exception):
    def __init__(self, fault: Fault, reason: str) -> None:
        super().__init__(reason)
        self.fault = fault
        self.reason = reason


@dataclass(frozen=True, slots=True)
class WialonRecord:
    """The navigation fields of one SD or D message; None where the device sent NA."""

    time: datetime | None
    lat: float | None
    lon: float | None
    speed_kmh: float | None
    course: float | None
    altitude_m: float | None
    satellites: int | None
    hdop: float | None = None
    inputs: int | None = None
    outputs: int | None = None
    adc: tuple[float | None, ...] = ()
    ibutton: str | None = None
    params: Mapping[str, int | float | str] = field(default_factory=dict)
    short: bool = False


@dataclass(frozen=True, slots=True)
class WialonMessage:
    """One decoded message. `rejected` counts the black-box messages that could not be decoded."""

    type: MessageType
    version: Version
    records: tuple[WialonRecord, ...] = ()
    imei: str | None = None
    password: str | None = None
    rejected: int = 0


def _raw(text: str) -> bytes:
    """The bytes a line was received as (`split_lines` keeps undecodable bytes as surrogate escapes)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _crc_holds(checked: str, crc: str) -> bool:
    return _HEX4.fullmatch(crc) is not None and crc16_arc(_raw(checked)) == int(crc, 16)


def _na(value: str) -> bool:
    return value == "NA"


def _number(value: str, pattern: re.Pattern[str], fault: Fault, what: str) -> float | None:
    if _na(value) or value == "":
        return None
    if not pattern.fullmatch(value):
        raise _FieldFault(fault, f"{what} {value!r} is not a number")
    return float(value)


def _whole(value: str, fault: Fault, what: str) -> int | None:
    if _na(value) or value == "":
        return None
    if not _DIGITS.fullmatch(value):
        raise _FieldFault(fault, f"{what} {value!r} is not a whole number")
    return int(value)


def _moment(date: str, time: str) -> datetime | None:
    if _na(date) or _na(time):
        return None
    if not (_SIX_DIGITS.fullmatch(date) and _SIX_DIGITS.fullmatch(time)):
        raise _FieldFault("time", f"date/time {date};{time} is not DDMMYY;HHMMSS")
    try:
        return datetime(
            2000 + int(date[4:6]),
            int(date[2:4]),
            int(date[0:2]),
            int(time[0:2]),
            int(time[2:4]),
            int(time[4:6]),
            tzinfo=UTC,
        )
    except ValueError as error:
        raise _FieldFault("time", f"date/time {date};{time}: {error}") from None


def _angle(value: str, hemisphere: str, positive: str, negative: str, limit: int) -> float | None:
    """Degrees from (D)DDMM.MMMM and its hemisphere letter."""
    if _na(value) and _na(hemisphere):
        return None
    if not _UNSIGNED.fullmatch(value) or hemisphere not in (positive, negative):
        raise _FieldFault("coordinates", f"coordinate {value};{hemisphere}")
    raw = float(value)
    degrees = int(raw // 100)
    minutes = raw - degrees * 100
    result = degrees + minutes / 60
    if minutes >= 60 or result > limit:
        raise _FieldFault("coordinates", f"coordinate {value};{hemisphere} is out of range")
    return -result if hemisphere == negative else result


def _adc(value: str) -> tuple[float | None, ...]:
    if _na(value) or value == "":
        return ()
    values: list[float | None] = []
    for item in value.split(","):
        if item == "":
            raise _FieldFault("adc", f"ADC list {value!r} has an empty item")
        values.append(_number(item, _DECIMAL, "adc", "ADC"))
    return tuple(values)


def _params(value: str) -> dict[str, int | float | str]:
    if _na(value) or value == "":
        return {}
    params: dict[str, int | float | str] = {}
    for item in value.split(","):
        parts = item.split(":", 2)
        if len(parts) != 3 or not parts[0]:
            raise _FieldFault("params", f"parameter {item!r} is not name:type:value")
        name, kind, text = parts
        if kind == "1" and _INTEGER.fullmatch(text):
            params[name] = int(text)
        elif kind == "2" and _DECIMAL.fullmatch(text):
            params[name] = float(text)
        elif kind == "3":
            params[name] = text
        else:
            raise _FieldFault("params", f"parameter {item!r}: type {kind} does not fit its value")
    return params


def _record(fields: Sequence[str]) -> WialonRecord:
    """An SD (10 fields) or D (16 fields) message body, already split and without its CRC."""
    if len(fields) not in (_SD_FIELDS, _D_FIELDS):
        raise _FieldFault("structure", f"{len(fields)} fields, not {_SD_FIELDS} or {_D_FIELDS}")
    time = _moment(fields[0], fields[1])
    lat = _angle(fields[2], fields[3], "N", "S", 90)
    lon = _angle(fields[4], fields[5], "E", "W", 180)
    if (lat is None) != (lon is None):
        raise _FieldFault("coordinates", "latitude and longitude must both be given or both be NA")
    speed = _number(fields[6], _UNSIGNED, "motion", "speed")
    course = _number(fields[7], _UNSIGNED, "motion", "course")
    if course is not None and course > 360:
        raise _FieldFault("motion", f"course {course} is over 360")
    altitude = _number(fields[8], _DECIMAL, "motion", "altitude")
    satellites = _whole(fields[9], "satellites", "satellites")
    if len(fields) == _SD_FIELDS:
        return WialonRecord(time, lat, lon, speed, course, altitude, satellites, short=True)
    return WialonRecord(
        time,
        lat,
        lon,
        speed,
        course,
        altitude,
        satellites,
        hdop=_number(fields[10], _UNSIGNED, "hdop", "HDOP"),
        inputs=_whole(fields[11], "io", "inputs"),
        outputs=_whole(fields[12], "io", "outputs"),
        adc=_adc(fields[13]),
        ibutton=None if _na(fields[14]) or fields[14] == "" else fields[14],
        params=_params(fields[15]),
    )


def _strip_crc(body: str, count: int, version: Version | None) -> tuple[list[str], Version]:
    """The fields of an SD/D/L body without the 2.0 checksum, which is verified; and the version."""
    fields = body.split(";")
    if version is None:
        version = "2.0" if len(fields) == count + 1 and _HEX4.fullmatch(fields[-1]) else "1.1"
    if version == "2.0":
        checked, separator, crc = body.rpartition(";")
        if not separator or not _crc_holds(checked + separator, crc):
            raise _FieldFault("crc", "checksum does not match")
        fields = checked.split(";")
    if len(fields) != count:
        raise _FieldFault("structure", f"{len(fields)} fields, not {count}")
    return fields, version


def _login(body: str, version: Version | None) -> WialonMessage:
    """`imei;password` (1.1) or `2.0;imei;password;crc` (2.0)."""
    fields = body.split(";")
    try:
        if len(fields) == 2 and version != "2.0":
            version = "1.1"
        elif len(fields) == 4 or version == "2.0":
            fields, version = _strip_crc(body, 3, "2.0")
            fields = fields[1:]
        else:
            raise _FieldFault("structure", f"{len(fields)} login fields")
    except _FieldFault as fault:
        raise WialonError(LOGIN_CRC_ERROR if fault.fault == "crc" else LOGIN_REFUSED, fault.reason) from None
    imei, password = fields
    if not imei:
        raise WialonError(LOGIN_REFUSED, "empty IMEI")
    return WialonMessage("L", version, imei=imei, password=None if _na(password) else password)


def _black_box(body: str, version: Version | None) -> WialonMessage:
    segments = body.split("|")
    last_fields = segments[-1].split(";")
    trailing_crc = len(segments) > 1 and _HEX4.fullmatch(segments[-1]) is not None
    last_crc = len(last_fields) in (_SD_FIELDS + 1, _D_FIELDS + 1) and _HEX4.fullmatch(last_fields[-1])
    if version is None:
        version = "2.0" if trailing_crc or last_crc else "1.1"
    if version == "2.0":
        # The specification ends the list with "|CRC"; some devices end the last message with ";CRC".
        separator = "|" if trailing_crc else ";"
        checked, found, crc = body.rpartition(separator)
        if not found or not _crc_holds(checked + separator, crc):
            raise WialonError("#AB#0\r\n", "checksum does not match")
        segments = checked.split("|")
    records: list[WialonRecord] = []
    rejected = 0
    for segment in segments:
        try:
            records.append(_record(segment.split(";")))
        except _FieldFault:
            rejected += 1
    return WialonMessage("B", version, records=tuple(records), rejected=rejected)


def _prefix(prefix: str) -> tuple[Version | None, str | None]:
    """The version and IMEI of a `version;imei;` (or `imei;`) prefix."""
    parts = [part for part in prefix.split(";") if part]
    if not parts:
        return None, None
    if len(parts) == 1:
        return None, parts[0]
    version: Version | None = "2.0" if parts[0] == "2.0" else "1.1" if parts[0] == "1.1" else None
    return version, parts[1]


def decode_message(line: str, version: Version | None = None) -> WialonMessage:
    """The message in one line (with or without its CRLF); `WialonError` with the answer if refused.

    `version` is the connection's version, known from its login; None infers it from the message.
    """
    match = _LINE.fullmatch(line.rstrip("\r\n"))
    if match is None:
        raise WialonError(None, "not a Wialon IPS message (#TYPE#body)")
    prefix_version, imei = _prefix(match["prefix"])
    version = version or prefix_version
    kind, body = match["type"], match["body"]
    if kind == "P":
        return WialonMessage("P", version or "1.1", imei=imei)
    if kind == "L":
        return _login(body, version)
    if kind == "B":
        message = _black_box(body, version)
        return WialonMessage("B", message.version, message.records, imei=imei, rejected=message.rejected)
    if kind in ("SD", "D"):
        codes = _SD_CODES if kind == "SD" else _D_CODES
        try:
            fields, found = _strip_crc(body, _SD_FIELDS if kind == "SD" else _D_FIELDS, version)
            record = _record(fields)
        except _FieldFault as fault:
            raise WialonError(f"#A{kind}#{codes[fault.fault]}\r\n", fault.reason) from None
        return WialonMessage("SD" if kind == "SD" else "D", found, (record,), imei=imei)
    raise WialonError(None, f"packet type {kind} is not supported")


def decode_lines(lines: Iterable[str], version: Version | None = None) -> list[WialonMessage | WialonError]:
    """Each line decoded, in order: the message, or the error whose answer refuses it."""
    results: list[WialonMessage | WialonError] = []
    for line in lines:
        try:
            results.append(decode_message(line, version))
        except WialonError as error:
            results.append(error)
    return results


def split_lines(buffer: bytes | bytearray | memoryview) -> tuple[list[str], bytes]:
    """The complete lines at the head of a TCP byte stream (without CRLF), and the bytes left over.

    Bytes that are not UTF-8 are kept as surrogate escapes, so a checksum is verified over what was
    received. Raises `WialonError` when more than `MAX_LINE` bytes arrive without a line end.
    """
    data = bytes(buffer)
    *complete, rest = data.split(b"\n")
    if len(rest) > MAX_LINE:
        raise WialonError(None, f"no line end in {len(rest)} bytes")
    lines = [raw.rstrip(b"\r").decode("utf-8", "surrogateescape") for raw in complete]
    return [line for line in lines if line], rest


def answer(message: WialonMessage) -> str:
    """The answer that accepts `message`."""
    if message.type == "L":
        return LOGIN_ACCEPTED
    if message.type == "P":
        return "#AP#\r\n"
    if message.type == "B":
        return f"#AB#{len(message.records)}\r\n"
    return f"#A{message.type}#1\r\n"


def to_fixes(
    message: WialonMessage,
    device_id: str,
    *,
    received_at: datetime | None = None,
    first_record_id: int | None = None,
) -> list[Fix]:
    """The fixes of a data message: records with coordinates, timed by the device or else `received_at`.

    Wialon IPS has no validity flag: a fix is valid unless the device reports fewer than 3 satellites.
    """
    fixes: list[Fix] = []
    for i, record in enumerate(message.records):
        time = record.time or received_at
        if record.lat is None or record.lon is None or time is None:
            continue
        params: dict[str, int | float | str] = dict(record.params)
        if record.outputs is not None:
            params["outputs"] = record.outputs
        if record.ibutton is not None:
            params["ibutton"] = record.ibutton
        fixes.append(
            Fix(
                device_id=device_id,
                record_id=first_record_id + i if first_record_id is not None else None,
                time=time,
                lat=record.lat,
                lon=record.lon,
                speed_kmh=record.speed_kmh,
                course=round(record.course) % 360 if record.course is not None else None,
                altitude_m=record.altitude_m,
                valid=record.satellites is None or record.satellites >= 3,
                from_black_box=message.type == "B",
                satellites=record.satellites,
                hdop=record.hdop,
                inputs=record.inputs,
                analog={k + 1: v for k, v in enumerate(record.adc) if v is not None},
                params=params,
            )
        )
    return fixes


def _decimal(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _coordinate(value: float, degree_digits: int) -> str:
    micro_minutes = round(abs(value) * 60_000_000)
    degrees, rest = divmod(micro_minutes, 60_000_000)
    return f"{degrees:0{degree_digits}d}{rest // 1_000_000:02d}.{rest % 1_000_000:06d}"


def _or_na(value: float | int | None, text: str | None = None) -> str:
    if value is None:
        return "NA"
    return text if text is not None else _decimal(value)


def _param_text(name: str, value: int | float | str) -> str:
    if any(c in name for c in ":,;|#\r\n") or not name:
        raise ValueError(f"parameter name {name!r} cannot be sent")
    if isinstance(value, bool | int):
        return f"{name}:1:{int(value)}"
    if isinstance(value, float):
        return f"{name}:2:{_decimal(value)}"
    if any(c in value for c in ",;|\r\n"):
        raise ValueError(f"parameter {name} value {value!r} cannot be sent")
    return f"{name}:3:{value}"


def _fields_of(fix: Fix, short: bool) -> list[str]:
    moment = fix.time.astimezone(UTC)
    fields = [
        moment.strftime("%d%m%y"),
        moment.strftime("%H%M%S"),
        _coordinate(fix.lat, 2),
        "S" if fix.lat < 0 else "N",
        _coordinate(fix.lon, 3),
        "W" if fix.lon < 0 else "E",
        _or_na(fix.speed_kmh),
        _or_na(fix.course),
        _or_na(fix.altitude_m),
        _or_na(fix.satellites),
    ]
    if short:
        return fields
    if any(k < 1 for k in fix.analog):
        raise ValueError("Wialon ADC inputs are numbered from 1")
    top = max(fix.analog, default=0)
    adc = ",".join(_or_na(fix.analog.get(k)) for k in range(1, top + 1))
    outputs = fix.params.get("outputs")
    params = ",".join(_param_text(k, v) for k, v in fix.params.items() if k not in ("outputs", "ibutton"))
    ibutton = fix.params.get("ibutton")
    return [
        *fields,
        _or_na(fix.hdop),
        _or_na(fix.inputs),
        str(outputs) if isinstance(outputs, int) else "NA",
        adc or "NA",
        str(ibutton) if ibutton is not None else "NA",
        params or "NA",
    ]


def _with_crc(body: str, version: Version) -> str:
    if version == "1.1":
        return body
    return f"{body}{crc16_arc(_raw(body)):04X}"


def encode_login(imei: str, password: str | None = None, version: Version = "2.0") -> str:
    """The login line a device opens its connection with."""
    if version == "1.1":
        return f"#L#{imei};{password or 'NA'}\r\n"
    return "#L#" + _with_crc(f"2.0;{imei};{password or 'NA'};", version) + "\r\n"


def encode_ping() -> str:
    """The ping (heartbeat) line."""
    return "#P#\r\n"


def encode_short_data(fix: Fix, version: Version = "2.0") -> str:
    """The SD line of a fix."""
    body = ";".join(_fields_of(fix, short=True))
    return "#SD#" + (_with_crc(body + ";", version) if version == "2.0" else body) + "\r\n"


def encode_data(fix: Fix, version: Version = "2.0") -> str:
    """The D line of a fix: digital inputs, ADC from `analog`, parameters from `params`."""
    body = ";".join(_fields_of(fix, short=False))
    return "#D#" + (_with_crc(body + ";", version) if version == "2.0" else body) + "\r\n"


def encode_black_box(fixes: Sequence[Fix], version: Version = "2.0") -> str:
    """The B line of stored fixes, as D messages (version 2.0 ends the list with `|CRC`)."""
    body = "|".join(";".join(_fields_of(fix, short=False)) for fix in fixes)
    return "#B#" + (_with_crc(body + "|", version) if version == "2.0" else body) + "\r\n"
