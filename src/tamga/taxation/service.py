"""Use cases of the taxation of mutual trade: file, pay, decide, correct and withdraw import applications;
register 0 % claims and match them with confirmations; apply the 180-day deadlines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit import service as audit
from tamga.auth.domain import Principal, Role
from tamga.config import Settings
from tamga.kit.clock import utcnow
from tamga.kit.errors import Conflict, FieldError, Forbidden, IllegalTransition, NotFound, ValidationFailed
from tamga.kit.money import round_money
from tamga.models.taxation import TaxApplication, TaxApplicationVersion, TaxClaim, TaxConfirmation, TaxPayment
from tamga.parties import repository as parties_repo
from tamga.parties.domain import tax_id_errors
from tamga.rates.domain import RateNotFound
from tamga.rates.service import AUTHORITY_OF_STATE, rate_table
from tamga.reference.catalog import NATIONAL_CURRENCY, MissingRate, load_catalog
from tamga.taxation import outbox, repository, schemas
from tamga.taxation.domain import (
    UNION_STATES,
    ApplicationAction,
    ApplicationStatus,
    ClaimFacts,
    ClaimStatus,
    ConfirmationFacts,
    Invoice,
    LineTaxInput,
    allowed_states,
    application_fingerprint,
    application_totals,
    claim_day,
    claim_lapsed,
    claim_last_day,
    claim_warnings_due,
    fallback_vat,
    line_tax,
    match_problems,
    next_status,
    vat_due_date,
)

DEADLINES_ACTOR = "system:tax-deadlines"
# Amounts are NUMERIC(18, 2): anything from this up cannot be stored, so it is refused as input.
MAX_AMOUNT = Decimal("1e15")


def local_today() -> date:
    """Give today's date in Moscow and Minsk (both UTC+3 all year, no daylight saving since 2011/2014)."""
    return (utcnow() + timedelta(hours=3)).date()


# --- parties --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    country: str
    tax_id: str
    name: str
    operator_id: int | None = None
    region: str | None = None


def _region_errors(given: schemas.PartyIn, field: str) -> list[FieldError]:
    if given.region is None:
        return []
    region = load_catalog().region(given.region)
    if region is None or region.country != given.country:
        return [FieldError(f"{field}.region", f"no region {given.region} in {given.country}")]
    return []


async def _own_party(
    session: AsyncSession,
    principal: Principal,
    given: schemas.PartyIn | None,
    field: str,
    errors: list[FieldError],
) -> Party | None:
    """Give the business acting: the caller's operator, or (administrators) the party named and checked."""
    if principal.role is Role.DECLARANT:
        assert principal.operator_id is not None
        op = await parties_repo.operator(session, principal.operator_id)
        if op is None:
            raise Forbidden("the caller's business is not registered")
        if given is not None and (given.country, given.tax_id) != (op.country, op.tax_id):
            errors.append(FieldError(field, "a business files for itself only"))
        if op.country not in UNION_STATES:
            errors.append(FieldError(field, f"mutual trade is between RU and BY, not {op.country}"))
            return None
        return Party(op.country, op.tax_id, op.name, op.id, op.region)
    if not principal.is_admin:
        raise Forbidden(f"a {principal.role.value} may not do this; a business (declarant) does")
    if given is None:
        errors.append(FieldError(field, "required when an administrator files"))
        return None
    found = tax_id_errors(given.country, given.tax_id, f"{field}.tax_id")
    errors.extend(found)
    errors.extend(_region_errors(given, field))
    op = None if found else await parties_repo.operator_by_tax_id(session, given.country, given.tax_id)
    region = given.region or (op.region if op else None)
    return Party(given.country, given.tax_id, given.name, op.id if op else None, region)


def _other_party(given: schemas.PartyIn, own: Party | None, field: str, errors: list[FieldError]) -> Party:
    errors.extend(tax_id_errors(given.country, given.tax_id, f"{field}.tax_id"))
    errors.extend(_region_errors(given, field))
    if own is not None and given.country == own.country:
        errors.append(
            FieldError(
                f"{field}.country", f"mutual trade is between RU and BY: both parties are in {own.country}"
            )
        )
    return Party(given.country, given.tax_id, given.name, None, given.region)


def _node_errors(settings: Settings, own: Party | None, field: str, what: str) -> list[FieldError]:
    if own is None or own.country not in UNION_STATES:
        return []
    if settings.tax_node is not None and own.country != settings.tax_node:
        return [
            FieldError(
                field, f"this node serves the {settings.tax_node} tax authority, not {own.country} {what}"
            )
        ]
    return []


