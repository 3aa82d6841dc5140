"""EGTS transport and service layers: split a TCP stream into packets, decode them, answer them.

Pure functions over bytes: no sockets, no clock. Decoding raises nothing but `EgtsError`, whose
`result_code` is the processing result to answer with. A packet is checked in the order the
specification gives (Order No. 285, annex 6, transport-layer processing): protocol version and prefix
(EGTS_PC_UNS_PROTOCOL), header length (EGTS_PC_INC_HEADERFORM), header checksum
(EGTS_PC_HEADERCRC_ERROR), then the frame length (EGTS_PC_INVDATALEN), the data checksum
(EGTS_PC_DATACRC_ERROR), encryption (EGTS_PC_DECRYPT_ERROR), compression (EGTS_PC_INC_DATAFORM) and the
packet type (EGTS_PC_UNS_TYPE). Only then are records and subrecords read; a record or subrecord that
overruns its container is EGTS_PC_INVDATALEN, a subrecord too short for its own fields EGTS_PC_INC_DATAFORM.
"""

from __future__ import annotations

import functools
import operator
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from itertools import chain, repeat
from typing import Any, Final

from tamga.ingest.egts.crc import crc8, crc16
from tamga.ingest.egts.errors import EgtsError, ResultCode
from tamga.ingest.egts.subrecords import (
    SERVICE_AUTH,
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
    decoders_of,
    egts_seconds,
    egts_time,
    encode_subrecord,
    pos_fixed,
)
from tamga.ingest.fix import Fix, FixBlock, attributes_json

__all__ = [
    "EgtsError",
    "EgtsPacket",
    "EgtsRecord",
    "PacketType",
    "ResultCode",
    "TransportHeader",
    "confirmations",
    "decode_packet",
    "decode_packets",
    "decode_positions",
    "encode_auth_packet",
    "encode_ok_response",
    "encode_packet",
    "encode_position_packet",
    "encode_record",
    "encode_response",
    "packets_to_fixes",
    "records_to_fixes",
    "split_frames",
]

PROTOCOL_VERSION: Final = 0x01
HEADER_LENGTH: Final = 11
ROUTED_HEADER_LENGTH: Final = 16
MAX_FRAME_DATA: Final = 0xFFFF

_RECORD_HEAD: Final = struct.Struct("<HHB")  # RL, RN, RFL
_U32: Final = struct.Struct("<I")
_RESPONSE_RECORD: Final = struct.Struct("<HHBBBBHHB")
"""A whole RECORD_RESPONSE record from the platform: RL = 6, RN, RFL = 0, SST, RST, then SRT = 0, SRL = 3,
CRN and RST."""

Confirmation = tuple[int, int] | tuple[int, int, int]
"""(record number, result) or (record number, result, service) of one record to confirm."""


class PacketType(IntEnum):
    """PT of the transport header."""

    RESPONSE = 0
    APPDATA = 1
    SIGNED_APPDATA = 2


@dataclass(frozen=True, slots=True)
class TransportHeader:
    """The transport-layer header of one packet (PRV .. HCS)."""

    version: int
    security_key_id: int
    route: bool
    encryption: int
    compressed: bool
    priority: int
    header_length: int
    header_encoding: int
    frame_data_length: int
    pid: int
    packet_type: int
    peer_address: int | None = None
    recipient_address: int | None = None
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class EgtsRecord:
    """One service data record (SDR): its header and its subrecords."""

    number: int
    source_service: int
    recipient_service: int
    subrecords: tuple[Subrecord, ...]
    object_id: int | None = None
    event_id: int | None = None
    time: datetime | None = None
    source_on_device: bool = False
    recipient_on_device: bool = False
    group: bool = False
    priority: int = 0


@dataclass(frozen=True, slots=True)
class EgtsPacket:
    """A decoded transport packet. A RESPONSE also carries the PID it answers and its processing result."""

    header: TransportHeader
    records: tuple[EgtsRecord, ...]
    response_to_pid: int | None = None
    result: int | None = None
    signature: bytes | None = None

    @property
    def pid(self) -> int:
        return self.header.pid

    @property
    def packet_type(self) -> int:
        return self.header.packet_type


