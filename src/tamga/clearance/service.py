"""Goods declarations' use cases: lodge (registration, valuation, assessment, screening, automatic release),
the officer queue (take, results, release, refuse), and the declarants' prepaid accounts."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit import service as audit
from tamga.auth.domain import Principal, Role
from tamga.clearance import repository, risk_service, schemas
from tamga.clearance.domain import (
    BASIS_REASON,
    DEFAULT_BASIS,
    OPEN,
    Action,
    Basis,
    Cost,
    Direction,
    InsufficientFunds,
    PricedItem,
    Status,
    Valuation,
    customs_values,
    next_status,
    ref_of,
    registration_number,
    released_automatically,
    valuation_errors,
)
from tamga.clearance.screening import DeclarantHistory, Lane, RiskDecision, ScreenedItem, ScreeningFacts
from tamga.clearance.tariff import Assessment, TariffError, TariffItem, assess_items
from tamga.kit.clock import utcnow
from tamga.kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from tamga.kit.money import round_money
from tamga.models import Movement, Operator
from tamga.models.clearance import AccountEntry, ClearanceAccount, GoodsDeclaration, GoodsDeclarationItem
from tamga.parties import repository as parties_repo
from tamga.parties.domain import AeoStatus
from tamga.rates.domain import RateNotFound, RateTable
from tamga.rates.service import AUTHORITY_OF_STATE, rate_table
from tamga.reference.catalog import NATIONAL_CURRENCY, CustomsOffice, load_catalog
from tamga.transit.domain import Status as TransitStatus
from tamga.transit.repository import movement_by_ref

# Both states keep UTC+3 the whole year (Russia since 26 Oct 2014, Federal Law 248-FZ of 21.07.2014;
# Belarus since 2011): the registration day, and so the rate day, is the office's local day.
OFFICE_TIME = {"RU": timezone(timedelta(hours=3)), "BY": timezone(timedelta(hours=3))}
# Currencies the assessment and screening need besides the invoice's: the tariff's specific rates are in
# EUR, and screening compares values across both states in USD.
TARIFF_CURRENCIES = frozenset({"EUR", "USD"})
# Amounts are NUMERIC(18, 2): keep every total and balance well inside it.
MONEY_CEILING = Decimal(10) ** 15
AUTO_ACTOR = "system:clearance"  # who releases a declaration that needs no officer


def _plain(value: Any) -> Any:
    """Give a JSON-ready copy of a value: dataclasses as dicts, Decimals and dates as strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def registration_day(country: str, at: datetime) -> date:
    """Give the day at the office (its local calendar) of an instant."""
    return at.astimezone(OFFICE_TIME[country]).date()


# --- lodging --------------------------------------------------------------------------------------


async def _declarant(
    session: AsyncSession, principal: Principal, data: schemas.GoodsDeclarationCreate
) -> tuple[int, Operator | None]:
    if principal.role is not Role.DECLARANT and not principal.is_admin:
        raise Forbidden("goods declarations are lodged by the declarant")
    if principal.is_admin:
        if data.declarant_id is None:
            raise ValidationFailed([FieldError("body.declarant_id", "required when an administrator lodges")])
        declarant_id = data.declarant_id
    else:
        if data.declarant_id is not None and data.declarant_id != principal.operator_id:
            raise ValidationFailed([FieldError("body.declarant_id", "a declarant lodges for itself only")])
        assert principal.operator_id is not None
        declarant_id = principal.operator_id
    return declarant_id, await parties_repo.operator(session, declarant_id)


def _party_errors(data: schemas.GoodsDeclarationCreate, office: CustomsOffice | None) -> list[FieldError]:
    catalog = load_catalog()
    errors: list[FieldError] = []
    places = {
        "body.consignor.country": data.consignor.country,
        "body.consignee.country": data.consignee.country,
        "body.dispatch_country": data.dispatch_country,
        "body.destination_country": data.destination_country,
    }
    places.update(
        {f"body.transport.transit_countries[{i}]": c for i, c in enumerate(data.transport.transit_countries)}
    )
    places.update({f"body.items[{i}].origin": item.origin for i, item in enumerate(data.items)})
    for field, code in places.items():
        if catalog.country(code) is None:
            errors.append(FieldError(field, f"no country {code}"))
    if office is not None:
        if data.direction is Direction.IMPORT and data.destination_country != office.country:
            errors.append(
                FieldError(
                    "body.destination_country",
                    f"goods imported at {office.code} are destined for {office.country}",
                )
            )
        if data.direction is Direction.EXPORT and data.dispatch_country != office.country:
            errors.append(
                FieldError(
                    "body.dispatch_country",
                    f"goods exported at {office.code} are dispatched from {office.country}",
                )
            )
    return errors


