"""EGTS subrecords (the SRD of a service data record): their layouts, decoders and encoders.

Layouts follow the EGTS specification (Order of the Ministry of Transport of Russia No. 285, annex 6;
GOST R 56361 / GOST 33472 annex A). Every integer is little-endian. Subrecord types are numbered per
service: the codec decodes TERM_IDENTITY only in an AUTH record and the TELEDATA subrecords only in a
TELEDATA record; RECORD_RESPONSE (type 0) is common to every service. Anything else is kept raw.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar, Final

from tamga.ingest.egts.errors import EgtsError, ResultCode

SERVICE_AUTH: Final = 1
SERVICE_TELEDATA: Final = 2
SERVICE_COMMANDS: Final = 4
SERVICE_FIRMWARE: Final = 9
SERVICE_ECALL: Final = 10

SR_RECORD_RESPONSE: Final = 0
SR_TERM_IDENTITY: Final = 1
SR_POS_DATA: Final = 16
SR_EXT_POS_DATA: Final = 17
SR_AD_SENSORS_DATA: Final = 18
SR_COUNTERS_DATA: Final = 19
SR_STATE_DATA: Final = 20
SR_ABS_DIG_SENS_DATA: Final = 23
SR_ABS_AN_SENS_DATA: Final = 24
SR_LIQUID_LEVEL_SENSOR: Final = 27

EPOCH: Final = datetime(2010, 1, 1, tzinfo=UTC)
"""EGTS time is whole seconds since 2010-01-01 00:00:00 UTC."""

_U24_MAX: Final = 0xFFFFFF
_U32_MAX: Final = 0xFFFFFFFF

pos_fixed: Final = struct.Struct("<IIIBHBHBBB")
"""The fixed 21 bytes of POS_DATA: NTM, LAT, LONG, FLG, SPD, DIR, ODM (as 2 + 1 bytes), DIN, SRC."""


def egts_time(seconds: int) -> datetime:
    """The UTC moment of an EGTS time value."""
    return EPOCH + timedelta(seconds=seconds)


def egts_seconds(moment: datetime) -> int:
    """The EGTS time value (whole seconds since 2010, truncated) of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("an EGTS time needs an aware datetime")
    seconds = int((moment - EPOCH) // timedelta(seconds=1))
    if not 0 <= seconds <= _U32_MAX:
        raise ValueError(f"{moment.isoformat()} is outside the EGTS time range")
    return seconds


class _Reader:
    """Bounds-checked little-endian reads over one subrecord's data."""

    __slots__ = ("data", "name", "pos")

    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.name = name
        self.pos = 0

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, size: int) -> bytes:
        if self.remaining() < size:
            raise EgtsError(
                ResultCode.INC_DATAFORM,
                f"{self.name}: {size} bytes wanted at offset {self.pos}, {self.remaining()} left",
            )
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "little")

    def u24(self) -> int:
        return int.from_bytes(self.take(3), "little")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")


def _u24(value: int, what: str) -> bytes:
    if not 0 <= value <= _U24_MAX:
        raise ValueError(f"{what} {value} does not fit in 3 bytes")
    return value.to_bytes(3, "little")


def _text(raw: bytes) -> str:
    """A fixed-width ASCII field, without the NUL or space padding devices put after it."""
    return raw.decode("ascii", errors="replace").rstrip("\x00 ").lstrip("\x00")


def _fixed_text(value: str, width: int, what: str) -> bytes:
    raw = value.encode("ascii")
    if len(raw) > width:
        raise ValueError(f"{what} is longer than {width} characters")
    return raw.ljust(width, b"\x00")


@dataclass(frozen=True, slots=True)
class RecordResponse:
    """EGTS_SR_RECORD_RESPONSE: the confirmation of one record (CRN) and its processing result (RST)."""

    srt: ClassVar[int] = SR_RECORD_RESPONSE
    confirmed_record: int
    result: int

    @classmethod
    def decode(cls, data: bytes) -> RecordResponse:
        r = _Reader(data, "RECORD_RESPONSE")
        return cls(confirmed_record=r.u16(), result=r.u8())

    def encode(self) -> bytes:
        return struct.pack("<HB", self.confirmed_record, self.result)