# --- applications ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Computed:
    importer: Party
    seller: Party
    lines: list[dict[str, Any]]
    tax_base: Decimal
    vat: Decimal
    excise: Decimal
    fingerprint: str


async def _compute(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    body: schemas.ApplicationIn,
    prefix: str,
    *,
    importer: Party | None = None,
) -> _Computed:
    """Check an application whole and compute its amounts; refuse naming every field at fault."""
    errors: list[FieldError] = []
    if importer is None:
        importer = await _own_party(session, principal, body.importer, f"{prefix}.importer", errors)
    elif body.importer is not None and (body.importer.country, body.importer.tax_id) != (
        importer.country,
        importer.tax_id,
    ):
        errors.append(FieldError(f"{prefix}.importer", "a correction keeps the importer"))
    seller = _other_party(body.seller, importer, f"{prefix}.seller", errors)
    errors.extend(_node_errors(settings, importer, f"{prefix}.importer", "importers"))
    today = local_today()
    if body.registered_on > today:
        errors.append(FieldError(f"{prefix}.registered_on", f"in the future (today is {today.isoformat()})"))
    if body.contract.date > body.registered_on:
        errors.append(FieldError(f"{prefix}.contract.date", "after the goods were registered"))
    for kind, docs in (("invoices", body.invoices), ("transport_documents", body.transport_documents)):
        seen: set[tuple[str, date]] = set()
        for i, doc in enumerate(docs):
            if doc.date > today:
                errors.append(FieldError(f"{prefix}.{kind}[{i}].date", "in the future"))
            key = (doc.number.strip().upper(), doc.date)
            if key in seen:
                errors.append(FieldError(f"{prefix}.{kind}[{i}]", "listed twice"))
            seen.add(key)
    catalog = load_catalog()
    for i, line in enumerate(body.lines):
        if not catalog.is_known_hs_code(line.hs_code):
            errors.append(FieldError(f"{prefix}.lines[{i}].hs_code", f"no HS 2022 subheading {line.hs_code}"))
        if catalog.currency(line.currency) is None:
            errors.append(FieldError(f"{prefix}.lines[{i}].currency", f"no currency {line.currency}"))
        if line.invoice >= len(body.invoices):
            errors.append(
                FieldError(f"{prefix}.lines[{i}].invoice", f"there are {len(body.invoices)} invoices")
            )
    if importer is None or errors:
        raise ValidationFailed(errors or [FieldError(f"{prefix}.importer", "required")])

    state = importer.country
    table = await rate_table(
        session,
        authority=AUTHORITY_OF_STATE[state],
        day=body.registered_on,
        currencies={line.currency for line in body.lines},
    )
    computed: list[dict[str, Any]] = []
    taxes = []
    for i, line in enumerate(body.lines):
        try:
            rate = table.get(line.currency, field=f"{prefix}.lines[{i}].currency")
        except RateNotFound as exc:
            errors.extend(exc.errors)
            continue
        try:
            percent = catalog.vat_percent(state, body.registered_on, reduced=line.reduced_rate)
        except MissingRate as exc:
            errors.append(FieldError(f"{prefix}.lines[{i}].reduced_rate", str(exc)))
            continue
        tax = line_tax(LineTaxInput(line.value, rate.per_unit, line.excise, percent))
        taxes.append(tax)
        computed.append(
            {
                **line.model_dump(mode="json"),
                "rate": str(rate.rate),
                "nominal": rate.nominal,
                "rate_date": rate.date.isoformat(),
                "value_national": str(tax.value_national),
                "excise": str(tax.excise),
                "base": str(tax.base),
                "vat_percent": str(percent),
                "vat": str(tax.vat),
            }
        )
    if errors:
        raise ValidationFailed(errors)
    totals = application_totals(taxes)
    if totals.tax_base + totals.vat >= MAX_AMOUNT:
        raise ValidationFailed(
            [FieldError(f"{prefix}.lines", f"the amounts exceed {MAX_AMOUNT} {NATIONAL_CURRENCY[state]}")]
        )
    fingerprint = application_fingerprint(
        (importer.country, importer.tax_id),
        (seller.country, seller.tax_id),
        (body.contract.number, body.contract.date),
        [(inv.number, inv.date) for inv in body.invoices],
    )
    return _Computed(importer, seller, computed, totals.tax_base, totals.vat, totals.excise, fingerprint)