def _frame_length(buf: bytes | bytearray | memoryview, start: int) -> int | None:
    """The length of the frame at `start`, or None until enough bytes are there to know it.

    Checks what can be checked on the way (version and prefix, header length, header checksum), so that a
    garbage header is refused as soon as it is seen and a frame length is never taken from a corrupt header.
    """
    avail = len(buf) - start
    if avail < 1:
        return None
    if buf[start] != PROTOCOL_VERSION:
        raise EgtsError(ResultCode.UNS_PROTOCOL, f"protocol version {buf[start]}, not {PROTOCOL_VERSION}")
    if avail < 3:
        return None
    if buf[start + 2] & 0xC0:
        raise EgtsError(ResultCode.UNS_PROTOCOL, f"header prefix {buf[start + 2] >> 6}, not 0")
    if avail < 4:
        return None
    hl = buf[start + 3]
    if hl not in (HEADER_LENGTH, ROUTED_HEADER_LENGTH):
        raise EgtsError(ResultCode.INC_HEADERFORM, f"header length {hl}, not 11 or 16")
    if avail < hl:
        return None
    if crc8(buf[start : start + hl - 1]) != buf[start + hl - 1]:
        raise EgtsError(ResultCode.HEADERCRC_ERROR, "header checksum (HCS) does not match")
    fdl = buf[start + 5] | buf[start + 6] << 8
    return hl + fdl + (2 if fdl else 0)


def split_frames(buffer: bytes | bytearray | memoryview) -> tuple[list[bytes], bytes]:
    """The complete frames at the head of a TCP byte stream, and the bytes left for the next read.

    Never raises on a frame that is only incomplete. Raises `EgtsError` when the next frame's header is
    garbage (wrong version or prefix, impossible header length, header checksum mismatch) and no complete
    frame precedes it; frames before a bad one are returned first, and the next call raises. After an
    error the stream cannot be resynchronised: answer, then close the connection.
    """
    frames: list[bytes] = []
    pos = 0
    while True:
        try:
            length = _frame_length(buffer, pos)
        except EgtsError:
            if frames:
                break
            raise
        if length is None or len(buffer) - pos < length:
            break
        frames.append(bytes(buffer[pos : pos + length]))
        pos += length
    return frames, bytes(buffer[pos:])


def _read_header(frame: bytes) -> TransportHeader:
    n = len(frame)
    if n == 0:
        raise EgtsError(ResultCode.INC_HEADERFORM, "empty packet")
    if frame[0] != PROTOCOL_VERSION:
        raise EgtsError(ResultCode.UNS_PROTOCOL, f"protocol version {frame[0]}, not {PROTOCOL_VERSION}")
    if n < 4:
        raise EgtsError(ResultCode.INC_HEADERFORM, f"{n} bytes are not a transport header")
    length = _frame_length(frame, 0)
    if length is None:
        raise EgtsError(ResultCode.INC_HEADERFORM, f"{n} bytes are shorter than the header length")
    hl = frame[3]
    flags = frame[2]
    fdl, pid, pt = struct.unpack_from("<HHB", frame, 5)
    route = bool(flags & 0x20)
    if route != (hl == ROUTED_HEADER_LENGTH):
        raise EgtsError(ResultCode.INC_HEADERFORM, f"RTE={int(route)} with header length {hl}", pid)
    if frame[4] != 0:
        raise EgtsError(ResultCode.INC_HEADERFORM, f"header encoding {frame[4]} is not supported", pid)
    pra, rca, ttl = struct.unpack_from("<HHB", frame, 10) if route else (None, None, None)
    return TransportHeader(
        version=frame[0],
        security_key_id=frame[1],
        route=route,
        encryption=(flags >> 3) & 0x03,
        compressed=bool(flags & 0x04),
        priority=flags & 0x03,
        header_length=hl,
        header_encoding=frame[4],
        frame_data_length=fdl,
        pid=pid,
        packet_type=pt,
        peer_address=pra,
        recipient_address=rca,
        ttl=ttl,
    )