@dataclass(frozen=True, slots=True)
class TermIdentity:
    """EGTS_SR_TERM_IDENTITY (AUTH service): who the terminal is; the gateway authenticates on it."""

    srt: ClassVar[int] = SR_TERM_IDENTITY
    terminal_id: int
    home_dispatcher: int | None = None
    imei: str | None = None
    imsi: str | None = None
    language: str | None = None
    simple_service_algorithm: bool = False
    network_id: int | None = None
    buffer_size: int | None = None
    msisdn: str | None = None

    @classmethod
    def decode(cls, data: bytes) -> TermIdentity:
        r = _Reader(data, "TERM_IDENTITY")
        terminal_id = r.u32()
        flags = r.u8()
        home_dispatcher = r.u16() if flags & 0x01 else None
        imei = _text(r.take(15)) if flags & 0x02 else None
        imsi = _text(r.take(16)) if flags & 0x04 else None
        language = _text(r.take(3)) if flags & 0x08 else None
        network_id = r.u24() if flags & 0x20 else None
        buffer_size = r.u16() if flags & 0x40 else None
        msisdn = _text(r.take(15)) if flags & 0x80 else None
        return cls(
            terminal_id=terminal_id,
            home_dispatcher=home_dispatcher,
            imei=imei,
            imsi=imsi,
            language=language,
            simple_service_algorithm=bool(flags & 0x10),
            network_id=network_id,
            buffer_size=buffer_size,
            msisdn=msisdn,
        )

    def encode(self) -> bytes:
        flags = 0x10 if self.simple_service_algorithm else 0
        body = b""
        if self.home_dispatcher is not None:
            flags |= 0x01
            body += struct.pack("<H", self.home_dispatcher)
        if self.imei is not None:
            flags |= 0x02
            body += _fixed_text(self.imei, 15, "IMEI")
        if self.imsi is not None:
            flags |= 0x04
            body += _fixed_text(self.imsi, 16, "IMSI")
        if self.language is not None:
            flags |= 0x08
            body += _fixed_text(self.language, 3, "language code")
        if self.network_id is not None:
            flags |= 0x20
            body += _u24(self.network_id, "network id")
        if self.buffer_size is not None:
            flags |= 0x40
            body += struct.pack("<H", self.buffer_size)
        if self.msisdn is not None:
            flags |= 0x80
            body += _fixed_text(self.msisdn, 15, "MSISDN")
        return struct.pack("<IB", self.terminal_id, flags) + body