def _party(country: str, tax_id: str, name: str, region: str | None) -> dict[str, Any]:
    return {"country": country, "tax_id": tax_id, "name": name, "region": region}


def application_view(a: TaxApplication) -> schemas.Application:
    return schemas.Application(
        number=a.number,
        status=ApplicationStatus(a.status),
        version=a.version,
        state=a.state,
        importer=_party(a.state, a.importer_tax_id, a.importer_name, a.importer_region),
        seller=_party(a.seller_country, a.seller_tax_id, a.seller_name, a.seller_region),
        contract={"number": a.contract_number, "date": a.contract_date.isoformat()},
        invoices=list(a.documents.get("invoices", [])),
        transport_documents=list(a.documents.get("transport_documents", [])),
        lines=[schemas.LineOut.model_validate(line) for line in a.lines],
        registered_on=a.registered_on,
        due_on=a.due_on,
        currency=a.currency,
        tax_base=a.tax_base,
        vat=a.vat,
        excise=a.excise,
        total_due=a.total_due,
        paid=a.paid,
        refusal_reason=a.refusal_reason,
        filed_at=a.filed_at,
        decided_at=a.decided_at,
    )


def _snapshot(a: TaxApplication) -> dict[str, Any]:
    return application_view(a).model_dump(mode="json")


def _add_version(
    session: AsyncSession, a: TaxApplication, event: str, actor: str, reason: str | None
) -> None:
    session.add(
        TaxApplicationVersion(
            application_id=a.id,
            version=a.version,
            event=event,
            snapshot=_snapshot(a),
            reason=reason,
            actor=actor,
            created_at=utcnow(),
        )
    )


def _apply_body(a: TaxApplication, body: schemas.ApplicationIn, c: _Computed) -> None:
    a.importer_operator_id = c.importer.operator_id
    a.importer_tax_id = c.importer.tax_id
    a.importer_name = c.importer.name
    a.importer_region = c.importer.region
    a.seller_country = c.seller.country
    a.seller_tax_id = c.seller.tax_id
    a.seller_name = c.seller.name
    a.seller_region = c.seller.region
    a.contract_number = body.contract.number
    a.contract_date = body.contract.date
    a.registered_on = body.registered_on
    a.due_on = vat_due_date(body.registered_on)
    a.tax_base = c.tax_base
    a.vat = c.vat
    a.excise = c.excise
    a.total_due = c.vat + c.excise
    a.fingerprint = c.fingerprint
    a.documents = {
        "invoices": [d.model_dump(mode="json") for d in body.invoices],
        "transport_documents": [d.model_dump(mode="json") for d in body.transport_documents],
    }
    a.lines = c.lines


async def _refuse_duplicate(session: AsyncSession, fingerprint: str, number: str | None = None) -> None:
    existing = await repository.live_application_with_fingerprint(session, fingerprint)
    if existing is not None and existing.number != number:
        raise Conflict(
            f"the same application (importer, seller, contract and invoices) is already filed as {existing.number}",
            existing=existing.number,
        )


async def file_application(
    session: AsyncSession, principal: Principal, settings: Settings, body: schemas.ApplicationIn
) -> TaxApplication:
    """Give the filed application with its computed base, taxes and due date, or refuse it whole."""
    c = await _compute(session, principal, settings, body, "body")
    await _refuse_duplicate(session, c.fingerprint)
    state = c.importer.country
    now = utcnow()
    serial = await repository.next_counter(session, f"tax-application:{state}:{body.registered_on.year}")
    a = TaxApplication(
        number=f"{state}{body.registered_on.year}A{serial:09d}",
        state=state,
        status=ApplicationStatus.FILED.value,
        version=1,
        currency=NATIONAL_CURRENCY[state],
        paid=Decimal("0.00"),
        filed_by=principal.subject,
        filed_at=now,
        updated_at=now,
    )
    _apply_body(a, body, c)
    session.add(a)
    await session.flush()
    _add_version(session, a, "filed", principal.subject, None)
    audit.record(
        session,
        actor=principal.subject,
        action="tax_application.file",
        entity_type="tax_application",
        entity_id=a.number,
        before=None,
        after=_snapshot(a),
    )
    return a


