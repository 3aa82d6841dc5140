"""N trucks at once in accelerated time, each a seal on its own connection, with a live progress display.

Simulated time starts at `start` and runs `speed_up` times faster than the wall clock: a fix taken
`d` simulated seconds into the run is sent `d / speed_up` real seconds after it began. Fixes recorded in a
coverage gap are kept by the device and sent as a black box when coverage returns.
"""

from __future__ import annotations

import asyncio
import csv
import random
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from tamga.ingest.fix import Fix
from tamga.simulate.corridors import CORRIDORS
from tamga.simulate.devices import Device, EgtsDevice, MqttDevice, WialonDevice
from tamga.simulate.trucks import INCIDENTS, Track, plan_track, to_fix

PROTOCOLS: Final = ("egts", "wialon_ips", "mqtt")
DEMO_DEVICE_ID: Final = re.compile(r"86(\d{13})")
# The generic seal profiles: EGTS reports the battery in millivolts, Wialon IPS and MQTT in volts.
BATTERY_SCALE: Final = {"egts": 0.001, "wialon_ips": 1.0, "mqtt": 1.0}


@dataclass(frozen=True, slots=True)
class SealSpec:
    """A registered seal the simulator may drive: its device id, protocol and device secret."""

    device_id: str
    protocol: str
    secret: str = ""


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the gateways listen."""

    host: str = "127.0.0.1"
    egts_port: int = 5020
    wialon_port: int = 5021
    mqtt_url: str | None = None
    mqtt_topic: str = "tamga/telemetry/{device_id}"


@dataclass
class TruckResult:
    """What one truck sent, and how it ended."""

    device_id: str
    protocol: str
    corridor: str
    incidents: tuple[str, ...]
    points: int
    live: int = 0
    black_box: int = 0
    retransmitted: int = 0
    error: str | None = None


def read_device_file(path: Path) -> list[SealSpec]:
    """Seals from a CSV file of `device_id,protocol,secret` lines (`#` starts a comment)."""
    seals = []
    with path.open(newline="") as handle:
        for row in csv.reader(line for line in handle if line.strip() and not line.startswith("#")):
            device_id, protocol, *rest = (cell.strip() for cell in row)
            if protocol not in PROTOCOLS:
                raise ValueError(f"{path}: protocol {protocol!r} of {device_id} is not one of {PROTOCOLS}")
            seals.append(SealSpec(device_id, protocol, rest[0] if rest else ""))
    return seals


def demo_secret(device_id: str) -> str:
    """The secret `tamga demo` gives the seal `86` + 13 digits (only hashes are in the database)."""
    match = DEMO_DEVICE_ID.fullmatch(device_id)
    return f"secret-{int(match[1]):04d}" if match else ""


async def seals_from_database(url: str) -> list[SealSpec]:
    """The seals in service in the database, with the demo's secrets (`demo_secret`)."""
    from sqlalchemy import select

    from tamga.kit.db import Database
    from tamga.models import Seal

    db = Database(url)
    try:
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(Seal.device_id, Seal.protocol)
                    .where(Seal.status != "decommissioned", Seal.protocol.in_(PROTOCOLS))
                    .order_by(Seal.device_id)
                )
            ).all()
    finally:
        await db.dispose()
    return [SealSpec(str(d), str(p), demo_secret(str(d))) for d, p in rows]


def plan_fleet(
    seals: Sequence[SealSpec], *, seed: int, start: datetime, period_s: float = 60.0
) -> list[tuple[SealSpec, Track]]:
    """A track per seal: corridors in turn, two or three incidents each, all drawn from `seed`."""
    rng = random.Random(seed)
    keys = sorted(CORRIDORS)
    rng.shuffle(keys)
    plans = []
    for i, seal in enumerate(seals):
        incidents = rng.sample(sorted(INCIDENTS), rng.randint(2, 3))
        departure = start + timedelta(minutes=rng.randint(0, 30))
        track = plan_track(
            CORRIDORS[keys[i % len(keys)]],
            departure,
            rng.randrange(2**32),
            incidents=incidents,
            period_s=period_s,
        )
        plans.append((seal, track))
    return plans


def device_for(seal: SealSpec, endpoints: Endpoints) -> Device:
    """The protocol client of a seal."""
    if seal.protocol == "egts":
        # The terminal id only has to be stable per seal: the gateway identifies the seal by its IMEI.
        tid = zlib.crc32(seal.device_id.encode()) or 1
        return EgtsDevice(seal.device_id, tid, endpoints.host, endpoints.egts_port)
    if seal.protocol == "wialon_ips":
        return WialonDevice(seal.device_id, seal.secret, endpoints.host, endpoints.wialon_port)
    if endpoints.mqtt_url is None:
        raise ValueError(f"seal {seal.device_id} speaks MQTT and no --mqtt-url was given")
    return MqttDevice(seal.device_id, endpoints.mqtt_url, endpoints.mqtt_topic)


