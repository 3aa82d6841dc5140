"""The transit procedure's use cases: lodge, accept or reject, release, follow, arrive, discharge."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit import service as audit
from tamga.auth.domain import Principal, Role
from tamga.config import Settings
from tamga.kit.clock import utcnow
from tamga.kit.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InsufficientGuarantee,
    NotFound,
    ValidationFailed,
)
from tamga.kit.money import round_money
from tamga.models import (
    Guarantee,
    Movement,
    MovementEvent,
    Seal,
)
from tamga.parties import repository as parties_repo
from tamga.parties.domain import SealStatus, normalise_plate
from tamga.rates import service as rates_service
from tamga.rates.domain import RateNotFound, RateTable
from tamga.reference.catalog import NATIONAL_CURRENCY, Catalog, load_catalog
from tamga.transit import repository, schemas
from tamga.transit.domain import (
    Action,
    GoodsLine,
    Status,
    amount_at_stake,
    default_time_limit_days,
    next_status,
    route_length_km,
    time_limit_problem,
)
from tamga.transit.mrn import build_mrn
from tamga.transit.policy import MovementScope, authorise, can_see
from tamga.transit.validation import declaration_errors, resolve_itinerary

# --- guarantees -----------------------------------------------------------------------------------


def _access_code_hash(grn: str, code: str) -> str:
    # Access codes are short by design (NCTS: 4 characters): a slow hash would not make them
    # strong, and it would cost every lodging; a keyed SHA-256 per guarantee keeps them unreadable.
    return hashlib.sha256(f"{grn}:{code}".encode()).hexdigest()


def guarantee_view(g: Guarantee) -> schemas.Guarantee:
    return schemas.Guarantee(
        grn=g.grn,
        kind=schemas.GuaranteeKind(g.kind),
        holder_id=g.holder_id,
        currency=g.currency,
        reference_amount=g.reference_amount,
        reserved_amount=g.reserved_amount,
        recovered_amount=g.recovered_amount,
        balance=g.reference_amount - g.reserved_amount - g.recovered_amount,
        valid_from=g.valid_from,
        valid_until=g.valid_until,
        status=g.status,
    )


async def register_guarantee(
    session: AsyncSession, actor: Principal, data: schemas.GuaranteeCreate
) -> Guarantee:
    """Give a new guarantee with its reference number (GRN); the access code is kept hashed."""
    errors: list[FieldError] = []
    holder = await parties_repo.operator(session, data.holder_id)
    if holder is None:
        errors.append(FieldError("body.holder_id", f"no operator {data.holder_id}"))
    if load_catalog().currency(data.currency) is None:
        errors.append(FieldError("body.currency", f"no currency {data.currency}"))
    if data.valid_until is not None and data.valid_until < data.valid_from:
        errors.append(FieldError("body.valid_until", "before valid_from"))
    if data.kind is not schemas.GuaranteeKind.WAIVER and data.reference_amount <= 0:
        errors.append(FieldError("body.reference_amount", "must be more than zero"))
    if errors:
        raise ValidationFailed(errors)
    country = actor.country or (holder.country if holder else "RU")
    serial = await repository.next_counter(session, f"grn:{country}:{data.valid_from.year}")
    grn = f"{data.valid_from.year % 100:02d}{country}{serial:010d}"
    g = Guarantee(
        grn=grn,
        kind=data.kind.value,
        holder_id=data.holder_id,
        access_code_hash=_access_code_hash(grn, data.access_code),
        currency=data.currency,
        reference_amount=data.reference_amount,
        reserved_amount=Decimal(0),
        recovered_amount=Decimal(0),
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        created_at=utcnow(),
    )
    session.add(g)
    await session.flush()
    audit.record(
        session,
        actor=actor.subject,
        action="guarantee.register",
        entity_type="guarantee",
        entity_id=grn,
        before=None,
        after=guarantee_view(g).model_dump(mode="json"),
    )
    return g


async def get_guarantee(session: AsyncSession, principal: Principal, grn: str) -> Guarantee:
    g = await repository.guarantee_by_grn(session, grn) if grn.isascii() and grn.isalnum() else None
    if g is None:
        raise NotFound(f"no guarantee {grn}")
    business = principal.role in (Role.DECLARANT, Role.CARRIER, Role.DEVICE, Role.TAX_OFFICER)
    if business and principal.operator_id != g.holder_id:
        raise NotFound(f"no guarantee {grn}")
    return g


# --- lodging --------------------------------------------------------------------------------------


async def lodge(
    session: AsyncSession, principal: Principal, decl: schemas.TransitDeclarationCreate
) -> Movement:
    """Give the lodged movement, or refuse the declaration naming every field at fault."""
    if principal.role is not Role.DECLARANT and not principal.is_admin:
        raise Forbidden("transit declarations are lodged by the holder of the procedure")
    if principal.is_admin:
        if decl.holder_id is None:
            raise ValidationFailed([FieldError("body.holder_id", "required when an administrator lodges")])
        holder_id = decl.holder_id
    else:
        if decl.holder_id is not None and decl.holder_id != principal.operator_id:
            raise ValidationFailed([FieldError("body.holder_id", "a declarant lodges for itself only")])
        assert principal.operator_id is not None
        holder_id = principal.operator_id

    catalog = load_catalog()
    errors = declaration_errors(catalog, decl)
    operators, guarantee, seal_carriers, next_id = await repository.lodging_parties(
        session, [holder_id, decl.carrier_id], holder_id, decl.guarantee.grn, decl.seals
    )
    if holder_id not in operators:
        errors.append(FieldError("body.holder_id", f"no operator {holder_id}"))
    carrier = operators.get(decl.carrier_id)
    if carrier is None or not carrier.is_carrier:
        errors.append(
            FieldError("body.carrier_id", f"operator {decl.carrier_id} is not a registered carrier")
        )
    now = utcnow()
    if (
        guarantee is None
        or guarantee.holder_id != holder_id
        or not hmac.compare_digest(
            guarantee.access_code_hash, _access_code_hash(guarantee.grn, decl.guarantee.access_code)
        )
    ):
        errors.append(
            FieldError("body.guarantee", "no guarantee of this holder with that GRN and access code")
        )
    elif (
        guarantee.status != "valid"
        or guarantee.valid_from > now.date()
        or (guarantee.valid_until is not None and guarantee.valid_until < now.date())
    ):
        errors.append(FieldError("body.guarantee.grn", "the guarantee is not valid today"))
    for i, serial in enumerate(decl.seals):
        if serial not in seal_carriers:
            errors.append(FieldError(f"body.seals[{i}]", f"no registered seal {serial}"))
        elif seal_carriers[serial] != decl.carrier_id:
            errors.append(FieldError(f"body.seals[{i}]", f"seal {serial} belongs to another carrier"))
    if errors:
        raise ValidationFailed(errors)
    assert guarantee is not None

    destination = catalog.office(decl.destination_office)
    assert destination is not None
    country = destination.country
    # the central bank's rates in force today, as imported (`tamga rates import`, the rates API)
    rates = await rates_service.in_force(
        session, authority=rates_service.AUTHORITY_OF_STATE[country], day=now.date()
    )
    stake, _trace = _stake(catalog, decl, country, rates)
    reserved = _in_guarantee_currency(rates, stake, country, guarantee.currency)
    itinerary = resolve_itinerary(catalog, decl)
    length = route_length_km([(p["lat"], p["lon"]) for p in itinerary])

    movement = Movement(
        id=next_id,  # drawn with the parties on PostgreSQL (None: the INSERT gives it)
        lrn=decl.lrn,
        status=Status.LODGED.value,
        holder_id=holder_id,
        carrier_id=decl.carrier_id,
        consignor=decl.consignor.model_dump(),
        consignee=decl.consignee.model_dump(),
        departure_office=decl.departure_office,
        destination_office=decl.destination_office,
        destination_country=country,
        transit_offices=list(decl.transit_offices),
        itinerary=itinerary,
        route_length_km=length,
        guarantee_id=guarantee.id,
        guarantee_grn=guarantee.grn,
        countries=sorted({o.country for _, code in _office_roles(decl) if (o := catalog.office(code))}),
        vehicles=[
            {"plate": normalise_plate(v.plate), "country": v.country, "active": True} for v in decl.vehicles
        ],
        seals=[{"serial": serial, "status": "declared"} for serial in decl.seals],
        amount_at_stake=stake,
        amount_currency=NATIONAL_CURRENCY[country],
        reserved_amount=Decimal(0) if guarantee.kind == "waiver" else reserved,
        total_packages=sum(i.packages for i in decl.items),
        total_gross_mass_kg=sum((i.gross_mass_kg for i in decl.items), Decimal(0)),
        item_count=len(decl.items),
        lodged_at=now,
    )
    # The movement's parts go in as plain rows (no ORM objects to track). Its `items` and `events`
    # are not loaded on the returned movement; read it again with `full` to see them.
    offices = []
    for role, code in _office_roles(decl):
        office = catalog.office(code)
        assert office is not None
        offices.append({"office_code": code, "role": role, "country": office.country})
    lodged = {"lrn": decl.lrn, "status": movement.status, "items": len(decl.items), "stake": str(stake)}
    if movement.id is not None:  # the record rides on the INSERT (PostgreSQL)
        audit.record(session, **_lodge_record(principal, movement.id, lodged))
    rider = audit.rider(session)
    try:
        await repository.insert_movement(
            session,
            movement,
            items=[{"number": n, **item.model_dump()} for n, item in enumerate(decl.items, start=1)],
            events=[_event_row(now, "lodged", decl.departure_office, principal.subject, {})],
            offices=offices,
            rider=rider,
            begin=rider is None,  # with its record it is whole alone; without, the record joins at commit
        )
    except IntegrityError as exc:  # the LRN was lodged before (or concurrently, and committed first)
        if "lrn" not in str(exc.orig).lower():  # PostgreSQL names the constraint, SQLite the columns
            raise
        raise Conflict(
            f"a movement with LRN {decl.lrn} was already lodged", errors=[FieldError("body.lrn", "taken")]
        ) from exc
    if next_id is None:  # SQLite: the id is known now; the record is appended at commit
        audit.record(session, **_lodge_record(principal, movement.id, lodged))
    return movement


def _lodge_record(principal: Principal, movement_id: int, after: dict[str, Any]) -> dict[str, Any]:
    return {
        "actor": principal.subject,
        "action": "movement.lodge",
        "entity_type": "movement",
        "entity_id": movement_id,
        "before": None,
        "after": after,
    }


def _office_roles(decl: schemas.TransitDeclarationCreate) -> list[tuple[str, str]]:
    roles = [("departure", decl.departure_office), ("destination", decl.destination_office)]
    roles += [("transit", code) for code in decl.transit_offices]
    return list(dict.fromkeys(roles))


def _stake(
    catalog: Catalog, decl: schemas.TransitDeclarationCreate, country: str, rates: RateTable
) -> tuple[Decimal, list[Any]]:
    units: dict[str, Decimal] = {}  # each currency's rate, looked up once
    missing: list[FieldError] = []
    for n, i in enumerate(decl.items):  # every item whose currency has no rate in force, in one refusal
        if i.currency not in units:
            try:
                units[i.currency] = rates.per_unit(i.currency, field=f"body.items[{n}].currency")
            except RateNotFound as exc:
                missing += exc.errors
    if missing:
        raise ValidationFailed(missing)
    return amount_at_stake(
        [GoodsLine(i.hs_code, i.value, i.currency) for i in decl.items],
        country,
        rates.day,
        catalog.duty_estimate_percent,
        catalog.vat_percent(country, rates.day),
        lambda _authority, currency, _on: units[currency],
    )


def _in_guarantee_currency(rates: RateTable, amount: Decimal, country: str, currency: str) -> Decimal:
    if currency == NATIONAL_CURRENCY[country]:
        return amount
    try:
        unit = rates.per_unit(currency)
    except RateNotFound as exc:
        raise ValidationFailed(
            [
                FieldError(
                    "body.guarantee.grn",
                    f"the guarantee is in {currency}: {exc.errors[0].reason}",
                )
            ]
        ) from exc
    return round_money(amount / unit)


# --- reading --------------------------------------------------------------------------------------


def scope_of(movement: Movement) -> MovementScope:
    """Give the parts of a movement that decide who may see and act on it."""
    return MovementScope(
        holder_id=movement.holder_id,
        carrier_id=movement.carrier_id,
        departure_office=movement.departure_office,
        destination_office=movement.destination_office,
        countries=frozenset(movement.countries),
    )


async def get_visible(
    session: AsyncSession, principal: Principal, ref: str, *, lock: bool = False, full: bool = False
) -> tuple[Movement, MovementScope]:
    """Give a movement the principal may see; anything else reads as not found."""
    movement = await repository.movement_by_ref(session, ref, lock=lock, full=full)
    if movement is None:
        raise NotFound(f"no movement {ref}")
    scope = scope_of(movement)
    if not can_see(principal, scope):
        raise NotFound(f"no movement {ref}")
    return movement, scope


def view(movement: Movement, *, full: bool) -> schemas.Movement:
    """Give the API view of a movement (items and timeline, which must be loaded, when `full`)."""
    return schemas.Movement(
        id=movement.id,
        lrn=movement.lrn,
        mrn=movement.mrn,
        registration_number=movement.registration_number,
        status=Status(movement.status),
        holder_id=movement.holder_id,
        carrier_id=movement.carrier_id,
        consignor=movement.consignor,
        consignee=movement.consignee,
        departure_office=movement.departure_office,
        destination_office=movement.destination_office,
        transit_offices=movement.transit_offices,
        itinerary=movement.itinerary,
        route=schemas.RouteGeometry(coordinates=[(p["lon"], p["lat"]) for p in movement.itinerary]),
        route_length_km=movement.route_length_km,
        guarantee_grn=movement.guarantee_grn,
        amount_at_stake=movement.amount_at_stake,
        amount_currency=movement.amount_currency,
        reserved_amount=movement.reserved_amount,
        item_count=movement.item_count,
        total_packages=movement.total_packages,
        total_gross_mass_kg=movement.total_gross_mass_kg,
        vehicles=[
            schemas.VehicleIn(plate=v["plate"], country=v["country"])
            for v in movement.vehicles
            if v["active"]
        ],
        seals=[{"serial": s["serial"], "status": s["status"]} for s in movement.seals],
        rejection=movement.rejection,
        time_limit=movement.time_limit,
        lodged_at=movement.lodged_at,
        accepted_at=movement.accepted_at,
        released_at=movement.released_at,
        arrived_at=movement.arrived_at,
        discharged_at=movement.discharged_at,
        items=[schemas.Item.model_validate(i) for i in movement.items] if full else None,
        events=[schemas.Event.model_validate(e) for e in movement.events] if full else None,
    )


# --- the lifecycle --------------------------------------------------------------------------------


@cache
def _border_offices() -> frozenset[str]:
    """Give the codes of the offices where a crossing can be notified."""
    return frozenset(o.code for o in load_catalog().offices() if {"border", "transit"} & o.roles)


async def _transition(
    session: AsyncSession,
    principal: Principal,
    ref: str,
    action: Action,
    *,
    discrepancies: bool | None = None,
) -> tuple[Movement, Status, MovementScope]:
    """Load, scope, authorise and check an action; give the movement, its next state and scope."""
    movement, scope = await get_visible(session, principal, ref, lock=True)
    return movement, _authorised(principal, movement, scope, action, discrepancies), scope


def _authorised(
    principal: Principal,
    movement: Movement,
    scope: MovementScope,
    action: Action,
    discrepancies: bool | None = None,
) -> Status:
    """Give the state the action leads to, once the principal may take it (or refuse)."""
    authorise(principal, action, scope, _border_offices())
    return next_status(Status(movement.status), action, discrepancies=discrepancies)


def _event(
    session: AsyncSession,
    movement: Movement,
    principal: Principal,
    kind: str,
    *,
    at: datetime,
    office: str | None,
    details: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    session.add(
        MovementEvent(
            movement_id=movement.id,
            at=at,
            kind=kind,
            office_code=office,
            actor=principal.subject,
            details=details or {},
            note=note or None,
        )
    )


def _event_row(
    at: datetime, kind: str, office: str | None, actor: str, details: dict[str, Any], note: str | None = None
) -> dict[str, Any]:
    """Give a timeline event as a plain row (for `repository.insert_parts` and `write_movement`)."""
    return {"at": at, "kind": kind, "office_code": office, "actor": actor, "details": details, "note": note}


def _audit(
    session: AsyncSession,
    principal: Principal,
    movement: Movement,
    action: str,
    before: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Record a step of a movement: its status before, and after its status, MRN and `extra` (which
    gives the new status and MRN when the record is made before the step is written)."""
    audit.record(
        session,
        actor=principal.subject,
        action=f"movement.{action}",
        entity_type="movement",
        entity_id=movement.id,
        before={"status": before},
        after={"status": movement.status, "mrn": movement.mrn, **(extra or {})},
    )