def _read_records(data: bytes, pid: int) -> tuple[EgtsRecord, ...]:
    records: list[EgtsRecord] = []
    append = records.append
    unpack_head = _RECORD_HEAD.unpack_from
    unpack_u32 = _U32.unpack_from
    n = len(data)
    pos = 0
    while pos < n:
        if n - pos < 7:
            raise EgtsError(ResultCode.INVDATALEN, f"{n - pos} bytes left, no record header", pid)
        rl, rn, rfl = unpack_head(data, pos)
        p = pos + 5
        object_id = event_id = tm = None
        if rfl & 0x07:  # OBFE: OID, EVFE: EVID, TMFE: TM, in that order
            if rfl & 0x01:
                if n - p < 4:
                    raise EgtsError(ResultCode.INVDATALEN, f"record {rn} header is cut short", pid)
                (object_id,) = unpack_u32(data, p)
                p += 4
            if rfl & 0x02:
                if n - p < 4:
                    raise EgtsError(ResultCode.INVDATALEN, f"record {rn} header is cut short", pid)
                (event_id,) = unpack_u32(data, p)
                p += 4
            if rfl & 0x04:
                if n - p < 4:
                    raise EgtsError(ResultCode.INVDATALEN, f"record {rn} header is cut short", pid)
                (tm,) = unpack_u32(data, p)
                p += 4
        if n - p < 2:
            raise EgtsError(ResultCode.INVDATALEN, f"record {rn} header is cut short", pid)
        sst, rst = data[p], data[p + 1]
        p += 2
        end = p + rl
        if end > n:
            raise EgtsError(ResultCode.INVDATALEN, f"record {rn} of {rl} bytes overruns the frame data", pid)
        # The subrecords (SRT, SRL, SRD), read in place from the frame data.
        subrecords: list[Subrecord] = []
        decoders = decoders_of(sst)
        while p < end:
            if end - p < 3:
                raise EgtsError(ResultCode.INVDATALEN, f"{end - p} bytes left, no subrecord header", pid)
            srt, srl = data[p], data[p + 1] | data[p + 2] << 8
            start = p + 3
            p = start + srl
            if p > end:
                raise EgtsError(
                    ResultCode.INVDATALEN, f"subrecord {srt} of {srl} bytes overruns its record", pid
                )
            decoder = decoders.get(srt)
            try:
                subrecords.append(
                    RawSubrecord(srt, data[start:p]) if decoder is None else decoder(data[start:p])
                )
            except EgtsError as error:
                raise EgtsError(error.result_code, error.reason, pid) from None
        append(
            EgtsRecord(
                rn,
                sst,
                rst,
                tuple(subrecords),
                object_id,
                event_id,
                egts_time(tm) if tm is not None else None,
                bool(rfl & 0x80),
                bool(rfl & 0x40),
                bool(rfl & 0x20),
                (rfl >> 3) & 0x03,
            )
        )
        pos = end
    return tuple(records)


def decode_packet(frame: bytes | bytearray | memoryview) -> EgtsPacket:
    """The packet in one complete frame; `EgtsError` with the processing result if it is refused."""
    data = bytes(frame)
    header = _read_header(data)
    pid, hl, fdl = header.pid, header.header_length, header.frame_data_length
    expected = hl + fdl + (2 if fdl else 0)
    if len(data) != expected:
        raise EgtsError(ResultCode.INVDATALEN, f"{len(data)} bytes, the header announces {expected}", pid)
    sfrd = data[hl : hl + fdl]
    if fdl and crc16(sfrd) != int.from_bytes(data[hl + fdl :], "little"):
        raise EgtsError(ResultCode.DATACRC_ERROR, "frame data checksum (SFRCS) does not match", pid)
    if header.encryption:
        raise EgtsError(ResultCode.DECRYPT_ERROR, f"encryption algorithm {header.encryption}", pid)
    if header.compressed:
        raise EgtsError(ResultCode.INC_DATAFORM, "compressed frame data is not supported", pid)
    if header.packet_type == PacketType.RESPONSE:
        if fdl < 3:
            raise EgtsError(ResultCode.INVDATALEN, "a RESPONSE needs RPID and PR", pid)
        rpid, result = struct.unpack_from("<HB", sfrd)
        return EgtsPacket(header, _read_records(sfrd[3:], pid), response_to_pid=rpid, result=result)
    if header.packet_type == PacketType.APPDATA:
        return EgtsPacket(header, _read_records(sfrd, pid))
    if header.packet_type == PacketType.SIGNED_APPDATA:
        if fdl < 2:
            raise EgtsError(ResultCode.INVDATALEN, "a SIGNED_APPDATA needs SIGL", pid)
        sigl = int.from_bytes(sfrd[:2], "little")
        if 2 + sigl > fdl:
            raise EgtsError(ResultCode.INVDATALEN, f"signature of {sigl} bytes overruns the frame data", pid)
        records = _read_records(sfrd[2 + sigl :], pid)
        return EgtsPacket(header, records, signature=sfrd[2 : 2 + sigl])
    raise EgtsError(ResultCode.UNS_TYPE, f"packet type {header.packet_type}", pid)


def decode_packets(frames: Iterable[bytes]) -> list[EgtsPacket | EgtsError]:
    """Each frame decoded, in order: the packet, or the error to answer it with."""
    results: list[EgtsPacket | EgtsError] = []
    for frame in frames:
        try:
            results.append(decode_packet(frame))
        except EgtsError as error:
            results.append(error)
    return results


