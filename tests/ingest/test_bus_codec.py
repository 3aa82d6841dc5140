"""The fix bus's columnar encoding (`bus_codec`): a batch of stored fixes, single ones and blocks, comes
back as the bus carries it, fix by fix the same as through the plain per-fix reference, across message
splits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tamga.ingest import bus_codec
from tamga.ingest.bus import StoredBlock, StoredFix, StoredFixes
from tamga.ingest.fix import Fix, FixBlock
from tamga.ingest.profiles import SealState

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class ListBlock(FixBlock):
    """A block of columns as lists, as a gateway's decoder gives them."""

    __slots__ = ("_fixes",)

    def __init__(self, device_id: str, fixes: Sequence[Fix]) -> None:
        self.device_id = device_id
        self.record_id = [f.record_id or 0 for f in fixes]
        self.time_us = [bus_codec.us(f.time) for f in fixes]
        self.lat, self.lon = [f.lat for f in fixes], [f.lon for f in fixes]
        self.speed_kmh = [f.speed_kmh if f.speed_kmh is not None else float("nan") for f in fixes]
        self.course, self.valid = [0] * len(fixes), [f.valid for f in fixes]
        self.black_box, self.inputs, self.attributes = (
            [False] * len(fixes),
            [0] * len(fixes),
            ["{}"] * len(fixes),
        )
        self._fixes = list(fixes)

    def fix(self, index: int) -> Fix:
        return self._fixes[index]


flags = st.none() | st.booleans()
finite = st.floats(allow_nan=False, allow_infinity=False)
states = st.builds(SealState, flags, flags, flags, st.none() | finite, flags)
moments = st.integers(0, 10**15).map(lambda us: T0 + timedelta(microseconds=us))


@st.composite
def fixes(draw: st.DrawFn, device_id: str | None = None, record_id: bool = True) -> Fix:
    return Fix(
        device_id or draw(st.sampled_from(["860001", "860002", "wialon-7"])),
        draw(st.integers(-(2**63) + 1, 2**63 - 1)) if record_id else draw(st.none() | st.integers(0, 2**40)),
        draw(moments),
        draw(finite),
        draw(finite),
        speed_kmh=draw(st.none() | finite),
        valid=draw(st.booleans()),
        course=draw(st.none() | st.integers(0, 359)),  # not carried: the table has it
    )


@st.composite
def parts(draw: st.DrawFn) -> StoredFix | StoredBlock:
    seal_id = draw(st.integers(1, 5))
    movement_id = draw(st.none() | st.integers(1, 3))
    received = draw(moments)
    if draw(st.booleans()):
        return StoredFix(seal_id, movement_id, "http", received, draw(fixes(record_id=False)), draw(states))
    entries = draw(st.lists(fixes(device_id=f"egts-{seal_id}", record_id=True), min_size=0, max_size=12))
    order = draw(st.permutations(range(len(entries))))
    rows = order[: draw(st.integers(0, len(order)))]
    block = ListBlock(f"egts-{seal_id}", entries)
    return StoredBlock(seal_id, movement_id, "egts", received, block, rows, [draw(states) for _ in rows])


def flattened(messages: list[bytes]) -> list[StoredFix]:
    return [f for payload in messages for f in bus_codec.decode(payload)]


@settings(max_examples=200, deadline=None)
@given(st.lists(parts(), max_size=8), st.integers(1, 20))
def test_a_batch_comes_back_as_the_bus_carries_it(batch: list[StoredFix | StoredBlock], limit: int) -> None:
    stored = StoredFixes(batch)
    carried = [bus_codec.carried(f) for f in stored]
    messages = bus_codec.encode(stored, max_fixes=limit)
    assert all(bus_codec.count(m) <= limit for m in messages)
    assert sum(bus_codec.count(m) for m in messages) == len(stored)
    assert flattened(messages) == carried
    assert bus_codec.decode_reference(bus_codec.encode_reference(stored)) == carried
    if messages:
        oldest = bus_codec.oldest_received_at(messages[0])
        first = bus_codec.decode(messages[0])
        assert oldest == min(f.received_at for f in first)


def test_blocks_stay_blocks_and_the_encoding_is_compact() -> None:
    entries = [
        Fix("860001", i, T0 + timedelta(seconds=30 * i), 53.9, 27.5 + i / 1e4, 60.0) for i in range(1000)
    ]
    state = SealState(False, False, True, 3.9, False)
    block = StoredBlock(1, 7, "egts", T0, ListBlock("860001", entries), range(1000), [state] * 1000)
    (message,) = bus_codec.encode(StoredFixes([block]))
    assert len(message) < 60 * 1000  # and the plain JSON per fix is over four times that
    assert len(bus_codec.encode_reference(StoredFixes([block]))) > 4 * len(message)
    decoded = bus_codec.decode(message)
    assert [type(p) for p in decoded.parts] == [StoredBlock]
    assert list(decoded) == [bus_codec.carried(f) for f in block]


@pytest.mark.parametrize("payload", [b"", b"TFB1", b"XXXX\x00\x00\x00\x00", b"TFB1\x02\x00\x00\x00{}"])
def test_a_payload_that_is_not_an_encoding_is_refused(payload: bytes) -> None:
    with pytest.raises(bus_codec.BusCodecError):
        bus_codec.decode(payload)


def test_a_truncated_message_is_refused() -> None:
    fix = StoredFix(1, 1, "http", T0, Fix("d", 1, T0, 1.0, 2.0), SealState(None, None, None, None, None))
    (message,) = bus_codec.encode([fix])
    with pytest.raises(bus_codec.BusCodecError):
        bus_codec.decode(message[:-1])