async def _transit_errors(
    session: AsyncSession, data: schemas.GoodsDeclarationCreate, office: CustomsOffice | None
) -> tuple[list[FieldError], Movement | None]:
    if data.transit_mrn is None:
        return [], None
    field = "body.transit_mrn"
    if data.direction is not Direction.IMPORT:
        return [FieldError(field, "only an import declaration follows a transit")], None
    movement = await movement_by_ref(session, data.transit_mrn)
    if movement is None:
        return [FieldError(field, f"no transit movement {data.transit_mrn}")], None
    if movement.status != TransitStatus.DISCHARGED.value:
        return [
            FieldError(
                field,
                f"transit {data.transit_mrn} is {movement.status}, not discharged: the goods are not yet presented",
            )
        ], None
    if office is not None and movement.destination_country != office.country:
        return [
            FieldError(
                field,
                f"transit {data.transit_mrn} ended in {movement.destination_country}, not in {office.country}",
            )
        ], None
    return [], movement


def _per_unit(
    table: RateTable, data: schemas.GoodsDeclarationCreate, errors: list[FieldError]
) -> dict[str, Decimal]:
    """Give national units per unit of every currency the declaration uses; a missing rate names its field."""
    per_unit: dict[str, Decimal] = {}
    fields = [(f"body.items[{i}].currency", item.currency) for i, item in enumerate(data.items)]
    fields += [(f"body.costs[{i}].currency", cost.currency) for i, cost in enumerate(data.costs)]
    for field, currency in fields:
        if currency in per_unit:
            continue
        try:
            per_unit[currency] = table.per_unit(currency, field)
        except RateNotFound as exc:
            errors.extend(exc.errors)
    return per_unit


def _priced(data: schemas.GoodsDeclarationCreate) -> tuple[list[PricedItem], list[Cost]]:
    items = [PricedItem(n, i.price, i.currency, i.gross_mass_kg) for n, i in enumerate(data.items, start=1)]
    costs = [Cost(c.kind, c.amount, c.currency, c.basis or DEFAULT_BASIS[c.kind]) for c in data.costs]
    return items, costs


def _tariff_items(data: schemas.GoodsDeclarationCreate, valuation: Valuation) -> list[TariffItem]:
    out: list[TariffItem] = []
    for item, value in zip(data.items, valuation.items, strict=True):
        quantities: dict[str, Decimal] = {"kg": item.net_mass_kg}
        if item.quantity is not None and item.unit is not None:
            quantities[item.unit] = item.quantity
        out.append(
            TariffItem(
                value.number,
                item.hs_code,
                item.origin,
                item.preference,
                value.customs_value,
                quantities,
                vat_reduced=item.vat_reduced,
            )
        )
    return out


def _tariff_faults(data: schemas.GoodsDeclarationCreate, country: str, on: date) -> list[FieldError]:
    """Give what the tariff engine finds at fault in the items (code, preference...), values aside.

    Used when the declaration is refused for other reasons, so that one refusal names every fault.
    """
    provisional = [
        TariffItem(n, i.hs_code, i.origin, i.preference, Decimal(0), {"kg": i.net_mass_kg}, i.vat_reduced)
        for n, i in enumerate(data.items, start=1)
    ]
    try:
        assess_items(
            provisional,
            state="RU" if country == "RU" else "BY",
            direction=data.direction.value,
            on=on,
            rates={},
        )
    except TariffError as exc:
        return [e for e in exc.errors if e.field.endswith((".hs_code", ".preference", ".vat_reduced"))]
    return []


