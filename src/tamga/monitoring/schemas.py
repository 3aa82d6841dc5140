"""The alarms' HTTP contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tamga.kit.schemas import Text
from tamga.monitoring.domain import Rule, Severity

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
