"""Ingest use cases: who a device is, and storing its fixes once each. The callers commit.

Every channel ends here: the EGTS and Wialon IPS gateways, the MQTT subscriber and `POST /telemetry`
authenticate a device into a `Device`, turn what it sent into `Report`s (or, for the EGTS gateway's plain
position packets, `BlockReport`s: the fixes as columns, with no `Fix` each), store them with `store_reports`
(HTTP, one request one transaction) or through the group-commit writer (`ingest.writer`: the TCP gateways
and MQTT, many connections' reports in one transaction with `store_submissions`) and, after the commit,
publish what was new on the monitoring bus.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import repeat
from operator import attrgetter
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from tamga.auth.domain import Principal, Role
from tamga.auth.security import dummy_hash, verify_password
from tamga.ingest import store
from tamga.ingest.bus import StoredBlock, StoredFix, StoredFixes
from tamga.ingest.fix import Fix, FixBlock, attributes_json, block_entries
from tamga.ingest.profiles import DeviceProfile, SealState, UnknownDeviceModel, device_profile, seal_state
from tamga.ingest.schemas import SealStateReport, TelemetryFixIn
from tamga.kit.errors import FieldError, Forbidden, ValidationFailed
from tamga.models import Seal

REFUSED_STATUSES: Final = frozenset({"decommissioned"})
# A seal whose model has no profile is read as the generic seal of its protocol.
DEFAULT_PROFILES: Final = {"egts": "generic-egts-seal", "wialon_ips": "generic-wialon-seal"}
NO_RECORD_NUMBER: Final = 0
_TIME: Final = attrgetter("fix.time")
HTTP_PROTOCOL: Final = "http"
MQTT_PROTOCOL: Final = "mqtt"


@dataclass(frozen=True, slots=True)
class Device:
    """An authenticated device: the registered seal it is, and how to read its inputs."""

    seal_id: int
    device_id: str
    protocol: str
    profile: DeviceProfile | None


@dataclass(frozen=True, slots=True)
class Report:
    """One fix a device reported, with the seal state it gave explicitly (JSON channels) if any."""

    device: Device
    fix: Fix
    protocol: str
    state: SealState | None = None


@dataclass(frozen=True, slots=True)
class BlockReport:
    """The fixes a device reported as columns (`FixBlock`: a packet of plain position records), which are
    stored without a `Fix` per fix. Their seal state is read through the device profile."""

    device: Device
    block: FixBlock
    protocol: str


Submission = Sequence[Report] | Sequence[BlockReport] | Sequence[Report | BlockReport]
"""What one caller hands over to be stored at once."""


def submission_size(submission: Submission) -> int:
    """How many fixes a submission holds."""
    return sum(len(item.block) if isinstance(item, BlockReport) else 1 for item in submission)


def as_reports(submission: Submission) -> list[Report]:
    """A submission as one `Report` per fix (a block's fixes built as `Fix`es)."""
    reports: list[Report] = []
    for item in submission:
        if isinstance(item, BlockReport):
            block = item.block
            reports.extend(Report(item.device, block.fix(i), item.protocol) for i in range(len(block)))
        else:
            reports.append(item)
    return reports


@dataclass(slots=True)
class StoreOutcome:
    """What a store gave: the fixes that were new, in time order, and how many were already stored."""

    stored: StoredFixes = field(default_factory=StoredFixes)
    duplicates: int = 0


def profile_of(seal: Seal) -> DeviceProfile | None:
    """The device profile of a seal's model, else the generic seal of its protocol, else None."""
    for model in (seal.model, DEFAULT_PROFILES.get(seal.protocol)):
        if model is None:
            continue
        try:
            return device_profile(model)
        except UnknownDeviceModel:
            continue
    return None


def device_of(seal: Seal) -> Device:
    return Device(seal_id=seal.id, device_id=seal.device_id, protocol=seal.protocol, profile=profile_of(seal))


def _admissible(seal: Seal | None, protocol: str | None) -> bool:
    if seal is None or seal.status in REFUSED_STATUSES:
        return False
    return protocol is None or seal.protocol == protocol


async def identify_device(session: AsyncSession, identities: Sequence[str], protocol: str) -> Device | None:
    """The device one of these identities (in order of preference) names, registered for `protocol`.

    For protocols that authenticate a terminal by its identity alone (EGTS TERM_IDENTITY): the seal must
    be registered for that protocol, so a seal with a password on another channel cannot be spoken for
    by whoever knows its IMEI.
    """
    for identity in identities:
        if not identity:
            continue
        seal = await store.seal_by_device_id(session, identity)
        if _admissible(seal, protocol):
            assert seal is not None
            return device_of(seal)
    return None


async def authenticate_device(
    session: AsyncSession, device_id: str, password: str | None, protocol: str
) -> tuple[Device | None, bool]:
    """(the device, True) when the id names a seal registered for `protocol` and the password matches
    its argon2 credential; (None, False) for an unknown device, (None, True) for a wrong password.

    The hash is verified off the event loop (argon2 is slow on purpose); an unknown id costs the same.
    """
    seal = await store.seal_by_device_id(session, device_id)
    known = _admissible(seal, protocol)
    digest = seal.credential_hash if seal is not None and known else dummy_hash()
    matches = await asyncio.to_thread(verify_password, digest, password or "")
    if seal is None or not known:
        return None, False
    return (device_of(seal), True) if matches else (None, True)


async def devices_by_ids(session: AsyncSession, device_ids: Iterable[str]) -> dict[str, Device]:
    """The admissible registered devices among these ids (any protocol: JSON channels are shared)."""
    seals = await store.seals_by_device_ids(session, device_ids)
    return {d: device_of(seal) for d, seal in seals.items() if _admissible(seal, None)}


async def device_by_seal_id(session: AsyncSession, seal_id: int) -> Device | None:
    seal = await store.seal_by_id(session, seal_id)
    return device_of(seal) if _admissible(seal, None) and seal is not None else None


# Seal states read through a profile from the digital inputs alone, by (model, inputs, battery): a seal
# reports the same few states over and over, and a SealState is immutable.
_STATES: dict[tuple[str, int | None, float | None], SealState] = {}
_STATES_MAX: Final = 4096


def _state(report: Report) -> SealState:
    if report.state is not None:
        return report.state
    fix, profile = report.fix, report.device.profile
    if profile is None:
        return SealState(None, None, None, fix.battery_v, None)
    if fix.analog:
        return seal_state(profile, fix)
    key = (profile.model, fix.inputs, fix.battery_v)
    state = _STATES.get(key)
    if state is None:
        state = seal_state(profile, fix)
        if len(_STATES) >= _STATES_MAX:
            _STATES.clear()
        _STATES[key] = state
    return state


def _block_states(
    device: Device, block: FixBlock, rows: Sequence[int] | None
) -> tuple[dict[int, SealState], list[SealState]]:
    """The seal states a block's entries `rows` (all when None) report, by inputs, and each entry's."""
    profile = device.profile
    inputs = block_entries(block.inputs, rows)
    by_inputs: dict[int, SealState] = {}
    for value in set(inputs):
        if profile is None:
            by_inputs[value] = SealState(None, None, None, None, None)
            continue
        key = (profile.model, value, None)
        state = _STATES.get(key)
        if state is None:
            state = seal_state(profile, block.fix(block.inputs.index(value)))
            if len(_STATES) >= _STATES_MAX:
                _STATES.clear()
            _STATES[key] = state
        by_inputs[value] = state
    return by_inputs, list(map(by_inputs.__getitem__, inputs))


def record_id(fix: Fix) -> int:
    """The record number that keys a fix: the device's own, or 0 where the protocol numbers none."""
    return fix.record_id if fix.record_id is not None else NO_RECORD_NUMBER


async def store_reports(
    session: AsyncSession, reports: Sequence[Report], received_at: datetime
) -> StoreOutcome:
    """Store reported fixes that are not stored yet; give the new ones in time order.

    A fix is keyed by (device, time, record number): a retransmission or a replay of the same fix is
    counted as a duplicate and stored nothing, also within one batch. Each fix is stamped with the seal's
    movement at receipt. Sorting by time before inserting makes a black box delivered late go in, and out
    on the bus, in the order it was recorded.
    """
    outcomes, _ = await store_submissions(session, [reports], received_at)
    return outcomes[0]


def _blocks_in_order(submission: Submission) -> list[BlockReport] | None:
    """The blocks of a submission made of blocks alone whose fixes are in time order, else None."""
    blocks: list[BlockReport] = []
    last = None
    for item in submission:
        if not isinstance(item, BlockReport):
            return None
        times = item.block.time_us
        if not times:
            continue
        if (last is not None and times[0] < last) or any(map(operator.gt, times, times[1:])):
            return None
        last = times[-1]
        blocks.append(item)
    return blocks


async def store_submissions(
    session: AsyncSession, submissions: Sequence[Submission], received_at: datetime
) -> tuple[list[StoreOutcome], StoredFixes]:
    """Store several callers' reports in one statement (group commit); give each caller its outcome, and
    every new fix (each submission's in time order, submissions in turn: what goes on the bus). Fixes
    of one time keep the order they were reported in.

    The rules are `store_reports`'s; a fix that two submissions carry is stored for the first and counted
    as a duplicate of the second. A submission of blocks whose fixes come in time order (what terminals
    send) is stored from the blocks' columns, without a `Fix` per fix.
    """
    outcomes = [StoreOutcome() for _ in submissions]
    seal_ids = {item.device.seal_id for items in submissions for item in items}
    if not seal_ids:
        return outcomes, StoredFixes()
    movements = await store.movements_of_seals(session, seal_ids)
    rows = store.FixRows()
    # (first row, outcome, what to publish): a StoredFix, or a block's entries and their seal states
    candidates: list[
        tuple[int, StoreOutcome, StoredFix | tuple[BlockReport, Sequence[int], list[SealState]]]
    ] = []
    seen: set[store.FixKey] = set()
    for submission, outcome in zip(submissions, outcomes, strict=True):
        blocks = _blocks_in_order(submission)
        if blocks is not None:
            for item in blocks:
                device, block = item.device, item.block
                keys = list(zip(repeat(device.device_id), block.time_us, block.record_id, strict=False))
                taken: list[int] | None = None
                if not seen.isdisjoint(keys) or len(set(keys)) != len(keys):
                    taken = []
                    for i, key in enumerate(keys):
                        if key in seen:
                            outcome.duplicates += 1
                        else:
                            seen.add(key)
                            taken.append(i)
                    if not taken:
                        continue
                else:
                    seen.update(keys)
                by_inputs, states = _block_states(device, block, taken)
                entries: Sequence[int] = range(len(block)) if taken is None else taken
                candidates.append((len(rows), outcome, (item, entries, states)))
                rows.extend(block, taken, item.protocol, by_inputs, movements.get(device.seal_id))
            continue
        # sorted is stable: a packet's records keep their order
        for report in sorted(as_reports(submission), key=_TIME):
            fix, device = report.fix, report.device
            key = (
                device.device_id,
                store.time_us(fix.time),
                NO_RECORD_NUMBER if fix.record_id is None else fix.record_id,
            )
            if key in seen:
                outcome.duplicates += 1
                continue
            seen.add(key)
            state = _state(report)
            movement_id = movements.get(device.seal_id)
            stored = StoredFix(device.seal_id, movement_id, report.protocol, received_at, fix, state)
            candidates.append((len(rows), outcome, stored))
            rows.append(key, report.protocol, fix, state, movement_id, attributes_json(fix))
    skipped = await store.insert_fixes(session, rows, received_at)
    published = StoredFixes()
    for first, outcome, what in candidates:
        if isinstance(what, StoredFix):
            if first in skipped:
                outcome.duplicates += 1
                continue
            outcome.stored.add(what)
            published.add(what)
            continue
        item, entries, states = what
        if skipped:
            kept = [k for k in range(len(entries)) if first + k not in skipped]
            outcome.duplicates += len(entries) - len(kept)
            if not kept:
                continue
            entries, states = [entries[k] for k in kept], [states[k] for k in kept]
        part = StoredBlock(
            item.device.seal_id,
            movements.get(item.device.seal_id),
            item.protocol,
            received_at,
            item.block,
            entries,
            states,
        )
        outcome.stored.add(part)
        published.add(part)
    return outcomes, published


def json_report(device: Device, item: TelemetryFixIn, protocol: str) -> Report:
    """The report of one JSON fix (MQTT, HTTP); its seal state is the one it gives, the battery read
    against the device profile's low level when the seal has one."""
    fix = Fix(
        device_id=device.device_id,
        record_id=item.record_id,
        time=item.time,
        lat=item.lat,
        lon=item.lon,
        speed_kmh=item.speed,
        course=item.course,
        valid=item.valid,
        from_black_box=item.black_box,
        battery_v=item.battery_v,
        params=dict(item.attributes),
    )
    seal = item.seal or SealStateReport()
    low = None
    if item.battery_v is not None and device.profile is not None:
        low = item.battery_v < device.profile.low_battery_v
    state = SealState(seal.opened, seal.tampered, seal.armed, item.battery_v, low)
    return Report(device, fix, protocol, state)


async def reports_for_principal(
    session: AsyncSession, principal: Principal, fixes: Sequence[TelemetryFixIn]
) -> list[Report]:
    """The reports of an HTTP batch, if the caller may send every one of them.

    A device key reports for its own seal only (403 naming each fix that is not); an administrator's key
    (a system relaying devices) for any registered seal (422 naming each unknown device). Nothing is
    stored unless the whole batch is admissible.
    """
    if principal.role is Role.DEVICE:
        own = await device_by_seal_id(session, principal.seal_id) if principal.seal_id is not None else None
        if own is None:
            raise Forbidden("this device key is not bound to a registered seal")
        foreign = [
            FieldError(f"body.fixes[{i}].device_id", f"a device reports for itself ({own.device_id}) only")
            for i, item in enumerate(fixes)
            if item.device_id != own.device_id
        ]
        if foreign:
            raise Forbidden(f"{len(foreign)} fixes are for another device", errors=foreign)
        return [json_report(own, item, HTTP_PROTOCOL) for item in fixes]
    if principal.role is not Role.ADMINISTRATOR:
        raise Forbidden(f"a {principal.role.value} may not report telemetry; allowed: device, administrator")
    devices = await devices_by_ids(session, (item.device_id for item in fixes))
    unknown = [
        FieldError(f"body.fixes[{i}].device_id", "no registered seal has this device id")
        for i, item in enumerate(fixes)
        if item.device_id not in devices
    ]
    if unknown:
        raise ValidationFailed(unknown)
    return [json_report(devices[item.device_id], item, HTTP_PROTOCOL) for item in fixes]
