"""The two EGTS checksums: CRC-8 of the transport header and CRC-16 of the service frame data.

Both are MSB-first (no reflection) and have no final XOR. CRC-8 uses the polynomial x^8 + x^5 + x^4 + 1
(0x31) from 0xFF; CRC-16 is CCITT-FALSE, x^16 + x^12 + x^5 + 1 (0x1021) from 0xFFFF.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from typing import Final

CRC8_POLY: Final = 0x31
CRC8_INIT: Final = 0xFF
CRC16_POLY: Final = 0x1021
CRC16_INIT: Final = 0xFFFF


def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ CRC8_POLY) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC16_POLY) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        table.append(crc)
    return tuple(table)


CRC8_TABLE: Final[Sequence[int]] = _crc8_table()
CRC16_TABLE: Final[Sequence[int]] = _crc16_table()


def crc8(data: bytes | bytearray | memoryview) -> int:
    """The EGTS header checksum (HCS) of `data`."""
    crc = CRC8_INIT
    table = CRC8_TABLE
    for byte in bytes(data):
        crc = table[crc ^ byte]
    return crc


def crc16_reference(data: bytes | bytearray | memoryview) -> int:
    """The EGTS data checksum (SFRCS) of `data`, table-driven in Python: the reference for `crc16`."""
    crc = CRC16_INIT
    table = CRC16_TABLE
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc


def crc16(data: bytes | bytearray | memoryview) -> int:
    """The EGTS data checksum (SFRCS) of `data`.

    `binascii.crc_hqx` is the same CRC (poly 0x1021, MSB first, no final XOR) computed in C, given the
    EGTS initial value; `crc16_reference` is the table-driven version it is tested against.
    """
    return binascii.crc_hqx(bytes(data), CRC16_INIT)