@dataclass(frozen=True, slots=True)
class PosData:
    """EGTS_SR_POS_DATA (TELEDATA service): the basic navigation fix.

    LAT = |latitude| / 90 * 0xFFFFFFFF and LONG = |longitude| / 180 * 0xFFFFFFFF, the hemispheres in FLG
    (bit 5 south, bit 6 west). SPD carries the speed in 0.1 km/h in its low 14 bits, the altitude sign in
    bit 14 and the high (ninth) bit of the direction in bit 15: course = DIR + 256 * DIRH. ALT, present
    when FLG bit 7 is set, is the altitude's magnitude in metres.
    """

    srt: ClassVar[int] = SR_POS_DATA
    time: datetime
    lat: float
    lon: float
    valid: bool = True
    pz90: bool = False
    fix_3d: bool = False
    from_black_box: bool = False
    moving: bool = False
    speed_kmh: float = 0.0
    course: int = 0
    odometer_km: float = 0.0
    digital_inputs: int = 0
    source: int = 0
    altitude_m: int | None = None
    source_data: int | None = None

    @classmethod
    def decode(cls, data: bytes) -> PosData:
        """The hot path: one `unpack_from` of the fixed part; short data goes through `_decode_checked`."""
        n = len(data)
        if n < 21:
            return cls._decode_checked(data)
        ntm, lat_raw, lon_raw, flags, spd, direction, odo_low, odo_high, din, source = pos_fixed.unpack_from(
            data
        )
        pos = 21
        altitude: int | None = None
        if flags & 0x80:
            if n < 24:
                return cls._decode_checked(data)
            altitude = data[21] | data[22] << 8 | data[23] << 16
            if spd & 0x4000:
                altitude = -altitude
            pos = 24
        lat = lat_raw * 90.0 / _U32_MAX
        lon = lon_raw * 180.0 / _U32_MAX
        return cls(
            egts_time(ntm),
            -lat if flags & 0x20 else lat,
            -lon if flags & 0x40 else lon,
            bool(flags & 0x01),
            bool(flags & 0x02),
            bool(flags & 0x04),
            bool(flags & 0x08),
            bool(flags & 0x10),
            (spd & 0x3FFF) / 10,
            direction | ((spd >> 15) << 8),
            (odo_low | odo_high << 16) / 10,
            din,
            source,
            altitude,
            data[pos] | data[pos + 1] << 8 if n - pos >= 2 else None,
        )

    @classmethod
    def _decode_checked(cls, data: bytes) -> PosData:
        """Field-by-field bounds-checked decoding: the reference for `decode`, and its error messages."""
        r = _Reader(data, "POS_DATA")
        ntm, lat_raw, lon_raw, flags, spd, direction = struct.unpack("<IIIBHB", r.take(16))
        odometer = r.u24()
        digital_inputs = r.u8()
        source = r.u8()
        altitude: int | None = None
        if flags & 0x80:
            altitude = r.u24()
            if spd & 0x4000:
                altitude = -altitude
        source_data = r.u16() if r.remaining() >= 2 else None
        lat = lat_raw * 90.0 / _U32_MAX
        lon = lon_raw * 180.0 / _U32_MAX
        return cls(
            time=egts_time(ntm),
            lat=-lat if flags & 0x20 else lat,
            lon=-lon if flags & 0x40 else lon,
            valid=bool(flags & 0x01),
            pz90=bool(flags & 0x02),
            fix_3d=bool(flags & 0x04),
            from_black_box=bool(flags & 0x08),
            moving=bool(flags & 0x10),
            speed_kmh=(spd & 0x3FFF) / 10,
            course=direction | ((spd >> 15) << 8),
            odometer_km=odometer / 10,
            digital_inputs=digital_inputs,
            source=source,
            altitude_m=altitude,
            source_data=source_data,
        )

    def encode(self) -> bytes:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"coordinates out of range: {self.lat}, {self.lon}")
        speed = round(self.speed_kmh * 10)
        if not 0 <= speed <= 0x3FFF:
            raise ValueError(f"speed {self.speed_kmh} km/h does not fit in 14 bits of 0.1 km/h")
        if not 0 <= self.course <= 0x1FF:
            raise ValueError(f"course {self.course} does not fit in 9 bits")
        flags = (
            (0x01 if self.valid else 0)
            | (0x02 if self.pz90 else 0)
            | (0x04 if self.fix_3d else 0)
            | (0x08 if self.from_black_box else 0)
            | (0x10 if self.moving else 0)
            | (0x20 if self.lat < 0 else 0)
            | (0x40 if self.lon < 0 else 0)
            | (0x80 if self.altitude_m is not None else 0)
        )
        spd = speed | ((self.course >> 8) << 15)
        if self.altitude_m is not None and self.altitude_m < 0:
            spd |= 0x4000
        out = struct.pack(
            "<IIIBHB",
            egts_seconds(self.time),
            round(abs(self.lat) / 90.0 * _U32_MAX),
            round(abs(self.lon) / 180.0 * _U32_MAX),
            flags,
            spd,
            self.course & 0xFF,
        )
        out += _u24(round(self.odometer_km * 10), "odometer") + bytes([self.digital_inputs, self.source])
        if self.altitude_m is not None:
            out += _u24(abs(self.altitude_m), "altitude")
        if self.source_data is not None:
            out += struct.pack("<H", self.source_data)
        return out