async def accept(session: AsyncSession, principal: Principal, ref: str) -> Movement:
    """Accept a lodged declaration: give it its registration number and MRN.

    On PostgreSQL it takes no lock and begins no transaction: the movement is read, the serials are
    drawn (committed at once, `allocate_counters`), and the one write, with its event and audit record,
    is made only if the movement is still as read. An acceptance that lost a race is refused as the
    movement now stands (already accepted: 409 naming the states that allow it).
    """
    movement = await repository.movement_for_step(session, ref)  # read for write_movement
    if movement is None or not can_see(principal, scope := scope_of(movement)):
        raise NotFound(f"no movement {ref}")
    target = _authorised(principal, movement, scope, Action.ACCEPT)
    before, now = movement.status, utcnow()
    office = load_catalog().office(movement.departure_office)
    assert office is not None
    day_key, year_key = f"reg:{office.code}:{now:%Y%m%d}", f"mrn:{office.code}:{now:%Y}"
    serials = await repository.allocate_counters(session, day_key, year_key)
    day_serial, year_serial = serials[day_key], serials[year_key]
    registration = f"{office.code}/{now:%d%m%y}/{day_serial:07d}"
    numbers = {
        "mrn": build_mrn(now.year, office.country, office.code, year_serial),
        "registration_number": registration,
    }
    _audit(session, principal, movement, "accept", before, {"status": target.value, **numbers})
    rider = audit.rider(session)  # the audit record in the same statement (PostgreSQL)
    try:
        await repository.write_movement(
            session,
            movement,
            {**numbers, "status": target.value, "accepted_at": now},
            events=[_event_row(now, "accepted", office.code, principal.subject, numbers)],
            rider=rider,
            begin=rider is None,  # with its record it is whole alone; without, the record joins at commit
        )
    except repository.StaleMovement:
        await _refuse_as_it_stands(session, principal, ref, Action.ACCEPT)
        raise
    return movement


