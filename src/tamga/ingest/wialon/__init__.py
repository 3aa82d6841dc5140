"""Wialon IPS 1.1 and 2.0 (Gurtam): the text protocol of many trackers and seals, as pure codecs."""

from tamga.ingest.wialon.codec import (
    WialonError,
    WialonMessage,
    WialonRecord,
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

__all__ = [
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