@dataclass(frozen=True, slots=True)
class ExtPosData:
    """EGTS_SR_EXT_POS_DATA: dilutions of precision (sent as value * 100), satellites, navigation systems."""

    srt: ClassVar[int] = SR_EXT_POS_DATA
    vdop: float | None = None
    hdop: float | None = None
    pdop: float | None = None
    satellites: int | None = None
    nav_systems: int | None = None

    @classmethod
    def decode(cls, data: bytes) -> ExtPosData:
        r = _Reader(data, "EXT_POS_DATA")
        flags = r.u8()
        vdop = r.u16() / 100 if flags & 0x01 else None
        hdop = r.u16() / 100 if flags & 0x02 else None
        pdop = r.u16() / 100 if flags & 0x04 else None
        satellites = r.u8() if flags & 0x08 else None
        nav_systems = r.u16() if flags & 0x10 else None
        return cls(vdop=vdop, hdop=hdop, pdop=pdop, satellites=satellites, nav_systems=nav_systems)

    def encode(self) -> bytes:
        flags = 0
        body = b""
        for bit, dop in ((0x01, self.vdop), (0x02, self.hdop), (0x04, self.pdop)):
            if dop is not None:
                flags |= bit
                body += struct.pack("<H", round(dop * 100))
        if self.satellites is not None:
            flags |= 0x08
            body += bytes([self.satellites])
        if self.nav_systems is not None:
            flags |= 0x10
            body += struct.pack("<H", self.nav_systems)
        return bytes([flags]) + body


@dataclass(frozen=True, slots=True)
class AdSensorsData:
    """EGTS_SR_AD_SENSORS_DATA: additional digital input octets 1..8 (inputs 9..72), outputs, analog 1..8.

    `digital_octets[k]` holds inputs 8k+1..8k+8; `analog[k]` is the raw 3-byte value of analog input k.
    """

    srt: ClassVar[int] = SR_AD_SENSORS_DATA
    digital_octets: Mapping[int, int] = field(default_factory=dict)
    outputs: int = 0
    analog: Mapping[int, int] = field(default_factory=dict)

    @classmethod
    def decode(cls, data: bytes) -> AdSensorsData:
        r = _Reader(data, "AD_SENSORS_DATA")
        octet_flags = r.u8()
        outputs = r.u8()
        analog_flags = r.u8()
        octets = {k + 1: r.u8() for k in range(8) if octet_flags >> k & 1}
        analog = {k + 1: r.u24() for k in range(8) if analog_flags >> k & 1}
        return cls(digital_octets=octets, outputs=outputs, analog=analog)

    def encode(self) -> bytes:
        if not set(self.digital_octets) <= set(range(1, 9)) or not set(self.analog) <= set(range(1, 9)):
            raise ValueError("AD_SENSORS_DATA carries digital octets and analog inputs 1..8 only")
        octet_flags = sum(1 << (k - 1) for k in self.digital_octets)
        analog_flags = sum(1 << (k - 1) for k in self.analog)
        out = bytes([octet_flags, self.outputs, analog_flags])
        out += bytes(self.digital_octets[k] for k in sorted(self.digital_octets))
        for k in sorted(self.analog):
            out += _u24(self.analog[k], f"analog input {k}")
        return out


@dataclass(frozen=True, slots=True)
class CountersData:
    """EGTS_SR_COUNTERS_DATA: counting inputs 1..8, 3 bytes each."""

    srt: ClassVar[int] = SR_COUNTERS_DATA
    counters: Mapping[int, int] = field(default_factory=dict)

    @classmethod
    def decode(cls, data: bytes) -> CountersData:
        r = _Reader(data, "COUNTERS_DATA")
        present = r.u8()
        return cls(counters={k + 1: r.u24() for k in range(8) if present >> k & 1})

    def encode(self) -> bytes:
        if not set(self.counters) <= set(range(1, 9)):
            raise ValueError("COUNTERS_DATA carries counters 1..8 only")
        out = bytes([sum(1 << (k - 1) for k in self.counters)])
        for k in sorted(self.counters):
            out += _u24(self.counters[k], f"counter {k}")
        return out