async def reject(session: AsyncSession, principal: Principal, ref: str, data: schemas.Rejection) -> Movement:
    """Reject a lodged declaration with the officer's reasons."""
    movement, target, _ = await _transition(session, principal, ref, Action.REJECT)
    before, now = movement.status, utcnow()
    movement.status = target.value
    movement.rejection = [{"reason": r} for r in data.reasons]
    _event(
        session,
        movement,
        principal,
        "rejected",
        at=now,
        office=movement.departure_office,
        details={"reasons": list(data.reasons)},
    )
    _audit(session, principal, movement, "reject", before, {"reasons": list(data.reasons)})
    return movement


async def invalidate(session: AsyncSession, principal: Principal, ref: str, data: schemas.Note) -> Movement:
    """Invalidate a declaration before release (the holder asks, or the office of departure decides)."""
    movement, target, _ = await _transition(session, principal, ref, Action.INVALIDATE)
    before, now = movement.status, utcnow()
    movement.status = target.value
    _event(
        session, movement, principal, "invalidated", at=now, office=movement.departure_office, note=data.note
    )
    _audit(session, principal, movement, "invalidate", before)
    return movement


async def release(
    session: AsyncSession, principal: Principal, settings: Settings, ref: str, data: schemas.Release
) -> Movement:
    """Release for transit: reserve the amount at stake on the guarantee, arm the seals, set the time limit.

    On PostgreSQL it takes no lock and begins no transaction, as an acceptance: the movement, with its
    guarantee's terms and its seals, is read in one statement, and the one write (the movement, its
    event, the armed seals, the audit record, the reservation) is made only if the movement is still as
    read, every seal still available and the guarantee's balance still covers the amount. The guarantee,
    whose row every movement on it queues for, is then held only while that statement runs and commits,
    never across a round trip. A release that lost a race is refused as things now stand.
    """
    found = await repository.movement_for_release(session, ref)
    if found is None or not can_see(principal, scope := scope_of(found.movement)):
        raise NotFound(f"no movement {ref}")
    movement, kind, grn, currency, seals = found
    target = _authorised(principal, movement, scope, Action.RELEASE)
    before, now = movement.status, utcnow()
    if data.time_limit is not None:
        problem = time_limit_problem(
            data.time_limit, now, movement.route_length_km, settings.transit_legal_km_per_month
        )
        if problem:
            raise ValidationFailed([FieldError("body.time_limit", problem)])
        time_limit = data.time_limit
    else:
        days = default_time_limit_days(movement.route_length_km, settings.transit_speed_norm_km_per_day)
        time_limit = now + timedelta(days=days)

    declared = [s["serial"] for s in movement.seals]
    if errors := _unarmable(declared, seals):
        raise Conflict("the declared seals cannot all be armed", errors=errors)

    details = {
        "time_limit": time_limit.isoformat(),
        "reserved": str(movement.reserved_amount),
        "seals": declared,
    }
    recorded = {"time_limit": time_limit, "reserved": movement.reserved_amount, "guarantee": grn}
    _audit(session, principal, movement, "release", before, {"status": target.value, **recorded})
    rider = audit.rider(session)  # the audit record in the same statement (PostgreSQL)
    if rider is None:
        await audit.append_now(session)  # the chain heads before the guarantee's row, as everywhere
    single = kind in ("individual", "cash")
    reservation = repository.Reservation(movement.guarantee_id, movement.reserved_amount, single)
    try:
        await repository.write_movement(
            session,
            movement,
            {
                "seals": [{"serial": serial, "status": SealStatus.ARMED.value} for serial in declared],
                "status": target.value,
                "released_at": now,
                "time_limit": time_limit,
            },
            events=[_event_row(now, "released", movement.departure_office, principal.subject, details)],
            arm_seals=seals,
            reserve=None if kind == "waiver" else reservation,
            rider=rider,
            begin=rider is None,  # with its record it is whole alone; without, the record joins at commit
        )
    except repository.StaleMovement:
        await _refuse_as_it_stands(session, principal, ref, Action.RELEASE)
        raise
    except repository.SealsTaken:
        # nothing was kept (on SQLite: undo the unit of work, which expires what it read), then say why
        await session.rollback()
        errors = _unarmable(declared, await parties_repo.seals_by_serials(session, declared))
        raise Conflict("the declared seals cannot all be armed", errors=errors) from None
    except repository.GuaranteeShort:
        await session.rollback()
        fresh = await repository.guarantee(session, reservation.guarantee_id)
        assert fresh is not None
        balance = fresh.reference_amount - fresh.reserved_amount - fresh.recovered_amount
        raise InsufficientGuarantee(
            f"guarantee {grn} cannot cover {reservation.amount} {currency}: balance {balance} {currency}"
            + ("; an individual guarantee serves one movement" if single and fresh.used else ""),
            needed=str(reservation.amount),
            balance=str(balance),
        ) from None
    return movement