def _can_see_application(principal: Principal, a: TaxApplication) -> bool:
    if principal.is_admin:
        return True
    if principal.role is Role.TAX_OFFICER:
        return principal.country == a.state
    if principal.role is Role.DECLARANT:
        return principal.operator_id is not None and principal.operator_id == a.importer_operator_id
    return False


async def get_application(
    session: AsyncSession, principal: Principal, number: str, *, lock: bool = False
) -> TaxApplication:
    """Give an application the principal may see; anyone else's reads as 404."""
    a = await repository.application_by_number(session, number, lock=lock) if number.isalnum() else None
    if a is None or not _can_see_application(principal, a):
        raise NotFound(f"no application {number}")
    return a


def _transition(a: TaxApplication, action: ApplicationAction) -> ApplicationStatus:
    new = next_status(ApplicationStatus(a.status), action)
    if new is None:
        allowed = sorted(s.value for s in allowed_states(action))
        raise IllegalTransition(
            f"cannot {action.value} application {a.number}: it is {a.status}; allowed only when it is "
            + " or ".join(allowed),
            allowed_from=allowed,
        )
    return new


def _require_importer(principal: Principal, a: TaxApplication) -> None:
    if not (principal.is_admin or principal.role is Role.DECLARANT):
        raise Forbidden("only the importer may do this")


def _require_authority(principal: Principal, a: TaxApplication) -> None:
    if not (principal.is_admin or (principal.role is Role.TAX_OFFICER and principal.country == a.state)):
        raise Forbidden(f"only the {a.state} tax authority decides on this application")


async def record_payment(
    session: AsyncSession, principal: Principal, number: str, body: schemas.PaymentIn
) -> TaxApplication:
    """Give the application with a payment of its taxes recorded (by the importer or its authority)."""
    a = await get_application(session, principal, number, lock=True)
    _transition(a, ApplicationAction.PAY)
    if body.paid_on > local_today():
        raise ValidationFailed([FieldError("body.paid_on", "in the future")])
    if a.paid + body.amount > a.total_due:
        raise ValidationFailed(
            [FieldError("body.amount", f"more than is outstanding: {a.total_due - a.paid} {a.currency}")]
        )
    before = _snapshot(a)
    session.add(
        TaxPayment(
            application_id=a.id,
            amount=body.amount,
            currency=a.currency,
            paid_on=body.paid_on,
            reference=body.reference,
            recorded_by=principal.subject,
            recorded_at=utcnow(),
        )
    )
    a.paid = a.paid + body.amount
    a.updated_at = utcnow()
    audit.record(
        session,
        actor=principal.subject,
        action="tax_application.pay",
        entity_type="tax_application",
        entity_id=a.number,
        before=before,
        after=_snapshot(a),
    )
    return a


async def confirm(
    session: AsyncSession, principal: Principal, settings: Settings, number: str
) -> TaxApplication:
    """Give the application confirmed by its authority; the confirmation goes to the other state's node."""
    a = await get_application(session, principal, number, lock=True)
    _require_authority(principal, a)
    new = _transition(a, ApplicationAction.CONFIRM)
    if a.paid < a.total_due:
        raise Conflict(f"the taxes are not paid in full: {a.total_due - a.paid} {a.currency} outstanding")
    before = _snapshot(a)
    a.status = new.value
    a.decided_by = principal.subject
    a.decided_at = a.updated_at = utcnow()
    a.refusal_reason = None
    _add_version(session, a, "confirmed", principal.subject, None)
    await _dispatch(session, settings, principal.subject, "confirmation", exchange_payload(a, None))
    audit.record(
        session,
        actor=principal.subject,
        action="tax_application.confirm",
        entity_type="tax_application",
        entity_id=a.number,
        before=before,
        after=_snapshot(a),
    )
    return a


async def refuse(session: AsyncSession, principal: Principal, number: str, reason: str) -> TaxApplication:
    """Give the application refused by its authority, with the reason."""
    a = await get_application(session, principal, number, lock=True)
    _require_authority(principal, a)
    new = _transition(a, ApplicationAction.REFUSE)
    before = _snapshot(a)
    a.status = new.value
    a.decided_by = principal.subject
    a.decided_at = a.updated_at = utcnow()
    a.refusal_reason = reason
    _add_version(session, a, "refused", principal.subject, reason)
    audit.record(
        session,
        actor=principal.subject,
        action="tax_application.refuse",
        entity_type="tax_application",
        entity_id=a.number,
        before=before,
        after=_snapshot(a),
    )
    return a


