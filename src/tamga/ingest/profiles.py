"""Device profiles: what each input of a seal model means, read from `profiles.json`.

Which digital input reports an opening, a tampering or arming, and which analog input is the battery, is a
property of the device model, not of the protocol: the codecs hand over raw inputs in a `Fix`, and
`seal_state` reads them through the model's profile.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal

from tamga.ingest.fix import Fix

Protocol = Literal["egts", "wialon"]


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """How one device model reports seal state. Bits count from 0; None: the model does not report it."""

    model: str
    protocol: Protocol
    opened_bit: int | None
    tampered_bit: int | None
    armed_bit: int | None
    battery_analog: int | None
    battery_scale: float
    low_battery_v: float
    reporting_period_s: int
    illustrative: bool = False


@dataclass(frozen=True, slots=True)
class SealState:
    """A seal's state as one fix reports it; None where the fix or the model does not say."""

    opened: bool | None
    tampered: bool | None
    armed: bool | None
    battery_v: float | None
    low_battery: bool | None


class UnknownDeviceModel(LookupError):
    """No profile is known for the asked device model."""


def _profile(entry: Mapping[str, Any]) -> DeviceProfile:
    if entry["protocol"] not in ("egts", "wialon"):
        raise ValueError(f"profile {entry['model']}: unknown protocol {entry['protocol']!r}")
    for name in ("opened_bit", "tampered_bit", "armed_bit"):
        bit = entry[name]
        if bit is not None and not (isinstance(bit, int) and 0 <= bit < 72):
            raise ValueError(f"profile {entry['model']}: {name} {bit!r} is not an input bit 0..71")
    if int(entry["reporting_period_s"]) <= 0:
        raise ValueError(f"profile {entry['model']}: reporting period must be positive")
    return DeviceProfile(
        model=str(entry["model"]),
        protocol=entry["protocol"],
        opened_bit=entry["opened_bit"],
        tampered_bit=entry["tampered_bit"],
        armed_bit=entry["armed_bit"],
        battery_analog=entry["battery_analog"],
        battery_scale=float(entry["battery_scale"]),
        low_battery_v=float(entry["low_battery_v"]),
        reporting_period_s=int(entry["reporting_period_s"]),
        illustrative=bool(entry.get("illustrative", False)),
    )


@functools.cache
def load_profiles() -> Mapping[str, DeviceProfile]:
    """Every known device profile by model name (read once)."""
    document = json.loads(files("tamga.ingest").joinpath("profiles.json").read_text(encoding="utf-8"))
    profiles = [_profile(entry) for entry in document["profiles"]]
    by_model = {profile.model: profile for profile in profiles}
    if len(by_model) != len(profiles):
        raise ValueError("profiles.json names a model twice")
    return by_model


def device_profile(model: str) -> DeviceProfile:
    """The profile of `model`; `UnknownDeviceModel` if there is none."""
    try:
        return load_profiles()[model]
    except KeyError:
        raise UnknownDeviceModel(model) from None


def _bit(inputs: int | None, bit: int | None) -> bool | None:
    if inputs is None or bit is None:
        return None
    return bool(inputs >> bit & 1)


def seal_state(profile: DeviceProfile, fix: Fix) -> SealState:
    """The seal state `fix` reports, read through the device model's profile.

    The battery is the profile's analog input times its scale; a fix without that input falls back to the
    battery voltage the protocol itself carried (EGTS STATE_DATA).
    """
    battery = fix.battery_v
    if profile.battery_analog is not None and profile.battery_analog in fix.analog:
        battery = fix.analog[profile.battery_analog] * profile.battery_scale
    return SealState(
        opened=_bit(fix.inputs, profile.opened_bit),
        tampered=_bit(fix.inputs, profile.tampered_bit),
        armed=_bit(fix.inputs, profile.armed_bit),
        battery_v=battery,
        low_battery=battery < profile.low_battery_v if battery is not None else None,
    )