async def lodge(
    session: AsyncSession, principal: Principal, data: schemas.GoodsDeclarationCreate
) -> GoodsDeclaration:
    """Register a goods declaration: value it, assess it, screen it, and release it at once if the lane allows.

    Every fault is named in one refusal and nothing is written on refusal.
    """
    declarant_id, declarant = await _declarant(session, principal, data)
    catalog = load_catalog()
    office = catalog.office(data.office_code)
    errors: list[FieldError] = []
    if office is None or not office.customs_control:
        errors.append(
            FieldError("body.office_code", f"no customs office {data.office_code} that clears goods")
        )
        office = None
    if declarant is None:
        errors.append(FieldError("body.declarant_id", f"no operator {declarant_id}"))
    elif office is not None and declarant.country != office.country:
        errors.append(
            FieldError(
                "body.office_code",
                f"the declarant is an operator of {declarant.country}; it declares at its own state's offices",
            )
        )
    errors += _party_errors(data, office)
    transit_faults, movement = await _transit_errors(session, data, office)
    errors += transit_faults
    if office is None:
        raise ValidationFailed(errors)
    assert declarant is not None or errors

    country = office.country
    national = NATIONAL_CURRENCY[country]
    now = utcnow()
    day = registration_day(country, now)
    used = {i.currency for i in data.items} | {c.currency for c in data.costs} | TARIFF_CURRENCIES
    table = await rate_table(session, authority=AUTHORITY_OF_STATE[country], day=day, currencies=used)
    per_unit = _per_unit(table, data, errors)
    usd_field = "body.office_code"
    try:
        usd = table.per_unit("USD", usd_field) if national != "USD" else Decimal(1)
    except RateNotFound as exc:
        errors.extend(
            FieldError(e.field, e.reason + " (risk screening compares values in USD)") for e in exc.errors
        )
        usd = Decimal(0)
    if errors:
        raise ValidationFailed(errors + _tariff_faults(data, country, day))
    assert declarant is not None
    priced, costs = _priced(data)
    errors = valuation_errors(priced, costs, per_unit, national)
    if errors:
        raise ValidationFailed(errors)
    valuation = customs_values(priced, costs, per_unit, national)
    if valuation.total >= MONEY_CEILING:
        raise ValidationFailed(
            [
                FieldError(
                    "body.items", f"a customs value of {valuation.total} {national} is beyond what is kept"
                )
            ]
        )
    tariff_rates = {c: table.rates[c].per_unit for c in table.rates}
    assessment = assess_items(
        _tariff_items(data, valuation),
        state="RU" if country == "RU" else "BY",
        direction=data.direction.value,
        on=day,
        rates=tariff_rates,
    )

    serial = await repository.next_counter(session, f"gd:{office.code}:{day:%Y%m%d}")
    number = registration_number(office.code, now.astimezone(OFFICE_TIME[country]), serial)
    aeo = declarant.aeo_status != AeoStatus.NONE.value
    decision = await _screen(session, data, number, declarant, aeo, office, movement, valuation, usd, now)
    decl = _new_declaration(
        principal.subject,
        data,
        number,
        declarant_id,
        aeo,
        office,
        movement,
        valuation,
        assessment,
        decision,
        now,
    )
    session.add(decl)
    await session.flush()
    audit.record(
        session,
        actor=principal.subject,
        action="goods_declaration.register",
        entity_type="goods_declaration",
        entity_id=decl.id,
        before=None,
        after={
            "registration_number": number,
            "status": decl.status,
            "lane": decl.lane,
            "total_payable": str(decl.total_payable),
            "currency": decl.currency,
            "hits": [h.profile_code for h in decision.hits],
        },
    )
    if released_automatically(decision.lane, aeo):
        await _auto_release(session, decl, now)
    return decl


