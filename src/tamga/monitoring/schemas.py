"""The alarms' HTTP contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tamga.kit.schemas import Text
from tamga.monitoring.domain import GoodsCategory, Rule, Severity

# Ids fit a signed 64-bit integer on both databases.
MAX_ID = 2**63 - 1


class AlarmStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alarm(BaseModel):
    """An alarm on a movement, with its evidence (the fixes' times and positions) and its handling."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    movement_id: int
    rule: Rule
    severity: Severity
    status: AlarmStatus
    opened_at: datetime
    evidence: list[dict[str, Any]]
    details: dict[str, Any]
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    comment: str | None


class AlarmResolve(BaseModel):
    """How an officer closes an alarm: what was found (required)."""

    model_config = ConfigDict(extra="forbid")

    comment: Text = Field(min_length=1, max_length=4000)


class ThresholdsIn(BaseModel):
    """Threshold overrides of one movement; omit a threshold to keep its category's (durations in s)."""

    model_config = ConfigDict(extra="forbid")

    deviation_dwell_s: float | None = Field(default=None, ge=0, le=86_400)
    deviation_min_fixes: int | None = Field(default=None, ge=1, le=1000)
    stop_speed_kmh: float | None = Field(default=None, ge=0, le=50)
    stop_dwell_s: float | None = Field(default=None, ge=0, le=7 * 86_400)
    signal_lost_periods: float | None = Field(default=None, gt=0, le=1000)
    late_margin_s: float | None = Field(default=None, ge=0, le=7 * 86_400)
    nominal_speed_kmh: float | None = Field(default=None, gt=0, le=200)
    speed_smoothing_s: float | None = Field(default=None, gt=0, le=86_400)
    max_speed_kmh: float | None = Field(default=None, gt=0, le=1000)
    border_confirm_fixes: int | None = Field(default=None, ge=1, le=100)


class Thresholds(BaseModel):
    """The thresholds that apply to a movement (durations in seconds)."""

    deviation_dwell_s: float
    deviation_min_fixes: int
    stop_speed_kmh: float
    stop_dwell_s: float
    signal_lost_periods: float
    late_margin_s: float
    nominal_speed_kmh: float
    speed_smoothing_s: float
    max_speed_kmh: float
    border_confirm_fixes: int


class MonitoringSettingsUpdate(BaseModel):
    """What a monitoring operator sets on a movement (replaces what was set): a goods category (null:
    the one its goods' codes give), a corridor width (null: the platform's), threshold overrides."""

    model_config = ConfigDict(extra="forbid")

    category: GoodsCategory | None = None
    corridor_width_m: float | None = Field(default=None, ge=50, le=20_000)
    thresholds: ThresholdsIn = Field(default_factory=ThresholdsIn)


class MonitoringSettings(BaseModel):
    """How a movement is monitored: the category that applies and where it comes from, the corridor
    width and thresholds that follow, and what the operator set."""

    movement_id: int
    category: GoodsCategory | None
    category_from: Literal["operator", "goods"] | None
    goods_category: GoodsCategory | None
    corridor_width_m: float
    thresholds: Thresholds
    overrides: MonitoringSettingsUpdate