def _unarmable(declared: list[str], seals: list[Seal]) -> list[FieldError]:
    """Name each declared seal that cannot be armed now (not registered, or not available)."""
    by_serial = {s.serial: s for s in seals}
    errors: list[FieldError] = []
    for i, serial in enumerate(declared):
        seal = by_serial.get(serial)
        if seal is None or seal.status != SealStatus.AVAILABLE.value:
            state = "not registered" if seal is None else seal.status
            errors.append(FieldError(f"seals[{i}]", f"seal {serial} cannot be armed: {state}"))
    return errors


async def _refuse_as_it_stands(session: AsyncSession, principal: Principal, ref: str, action: Action) -> None:
    """After a step lost a race (`StaleMovement`): refuse it as the movement now stands if that no longer
    allows it (409 naming the states that do); otherwise the caller re-raises (changed meanwhile)."""
    now_stands = await repository.movement_for_step(session, ref)
    if now_stands is not None:
        _authorised(principal, now_stands, scope_of(now_stands), action)


async def notify_crossing(
    session: AsyncSession, principal: Principal, ref: str, data: schemas.Crossing
) -> Movement:
    """Record the movement passing a border office (an office of transit, or the Russia–Belarus line)."""
    office_code = data.office_code or principal.office_code
    if office_code is None:
        raise ValidationFailed([FieldError("body.office_code", "required")])
    if not principal.is_admin and office_code != principal.office_code:
        raise Forbidden("an officer notifies crossings at their own office only")
    office = load_catalog().office(office_code)
    if office is None or office_code not in _border_offices():
        raise ValidationFailed([FieldError("body.office_code", f"{office_code} is not a border office")])
    movement, target, _ = await _transition(session, principal, ref, Action.NOTIFY_CROSSING)
    before, now = movement.status, utcnow()
    at = data.at or now
    if at > now + timedelta(minutes=5):
        raise ValidationFailed([FieldError("body.at", "a crossing cannot be in the future")])
    movement.status = target.value
    planned = office_code in movement.transit_offices
    _event(
        session,
        movement,
        principal,
        "crossing",
        at=at,
        office=office_code,
        details={"country": office.country, "border_with": office.border_with, "planned": planned},
    )
    _audit(session, principal, movement, "notify_crossing", before, {"office": office_code})
    return movement


