"""The HTTP contract of risk profiles: bodies in and views out."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tamga.kit.schemas import Text, UtcDateTime

ProfileCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Z0-9][A-Z0-9._-]{1,39}$",
        description="upper-case letters, digits, '.', '_' and '-'; 2 to 40 characters",
        examples=["RP-8517-CN-LOWVAL"],
    ),
]
RandomRate = Annotated[Decimal, Field(gt=0, le=1, max_digits=7, decimal_places=6)]
CONDITION_DOC = (
    'Each condition is {"field", "op", "value"}; all must hold. Item fields: hs_code (starts_with: list of '
    "prefixes), origin (in, not_in: ISO alpha-2 list), preference_claimed (eq: bool), value_per_kg_usd, "
    "value_per_kg_vs_reference, customs_value_usd, net_mass_kg (<, <=, >, >=). Declaration fields: direction "
    "(eq: import or export), state (in: RU, BY), office (in, not_in), declarant_aeo (eq: bool), "
    "declarant_declarations, declarant_refusals (<, <=, >, >=), route_countries (any_in, none_in), "
    "transit_alarms (any_in: monitoring rules; present: bool)."
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RiskProfileVersionCreate(_Body):
    """A new version of a profile: what it tests, where it sends, and from when."""

    name: Annotated[Text, Field(min_length=1, max_length=300)]
    lane: str = Field(description="blue, yellow or red", examples=["yellow"])
    measure: Annotated[Text, Field(min_length=1, max_length=2000)]
    conditions: list[dict[str, Any]] = Field(description=CONDITION_DOC, max_length=20)
    random_rate: RandomRate | None = Field(
        default=None, description="when set, a matching declaration is selected only at this rate (0-1]"
    )
    effective_from: UtcDateTime | None = Field(
        default=None, description="when the version takes effect (now by default; never in the past)"
    )
    note: Annotated[Text, Field(max_length=2000)] | None = None


class RiskProfileCreate(RiskProfileVersionCreate):
    """A new risk profile and its first version."""

    code: ProfileCode


class RiskProfileRetire(_Body):
    """Retire a profile from a date (a retirement is itself a version)."""

    effective_from: UtcDateTime | None = None
    note: Annotated[Text, Field(min_length=1, max_length=2000)]


class Condition(BaseModel):
    field: str
    op: str
    value: Any


class RiskProfileVersion(BaseModel):
    version: int
    effective_from: datetime
    retired: bool
    name: str
    lane: str
    measure: str
    conditions: list[Condition]
    random_rate: Decimal | None
    note: str | None
    created_at: datetime
    created_by: str


class RiskProfile(BaseModel):
    id: int
    code: str
    created_at: datetime
    created_by: str
    in_force: RiskProfileVersion | None = Field(description="the version in force now, if any")
    versions: list[RiskProfileVersion]


Rate = Annotated[Decimal, Field(ge=0, le=1, max_digits=7, decimal_places=6)]


class LaneRates(_Body):
    """A minimum random selection rate per lane, as a fraction of declarations."""

    red: Rate = Decimal(0)
    yellow: Rate = Decimal(0)
    blue: Rate = Decimal(0)


class SelectionRatesSet(_Body):
    """New minimum random selection rates, from a date (for AEOs apart)."""

    rates: LaneRates
    aeo_rates: LaneRates
    effective_from: UtcDateTime | None = Field(default=None, description="now by default; never in the past")
    note: Annotated[Text, Field(min_length=1, max_length=2000)]


class SelectionRates(BaseModel):
    effective_from: datetime | None = Field(description="None for the built-in default")
    rates: dict[str, Decimal]
    aeo_rates: dict[str, Decimal]
    note: str
    created_at: datetime | None
    created_by: str | None


class SelectionRatesHistory(BaseModel):
    in_force: SelectionRates
    history: list[SelectionRates] = Field(description="every setting made through the API, oldest first")