def confirmations(packet: EgtsPacket, result: int = ResultCode.OK) -> list[tuple[int, int, int]]:
    """(record number, result, service) for every record of `packet`, ready for `encode_response`."""
    return [(record.number, result, record.source_service) for record in packet.records]


def _fix_from(
    device_id: str, number: int, object_id: int | None, pos: PosData, extras: Sequence[Subrecord]
) -> Fix:
    inputs = pos.digital_inputs
    analog: dict[int, float] = {}
    counters: dict[int, int] = {}
    params: dict[str, int | float | str] = {
        "odometer_km": pos.odometer_km,
        "source": pos.source,
        "moving": int(pos.moving),
        "fix_3d": int(pos.fix_3d),
    }
    if pos.pz90:
        params["coordinate_system"] = "PZ-90"
    if pos.source_data is not None:
        params["source_data"] = pos.source_data
    if object_id is not None:
        params["object_id"] = object_id
    satellites: int | None = None
    hdop: float | None = None
    battery: float | None = None
    for sub in extras:
        if isinstance(sub, ExtPosData):
            satellites, hdop = sub.satellites, sub.hdop
            for name, value in (("vdop", sub.vdop), ("pdop", sub.pdop), ("nav_systems", sub.nav_systems)):
                if value is not None:
                    params[name] = value
        elif isinstance(sub, AdSensorsData):
            for k, octet in sub.digital_octets.items():
                inputs = (inputs & ~(0xFF << 8 * k)) | octet << 8 * k
            analog.update({k: float(v) for k, v in sub.analog.items()})
            params["outputs"] = sub.outputs
        elif isinstance(sub, CountersData):
            counters.update(sub.counters)
        elif isinstance(sub, StateData):
            params.update(
                state=sub.state,
                power_main_v=sub.main_v,
                power_backup_v=sub.backup_v,
                power_internal_v=sub.internal_v,
            )
            # 0 V means "not measured" on the terminals seen so far, not an empty battery.
            battery = sub.internal_v or sub.backup_v or None
        elif isinstance(sub, AbsDigSensData):
            params[f"din{sub.number}"] = sub.state
            if sub.number >= 1:
                bit = 1 << (sub.number - 1)
                inputs = inputs | bit if sub.state else inputs & ~bit
        elif isinstance(sub, AbsAnSensData):
            analog[sub.number] = float(sub.value)
        elif isinstance(sub, LiquidLevelSensor):
            if sub.raw is not None:
                params[f"lls{sub.number}_raw"] = sub.raw.hex()
            elif sub.value is not None:
                params[f"lls{sub.number}"] = sub.value
            if sub.error:
                params[f"lls{sub.number}_error"] = 1
    return Fix(
        device_id=device_id,
        record_id=number,
        time=pos.time,
        lat=pos.lat,
        lon=pos.lon,
        speed_kmh=pos.speed_kmh,
        course=pos.course,
        altitude_m=float(pos.altitude_m) if pos.altitude_m is not None else None,
        valid=pos.valid,
        from_black_box=pos.from_black_box,
        satellites=satellites,
        hdop=hdop,
        inputs=inputs,
        analog=analog,
        counters=counters,
        battery_v=battery,
        params=params,
    )


def records_to_fixes(packet: EgtsPacket, device_id: str) -> list[Fix]:
    """One Fix per POS_DATA subrecord, in order, with the sensor subrecords of its record attached.

    Invalid fixes (VLD = 0) are kept with `valid=False`: a seal that reports an opening without a
    satellite fix still reports an opening.
    """
    fixes: list[Fix] = []
    for record in packet.records:
        subrecords = record.subrecords
        if len(subrecords) == 1:  # the usual record: its POS_DATA alone
            only = subrecords[0]
            if isinstance(only, PosData):
                fixes.append(_fix_from(device_id, record.number, record.object_id, only, ()))
            continue
        positions = [sub for sub in subrecords if isinstance(sub, PosData)]
        if not positions:
            continue
        extras = [sub for sub in subrecords if not isinstance(sub, PosData)]
        fixes.extend(_fix_from(device_id, record.number, record.object_id, pos, extras) for pos in positions)
    return fixes