async def _screen(
    session: AsyncSession,
    data: schemas.GoodsDeclarationCreate,
    number: str,
    declarant: Operator,
    aeo: bool,
    office: CustomsOffice,
    movement: Movement | None,
    valuation: Valuation,
    usd_per_unit: Decimal,
    now: datetime,
) -> RiskDecision:
    count, refusals, first = await repository.declarant_history(session, declarant.id, office.country)
    alarms = await repository.transit_alarm_rules(session, movement.id) if movement is not None else ()
    route = [
        data.dispatch_country,
        *data.transport.transit_countries,
        *(movement.countries if movement else []),
    ]
    items = tuple(
        ScreenedItem(
            number=value.number,
            hs_code=item.hs_code,
            origin=item.origin,
            net_mass_kg=item.net_mass_kg,
            customs_value=value.customs_value,
            currency=valuation.currency,
            customs_value_usd=round_money(value.customs_value / usd_per_unit),
            preference=item.preference,
        )
        for item, value in zip(data.items, valuation.items, strict=True)
    )
    facts = ScreeningFacts(
        declaration_ref=number,
        direction="import" if data.direction is Direction.IMPORT else "export",
        state="RU" if office.country == "RU" else "BY",
        office=office.code,
        declarant_tax_id=declarant.tax_id,
        declarant_aeo=aeo,
        history=DeclarantHistory(count, refusals, first),
        route_countries=tuple(dict.fromkeys(route)),
        transit_mrn=movement.mrn if movement is not None else None,
        transit_alarms=alarms,
        registered_at=now,
        items=items,
    )
    return await risk_service.screen(session, facts)


def _new_declaration(
    actor: str,
    data: schemas.GoodsDeclarationCreate,
    number: str,
    declarant_id: int,
    aeo: bool,
    office: CustomsOffice,
    movement: Movement | None,
    valuation: Valuation,
    assessment: Assessment,
    decision: RiskDecision,
    now: datetime,
) -> GoodsDeclaration:
    totals = assessment.totals
    decl = GoodsDeclaration(
        registration_number=number,
        direction=data.direction.value,
        status=Status.REGISTERED.value,
        lane=decision.lane.value,
        declarant_id=declarant_id,
        declarant_aeo=aeo,
        country=office.country,
        office_code=office.code,
        consignor=data.consignor.model_dump(mode="json"),
        consignee=data.consignee.model_dump(mode="json"),
        transport=data.transport.model_dump(mode="json"),
        dispatch_country=data.dispatch_country,
        destination_country=data.destination_country,
        transit_mrn=movement.mrn if movement is not None else None,
        transit_movement_id=movement.id if movement is not None else None,
        currency=valuation.currency,
        customs_value=valuation.total,
        duty=totals.get("duty", Decimal(0)),
        excise=totals.get("excise", Decimal(0)),
        vat=totals.get("vat", Decimal(0)),
        fee=assessment.fee.amount,
        total_payable=totals["total"],
        valuation={"adjustments": _plain(valuation.adjustments)},
        fee_charge=_plain(assessment.fee),
        risk=_plain(decision),
        post_clearance_audit=decision.lane is Lane.BLUE,
        irregular=False,
        results=[],
        history=[_history(now, "register", actor, Status.REGISTERED)],
        registered_at=now,
    )
    decl.items = [
        GoodsDeclarationItem(
            number=value.number,
            hs_code=item.hs_code,
            description=item.description,
            origin=item.origin,
            preference=item.preference,
            quantity=item.quantity,
            supplementary_unit=item.unit,
            net_mass_kg=item.net_mass_kg,
            gross_mass_kg=item.gross_mass_kg,
            price=item.price,
            currency=item.currency,
            vat_reduced=item.vat_reduced,
            price_national=value.price_national,
            customs_value=value.customs_value,
            duty=assessed.duty.amount,
            excise=assessed.excise.amount,
            vat=assessed.vat.amount,
            valuation={"rate": str(value.rate), "shares": _plain(value.shares)},
            charges=[_plain(assessed.duty), _plain(assessed.excise), _plain(assessed.vat)],
        )
        for item, value, assessed in zip(data.items, valuation.items, assessment.items, strict=True)
    ]
    return decl


def _history(
    at: datetime, action: str, actor: str, status: Status, note: str | None = None
) -> dict[str, Any]:
    return {"at": at.isoformat(), "action": action, "actor": actor, "status": status.value, "note": note}


