"""EGTS (GOST R 56360 / GOST 33472, Order No. 285): the Russian telematics protocol, as pure codecs."""

from tamga.ingest.egts.codec import (
    EgtsPacket,
    EgtsRecord,
    PacketType,
    TransportHeader,
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
from tamga.ingest.egts.errors import EgtsError, ResultCode

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
    "encode_auth_packet",
    "encode_packet",
    "encode_position_packet",
    "encode_record",
    "encode_response",
    "packets_to_fixes",
    "records_to_fixes",
    "split_frames",
]