class EgtsFixBlock(FixBlock):
    """The fixes of one packet of plain position records (`decode_positions`), as columns."""

    __slots__ = ("_data", "_ends", "_object_ids", "_starts")

    def __init__(
        self,
        device_id: str,
        data: bytes,
        columns: Sequence[Sequence[Any]],
        object_ids: Sequence[int | None],
        starts: Sequence[int],
        ends: Sequence[int],
    ) -> None:
        """`columns`: record_id, time_us, lat, lon, speed_kmh, course, valid, black_box, inputs and
        attributes; `starts` and `ends` delimit each entry's POS_DATA in `data`."""
        self.device_id = device_id
        (
            self.record_id,
            self.time_us,
            self.lat,
            self.lon,
            self.speed_kmh,
            self.course,
            self.valid,
            self.black_box,
            self.inputs,
            self.attributes,
        ) = columns
        self._data, self._object_ids, self._starts, self._ends = data, object_ids, starts, ends

    def fix(self, index: int) -> Fix:
        pos = PosData.decode(self._data[self._starts[index] : self._ends[index]])
        return _fix_from(self.device_id, self.record_id[index], self._object_ids[index], pos, ())


_PLAIN_WITH_OID: Final = struct.Struct("<HHBIBBBH")
"""RL, RN, RFL, OID, SST, RST, then the first subrecord's SRT and SRL."""
_PLAIN: Final = struct.Struct("<HHBBBBH")
"""RL, RN, RFL, SST, RST, SRT, SRL."""
_UNIX_TO_EGTS_S: Final = 1_262_304_000  # 2010-01-01 in Unix seconds
_U32_MAX: Final = 0xFFFFFFFF
_SR_POS_DATA: Final = 16


def decode_positions(frame: bytes, object_id: int | None, device_id: str) -> tuple[int, EgtsFixBlock] | None:
    """The PID and the fixes of a packet that holds nothing but plain position records, or None.

    A plain position record is a TELEDATA record whose only subrecord is one POS_DATA, whose object (OID)
    is absent or `object_id`, and whose header has no event id or time: what terminals send nearly
    always. The block gives exactly the fixes `records_to_fixes(decode_packet(frame), device_id)` gives,
    without an object per subrecord, record or fix. Any other packet, or one the codec would refuse,
    gives None: decode it with `decode_packet`, which answers it as the specification says.
    """
    try:
        header = _read_header(frame)
    except EgtsError:
        return None
    hl, fdl = header.header_length, header.frame_data_length
    if (
        header.packet_type != PacketType.APPDATA
        or header.encryption
        or header.compressed
        or not fdl
        or len(frame) != hl + fdl + 2
    ):
        return None
    data = frame[hl : hl + fdl]
    if crc16(data) != int.from_bytes(frame[hl + fdl :], "little"):
        return None
    uniform = _decode_uniform(data, object_id, device_id)
    if uniform is not None:
        return header.pid, uniform
    unpack_oid, unpack_plain, unpack_pos = (
        _PLAIN_WITH_OID.unpack_from,
        _PLAIN.unpack_from,
        pos_fixed.unpack_from,
    )
    rows: list[tuple[object, ...]] = []
    append = rows.append
    n = fdl
    pos = 0
    while pos < n:
        if n - pos < 10:
            return None
        rfl = data[pos + 4] & 0x07
        if rfl == 0x01:
            if n - pos < 14:
                return None
            rl, rn, _, oid, sst, _, srt, srl = unpack_oid(data, pos)
            if oid != object_id:
                return None
            p = pos + 14
        elif rfl == 0:
            rl, rn, _, sst, _, srt, srl = unpack_plain(data, pos)
            oid = None
            p = pos + 10
        else:
            return None
        end = p + srl
        if sst != SERVICE_TELEDATA or srt != _SR_POS_DATA or srl + 3 != rl or srl < 21 or end > n:
            return None
        ntm, lat_raw, lon_raw, flags, spd, direction, odo_low, odo_high, din, source = unpack_pos(data, p)
        odometer = (odo_low | odo_high << 16) / 10
        source_data = None
        if flags & 0x80:  # ALTE: the altitude follows the fixed part
            if srl < 24:
                return None
            if srl >= 26:
                source_data = data[p + 24] | data[p + 25] << 8
        elif srl >= 23:
            source_data = data[p + 21] | data[p + 22] << 8
        if flags & 0x82 or source_data is not None:  # altitude, PZ-90 or source data: rare, general
            attributes = attributes_json(_fix_from(device_id, rn, oid, PosData.decode(data[p:end]), ()))
        else:
            attributes = '{"odometer_km":' + repr(odometer) + _attributes_tail(source, flags & 0x14, oid, din)
        lat = lat_raw * 90.0 / _U32_MAX
        lon = lon_raw * 180.0 / _U32_MAX
        append(
            (
                rn,
                (ntm + _UNIX_TO_EGTS_S) * 1_000_000,
                -lat if flags & 0x20 else lat,
                -lon if flags & 0x40 else lon,
                (spd & 0x3FFF) / 10,
                direction | (spd >> 15) << 8,
                bool(flags & 0x01),
                bool(flags & 0x08),
                din,
                attributes,
                oid,
                p,
                end,
            )
        )
        pos = end
    if not rows:
        return None
    *columns, object_ids, starts, ends = zip(*rows, strict=True)
    return header.pid, EgtsFixBlock(device_id, data, columns, object_ids, starts, ends)