async def record_incident(
    session: AsyncSession, principal: Principal, ref: str, data: schemas.Incident
) -> Movement:
    """Record an incident en route: an accident, a transhipment, a broken seal."""
    movement, target, _ = await _transition(session, principal, ref, Action.RECORD_INCIDENT)
    before, now = movement.status, utcnow()
    details: dict[str, Any] = {"kind": data.kind.value}
    if data.lat is not None and data.lon is not None:
        details["position"] = {"lat": data.lat, "lon": data.lon}
    if data.kind is schemas.IncidentKind.TRANSHIPMENT:
        if data.new_vehicle is None:
            raise ValidationFailed([FieldError("body.new_vehicle", "a transhipment names the new vehicle")])
        plate = normalise_plate(data.new_vehicle.plate)
        movement.vehicles = [{**v, "active": False} for v in movement.vehicles] + [
            {"plate": plate, "country": data.new_vehicle.country, "active": True}
        ]
        details["new_vehicle"] = {"plate": plate, "country": data.new_vehicle.country}
    if data.kind is schemas.IncidentKind.SEAL_BROKEN:
        if data.seal_serial not in {s["serial"] for s in movement.seals}:
            raise ValidationFailed([FieldError("body.seal_serial", "name a seal of this movement")])
        movement.seals = [
            {**s, "status": SealStatus.BROKEN.value} if s["serial"] == data.seal_serial else s
            for s in movement.seals
        ]
        seal = await parties_repo.seal_by_serial(session, data.seal_serial)
        if seal is not None:
            seal.status = SealStatus.BROKEN.value
        details["seal"] = data.seal_serial
    if data.new_seals:
        fresh = await parties_repo.seals_by_serials(session, data.new_seals, lock=True)
        found = {s.serial: s for s in fresh}
        bad = [
            FieldError(f"body.new_seals[{i}]", f"seal {serial} is not registered and available")
            for i, serial in enumerate(data.new_seals)
            if serial not in found or found[serial].status != SealStatus.AVAILABLE.value
        ]
        if bad:
            raise ValidationFailed(bad)
        for serial in data.new_seals:
            found[serial].status, found[serial].movement_id = SealStatus.ARMED.value, movement.id
        movement.seals = movement.seals + [
            {"serial": serial, "status": SealStatus.ARMED.value} for serial in data.new_seals
        ]
        details["new_seals"] = list(data.new_seals)
    movement.status = target.value
    _event(
        session,
        movement,
        principal,
        "incident",
        at=data.at or now,
        office=principal.office_code,
        details=details,
        note=data.description,
    )
    _audit(session, principal, movement, "record_incident", before, details)
    return movement