@dataclass(frozen=True, slots=True)
class StateData:
    """EGTS_SR_STATE_DATA: terminal state, main/backup/internal supply voltages in 0.1 V, power flags.

    Type 20 in the TELEDATA service (Order 285; the ECALL service of GOST 33465/33472 uses 20 for
    ACCEL_DATA, which is why subrecords are decoded per service).
    """

    srt: ClassVar[int] = SR_STATE_DATA
    state: int = 0
    main_v: float = 0.0
    backup_v: float = 0.0
    internal_v: float = 0.0
    navigation_on: bool = False
    internal_battery_used: bool = False
    backup_battery_used: bool = False

    @classmethod
    def decode(cls, data: bytes) -> StateData:
        r = _Reader(data, "STATE_DATA")
        state, main, backup, internal, flags = r.take(5)
        return cls(
            state=state,
            main_v=main / 10,
            backup_v=backup / 10,
            internal_v=internal / 10,
            navigation_on=bool(flags & 0x04),
            internal_battery_used=bool(flags & 0x02),
            backup_battery_used=bool(flags & 0x01),
        )

    def encode(self) -> bytes:
        flags = (
            (0x04 if self.navigation_on else 0)
            | (0x02 if self.internal_battery_used else 0)
            | (0x01 if self.backup_battery_used else 0)
        )
        volts = [round(v * 10) for v in (self.main_v, self.backup_v, self.internal_v)]
        if not all(0 <= v <= 0xFF for v in volts):
            raise ValueError("STATE_DATA voltages are 0..25.5 V")
        return bytes([self.state, *volts, flags])


@dataclass(frozen=True, slots=True)
class AbsDigSensData:
    """EGTS_SR_ABS_DIG_SENS_DATA: the state of one digital input.

    Byte 0 holds DSST (the state) in its low four bits and the low four bits of DSN (the input number) in
    its high four; byte 1 holds the high eight bits of DSN.
    """

    srt: ClassVar[int] = SR_ABS_DIG_SENS_DATA
    number: int
    state: int

    @classmethod
    def decode(cls, data: bytes) -> AbsDigSensData:
        low, high = _Reader(data, "ABS_DIG_SENS_DATA").take(2)
        return cls(number=(low >> 4) | (high << 4), state=low & 0x0F)

    def encode(self) -> bytes:
        if not (0 <= self.number <= 0xFFF and 0 <= self.state <= 0xF):
            raise ValueError("ABS_DIG_SENS_DATA: input number is 12 bits, state 4 bits")
        return bytes([(self.number & 0x0F) << 4 | self.state, self.number >> 4])


@dataclass(frozen=True, slots=True)
class AbsAnSensData:
    """EGTS_SR_ABS_AN_SENS_DATA: the raw 3-byte value of one analog input (ASN, ASV)."""

    srt: ClassVar[int] = SR_ABS_AN_SENS_DATA
    number: int
    value: int

    @classmethod
    def decode(cls, data: bytes) -> AbsAnSensData:
        r = _Reader(data, "ABS_AN_SENS_DATA")
        return cls(number=r.u8(), value=r.u24())

    def encode(self) -> bytes:
        return bytes([self.number]) + _u24(self.value, f"analog input {self.number}")


