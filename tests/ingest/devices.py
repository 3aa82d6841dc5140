"""Registered seals and device clients for the ingest tests: real rows, real sockets, the real codecs."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tamga.auth import service as auth_service
from tamga.auth.domain import Role
from tamga.auth.security import hash_password
from tamga.ingest.egts.codec import EgtsPacket, decode_packet, split_frames
from tamga.ingest.egts.subrecords import RawSubrecord, RecordResponse
from tamga.ingest.fix import Fix
from tamga.kit.clock import utcnow
from tamga.kit.db import Database, commit
from tamga.models import Operator, Seal

DEVICE_SECRET = "device-secret-1"


@dataclass(frozen=True)
class RegisteredSeal:
    seal_id: int
    device_id: str
    secret: str


async def register_seal(
    db: Database,
    *,
    protocol: str = "egts",
    model: str = "generic-egts-seal",
    device_id: str | None = None,
    status: str = "available",
    movement_id: int | None = None,
) -> RegisteredSeal:
    """A carrier and one seal of it, straight into the database (the parties API is not under test)."""
    device_id = device_id or str(random.randrange(10**14, 10**15))
    async with db.session() as session:
        carrier = Operator(
            country="RU",
            name=f"OOO Carrier {uuid.uuid4().hex[:6]}",
            tax_id=uuid.uuid4().hex[:12],
            is_carrier=True,
            created_at=utcnow(),
        )
        session.add(carrier)
        await session.flush()
        seal = Seal(
            serial=f"ENS-{uuid.uuid4().hex[:10]}",
            national_operator="RU",
            protocol=protocol,
            device_id=device_id,
            credential_hash=hash_password(DEVICE_SECRET),
            model=model,
            carrier_id=carrier.id,
            status=status,
            movement_id=movement_id,
            created_at=utcnow(),
        )
        session.add(seal)
        await session.flush()
        seal_id = seal.id
        await commit(session)
    return RegisteredSeal(seal_id, device_id, DEVICE_SECRET)


async def api_key(db: Database, role: Role, seal_id: int | None = None) -> str:
    """A fresh API key of `role` (a device key when bound to a seal)."""
    async with db.session() as session:
        _row, key = await auth_service.create_api_key(
            session, None, name=f"key {uuid.uuid4().hex[:6]}", role=role, seal_id=seal_id
        )
        await commit(session)
    return key


def track(
    device_id: str, count: int, *, start: datetime | None = None, step_s: int = 30, first_record: int = 0
) -> list[Fix]:
    """`count` fixes of a seal driving east from Brest, a fix every `step_s` seconds."""
    start = start or datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    return [
        Fix(
            device_id=device_id,
            record_id=(first_record + i) & 0xFFFF,
            time=start + timedelta(seconds=step_s * i),
            lat=52.08 + i * 1e-4,
            lon=23.70 + i * 2e-4,
            speed_kmh=60.0,
            course=80,
            inputs=0b100,  # armed, closed
            analog={1: 3900.0},  # 3.9 V through the generic profile's 0.001 scale
        )
        for i in range(count)
    ]


@dataclass
class EgtsClient:
    """A terminal over a real socket: sends packets, reads the server's packets as they come."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    buffer: bytes = b""
    received: list[EgtsPacket] = field(default_factory=list)

    @classmethod
    async def connect(cls, port: int) -> EgtsClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def packet(self, wait_s: float = 10) -> EgtsPacket:
        """The next packet from the server."""
        while True:
            frames, self.buffer = split_frames(self.buffer)
            if frames:
                packet = decode_packet(frames[0])
                self.buffer = b"".join(frames[1:]) + self.buffer
                self.received.append(packet)
                return packet
            data = await asyncio.wait_for(self.reader.read(65536), wait_s)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.buffer += data

    async def response(self, wait_s: float = 10) -> EgtsPacket:
        """The next RESPONSE packet (skipping the server's RESULT_CODE packets)."""
        while True:
            packet = await self.packet(wait_s)
            if packet.packet_type == 0:
                return packet

    async def closed(self, wait_s: float = 10) -> bool:
        """True once the server has closed the connection (whatever it sent before)."""
        try:
            while True:
                if not await asyncio.wait_for(self.reader.read(65536), wait_s):
                    return True
        except ConnectionError:
            return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def record_results(packet: EgtsPacket) -> list[tuple[int, int]]:
    """(confirmed record number, result) of every RECORD_RESPONSE in a RESPONSE packet."""
    return [
        (sub.confirmed_record, sub.result)
        for record in packet.records
        for sub in record.subrecords
        if isinstance(sub, RecordResponse)
    ]


def result_code(packet: EgtsPacket) -> int | None:
    """The RCD of an AUTH RESULT_CODE packet, or None."""
    for record in packet.records:
        for sub in record.subrecords:
            if isinstance(sub, RawSubrecord) and sub.srt == 9 and sub.data:
                return sub.data[0]
    return None


@dataclass
class LineClient:
    """A Wialon IPS device over a real socket."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def connect(cls, port: int) -> LineClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, text: str | bytes) -> None:
        self.writer.write(text.encode() if isinstance(text, str) else text)
        await self.writer.drain()

    async def line(self, wait_s: float = 10) -> str:
        raw = await asyncio.wait_for(self.reader.readline(), wait_s)
        if not raw:
            raise ConnectionError("the server closed the connection")
        return raw.decode().rstrip("\r\n")

    async def ask(self, text: str, wait_s: float = 10) -> str:
        await self.send(text)
        return await self.line(wait_s)

    async def closed(self, wait_s: float = 10) -> bool:
        try:
            while True:
                if not await asyncio.wait_for(self.reader.read(65536), wait_s):
                    return True
        except ConnectionError:
            return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()
