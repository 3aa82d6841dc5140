"""Simulated seals speaking the real protocols to the gateways: EGTS and Wialon IPS 2.0 over TCP, JSON
over MQTT. Each client sends fixes and returns only once the server has confirmed them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from tamga.ingest.egts.codec import (
    EgtsPacket,
    PacketType,
    ResultCode,
    decode_packet,
    encode_auth_packet,
    encode_position_packet,
    split_frames,
)
from tamga.ingest.egts.subrecords import RecordResponse
from tamga.ingest.fix import Fix
from tamga.ingest.wialon.codec import encode_black_box, encode_data, encode_login

ANSWER_TIMEOUT_S: Final = 10.0
RETRIES: Final = 3
EGTS_BATCH: Final = 50
WIALON_BATCH: Final = 200


class DeviceRefused(Exception):
    """The gateway refused the device or did not confirm its fixes."""


class Device(Protocol):
    """A seal connected to its gateway."""

    device_id: str

    async def connect(self) -> None: ...
    async def send(self, fixes: Sequence[Fix]) -> int: ...
    async def close(self) -> None: ...


@dataclass
class EgtsDevice:
    """An EGTS terminal: TERM_IDENTITY, then TELEDATA records, retransmitting those not confirmed."""

    device_id: str
    terminal_id: int
    host: str
    port: int
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _buffer: bytes = b""
    _pid: int = 0
    retransmitted: int = 0

    def _next_pid(self) -> int:
        self._pid = (self._pid + 1) & 0xFFFF
        return self._pid

    async def _packet(self) -> EgtsPacket:
        assert self._reader is not None
        while True:
            frames, self._buffer = split_frames(self._buffer)
            if frames:
                self._buffer = b"".join(frames[1:]) + self._buffer
                return decode_packet(frames[0])
            data = await asyncio.wait_for(self._reader.read(65536), ANSWER_TIMEOUT_S)
            if not data:
                raise ConnectionError("the EGTS gateway closed the connection")
            self._buffer += data

    async def _response_to(self, pid: int) -> EgtsPacket:
        while True:
            packet = await self._packet()
            if packet.packet_type == PacketType.RESPONSE and packet.response_to_pid == pid:
                return packet

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        pid = self._next_pid()
        self._writer.write(encode_auth_packet(pid, self.terminal_id, imei=self.device_id))
        await self._writer.drain()
        response = await self._response_to(pid)
        if response.result != ResultCode.OK or _confirmed(response) != {0: ResultCode.OK}:
            raise DeviceRefused(f"EGTS authentication of {self.device_id} refused")

    async def send(self, fixes: Sequence[Fix]) -> int:
        """Send `fixes` (their record ids are the record numbers); give how many were retransmitted."""
        assert self._writer is not None
        again = 0
        for i in range(0, len(fixes), EGTS_BATCH):
            pending = list(fixes[i : i + EGTS_BATCH])
            for attempt in range(RETRIES + 1):
                if not pending:
                    break
                if attempt:
                    again += len(pending)
                pid = self._next_pid()
                self._writer.write(encode_position_packet(pid, self.terminal_id, pending))
                await self._writer.drain()
                try:
                    confirmed = _confirmed(await self._response_to(pid))
                except TimeoutError:
                    continue
                pending = [f for f in pending if confirmed.get(f.record_id or 0) != ResultCode.OK]
            if pending:
                raise DeviceRefused(f"{len(pending)} EGTS records of {self.device_id} never confirmed")
        self.retransmitted += again
        return again

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()


def _confirmed(packet: EgtsPacket) -> dict[int, int]:
    return {
        sub.confirmed_record: sub.result
        for record in packet.records
        for sub in record.subrecords
        if isinstance(sub, RecordResponse)
    }


@dataclass
class WialonDevice:
    """A Wialon IPS 2.0 device: login, a D line per live fix, B batches of what it stored in a gap."""

    device_id: str
    password: str
    host: str
    port: int
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None

    async def _ask(self, line: str) -> str:
        assert self._reader is not None and self._writer is not None
        self._writer.write(line.encode())
        await self._writer.drain()
        raw = await asyncio.wait_for(self._reader.readline(), ANSWER_TIMEOUT_S)
        if not raw:
            raise ConnectionError("the Wialon IPS gateway closed the connection")
        return raw.decode().rstrip("\r\n")

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        answer = await self._ask(encode_login(self.device_id, self.password, "2.0"))
        if answer != "#AL#1":
            raise DeviceRefused(f"Wialon IPS login of {self.device_id} refused: {answer}")

    async def send(self, fixes: Sequence[Fix]) -> int:
        """Live fixes one D line each; black-box fixes in B batches. Give how many were sent again."""
        boxed = [f for f in fixes if f.from_black_box]
        again = 0
        for i in range(0, len(boxed), WIALON_BATCH):
            batch = boxed[i : i + WIALON_BATCH]
            for attempt in range(RETRIES + 1):
                if await self._ask(encode_black_box(batch, "2.0")) == f"#AB#{len(batch)}":
                    break
                again += len(batch) if attempt < RETRIES else 0
            else:
                raise DeviceRefused(f"black box of {self.device_id} not accepted")
        for fix in (f for f in fixes if not f.from_black_box):
            answer = await self._ask(encode_data(fix, "2.0"))
            if answer != "#AD#1":
                raise DeviceRefused(f"D message of {self.device_id} refused: {answer}")
        return again

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()


def fix_document(fix: Fix, battery_scale: float) -> dict[str, object]:
    """The project's telemetry JSON (`tamga.ingest.schemas.TelemetryFixIn`) of a generic seal's fix."""
    inputs = fix.inputs or 0
    battery = fix.analog.get(1)
    return {
        "device_id": fix.device_id,
        "record_id": fix.record_id,
        "time": fix.time.isoformat(),
        "lat": fix.lat,
        "lon": fix.lon,
        "speed": fix.speed_kmh,
        "course": fix.course,
        "valid": fix.valid,
        "black_box": fix.from_black_box,
        "seal": {"opened": bool(inputs & 1), "tampered": bool(inputs & 2), "armed": bool(inputs & 4)},
        "battery_v": round(battery * battery_scale, 3) if battery is not None else None,
        "attributes": {"satellites": fix.satellites or 0, "hdop": fix.hdop or 0.0},
    }


@dataclass
class MqttDevice:
    """A seal publishing the project's JSON fixes over MQTT (QoS 1: the broker acknowledges each)."""

    device_id: str
    url: str
    topic_template: str
    battery_scale: float = 1.0
    _client: object | None = None
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def connect(self) -> None:
        import aiomqtt

        from tamga.ingest.mqtt import parse_broker_url

        broker = parse_broker_url(self.url)
        client = aiomqtt.Client(
            broker.host,
            broker.port,
            username=broker.username,
            password=broker.password,
            identifier=f"tamga-sim-{self.device_id}",
        )
        self._client = await self._stack.enter_async_context(client)

    async def send(self, fixes: Sequence[Fix]) -> int:
        import aiomqtt

        assert isinstance(self._client, aiomqtt.Client)
        topic = self.topic_template.format(device_id=self.device_id)
        if fixes:
            payload = {"fixes": [fix_document(f, self.battery_scale) for f in fixes]}
            await self._client.publish(topic, json.dumps(payload), qos=1)
        return 0

    async def close(self) -> None:
        await self._stack.aclose()
