"""Every table of the platform, one module per aggregate, on one metadata."""

import tamga.models.clearance
import tamga.models.rates
import tamga.models.risk
import tamga.models.taxation  # noqa: F401  (each feature's tables join the metadata)
from tamga.kit.db import Base
from tamga.models.audit import AuditHead, AuditRecord
from tamga.models.auth import ApiKey, LoginThrottle, User
from tamga.models.idempotency import IdempotencyRecord
from tamga.models.monitoring import Alarm, MonitoringProgress
from tamga.models.parties import Operator, Seal, Vehicle
from tamga.models.telemetry import TelemetryFix
from tamga.models.transit import (
    Counter,
    Guarantee,
    Movement,
    MovementEvent,
    MovementItem,
    MovementOffice,
)

__all__ = [
    "Alarm",
    "ApiKey",
    "AuditHead",
    "AuditRecord",
    "Base",
    "Counter",
    "Guarantee",
    "IdempotencyRecord",
    "LoginThrottle",
    "MonitoringProgress",
    "Movement",
    "MovementEvent",
    "MovementItem",
    "MovementOffice",
    "Operator",
    "Seal",
    "TelemetryFix",
    "User",
    "Vehicle",
]