async def _auto_release(session: AsyncSession, decl: GoodsDeclaration, now: datetime) -> None:
    """Release a green declaration of an AEO (or a blue one) with no human action, if the account pays."""
    actor = AUTO_ACTOR
    shortfall = await _pay(session, decl, actor, now)
    if shortfall is not None:
        decl.hold_reason = (
            f"automatic release held: the prepaid account lacks {shortfall} {decl.currency} of "
            f"{decl.total_payable} {decl.currency}; it is released when a deposit covers it"
        )
        decl.history = [*decl.history, _history(now, "hold", actor, Status.REGISTERED, decl.hold_reason)]
        audit.record(
            session,
            actor=actor,
            action="goods_declaration.hold",
            entity_type="goods_declaration",
            entity_id=decl.id,
            before={"status": decl.status},
            after={"status": decl.status, "hold_reason": decl.hold_reason},
        )
        return
    _released_automatically(session, decl, now)


def _released_automatically(session: AsyncSession, decl: GoodsDeclaration, now: datetime) -> None:
    """Record the release of a paid declaration with no human action (at lodging, or when funds came)."""
    target = next_status(Status(decl.status), Action.AUTO_RELEASE, Lane(decl.lane))
    decl.hold_reason = None
    _set_status(
        session, decl, target, "auto_release", AUTO_ACTOR, now, extra={"debited": str(decl.total_payable)}
    )
    decl.released_at = now


async def _pay(session: AsyncSession, decl: GoodsDeclaration, actor: str, now: datetime) -> Decimal | None:
    """Debit the declaration's total from the declarant's account; give the shortfall when it cannot."""
    amount = decl.total_payable
    if amount <= 0:
        return None
    account = await repository.account_of(session, decl.declarant_id, decl.country)
    if account is None:
        return amount
    balance = await repository.debit(session, account.id, amount)
    if balance is None:
        fresh = await repository.account(session, account.id)
        assert fresh is not None
        return amount - fresh.balance
    session.add(
        AccountEntry(
            account_id=account.id,
            at=now,
            kind="debit",
            amount=-amount,
            balance_after=balance,
            declaration_id=decl.id,
            reference=decl.registration_number,
            actor=actor,
        )
    )
    audit.record(
        session,
        actor=actor,
        action="clearance_account.debit",
        entity_type="clearance_account",
        entity_id=account.id,
        before={"balance": str(balance + amount)},
        after={"balance": str(balance), "declaration": decl.registration_number},
    )
    return None