@dataclass(frozen=True, slots=True)
class LiquidLevelSensor:
    """EGTS_SR_LIQUID_LEVEL_SENSOR: one level sensor reading (LLSD), or its raw bytes when RDF is set.

    Flags: bit 6 LLSEF (sensor error), bits 5-4 LLSVU (0 raw, 1 in 0.1 %, 2 in 0.1 l), bit 3 RDF, bits 2-0
    LLSN (sensor number); then MADDR (module address, 2 bytes) and LLSD (4 bytes, or the rest if raw).
    """

    srt: ClassVar[int] = SR_LIQUID_LEVEL_SENSOR
    number: int
    address: int = 0
    value: int | None = 0
    raw: bytes | None = None
    error: bool = False
    unit: int = 0

    @classmethod
    def decode(cls, data: bytes) -> LiquidLevelSensor:
        r = _Reader(data, "LIQUID_LEVEL_SENSOR")
        flags = r.u8()
        address = r.u16()
        raw_flag = bool(flags & 0x08)
        raw = r.take(r.remaining()) if raw_flag else None
        value = None if raw_flag else r.u32()
        return cls(
            number=flags & 0x07,
            address=address,
            value=value,
            raw=raw,
            error=bool(flags & 0x40),
            unit=(flags >> 4) & 0x03,
        )

    def encode(self) -> bytes:
        if not (0 <= self.number <= 7 and 0 <= self.unit <= 3):
            raise ValueError("LIQUID_LEVEL_SENSOR: number is 0..7, unit 0..3")
        flags = (
            (0x40 if self.error else 0) | self.unit << 4 | (0x08 if self.raw is not None else 0) | self.number
        )
        head = bytes([flags]) + struct.pack("<H", self.address)
        if self.raw is not None:
            return head + self.raw
        return head + struct.pack("<I", self.value or 0)


@dataclass(frozen=True, slots=True)
class RawSubrecord:
    """A subrecord this codec does not interpret, kept as it came."""

    srt: int
    data: bytes

    def encode(self) -> bytes:
        return self.data


Subrecord = (
    RecordResponse
    | TermIdentity
    | PosData
    | ExtPosData
    | AdSensorsData
    | CountersData
    | StateData
    | AbsDigSensData
    | AbsAnSensData
    | LiquidLevelSensor
    | RawSubrecord
)

_COMMON: Final[Mapping[int, Callable[[bytes], Subrecord]]] = {SR_RECORD_RESPONSE: RecordResponse.decode}
_BY_SERVICE: Final[Mapping[int, Mapping[int, Callable[[bytes], Subrecord]]]] = {
    SERVICE_AUTH: {SR_TERM_IDENTITY: TermIdentity.decode},
    SERVICE_TELEDATA: {
        SR_POS_DATA: PosData.decode,
        SR_EXT_POS_DATA: ExtPosData.decode,
        SR_AD_SENSORS_DATA: AdSensorsData.decode,
        SR_COUNTERS_DATA: CountersData.decode,
        SR_STATE_DATA: StateData.decode,
        SR_ABS_DIG_SENS_DATA: AbsDigSensData.decode,
        SR_ABS_AN_SENS_DATA: AbsAnSensData.decode,
        SR_LIQUID_LEVEL_SENSOR: LiquidLevelSensor.decode,
    },
}


_NO_DECODERS: Final[Mapping[int, Callable[[bytes], Subrecord]]] = {}
_DECODERS_OF: Final[Mapping[int, Mapping[int, Callable[[bytes], Subrecord]]]] = {
    service: {**by_type, **_COMMON} for service, by_type in _BY_SERVICE.items()
}


def decoders_of(service: int) -> Mapping[int, Callable[[bytes], Subrecord]]:
    """The decoders by subrecord type in a record of `service` (RECORD_RESPONSE in every service).

    What `decode_subrecord` looks up, for a caller that decodes all the subrecords of one record; a type
    missing from it is kept as a `RawSubrecord`.
    """
    return _DECODERS_OF.get(service, _COMMON)


def decode_subrecord(service: int, srt: int, data: bytes) -> Subrecord:
    """The subrecord of type `srt` in a record of `service`; raw when this codec does not know it."""
    decoder = _COMMON.get(srt) or _BY_SERVICE.get(service, _NO_DECODERS).get(srt)
    if decoder is None:
        return RawSubrecord(srt=srt, data=data)
    return decoder(data)


def encode_subrecord(subrecord: Subrecord) -> bytes:
    """SRT, SRL and the data of one subrecord."""
    data = subrecord.encode()
    if len(data) > 0xFFFF:
        raise ValueError("subrecord data longer than 65535 bytes")
    return struct.pack("<BH", subrecord.srt, len(data)) + data
