"""Device profiles and the seal state read through them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tamga.ingest.egts import decode_packet, encode_position_packet, records_to_fixes
from tamga.ingest.fix import Fix
from tamga.ingest.profiles import (
    DeviceProfile,
    SealState,
    UnknownDeviceModel,
    device_profile,
    load_profiles,
    seal_state,
)
from tamga.ingest.wialon import decode_message, to_fixes

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def fix(**values: object) -> Fix:
    return Fix(**{"device_id": "seal-1", "record_id": None, "time": T0, "lat": 53.9, "lon": 27.56, **values})  # type: ignore[arg-type]


def test_the_data_file_has_a_generic_egts_and_a_generic_wialon_seal() -> None:
    profiles = load_profiles()
    assert profiles["generic-egts-seal"].protocol == "egts"
    assert profiles["generic-wialon-seal"].protocol == "wialon"
    assert all(profile.reporting_period_s > 0 for profile in profiles.values())
    assert device_profile("generic-egts-seal") is profiles["generic-egts-seal"]


def test_an_unknown_model_is_refused() -> None:
    with pytest.raises(UnknownDeviceModel):
        device_profile("no-such-seal")


def test_seal_state_reads_the_bits_and_battery_of_the_profile() -> None:
    profile = device_profile("generic-egts-seal")
    assert profile.opened_bit == 0 and profile.battery_analog == 1
    state = seal_state(profile, fix(inputs=0b101, analog={1: 3300.0}))
    assert state == SealState(
        opened=True, tampered=False, armed=True, battery_v=pytest.approx(3.3), low_battery=True
    )


def test_seal_state_is_unknown_where_the_fix_or_the_model_says_nothing() -> None:
    silent = DeviceProfile("x", "egts", None, None, None, None, 1.0, 3.5, 60)
    assert seal_state(silent, fix(inputs=0xFF)) == SealState(None, None, None, None, None)
    profile = device_profile("generic-egts-seal")
    assert seal_state(profile, fix()) == SealState(None, None, None, None, None)
    # Without the analog input, the battery the protocol carried (EGTS STATE_DATA) is used.
    assert seal_state(profile, fix(inputs=0, battery_v=3.9)) == SealState(False, False, False, 3.9, False)


def test_a_seal_opening_travels_through_egts_and_wialon() -> None:
    sent = fix(record_id=5, inputs=0b001, analog={1: 3700.0})
    (egts,) = records_to_fixes(decode_packet(encode_position_packet(1, 99, [sent])), "seal-1")
    assert seal_state(device_profile("generic-egts-seal"), egts).opened is True
    (wialon,) = to_fixes(
        decode_message("#D#010326;120000;5354.0000;N;02733.6000;E;0;0;NA;9;NA;1;NA;3.7;NA;NA"), "s"
    )
    state = seal_state(device_profile("generic-wialon-seal"), wialon)
    assert state.opened is True and state.battery_v == pytest.approx(3.7) and state.low_battery is False
