"""Roles, principals and the scope rules that say who may see and do what. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tamga.kit.errors import FieldError


class Role(StrEnum):
    DECLARANT = "declarant"  # a business: transit holder, declarant, importer
    CARRIER = "carrier"
    CUSTOMS_OFFICER = "customs_officer"
    MONITORING_OPERATOR = "monitoring_operator"
    TAX_OFFICER = "tax_officer"
    ADMINISTRATOR = "administrator"
    DEVICE = "device"  # an electronic seal reporting for itself


BUSINESS_ROLES = frozenset({Role.DECLARANT, Role.CARRIER})
STATE_ROLES = frozenset({Role.CUSTOMS_OFFICER, Role.MONITORING_OPERATOR, Role.TAX_OFFICER})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a person (by JWT) or a system or device (by API key), with their scope."""

    subject: str  # "user:42" or "key:ab12cd34"
    name: str
    role: Role
    country: str | None = None
    office_code: str | None = None
    operator_id: int | None = None
    seal_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMINISTRATOR

    @property
    def is_officer(self) -> bool:
        return self.role is Role.CUSTOMS_OFFICER


def scope_errors(
    role: Role, country: str | None, office_code: str | None, operator_id: int | None
) -> list[FieldError]:
    """Give what a role's scope lacks: businesses need their operator, officers their state (and office)."""
    errors: list[FieldError] = []
    if role in BUSINESS_ROLES and operator_id is None:
        errors.append(FieldError("body.operator_id", f"a {role.value} acts for an economic operator"))
    if role in STATE_ROLES and country not in ("RU", "BY"):
        errors.append(FieldError("body.country", f"a {role.value} serves one state: RU or BY"))
    if role is Role.CUSTOMS_OFFICER and not office_code:
        errors.append(FieldError("body.office_code", "a customs officer is scoped to an office"))
    if role not in STATE_ROLES | {Role.ADMINISTRATOR} and office_code:
        errors.append(FieldError("body.office_code", f"a {role.value} has no customs office"))
    return errors