# A packet whose records all have one layout (the same header flags, one POS_DATA of 21 bytes): read with
# one `iter_unpack`, checked and converted a column at a time.
_UNIFORM_WITH_OID: Final = struct.Struct("<2xH10xIIIBHBHBBB")
"""RN, then POS_DATA: the rest of the record's header is checked apart (`_SAME_WITH_OID`)."""
_UNIFORM: Final = struct.Struct("<2xH6xIIIBHBHBBB")
_SAME_WITH_OID: Final = (0, 1, 4, 5, 6, 7, 8, 9, 11, 12, 13)
"""The bytes of a record header with OID that every record of a uniform packet shares: RL, RFL, OID, SST,
SRT, SRL (not RN, nor RST, which nothing checks)."""
_SAME: Final = (0, 1, 4, 5, 7, 8, 9)
_UNUSUAL_POS_FLAGS: Final = frozenset(flags for flags in range(256) if flags & 0x82)  # ALTE, PZ-90
_IS_BIT: Final = {bit: tuple(bool(flags >> bit & 1) for flags in range(256)) for bit in range(8)}
_SIGN: Final = {bit: tuple(-1.0 if flags >> bit & 1 else 1.0 for flags in range(256)) for bit in range(8)}
_HIGH_COURSE: Final = tuple((spd >> 15) << 8 for spd in range(0x10000))
_MOVING_3D: Final = tuple(flags & 0x14 for flags in range(256))  # MV and FIX


def _attributes_tail(source: int, moving_3d: int, object_id: int | None, inputs: int) -> str:
    """The attributes' JSON of a plain position after its odometer (see `_fix_from` and `fix_attributes`)."""
    moving, fix_3d = moving_3d >> 4 & 1, moving_3d >> 2 & 1
    if object_id is None:
        return f',"source":{source},"moving":{moving},"fix_3d":{fix_3d},"inputs":{inputs}}}'
    return (
        f',"source":{source},"moving":{moving},"fix_3d":{fix_3d},"object_id":{object_id},"inputs":{inputs}}}'
    )


def _decode_uniform(data: bytes, object_id: int | None, device_id: str) -> EgtsFixBlock | None:
    """`decode_positions`'s work for frame data whose records share one layout, else None.

    The records' headers must be alike but for their numbers (RN) and recipient services (RST): checked a
    byte position at a time over every record, then read with the record number and the POS_DATA only."""
    n = len(data)
    if n < 10:
        return None
    layout = data[4] & 0x07
    same: tuple[int, ...]
    if layout == 0x01:
        record, same = _UNIFORM_WITH_OID, _SAME_WITH_OID
        if int.from_bytes(data[5:9], "little") != object_id:
            return None
    elif layout == 0:
        record, same = _UNIFORM, _SAME
    else:
        return None
    size = record.size
    if n % size:
        return None
    sst, srt, srl = data[size - 26], data[size - 24], data[size - 23] | data[size - 22] << 8
    if data[0] | data[1] << 8 != 24 or sst != SERVICE_TELEDATA or srt != _SR_POS_DATA or srl != 21:
        return None
    count = n // size
    for k in same:
        if data[k::size] != data[k : k + 1] * count:
            return None
    rn, *pos = zip(*record.iter_unpack(data), strict=True)
    ntm, lat_raw, lon_raw, flags, spd, direction, odo_low, odo_high, din, source = pos
    if not _UNUSUAL_POS_FLAGS.isdisjoint(flags):
        return None
    mul, div = operator.mul, operator.truediv
    lat = list(
        map(
            mul, map(div, map(mul, lat_raw, repeat(90.0)), repeat(_U32_MAX)), map(_SIGN[5].__getitem__, flags)
        )
    )
    lon = list(
        map(
            mul,
            map(div, map(mul, lon_raw, repeat(180.0)), repeat(_U32_MAX)),
            map(_SIGN[6].__getitem__, flags),
        )
    )
    odometer = map(div, map(operator.or_, odo_low, map(operator.lshift, odo_high, repeat(16))), repeat(10))
    # The attributes' JSON: the odometer, then what follows it (source, flags, object, inputs), which a
    # packet's records nearly always share: made once per distinct value.
    oid = object_id if layout == 0x01 else None
    rest = list(zip(source, map(_MOVING_3D.__getitem__, flags), din, strict=True))
    tails = {key: _attributes_tail(key[0], key[1], oid, key[2]) for key in set(rest)}
    attributes = list(
        map(
            operator.add,
            map(operator.add, repeat('{"odometer_km":'), map(repr, odometer)),
            map(tails.__getitem__, rest),
        )
    )
    columns = (
        rn,
        list(map(mul, map(operator.add, ntm, repeat(_UNIX_TO_EGTS_S)), repeat(1_000_000))),
        lat,
        lon,
        list(map(div, map(operator.and_, spd, repeat(0x3FFF)), repeat(10))),
        list(map(operator.or_, direction, map(_HIGH_COURSE.__getitem__, spd))),
        list(map(_IS_BIT[0].__getitem__, flags)),
        list(map(_IS_BIT[3].__getitem__, flags)),
        din,
        attributes,
    )
    first = size - 21
    starts = range(first, n, size)
    return EgtsFixBlock(
        device_id,
        data,
        columns,
        (oid,) * count,
        starts,
        range(size, n + 1, size),
    )