async def arrive(session: AsyncSession, principal: Principal, ref: str, data: schemas.Note) -> Movement:
    """Record the goods' arrival at the office of destination."""
    movement, target, _ = await _transition(session, principal, ref, Action.ARRIVE)
    before, now = movement.status, utcnow()
    late = movement.time_limit is not None and now > movement.time_limit
    movement.status, movement.arrived_at = target.value, now
    _event(
        session,
        movement,
        principal,
        "arrived",
        at=now,
        office=movement.destination_office,
        details={"late": late},
        note=data.note,
    )
    _audit(session, principal, movement, "arrive", before, {"late": late})
    return movement


async def record_unloading(
    session: AsyncSession, principal: Principal, ref: str, data: schemas.UnloadingRemarks
) -> Movement:
    """Record the unloading remarks, with or without discrepancies."""
    if data.discrepancies and not data.remarks:
        raise ValidationFailed([FieldError("body.remarks", "discrepancies need at least one remark")])
    movement, target, _ = await _transition(
        session, principal, ref, Action.RECORD_UNLOADING, discrepancies=data.discrepancies
    )
    for i, remark in enumerate(data.remarks):
        if remark.item_number is not None and remark.item_number > movement.item_count:
            raise ValidationFailed([FieldError(f"body.remarks[{i}].item_number", "no such item")])
    before, now = movement.status, utcnow()
    movement.status = target.value
    remarks = [r.model_dump(mode="json") for r in data.remarks]
    _event(
        session,
        movement,
        principal,
        "unloading_remarks",
        at=now,
        office=movement.destination_office,
        details={"discrepancies": data.discrepancies, "remarks": remarks},
        note=data.note,
    )
    _audit(session, principal, movement, "record_unloading", before, {"discrepancies": data.discrepancies})
    return movement


