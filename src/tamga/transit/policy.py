"""Who may see a movement and who may act on it. No I/O.

A business sees the movements it holds or carries; a customs officer or monitoring operator
those that touch an office of their state; tax officers and devices none. Acting needs more:
the office of departure accepts, releases, and runs enquiries; a border office notifies its
crossing; the office of destination takes arrival, unloading and discharge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tamga.auth.domain import Principal, Role
from tamga.kit.errors import Forbidden
from tamga.transit.domain import Action


@dataclass(frozen=True, slots=True)
class MovementScope:
    """The parts of a movement that decide access."""

    holder_id: int
    carrier_id: int
    departure_office: str
    destination_office: str
    countries: frozenset[str]  # every state whose office the movement touches


def can_see(principal: Principal, scope: MovementScope) -> bool:
    """Tell whether the principal may know the movement exists."""
    role = principal.role
    if role is Role.ADMINISTRATOR:
        return True
    if role is Role.DECLARANT:
        return principal.operator_id == scope.holder_id
    if role is Role.CARRIER:
        return principal.operator_id in (scope.holder_id, scope.carrier_id)
    if role in (Role.CUSTOMS_OFFICER, Role.MONITORING_OPERATOR):
        return principal.country in scope.countries
    return False


DEPARTURE_ACTIONS = frozenset(
    {Action.ACCEPT, Action.REJECT, Action.RELEASE, Action.OPEN_ENQUIRY, Action.RECOVER}
)
DESTINATION_ACTIONS = frozenset({Action.ARRIVE, Action.RECORD_UNLOADING, Action.DISCHARGE})


def authorise(
    principal: Principal, action: Action, scope: MovementScope, border_offices: Iterable[str] = ()
) -> None:
    """Refuse (403) an action the principal's role and office do not allow on this movement."""
    if principal.is_admin:
        return
    if action is Action.INVALIDATE and principal.role is Role.DECLARANT:
        if principal.operator_id == scope.holder_id:
            return
        raise Forbidden("only the holder of the procedure may ask for invalidation")
    if principal.role is not Role.CUSTOMS_OFFICER:
        raise Forbidden(f"a {principal.role.value} may not {action.value.replace('_', ' ')}")
    office = principal.office_code
    if action in DEPARTURE_ACTIONS or action is Action.INVALIDATE:
        if office != scope.departure_office:
            raise Forbidden(f"only the office of departure ({scope.departure_office}) may do this")
    elif action in DESTINATION_ACTIONS:
        if office != scope.destination_office:
            raise Forbidden(f"only the office of destination ({scope.destination_office}) may do this")
    elif action is Action.NOTIFY_CROSSING:
        if office not in set(border_offices):
            raise Forbidden("a crossing is notified by a border office")
    elif action is Action.RECORD_INCIDENT and principal.country not in scope.countries:
        raise Forbidden("an incident is recorded by an officer of a state on the route")