def packets_to_fixes(packets: Iterable[EgtsPacket], device_id: str) -> list[Fix]:
    """The fixes of many packets of one device, in order."""
    return [fix for packet in packets for fix in records_to_fixes(packet, device_id)]


def encode_packet(
    pid: int, packet_type: int, frame_data: bytes, *, priority: int = 0, security_key_id: int = 0
) -> bytes:
    """A transport packet (11-byte header, no routing, no encryption) around `frame_data`, with both CRCs."""
    if len(frame_data) > MAX_FRAME_DATA:
        raise ValueError("frame data longer than 65535 bytes")
    header = struct.pack(
        "<BBBBBHHB",
        PROTOCOL_VERSION,
        security_key_id,
        priority & 0x03,
        HEADER_LENGTH,
        0,
        len(frame_data),
        pid & 0xFFFF,
        packet_type,
    )
    header += bytes([crc8(header)])
    if not frame_data:
        return header
    return header + frame_data + struct.pack("<H", crc16(frame_data))


def encode_record(
    number: int,
    service: int,
    subrecords: Iterable[Subrecord],
    *,
    object_id: int | None = None,
    event_id: int | None = None,
    time: datetime | None = None,
    recipient_service: int | None = None,
    from_device: bool = True,
) -> bytes:
    """One service data record (SDR) with its subrecords."""
    data = b"".join(encode_subrecord(sub) for sub in subrecords)
    if len(data) > 0xFFFF:
        raise ValueError("record data longer than 65535 bytes")
    flags = 0x80 if from_device else 0
    optional = b""
    if object_id is not None:
        flags |= 0x01
        optional += struct.pack("<I", object_id)
    if event_id is not None:
        flags |= 0x02
        optional += struct.pack("<I", event_id)
    if time is not None:
        flags |= 0x04
        optional += struct.pack("<I", egts_seconds(time))
    rst = service if recipient_service is None else recipient_service
    return struct.pack("<HHB", len(data), number & 0xFFFF, flags) + optional + bytes([service, rst]) + data


def encode_response(
    pid_answered: int,
    result: int,
    record_confirmations: Sequence[Confirmation],
    own_pid: int,
    *,
    first_record_number: int = 0,
) -> bytes:
    """A RESPONSE packet to `pid_answered` with one RECORD_RESPONSE record per confirmed record.

    Each confirmation is (record number, result) or (record number, result, service); the service
    defaults to TELEDATA and should be the service of the record confirmed (see `confirmations`).
    """
    records = []
    pack = _RESPONSE_RECORD.pack
    for i, confirmation in enumerate(record_confirmations):
        service = confirmation[2] if len(confirmation) == 3 else SERVICE_TELEDATA
        try:  # what encode_record(..., [RecordResponse(...)], from_device=False) gives, in one pack
            record = pack(
                6,
                (first_record_number + i) & 0xFFFF,
                0,
                service,
                service,
                0,
                3,
                confirmation[0],
                confirmation[1],
            )
        except struct.error:  # a value out of range: let the general encoder refuse it as it does
            response = RecordResponse(confirmed_record=confirmation[0], result=confirmation[1])
            record = encode_record(first_record_number + i, service, [response], from_device=False)
        records.append(record)
    frame_data = struct.pack("<HB", pid_answered & 0xFFFF, result) + b"".join(records)
    return encode_packet(own_pid, PacketType.RESPONSE, frame_data)


@functools.lru_cache(maxsize=256)
def _ok_response_layout(count: int) -> struct.Struct:
    return struct.Struct("<HB" + "HHBBBBHHB" * count)