async def _free_seals(session: AsyncSession, movement: Movement) -> None:
    """Take the seals off the movement: armed ones become available again, broken ones stay broken."""
    seals = await parties_repo.seals_by_serials(session, [s["serial"] for s in movement.seals])
    for seal in seals:
        if seal.movement_id == movement.id:
            seal.movement_id = None
            if seal.status == SealStatus.ARMED.value:
                seal.status = SealStatus.AVAILABLE.value
    movement.seals = [
        {**s, "status": "removed"} if s["status"] == SealStatus.ARMED.value else s for s in movement.seals
    ]


async def _give_back(session: AsyncSession, movement: Movement, *, recovered: bool) -> None:
    """Release (or recover) the movement's reservation on its guarantee, last: after the audit heads
    are taken, as release takes them, so the shared guarantee row is held only until the commit."""
    await audit.append_now(session)
    await repository.release_reservation(
        session, movement.guarantee_id, movement.reserved_amount, recovered=recovered
    )


async def discharge(
    session: AsyncSession, principal: Principal, ref: str, data: schemas.Discharge
) -> Movement:
    """Discharge the procedure: the guarantee's reservation is released and the seals removed."""
    movement, target, _ = await _transition(session, principal, ref, Action.DISCHARGE)
    if movement.status == Status.DISCREPANCIES.value and not data.resolution:
        raise ValidationFailed(
            [FieldError("body.resolution", "discharge after discrepancies needs their resolution")]
        )
    before, now = movement.status, utcnow()
    await _free_seals(session, movement)
    movement.status, movement.discharged_at = target.value, now
    _event(
        session,
        movement,
        principal,
        "discharged",
        at=now,
        office=movement.destination_office,
        details={"released": str(movement.reserved_amount)},
        note=data.resolution,
    )
    _audit(session, principal, movement, "discharge", before, {"released": movement.reserved_amount})
    await _give_back(session, movement, recovered=False)
    return movement


async def open_enquiry(session: AsyncSession, principal: Principal, ref: str, data: schemas.Note) -> Movement:
    """Open an enquiry into a movement that has not arrived within its time limit."""
    movement, target, _ = await _transition(session, principal, ref, Action.OPEN_ENQUIRY)
    now = utcnow()
    if movement.time_limit is None or now <= movement.time_limit:
        raise Conflict(f"the time limit ({movement.time_limit}) has not passed; no enquiry yet")
    return _enquire(session, principal, movement, target, now, data.note)


def _enquire(
    session: AsyncSession, principal: Principal, movement: Movement, target: Status, now: datetime, note: str
) -> Movement:
    before = movement.status
    movement.status = target.value
    _event(
        session,
        movement,
        principal,
        "enquiry",
        at=now,
        office=movement.departure_office,
        details={"time_limit": movement.time_limit.isoformat() if movement.time_limit else None},
        note=note,
    )
    _audit(session, principal, movement, "open_enquiry", before)
    return movement


async def recover(session: AsyncSession, principal: Principal, ref: str, data: schemas.Note) -> Movement:
    """Recover the duties and taxes at stake from the guarantee (non-arrival, or missing goods)."""
    movement, target, _ = await _transition(session, principal, ref, Action.RECOVER)
    before, now = movement.status, utcnow()
    await _free_seals(session, movement)
    movement.status = target.value
    _event(
        session,
        movement,
        principal,
        "recovered",
        at=now,
        office=movement.departure_office,
        details={"recovered": str(movement.reserved_amount), "currency": movement.amount_currency},
        note=data.note,
    )
    _audit(session, principal, movement, "recover", before, {"recovered": movement.reserved_amount})
    await _give_back(session, movement, recovered=True)
    return movement


async def open_overdue_enquiries(session: AsyncSession, limit: int = 500) -> list[str]:
    """Open enquiries for every movement under way past its time limit; give their MRNs."""
    system = Principal(subject="system:enquiry", name="non-arrival watch", role=Role.ADMINISTRATOR)
    now = utcnow()
    opened: list[str] = []
    for movement in await repository.overdue(
        session, now, [Status.RELEASED.value, Status.EN_ROUTE.value], limit
    ):
        target = next_status(Status(movement.status), Action.OPEN_ENQUIRY)
        _enquire(session, system, movement, target, now, "time limit passed without arrival")
        opened.append(movement.mrn or str(movement.id))
    return opened