async def correct(
    session: AsyncSession, principal: Principal, settings: Settings, number: str, body: schemas.Correction
) -> TaxApplication:
    """Give the application in its corrected version, filed again; a confirmation given is withdrawn."""
    a = await get_application(session, principal, number, lock=True)
    _require_importer(principal, a)
    new = _transition(a, ApplicationAction.CORRECT)
    importer = Party(a.state, a.importer_tax_id, a.importer_name, a.importer_operator_id, a.importer_region)
    c = await _compute(session, principal, settings, body.application, "body.application", importer=importer)
    await _refuse_duplicate(session, c.fingerprint, a.number)
    before = _snapshot(a)
    if a.status == ApplicationStatus.CONFIRMED.value:
        await _dispatch(
            session,
            settings,
            principal.subject,
            "withdrawal",
            exchange_payload(a, f"corrected: {body.reason}"),
        )
    # a correction that lowers the taxes leaves an overpayment, which the authority refunds or offsets
    _apply_body(a, body.application, c)
    a.version += 1
    a.status = new.value
    a.decided_by = a.decided_at = a.refusal_reason = None
    a.updated_at = utcnow()
    _add_version(session, a, "corrected", principal.subject, body.reason)
    audit.record(
        session,
        actor=principal.subject,
        action="tax_application.correct",
        entity_type="tax_application",
        entity_id=a.number,
        before=before,
        after=_snapshot(a),
    )
    return a


async def withdraw(
    session: AsyncSession, principal: Principal, settings: Settings, number: str, reason: str
) -> TaxApplication:
    """Give the application withdrawn; a confirmation given is withdrawn at the other state's node too."""
    a = await get_application(session, principal, number, lock=True)
    _require_importer(principal, a)
    new = _transition(a, ApplicationAction.WITHDRAW)
    before = _snapshot(a)
    if a.status == ApplicationStatus.CONFIRMED.value:
        await _dispatch(session, settings, principal.subject, "withdrawal", exchange_payload(a, reason))
    a.status = new.value
    a.updated_at = utcnow()
    _add_version(session, a, "withdrawn", principal.subject, reason)
    audit.record(
        session,
        actor=principal.subject,
        action="tax_application.withdraw",
        entity_type="tax_application",
        entity_id=a.number,
        before=before,
        after=_snapshot(a),
    )
    return a


def exchange_payload(a: TaxApplication, reason: str | None) -> dict[str, Any]:
    """Give what the other state's authority is told of an application (confirmed or withdrawn)."""
    amounts: dict[str, Decimal] = {}
    for line in a.lines:
        amounts[line["currency"]] = amounts.get(line["currency"], Decimal(0)) + Decimal(line["value"])
    payload: dict[str, Any] = {
        "application_number": a.number,
        "version": a.version,
        "state": a.state,
        "importer": _party(a.state, a.importer_tax_id, a.importer_name, a.importer_region),
        "seller": _party(a.seller_country, a.seller_tax_id, a.seller_name, a.seller_region),
        "contract": {"number": a.contract_number, "date": a.contract_date.isoformat()},
        "invoices": a.documents.get("invoices", []),
        "transport_documents": a.documents.get("transport_documents", []),
        "registered_on": a.registered_on.isoformat(),
        "amounts": {cur: str(v) for cur, v in sorted(amounts.items())},
        "lines": [
            {
                "invoice": a.documents["invoices"][line.get("invoice", 0)],
                "hs_code": line["hs_code"],
                "value": line["value"],
                "currency": line["currency"],
                "vat": line["vat"],
            }
            for line in a.lines
        ],
        "currency": a.currency,
        "tax_base": str(a.tax_base),
        "vat": str(a.vat),
        "excise": str(a.excise),
        "paid": str(a.paid),
        "decided_on": a.decided_at.date().isoformat() if a.decided_at else None,
    }
    if reason is not None:
        payload["reason"] = reason
    return payload


# --- claims ---------------------------------------------------------------------------------------


