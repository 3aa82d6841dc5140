"""The JSON of a fix, one schema for MQTT and HTTP (`POST /api/v1/telemetry`), and its batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from tamga.kit.schemas import Text, UtcDateTime

MAX_BATCH: Final = 5000
EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)

AttributeName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
AttributeValue = Annotated[
    bool | int | float | Annotated[Text, StringConstraints(max_length=256)],
    Field(union_mode="left_to_right"),
]


class SealStateReport(BaseModel):
    """What the seal says of itself; omit what the device does not report."""

    model_config = ConfigDict(extra="forbid")

    opened: bool | None = Field(default=None, description="the seal's cable or lock is open")
    tampered: bool | None = Field(default=None, description="the seal detected tampering")
    armed: bool | None = Field(default=None, description="the seal is armed")


class TelemetryFixIn(BaseModel):
    """One position fix of one device, as devices send it over MQTT and HTTP.

    A fix is identified by `device_id`, `time` and `record_id`: sending the same fix again (a retry, a
    replayed black box) stores nothing new. Over MQTT, `device_id` must be the device of the topic.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "356938035643809",
                    "record_id": 1042,
                    "time": "2026-03-01T12:00:00Z",
                    "lat": 53.9006,
                    "lon": 27.559,
                    "speed": 72.5,
                    "course": 94,
                    "valid": True,
                    "seal": {"opened": False, "tampered": False, "armed": True},
                    "battery_v": 3.9,
                    "attributes": {"satellites": 11, "hdop": 0.9},
                }
            ]
        },
    )

    device_id: Text = Field(min_length=1, max_length=40, description="the seal's registered device id")
    record_id: int | None = Field(
        default=None,
        ge=0,
        le=2**31 - 1,
        description="the device's own number of this fix, if it numbers them (else 0 is used)",
    )
    time: UtcDateTime = Field(description="when the fix was taken (ISO 8601 with a zone), 2000-2099")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="latitude, WGS84 degrees")
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="longitude, WGS84 degrees")
    speed: float | None = Field(default=None, ge=0, le=2000, allow_inf_nan=False, description="km/h")
    course: int | None = Field(default=None, ge=0, le=360, description="degrees from north, clockwise")
    valid: bool = Field(default=True, description="the receiver had a navigation fix")
    black_box: bool = Field(default=False, description="sent late from the device's memory")
    seal: SealStateReport | None = Field(default=None, description="the seal's state")
    battery_v: float | None = Field(default=None, ge=0, le=100, allow_inf_nan=False, description="volts")
    attributes: dict[AttributeName, AttributeValue] = Field(
        default_factory=dict, max_length=64, description="anything else the device reports, kept as sent"
    )

    @field_validator("time")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        if not EARLIEST <= value < LATEST:
            raise ValueError("must be in the years 2000-2099")
        return value


class TelemetryBatch(BaseModel):
    """Fixes of one or more devices; stored all together or not at all."""

    model_config = ConfigDict(extra="forbid")

    fixes: list[TelemetryFixIn] = Field(min_length=1, max_length=MAX_BATCH)


class TelemetryAccepted(BaseModel):
    """What a batch gave: how many fixes came, how many were new, how many were already stored."""

    received: int
    stored: int
    duplicates: int
