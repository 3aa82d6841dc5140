"""What risk screening reads and what it decides: the contract between the declaration workflow
(`clearance.service`) and risk management (`clearance.risk*`). Plain values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal


class Lane(StrEnum):
    """The channel a declaration takes; ordered from least to most control."""

    GREEN = "green"  # automatic release
    BLUE = "blue"  # release now, post-clearance audit
    YELLOW = "yellow"  # documentary check
    RED = "red"  # physical inspection

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Lane.GREEN: 0, Lane.BLUE: 1, Lane.YELLOW: 2, Lane.RED: 3}


@dataclass(frozen=True, slots=True)
class ScreenedItem:
    """One goods item as risk screening sees it."""

    number: int  # 1-based item number in the declaration
    hs_code: str  # 10-digit EAEU code
    origin: str  # ISO 3166-1 alpha-2
    net_mass_kg: Decimal
    customs_value: Decimal  # in the national currency of the declaring state
    currency: str  # RUB or BYN
    customs_value_usd: (
        Decimal  # the same value in USD at the declaring state's rate, to compare across states
    )
    preference: str | None = None  # tariff preference claimed, if any


@dataclass(frozen=True, slots=True)
class DeclarantHistory:
    """What the declaring state knows of the declarant's past declarations."""

    declarations: int  # registered before this one
    refusals: int  # refused or found with irregularities at inspection
    first_declared_on: datetime | None


@dataclass(frozen=True, slots=True)
class ScreeningFacts:
    """A declaration as risk screening sees it."""

    declaration_ref: str  # stable identity: seeds the random selection, so a decision is reproducible
    direction: Literal["import", "export"]
    state: Literal["RU", "BY"]
    office: str
    declarant_tax_id: str
    declarant_aeo: bool
    history: DeclarantHistory
    route_countries: tuple[str, ...]  # countries of dispatch and transit, ISO alpha-2
    transit_mrn: str | None
    transit_alarms: tuple[str, ...]  # monitoring rules that raised alarms on the transit movement
    registered_at: datetime  # UTC
    items: tuple[ScreenedItem, ...]


@dataclass(frozen=True, slots=True)
class ProfileHit:
    """A risk profile that matched, and why."""

    profile_code: str
    profile_version: int
    lane: Lane
    measure: str  # what the officer is to do, from the profile
    reason: str  # human-readable: which field had which value against which condition
    item_number: int | None  # None when the profile matched the declaration as a whole


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """The lane and the evidence: every profile hit and whether random selection raised the lane."""

    lane: Lane
    hits: tuple[ProfileHit, ...]
    random_selected: bool
    random_lane: Lane | None
    profile_set_version: str  # identifies the set of profile versions in force, for reproducibility