def claim_view(c: TaxClaim, confirmation_number: str | None, today: date | None = None) -> schemas.Claim:
    today = today or local_today()
    warnings = [d for d, at in ((150, c.warned_150_at), (170, c.warned_170_at)) if at is not None]
    return schemas.Claim(
        number=c.number,
        status=ClaimStatus(c.status),
        exporter={"country": c.exporter_country, "tax_id": c.exporter_tax_id, "region": c.exporter_region},
        buyer=_party(c.buyer_country, c.buyer_tax_id, c.buyer_name, c.buyer_region),
        invoices=list(c.invoices),
        shipped_on=c.shipped_on,
        last_day=claim_last_day(c.shipped_on),
        day=claim_day(c.shipped_on, today),
        warnings=warnings,
        currency=c.currency,
        base=c.base,
        confirmation=confirmation_number,
        confirmed_at=c.confirmed_at,
        lapsed_at=c.lapsed_at,
        vat_percent=c.vat_percent,
        vat_due=c.vat_due,
    )


async def claim_confirmation_number(session: AsyncSession, c: TaxClaim) -> str | None:
    if c.confirmation_id is None:
        return None
    conf = await repository.confirmation(session, c.confirmation_id)
    return conf.application_number if conf else None


def _claim_snapshot(c: TaxClaim, confirmation_number: str | None = None) -> dict[str, Any]:
    return claim_view(c, confirmation_number).model_dump(mode="json")


async def register_claim(
    session: AsyncSession, principal: Principal, settings: Settings, body: schemas.ClaimIn
) -> TaxClaim:
    """Give the exporter's registered 0 % claim (matched at once if the confirmation is already here)."""
    errors: list[FieldError] = []
    exporter = await _own_party(session, principal, body.exporter, "body.exporter", errors)
    buyer = _other_party(body.buyer, exporter, "body.buyer", errors)
    errors.extend(_node_errors(settings, exporter, "body.exporter", "exporters"))
    today = local_today()
    if body.shipped_on > today:
        errors.append(FieldError("body.shipped_on", f"in the future (today is {today.isoformat()})"))
    seen: set[tuple[str, date]] = set()
    for i, inv in enumerate(body.invoices):
        key = (inv.number.strip().upper(), inv.date)
        if key in seen:
            errors.append(FieldError(f"body.invoices[{i}]", "listed twice"))
        seen.add(key)
        if inv.date > today:
            errors.append(FieldError(f"body.invoices[{i}].date", "in the future"))
    if exporter is None or errors:
        raise ValidationFailed(errors or [FieldError("body.exporter", "required")])
    state = exporter.country
    # The base of the fallback VAT: the invoices in national currency at the exporting state's central
    # bank's rate on the shipment day (RU Tax Code art. 153 para 3; BY Tax Code art. 120), rounded per invoice.
    table = await rate_table(
        session,
        authority=AUTHORITY_OF_STATE[state],
        day=body.shipped_on,
        currencies={i.currency for i in body.invoices},
    )
    base = Decimal("0.00")
    for i, inv in enumerate(body.invoices):
        try:
            base += round_money(table.convert(inv.amount, inv.currency, field=f"body.invoices[{i}].currency"))
        except RateNotFound as exc:
            errors.extend(exc.errors)
    try:
        load_catalog().vat_percent(state, body.shipped_on)  # what a lapse would charge must be known
    except MissingRate as exc:
        errors.append(FieldError("body.shipped_on", str(exc)))
    if base >= MAX_AMOUNT:
        errors.append(
            FieldError("body.invoices", f"the amounts exceed {MAX_AMOUNT} {NATIONAL_CURRENCY[state]}")
        )
    if errors:
        raise ValidationFailed(errors)
    fingerprint = application_fingerprint(
        (exporter.country, exporter.tax_id),
        (buyer.country, buyer.tax_id),
        ("", body.shipped_on),
        [(inv.number, inv.date) for inv in body.invoices],
    )
    existing = await repository.claim_by_fingerprint(session, fingerprint)
    if existing is not None:
        raise Conflict(f"this shipment is already claimed as {existing.number}", existing=existing.number)
    now = utcnow()
    serial = await repository.next_counter(session, f"tax-claim:{state}:{body.shipped_on.year}")
    c = TaxClaim(
        number=f"{state}{body.shipped_on.year}C{serial:09d}",
        fingerprint=fingerprint,
        status=ClaimStatus.PENDING.value,
        exporter_operator_id=exporter.operator_id,
        exporter_country=state,
        exporter_tax_id=exporter.tax_id,
        exporter_region=exporter.region,
        buyer_country=buyer.country,
        buyer_tax_id=buyer.tax_id,
        buyer_name=buyer.name,
        buyer_region=buyer.region,
        shipped_on=body.shipped_on,
        invoices=[inv.model_dump(mode="json") for inv in body.invoices],
        currency=NATIONAL_CURRENCY[state],
        base=base,
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
    )
    session.add(c)
    await session.flush()
    audit.record(
        session,
        actor=principal.subject,
        action="tax_claim.register",
        entity_type="tax_claim",
        entity_id=c.number,
        before=None,
        after=_claim_snapshot(c),
    )
    for conf in await repository.active_confirmations_between(session, c.exporter_tax_id, c.buyer_tax_id):
        if _matches(c, conf):
            _confirm_claim(session, c, conf, principal.subject)
            break
    else:
        _apply_deadline(session, c, today, principal.subject)
    return c