def encode_ok_response(
    pid_answered: int,
    record_numbers: Sequence[int],
    service: int,
    own_pid: int,
    *,
    first_record_number: int = 0,
) -> bytes:
    """What `encode_response(pid_answered, OK, [(n, OK, service) for n in record_numbers], own_pid,
    first_record_number=...)` gives, packed at once: the answer to a packet whose records all went well."""
    count = len(record_numbers)
    first = first_record_number & 0xFFFF
    own = (
        range(first, first + count)
        if first + count <= 0x10000
        else [(first + i) & 0xFFFF for i in range(count)]
    )
    ok = ResultCode.OK
    values = zip(
        repeat(6),
        own,
        repeat(0),
        repeat(service),
        repeat(service),
        repeat(0),
        repeat(3),
        record_numbers,
        repeat(ok),
        strict=False,
    )
    try:
        frame_data = _ok_response_layout(count).pack(pid_answered & 0xFFFF, ok, *chain.from_iterable(values))
    except struct.error:  # a value out of range: let the general encoder refuse it as it does
        return encode_response(
            pid_answered,
            ok,
            [(n, ok, service) for n in record_numbers],
            own_pid,
            first_record_number=first_record_number,
        )
    return encode_packet(own_pid, PacketType.RESPONSE, frame_data)


def _subrecords_of(fix: Fix) -> list[Subrecord]:
    inputs = fix.inputs or 0
    if inputs < 0 or inputs >> 72:
        raise ValueError("EGTS carries digital inputs 1..72")
    subrecords: list[Subrecord] = [
        PosData(
            time=fix.time,
            lat=fix.lat,
            lon=fix.lon,
            valid=fix.valid,
            from_black_box=fix.from_black_box,
            moving=bool(fix.speed_kmh),
            speed_kmh=fix.speed_kmh or 0.0,
            course=fix.course or 0,
            digital_inputs=inputs & 0xFF,
            altitude_m=round(fix.altitude_m) if fix.altitude_m is not None else None,
        )
    ]
    if fix.satellites is not None or fix.hdop is not None:
        subrecords.append(ExtPosData(hdop=fix.hdop, satellites=fix.satellites))
    octets = {k: (inputs >> 8 * k) & 0xFF for k in range(1, 9) if (inputs >> 8 * k) & 0xFF}
    low_analog = {k: round(v) for k, v in fix.analog.items() if 1 <= k <= 8}
    if octets or low_analog:
        subrecords.append(AdSensorsData(digital_octets=octets, analog=low_analog))
    subrecords.extend(AbsAnSensData(k, round(v)) for k, v in sorted(fix.analog.items()) if not 1 <= k <= 8)
    if fix.counters:
        subrecords.append(CountersData(counters=dict(fix.counters)))
    if fix.battery_v is not None:
        subrecords.append(StateData(internal_v=fix.battery_v))
    return subrecords


def encode_position_packet(
    pid: int, object_id: int, fixes: Sequence[Fix], *, first_record_number: int = 0
) -> bytes:
    """An APPDATA packet with one TELEDATA record per fix, as a terminal sends it.

    Each record carries POS_DATA, and EXT_POS_DATA, AD_SENSORS_DATA / ABS_AN_SENS_DATA, COUNTERS_DATA and
    STATE_DATA (battery as the internal battery voltage) when the fix has those values. The record number
    is the fix's `record_id`, or `first_record_number + i` when it has none.
    """
    records = b"".join(
        encode_record(
            fix.record_id if fix.record_id is not None else first_record_number + i,
            SERVICE_TELEDATA,
            _subrecords_of(fix),
            object_id=object_id,
        )
        for i, fix in enumerate(fixes)
    )
    return encode_packet(pid, PacketType.APPDATA, records)


def encode_auth_packet(
    pid: int,
    terminal_id: int,
    *,
    imei: str | None = None,
    imsi: str | None = None,
    msisdn: str | None = None,
    buffer_size: int | None = None,
    home_dispatcher: int | None = None,
    record_number: int = 0,
) -> bytes:
    """An APPDATA packet with one AUTH record carrying TERM_IDENTITY, as a terminal opens a session."""
    identity = TermIdentity(
        terminal_id=terminal_id,
        home_dispatcher=home_dispatcher,
        imei=imei,
        imsi=imsi,
        buffer_size=buffer_size,
        msisdn=msisdn,
    )
    record = encode_record(record_number, SERVICE_AUTH, [identity], object_id=terminal_id)
    return encode_packet(pid, PacketType.APPDATA, record)