Progressed = Callable[[int, TruckResult, str | None], None]


async def drive(
    index: int,
    seal: SealSpec,
    track: Track,
    endpoints: Endpoints,
    *,
    start: datetime,
    speed_up: float,
    until: datetime | None,
    progressed: Progressed,
    device: Device | None = None,
    began: float | None = None,
) -> TruckResult:
    """Drive one truck: send each fix when its (accelerated) time comes; a black box after each gap.

    `device` is the truck's connected client (else one is connected here) and `began` the loop time at
    which simulated time was `start` (else the moment it is connected): a fleet shares one, so that every
    truck keeps the same schedule however long its connection took."""
    points = [p for p in track.points if until is None or p.time < until]
    result = TruckResult(
        seal.device_id,
        seal.protocol,
        track.corridor.key,
        tuple(sorted(track.incidents)),
        len(points),
    )
    loop = asyncio.get_running_loop()
    box: list[Fix] = []
    scale = BATTERY_SCALE[seal.protocol]
    if device is None:
        device = device_for(seal, endpoints)
        connect = True
    else:
        connect = False
    try:
        if connect:
            await device.connect()
        began = loop.time() if began is None else began
        for n, point in enumerate(points):
            delay = began + (point.time - start).total_seconds() / speed_up - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            fix = to_fix(track, point, seal.device_id, n & 0xFFFF, scale)
            if point.buffered:
                box.append(fix)
                progressed(index, result, "no coverage: recording")
                continue
            if box:
                result.retransmitted += await device.send(box)
                result.black_box += len(box)
                box = []
            result.retransmitted += await device.send([fix])
            result.live += 1
            progressed(index, result, point.incident)
        if box:
            result.retransmitted += await device.send(box)
            result.black_box += len(box)
        progressed(index, result, "arrived" if until is None or track.arrival < until else "stopped")
    except Exception as error:  # one truck's failure is reported, the others drive on
        result.error = f"{type(error).__name__}: {error}"
        progressed(index, result, "failed")
    finally:
        await device.close()
    return result


class _Unconnected:
    """A device whose connection failed: driving it reports the failure."""

    def __init__(self, device_id: str, error: BaseException) -> None:
        self.device_id, self.error = device_id, error

    async def connect(self) -> None:
        raise self.error

    async def send(self, fixes: Sequence[Fix]) -> int:
        raise self.error

    async def close(self) -> None:
        return None


async def _connected(seal: SealSpec, endpoints: Endpoints) -> Device:
    """Give the seal's client, connected; or one that reports why it could not be."""
    try:
        device = device_for(seal, endpoints)
    except ValueError as error:  # no client for its protocol
        return _Unconnected(seal.device_id, error)
    try:
        await device.connect()
    except Exception as error:
        await device.close()
        return _Unconnected(seal.device_id, error)
    return device


async def run_fleet(
    plans: Sequence[tuple[SealSpec, Track]],
    endpoints: Endpoints,
    *,
    start: datetime,
    speed_up: float,
    duration: timedelta | None = None,
    progressed: Progressed | None = None,
    on_start: Callable[[], None] | None = None,
) -> list[TruckResult]:
    """Connect every planned truck, then drive them all at once from `start` (`on_start` is called at
    that moment); give each one's result."""
    until = start + duration if duration is not None else None
    devices = await asyncio.gather(*(_connected(seal, endpoints) for seal, _ in plans))
    if on_start is not None:
        on_start()
    began = asyncio.get_running_loop().time()
    return list(
        await asyncio.gather(
            *(
                drive(
                    i,
                    seal,
                    track,
                    endpoints,
                    start=start,
                    speed_up=speed_up,
                    until=until,
                    progressed=progressed or (lambda *_: None),
                    device=device,
                    began=began,
                )
                for i, ((seal, track), device) in enumerate(zip(plans, devices, strict=True))
            )
        )
    )


@dataclass
class _Display:
    progress: Progress
    tasks: list[TaskID] = field(default_factory=list)

    def __call__(self, index: int, result: TruckResult, note: str | None) -> None:
        sent = result.live + result.black_box
        self.progress.update(self.tasks[index], completed=sent, note=note or "")


async def run_with_progress(
    console: Console,
    plans: Sequence[tuple[SealSpec, Track]],
    endpoints: Endpoints,
    *,
    start: datetime,
    speed_up: float,
    duration: timedelta | None = None,
) -> list[TruckResult]:
    """`run_fleet` with a progress bar per truck on `console`."""
    until = start + duration if duration is not None else None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[yellow]{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
    )
    display = _Display(progress)
    for seal, track in plans:
        total = sum(1 for p in track.points if until is None or p.time < until)
        label = f"{seal.device_id} {seal.protocol:<10} {track.corridor.key}"
        display.tasks.append(progress.add_task(label, total=total, note=""))
    with progress:
        return await run_fleet(
            plans, endpoints, start=start, speed_up=speed_up, duration=duration, progressed=display
        )