def _can_see_claim(principal: Principal, c: TaxClaim) -> bool:
    if principal.is_admin:
        return True
    if principal.role is Role.TAX_OFFICER:
        return principal.country == c.exporter_country
    if principal.role is Role.DECLARANT:
        return principal.operator_id is not None and principal.operator_id == c.exporter_operator_id
    return False


async def get_claim(session: AsyncSession, principal: Principal, number: str) -> TaxClaim:
    c = await repository.claim_by_number(session, number) if number.isalnum() else None
    if c is None or not _can_see_claim(principal, c):
        raise NotFound(f"no claim {number}")
    return c


def _claim_facts(c: TaxClaim) -> ClaimFacts:
    return ClaimFacts(
        exporter_tax_id=c.exporter_tax_id,
        buyer_tax_id=c.buyer_tax_id,
        invoices=[
            Invoice(i["number"], date.fromisoformat(i["date"]), Decimal(i["amount"]), i["currency"])
            for i in c.invoices
        ],
    )


def _confirmation_facts(conf: TaxConfirmation) -> ConfirmationFacts:
    p = conf.payload
    return ConfirmationFacts(
        seller_tax_id=conf.seller_tax_id,
        importer_tax_id=conf.importer_tax_id,
        invoices=[Invoice(i["number"], date.fromisoformat(i["date"])) for i in p.get("invoices", [])],
        amounts={cur: Decimal(v) for cur, v in p.get("amounts", {}).items()},
    )


def _matches(c: TaxClaim, conf: TaxConfirmation) -> bool:
    return (
        c.exporter_country == conf.seller_country
        and c.buyer_country == conf.importer_country
        and not match_problems(_claim_facts(c), _confirmation_facts(conf))
    )


def _confirm_claim(session: AsyncSession, c: TaxClaim, conf: TaxConfirmation, actor: str) -> None:
    before = _claim_snapshot(c)
    c.status = ClaimStatus.CONFIRMED.value
    c.confirmation_id = conf.id
    c.confirmed_at = c.updated_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="tax_claim.confirm",
        entity_type="tax_claim",
        entity_id=c.number,
        before=before,
        after=_claim_snapshot(c, conf.application_number),
    )


async def match_confirmation(session: AsyncSession, conf: TaxConfirmation, actor: str) -> list[str]:
    """Confirm the claims a newly received (or renewed) confirmation matches; give their numbers."""
    confirmed: list[str] = []
    for c in await repository.unconfirmed_claims_between(session, conf.seller_tax_id, conf.importer_tax_id):
        if _matches(c, conf):
            _confirm_claim(session, c, conf, actor)
            confirmed.append(c.number)
    return confirmed


async def unmatch_confirmation(session: AsyncSession, conf: TaxConfirmation, actor: str) -> list[TaxClaim]:
    """Take a confirmation off the claims it confirmed (withdrawn or replaced); give those claims."""
    reopened: list[TaxClaim] = []
    for c in await repository.claims_confirmed_by(session, conf.id):
        before = _claim_snapshot(c, conf.application_number)
        c.status = ClaimStatus.LAPSED.value if c.lapsed_at is not None else ClaimStatus.PENDING.value
        c.confirmation_id = None
        c.confirmed_at = None
        c.updated_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="tax_claim.unconfirm",
            entity_type="tax_claim",
            entity_id=c.number,
            before=before,
            after=_claim_snapshot(c),
        )
        reopened.append(c)
    return reopened


