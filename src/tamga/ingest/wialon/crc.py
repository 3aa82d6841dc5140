"""CRC-16/ARC, the checksum of Wialon IPS 2.0 messages: poly 0x8005 reflected (0xA001), init 0, no XOR out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


CRC16_ARC_TABLE: Final[Sequence[int]] = _table()


def crc16_arc(data: bytes) -> int:
    """The CRC-16/ARC of `data` ("123456789" gives 0xBB3D)."""
    crc = 0
    table = CRC16_ARC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc
