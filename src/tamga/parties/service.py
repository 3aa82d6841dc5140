"""Registering operators, vehicles and seals, within the caller's scope."""

from __future__ import annotations

import asyncio

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit import service as audit
from tamga.auth.domain import Principal, Role
from tamga.auth.security import hash_password
from tamga.kit.clock import utcnow
from tamga.kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from tamga.models import Operator, Seal, Vehicle
from tamga.parties import repository, schemas
from tamga.parties.domain import SealStatus, normalise_plate, operator_errors
from tamga.reference.catalog import load_catalog


async def register_operator(
    session: AsyncSession, actor: Principal, data: schemas.OperatorCreate
) -> Operator:
    """Give a new economic operator once its identifiers pass both states' rules."""
    errors = operator_errors(data.country, data.tax_id, data.kpp, data.ogrn)
    if data.region and (region := load_catalog().region(data.region)) is None:
        errors.append(FieldError("body.region", f"no ISO 3166-2 region {data.region}"))
    elif data.region and region is not None and region.country != data.country:
        errors.append(FieldError("body.region", f"{data.region} is not in {data.country}"))
    if data.aeo_status != "none" and not data.aeo_certificate:
        errors.append(FieldError("body.aeo_certificate", "an AEO status needs its certificate number"))
    if errors:
        raise ValidationFailed(errors)
    if await repository.operator_by_tax_id(session, data.country, data.tax_id):
        raise Conflict(
            f"an operator with {data.tax_id} in {data.country} exists",
            errors=[FieldError("body.tax_id", "already registered")],
        )
    row = Operator(**data.model_dump(mode="json"), created_at=utcnow())
    session.add(row)
    await session.flush()
    audit.record(
        session,
        actor=actor.subject,
        action="operator.register",
        entity_type="operator",
        entity_id=row.id,
        before=None,
        after=data.model_dump(mode="json"),
    )
    return row


def can_see_operator(principal: Principal, operator_id: int) -> bool:
    """Businesses see only themselves; state roles see every operator."""
    if principal.role in (Role.DECLARANT, Role.CARRIER, Role.DEVICE):
        return principal.operator_id == operator_id
    return True


async def get_operator(session: AsyncSession, principal: Principal, operator_id: int) -> Operator:
    row = await repository.operator(session, operator_id)
    if row is None or not can_see_operator(principal, operator_id):
        raise NotFound(f"no operator {operator_id}")
    return row


async def _carrier_for(session: AsyncSession, principal: Principal, requested: int | None) -> Operator:
    """Give the carrier a vehicle or seal is registered for: the caller's own, or (admin) the one named."""
    carrier_id = requested if principal.is_admin else principal.operator_id
    if requested is not None and not principal.is_admin and requested != principal.operator_id:
        raise Forbidden("a carrier registers vehicles and seals for itself only")
    if carrier_id is None:
        raise ValidationFailed([FieldError("body.carrier_id", "required")])
    carrier = await repository.operator(session, carrier_id)
    if carrier is None or not carrier.is_carrier:
        raise ValidationFailed([FieldError("body.carrier_id", f"operator {carrier_id} is not a carrier")])
    return carrier


async def register_vehicle(session: AsyncSession, actor: Principal, data: schemas.VehicleCreate) -> Vehicle:
    """Give a new vehicle of the carrier."""
    carrier = await _carrier_for(session, actor, data.carrier_id)
    if load_catalog().country(data.country) is None:
        raise ValidationFailed([FieldError("body.country", f"no country {data.country}")])
    plate = normalise_plate(data.plate)
    if await repository.vehicle_by_plate(session, data.country, plate):
        raise Conflict(
            f"vehicle {plate} ({data.country}) is registered", errors=[FieldError("body.plate", "taken")]
        )
    row = Vehicle(
        carrier_id=carrier.id, plate=plate, country=data.country, kind=data.kind, created_at=utcnow()
    )
    session.add(row)
    await session.flush()
    audit.record(
        session,
        actor=actor.subject,
        action="vehicle.register",
        entity_type="vehicle",
        entity_id=row.id,
        before=None,
        after={"carrier_id": carrier.id, "plate": plate, "country": data.country},
    )
    return row


async def register_seal(session: AsyncSession, actor: Principal, data: schemas.SealCreate) -> Seal:
    """Give a new electronic seal of the carrier, its device credential hashed."""
    # the credential's hash (about 0.1 s of CPU) off the event loop and before the transaction
    credential = await asyncio.to_thread(hash_password, data.device_secret)
    carrier = await _carrier_for(session, actor, data.carrier_id)
    if await repository.seal_by_serial(session, data.serial):
        raise Conflict(f"seal {data.serial} is registered", errors=[FieldError("body.serial", "taken")])
    row = Seal(
        serial=data.serial,
        national_operator=data.national_operator.value,
        protocol=data.protocol.value,
        device_id=data.device_id,
        credential_hash=credential,
        model=data.model,
        carrier_id=carrier.id,
        status=SealStatus.AVAILABLE.value,
        created_at=utcnow(),
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:  # the device id is unique too
        raise Conflict(
            f"device {data.device_id} is registered", errors=[FieldError("body.device_id", "taken")]
        ) from exc
    audit.record(
        session,
        actor=actor.subject,
        action="seal.register",
        entity_type="seal",
        entity_id=row.serial,
        before=None,
        after={"carrier_id": carrier.id, "operator": row.national_operator, "protocol": row.protocol},
    )
    return row