def _apply_deadline(session: AsyncSession, c: TaxClaim, today: date, actor: str) -> tuple[list[int], bool]:
    """Warn at days 150 and 170 and lapse from day 181 a pending claim; give (warnings given, lapsed)."""
    if c.status != ClaimStatus.PENDING.value:
        return [], False
    before = _claim_snapshot(c)
    now = utcnow()
    warned: list[int] = []
    for day in claim_warnings_due(c.shipped_on, today):
        if day == 150 and c.warned_150_at is None:
            c.warned_150_at = now
            warned.append(day)
        if day == 170 and c.warned_170_at is None:
            c.warned_170_at = now
            warned.append(day)
    lapsed = claim_lapsed(c.shipped_on, today)
    if lapsed:
        # Protocol para 5: without the confirmation the export is taxed at the standard rate for the
        # tax period of the shipment.
        percent = load_catalog().vat_percent(c.exporter_country, c.shipped_on)
        c.status = ClaimStatus.LAPSED.value
        c.lapsed_at = now
        c.vat_percent = percent
        c.vat_due = fallback_vat(c.base, percent)
    if warned or lapsed:
        c.updated_at = now
        audit.record(
            session,
            actor=actor,
            action="tax_claim.lapse" if lapsed else "tax_claim.warn",
            entity_type="tax_claim",
            entity_id=c.number,
            before=before,
            after={**_claim_snapshot(c), "warned_now": warned},
        )
    return warned, lapsed


async def apply_deadlines(
    session: AsyncSession, today: date | None = None, batch: int = 5000
) -> schemas.DeadlineResult:
    """Warn exporters at days 150 and 170 and lapse their claims from day 181 (the daily task)."""
    today = today or local_today()
    first_warning = today - timedelta(days=149)  # shipped on or before this day: day 150 or later
    result = schemas.DeadlineResult(warned_150=[], warned_170=[], lapsed=[])
    after = 0
    while True:
        claims = await repository.pending_claims_shipped_on_or_before(session, first_warning, after, batch)
        for c in claims:
            warned, lapsed = _apply_deadline(session, c, today, DEADLINES_ACTOR)
            if 150 in warned:
                result.warned_150.append(c.number)
            if 170 in warned:
                result.warned_170.append(c.number)
            if lapsed:
                result.lapsed.append(c.number)
        if len(claims) < batch:
            return result
        after = claims[-1].id


# --- confirmations between the authorities --------------------------------------------------------


async def _dispatch(
    session: AsyncSession, settings: Settings, actor: str, kind: str, payload: dict[str, Any]
) -> None:
    """Send a decision to the other state's authority: into the outbox (same commit), or applied here.

    Without `tax_node` one tamga serves both authorities, and the confirmation is applied locally.
    """
    if settings.tax_node is None:
        await apply_message(session, payload["state"], kind, payload, actor)
    else:
        outbox.enqueue(session, settings, kind, payload)


async def apply_message(
    session: AsyncSession, sender: str, kind: str, payload: dict[str, Any], actor: str
) -> list[str]:
    """Apply a confirmation or a withdrawal from the other state's authority; give the claims it changed.

    A newer version replaces an older one; a message older than what is held changes nothing.
    """
    number = str(payload["application_number"])
    version = int(payload["version"])
    conf = await repository.confirmation_by_application(session, sender, number)
    now = utcnow()
    if conf is not None and (
        conf.version > version or (conf.version == version and conf.status == "withdrawn")
    ):
        return []
    status = "active" if kind == "confirmation" else "withdrawn"
    reopened: list[TaxClaim] = []
    if conf is None:
        conf = TaxConfirmation(
            sender=sender,
            application_number=number,
            version=version,
            status=status,
            importer_country=payload["importer"]["country"],
            importer_tax_id=payload["importer"]["tax_id"],
            seller_country=payload["seller"]["country"],
            seller_tax_id=payload["seller"]["tax_id"],
            payload=payload,
            received_at=now,
            updated_at=now,
        )
        session.add(conf)
        await session.flush()
    else:
        reopened = await unmatch_confirmation(session, conf, actor)
        conf.version = version
        conf.status = status
        conf.payload = payload
        conf.importer_country = payload["importer"]["country"]
        conf.importer_tax_id = payload["importer"]["tax_id"]
        conf.seller_country = payload["seller"]["country"]
        conf.seller_tax_id = payload["seller"]["tax_id"]
        conf.updated_at = now
    changed = await match_confirmation(session, conf, actor) if status == "active" else []
    today = local_today()
    for c in reopened:
        if c.number not in changed:
            _apply_deadline(session, c, today, actor)
            changed.append(c.number)
    return changed