def _set_status(
    session: AsyncSession,
    decl: GoodsDeclaration,
    target: Status,
    action: str,
    actor: str,
    now: datetime,
    *,
    note: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    before = decl.status
    decl.status = target.value
    decl.history = [*decl.history, _history(now, action, actor, target, note)]
    audit.record(
        session,
        actor=actor,
        action=f"goods_declaration.{action}",
        entity_type="goods_declaration",
        entity_id=decl.id,
        before={"status": before},
        after={"status": decl.status, "registration_number": decl.registration_number, **(extra or {})},
    )


# --- reading --------------------------------------------------------------------------------------


def can_see(principal: Principal, decl: GoodsDeclaration) -> bool:
    """Tell whether the principal may know the declaration exists."""
    if principal.is_admin:
        return True
    if principal.role is Role.DECLARANT:
        return principal.operator_id == decl.declarant_id
    if principal.role is Role.CUSTOMS_OFFICER:
        return principal.country == decl.country
    return False


async def get_visible(
    session: AsyncSession, principal: Principal, ref: str, *, lock: bool = False, full: bool = False
) -> GoodsDeclaration:
    """Give a declaration the principal may see; anything else reads as not found."""
    decl = await repository.declaration_by_ref(session, ref, lock=lock, full=full)
    if decl is None or not can_see(principal, decl):
        raise NotFound(f"no goods declaration {ref}")
    return decl


def _risk_view(risk: Mapping[str, Any]) -> schemas.Risk:
    return schemas.Risk.model_validate(risk)


def view(decl: GoodsDeclaration, *, full: bool) -> schemas.Declaration:
    """Give the API view of a declaration (items, which must be loaded, when `full`)."""
    return schemas.Declaration(
        id=decl.id,
        ref=ref_of(decl.registration_number),
        registration_number=decl.registration_number,
        direction=Direction(decl.direction),
        status=Status(decl.status),
        lane=Lane(decl.lane),
        declarant_id=decl.declarant_id,
        declarant_aeo=decl.declarant_aeo,
        country=decl.country,
        office_code=decl.office_code,
        consignor=decl.consignor,
        consignee=decl.consignee,
        dispatch_country=decl.dispatch_country,
        destination_country=decl.destination_country,
        transport=decl.transport,
        transit_mrn=decl.transit_mrn,
        currency=decl.currency,
        customs_value=decl.customs_value,
        duty=decl.duty,
        excise=decl.excise,
        vat=decl.vat,
        fee=decl.fee,
        total_payable=decl.total_payable,
        adjustments=[
            schemas.Adjustment.model_validate({**a, "why": BASIS_REASON[Basis(a["basis"])]})
            for a in decl.valuation["adjustments"]
        ],
        fee_charge=decl.fee_charge,
        risk=_risk_view(decl.risk),
        post_clearance_audit=decl.post_clearance_audit,
        assigned_to=decl.assigned_to,
        results=decl.results,
        refusal_reason=decl.refusal_reason,
        hold_reason=decl.hold_reason,
        registered_at=decl.registered_at,
        released_at=decl.released_at,
        refused_at=decl.refused_at,
        history=[schemas.HistoryEntry.model_validate(h) for h in decl.history],
        items=[_item_view(i) for i in decl.items] if full else None,
    )


def _item_view(item: GoodsDeclarationItem) -> schemas.Item:
    return schemas.Item(
        number=item.number,
        hs_code=item.hs_code,
        description=item.description,
        origin=item.origin,
        preference=item.preference,
        quantity=item.quantity,
        unit=item.supplementary_unit,
        net_mass_kg=item.net_mass_kg,
        gross_mass_kg=item.gross_mass_kg,
        price=item.price,
        currency=item.currency,
        vat_reduced=item.vat_reduced,
        rate=Decimal(item.valuation["rate"]),
        price_national=item.price_national,
        shares=[schemas.Share.model_validate(s) for s in item.valuation["shares"]],
        customs_value=item.customs_value,
        duty=item.duty,
        excise=item.excise,
        vat=item.vat,
        charges=item.charges,
    )


def summary(decl: GoodsDeclaration) -> schemas.DeclarationSummary:
    return schemas.DeclarationSummary(
        id=decl.id,
        ref=ref_of(decl.registration_number),
        registration_number=decl.registration_number,
        direction=Direction(decl.direction),
        status=Status(decl.status),
        lane=Lane(decl.lane),
        declarant_id=decl.declarant_id,
        office_code=decl.office_code,
        total_payable=decl.total_payable,
        currency=decl.currency,
        hits=[str(h["profile_code"]) for h in decl.risk.get("hits", [])],
        assigned_to=decl.assigned_to,
        hold_reason=decl.hold_reason,
        registered_at=decl.registered_at,
    )


async def queue(
    session: AsyncSession, principal: Principal, *, office: str | None, after: int | None, limit: int
) -> Sequence[GoodsDeclaration]:
    """Give the declarations waiting for an officer: at the officer's own office (administrators: any)."""
    if principal.role is Role.CUSTOMS_OFFICER:
        if office is not None and office != principal.office_code:
            raise Forbidden("an officer works the queue of their own office")
        office = principal.office_code
    elif not principal.is_admin:
        raise Forbidden(f"a {principal.role.value} has no queue")
    statuses = {s.value for s in OPEN}
    return await repository.queue(session, office=office, statuses=statuses, after=after, limit=limit)


# --- the officer's actions ------------------------------------------------------------------------


async def _acting(
    session: AsyncSession, principal: Principal, ref: str, action: Action
) -> tuple[GoodsDeclaration, Status]:
    """Load and lock a declaration, check the officer's office and the transition; give it and its next state."""
    decl = await get_visible(session, principal, ref, lock=True)
    if not principal.is_admin:
        if principal.role is not Role.CUSTOMS_OFFICER:
            raise Forbidden(f"a {principal.role.value} may not {action.value.replace('_', ' ')}")
        if principal.office_code != decl.office_code:
            raise Forbidden(f"only an officer of office {decl.office_code} may do this")
        if action is not Action.TAKE and decl.assigned_to not in (None, principal.subject):
            raise Forbidden(f"the declaration was taken by {decl.assigned_to}")
    target = next_status(Status(decl.status), action, Lane(decl.lane))
    return decl, target


async def take(session: AsyncSession, principal: Principal, ref: str) -> GoodsDeclaration:
    """Take a declaration from the queue: the officer becomes responsible for it."""
    decl, target = await _acting(session, principal, ref, Action.TAKE)
    now = utcnow()
    decl.assigned_to = principal.subject
    _set_status(
        session, decl, target, "take", principal.subject, now, extra={"assigned_to": principal.subject}
    )
    return decl


async def record_results(
    session: AsyncSession, principal: Principal, ref: str, data: schemas.Results
) -> GoodsDeclaration:
    """Record the results of a documentary check or an inspection."""
    decl, target = await _acting(session, principal, ref, Action.RECORD_RESULTS)
    now = utcnow()
    result = {
        "kind": data.kind.value,
        "outcome": data.outcome.value,
        "note": data.note,
        "by": principal.subject,
        "at": now.isoformat(),
    }
    decl.results = [*decl.results, result]
    if data.outcome is schemas.Outcome.IRREGULARITIES:
        decl.irregular = True
    _set_status(
        session,
        decl,
        target,
        "record_results",
        principal.subject,
        now,
        note=data.note or None,
        extra={"result": result},
    )
    return decl


async def release(session: AsyncSession, principal: Principal, ref: str) -> GoodsDeclaration:
    """Release the goods: debit what the declaration owes from the prepaid account, in the same commit."""
    decl, target = await _acting(session, principal, ref, Action.RELEASE)
    now = utcnow()
    shortfall = await _pay(session, decl, principal.subject, now)
    if shortfall is not None:
        raise InsufficientFunds(
            f"the declarant's prepaid account at {decl.country} customs lacks {shortfall} {decl.currency} "
            f"to pay {decl.total_payable} {decl.currency}",
            needed=str(decl.total_payable),
            shortfall=str(shortfall),
            currency=decl.currency,
        )
    decl.released_at, decl.hold_reason = now, None
    _set_status(
        session, decl, target, "release", principal.subject, now, extra={"debited": str(decl.total_payable)}
    )
    return decl


async def refuse(
    session: AsyncSession, principal: Principal, ref: str, data: schemas.Refusal
) -> GoodsDeclaration:
    """Refuse the release of the goods, with the officer's reason."""
    decl, target = await _acting(session, principal, ref, Action.REFUSE)
    now = utcnow()
    decl.refusal_reason, decl.refused_at = data.reason, now
    _set_status(
        session,
        decl,
        target,
        "refuse",
        principal.subject,
        now,
        note=data.reason,
        extra={"reason": data.reason},
    )
    return decl


# --- prepaid accounts -----------------------------------------------------------------------------


def account_view(account: ClearanceAccount) -> schemas.Account:
    return schemas.Account.model_validate(account, from_attributes=True)


def _can_see_account(principal: Principal, account: ClearanceAccount) -> bool:
    if principal.is_admin:
        return True
    if principal.role is Role.DECLARANT:
        return principal.operator_id == account.operator_id
    if principal.role is Role.CUSTOMS_OFFICER:
        return principal.country == account.country
    return False


async def get_account(session: AsyncSession, principal: Principal, account_id: int) -> ClearanceAccount:
    """Give an account the principal may see; anything else reads as not found."""
    account = await repository.account(session, account_id)
    if account is None or not _can_see_account(principal, account):
        raise NotFound(f"no account {account_id}")
    return account


async def open_account(
    session: AsyncSession, principal: Principal, data: schemas.AccountCreate
) -> ClearanceAccount:
    """Open a declarant's prepaid account at one state's customs, in that state's currency."""
    if principal.role is Role.DECLARANT:
        if data.operator_id not in (None, principal.operator_id):
            raise ValidationFailed([FieldError("body.operator_id", "a declarant opens its own account only")])
        operator_id = principal.operator_id
    elif principal.role is Role.CUSTOMS_OFFICER or principal.is_admin:
        if principal.role is Role.CUSTOMS_OFFICER and principal.country != data.country:
            raise Forbidden(
                f"an officer of {principal.country} opens accounts at {principal.country} customs only"
            )
        if data.operator_id is None:
            raise ValidationFailed([FieldError("body.operator_id", "required")])
        operator_id = data.operator_id
    else:
        raise Forbidden(f"a {principal.role.value} may not open accounts")
    assert operator_id is not None
    if await parties_repo.operator(session, operator_id) is None:
        raise ValidationFailed([FieldError("body.operator_id", f"no operator {operator_id}")])
    existing = await repository.account_of(session, operator_id, data.country)
    if existing is not None:
        raise Conflict(
            f"operator {operator_id} already has account {existing.id} at {data.country} customs",
            account_id=existing.id,
        )
    account = ClearanceAccount(
        operator_id=operator_id,
        country=data.country,
        currency=NATIONAL_CURRENCY[data.country],
        balance=Decimal(0),
        created_at=utcnow(),
    )
    session.add(account)
    await session.flush()
    audit.record(
        session,
        actor=principal.subject,
        action="clearance_account.open",
        entity_type="clearance_account",
        entity_id=account.id,
        before=None,
        after={"operator_id": operator_id, "country": account.country, "currency": account.currency},
    )
    return account


async def list_accounts(
    session: AsyncSession, principal: Principal, *, after: int | None, limit: int
) -> Sequence[ClearanceAccount]:
    """Give the accounts the principal may see."""
    if principal.is_admin:
        return await repository.list_accounts(
            session, operator_id=None, country=None, after=after, limit=limit
        )
    if principal.role is Role.DECLARANT:
        return await repository.list_accounts(
            session, operator_id=principal.operator_id, country=None, after=after, limit=limit
        )
    if principal.role is Role.CUSTOMS_OFFICER:
        return await repository.list_accounts(
            session, operator_id=None, country=principal.country, after=after, limit=limit
        )
    return []


async def deposit(
    session: AsyncSession, principal: Principal, account_id: int, data: schemas.DepositCreate
) -> AccountEntry:
    """Record a payment into a prepaid account (a customs officer of its state, or an administrator)."""
    account = await get_account(session, principal, account_id)
    if not (
        principal.is_admin
        or (principal.role is Role.CUSTOMS_OFFICER and principal.country == account.country)
    ):
        raise Forbidden("deposits are recorded by a customs officer of the account's state")
    before = account.balance
    if before + data.amount >= MONEY_CEILING:
        raise ValidationFailed([FieldError("body.amount", "the balance would pass what an account holds")])
    balance = await repository.credit(session, account.id, data.amount)
    entry = AccountEntry(
        account_id=account.id,
        at=utcnow(),
        kind="deposit",
        amount=data.amount,
        balance_after=balance,
        declaration_id=None,
        reference=data.reference,
        actor=principal.subject,
    )
    session.add(entry)
    await session.flush()
    audit.record(
        session,
        actor=principal.subject,
        action="clearance_account.deposit",
        entity_type="clearance_account",
        entity_id=account.id,
        before={"balance": str(before)},
        after={"balance": str(balance), "amount": str(data.amount), "reference": data.reference},
    )
    await _release_held(session, account)
    return entry


async def _release_held(session: AsyncSession, account: ClearanceAccount) -> None:
    """Release, first come first, the declarations whose automatic release waited for these funds.

    They stay in the order they were registered: once one cannot be paid, the later ones wait too.
    """
    now = utcnow()
    for decl in await repository.held_for_funds(session, account.operator_id, account.country):
        if await _pay(session, decl, AUTO_ACTOR, now) is not None:
            break
        _released_automatically(session, decl, now)


async def statement(
    session: AsyncSession, principal: Principal, account_id: int, *, after: int | None, limit: int
) -> tuple[ClearanceAccount, list[schemas.Entry]]:
    """Give an account and its entries (oldest first), each with the balance after it."""
    account = await get_account(session, principal, account_id)
    rows = await repository.entries(session, account.id, after=after, limit=limit)
    return account, [
        schemas.Entry(
            id=e.id,
            at=e.at,
            kind=e.kind,
            amount=e.amount,
            balance_after=e.balance_after,
            declaration_ref=ref_of(reg) if reg else None,
            reference=e.reference,
            actor=e.actor,
        )
        for e, reg in rows
    ]
