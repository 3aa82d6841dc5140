"""Risk management use cases: screening a declaration, and managing the profiles.

Who manages profiles: an administrator manages every profile; a customs officer manages only the
profiles of their own state, i.e. those whose conditions include `state in [their country]` and no other
state (a Russian officer cannot change what Belarusian declarations are screened against). Union-wide
profiles are the administrators'. Only officers and administrators read profiles: declarants never see
what they are screened against.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib.resources import files
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tamga.audit import service as audit
from tamga.auth.domain import Principal, Role
from tamga.clearance import risk, risk_repository, risk_schemas
from tamga.clearance.screening import Lane, ProfileHit, RiskDecision, ScreeningFacts
from tamga.config import get_settings
from tamga.kit.clock import ensure_utc, utcnow
from tamga.kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from tamga.models.risk import RiskProfile, RiskProfileVersion
from tamga.models.risk import SelectionRates as SelectionRatesRow

# A version may take effect from "now" as the client saw it (taken as the server's now); more than this in
# the past is backdating.
BACKDATING_SLACK = timedelta(minutes=2)
_DATA = files("tamga") / "clearance" / "data" / "risk"


# ---------------------------------------------------------------------------------------------------------
# Data files and settings
# ---------------------------------------------------------------------------------------------------------


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((_DATA / name).read_text(encoding="utf-8"))
    return document


@cache
def reference_values() -> risk.ReferenceValues:
    """Give the statistical reference unit values (USD per kg by HS6)."""
    doc = _load("reference_values.json")
    return risk.ReferenceValues(
        version=str(doc["version"]),
        usd_per_kg={code: float(entry["usd_per_kg"]) for code, entry in doc["usd_per_kg"].items()},
    )


def _lane_rates(raw: dict[str, Any]) -> dict[Lane, float]:
    return {risk.parse_lane(lane, "rates"): float(rate) for lane, rate in raw.items()}


@cache
def default_selection_rates() -> risk.SelectionRates:
    """Give the minimum random rate of each lane (apart for AEOs) until the API sets others."""
    doc = _load("selection.json")
    return risk.SelectionRates(rates=_lane_rates(doc["rates"]), aeo_rates=_lane_rates(doc["aeo_rates"]))


async def selection_rates_at(session: AsyncSession, at: datetime) -> risk.SelectionRates:
    """Give the minimum random rates in force at `at`."""
    row = await risk_repository.selection_rates_at(session, at)
    if row is None:
        return default_selection_rates()
    return risk.SelectionRates(rates=_lane_rates(row.rates), aeo_rates=_lane_rates(row.aeo_rates))


@cache
def valuation_rule() -> risk.ValuationRule:
    """Give the built-in valuation outlier profile."""
    doc = _load("valuation.json")
    return risk.ValuationRule(
        version=int(doc["version"]),
        window_days=int(doc["window_days"]),
        min_observations=int(doc["min_observations"]),
        percentile=float(doc["percentile"]),
        robust_z=float(doc["robust_z"]),
        mad_floor=float(doc["mad_floor"]),
        lane=risk.parse_lane(doc["lane"], "valuation.json"),
        measure=str(doc["measure"]),
    )


@cache
def selection_key() -> bytes:
    """Give the key of random selection, derived from the installation's secret.

    Keyed so that a declarant cannot compute in advance which reference escapes selection; fixed for an
    installation so that a decision can be reproduced.
    """
    secret = get_settings().jwt_secret.get_secret_value()
    return hashlib.sha256(b"tamga risk random selection\x00" + secret.encode()).digest()


# ---------------------------------------------------------------------------------------------------------
# Screening
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileSet:
    """The profiles in force at an instant, compiled, with the identity of the set."""

    version: str
    compiled: risk.CompiledProfiles
    rates: risk.SelectionRates


_COMPILED: OrderedDict[tuple[str, str], risk.CompiledProfiles] = OrderedDict()
_COMPILED_MAX = 16


def profile_of(code: str, row: RiskProfileVersion) -> risk.Profile:
    """Give the engine's profile for a stored version."""
    return risk.Profile(
        code=code,
        version=row.version,
        lane=Lane(row.lane),
        measure=row.measure,
        conditions=risk.parse_conditions(row.conditions),
        random_rate=float(row.random_rate) if row.random_rate is not None else None,
    )


def _set_version(keys: list[tuple[int, str, int]], rates: risk.SelectionRates) -> str:
    return risk.profile_set_version(
        [(code, version) for _, code, version in keys],
        rates.as_dict(),
        valuation_rule().as_dict(),
        reference_values().version,
    )


async def profiles_in_force(session: AsyncSession, at: datetime) -> ProfileSet:
    """Give the compiled profiles in force at `at`; a set already compiled is taken from the cache."""
    keys = await risk_repository.in_force_keys(session, at)
    rates = await selection_rates_at(session, at)
    version = _set_version(keys, rates)
    cache_key = (str(session.get_bind().engine.url), version)
    compiled = _COMPILED.get(cache_key)
    if compiled is None:
        rows = await risk_repository.versions_by_id(session, [i for i, _, _ in keys])
        profiles = sorted((profile_of(code, row) for code, row in rows), key=lambda p: p.code)
        compiled = risk.compile_profiles(profiles, reference_values())
        _COMPILED[cache_key] = compiled
        while len(_COMPILED) > _COMPILED_MAX:
            _COMPILED.popitem(last=False)
    else:
        _COMPILED.move_to_end(cache_key)
    return ProfileSet(version, compiled, rates)


def _unit_value(customs_value_usd: Decimal, net_mass_kg: Decimal) -> Decimal | None:
    """Give USD per kg to 6 decimals, or None when it cannot be told (no mass, no value, out of range)."""
    try:
        if not (net_mass_kg > 0 and customs_value_usd > 0):
            return None
        value = (customs_value_usd / net_mass_kg).quantize(Decimal("0.000001"))
    except InvalidOperation:
        return None
    return value if Decimal("0.000001") <= value < Decimal("1e17") else None


async def _valuation_hits(session: AsyncSession, facts: ScreeningFacts, at: datetime) -> list[ProfileHit]:
    """Give the valuation outlier hits of the items, and record their unit values for later ones."""
    rule = valuation_rule()
    observed: list[dict[str, Any]] = []
    for item in facts.items:
        unit = _unit_value(item.customs_value_usd, item.net_mass_kg)
        if unit is None or len(item.hs_code) < 6 or not item.hs_code[:6].isdigit():
            continue
        observed.append(
            {
                "declaration_ref": facts.declaration_ref,
                "item_number": item.number,
                "hs6": item.hs_code[:6],
                "origin": item.origin[:2],
                "value_per_kg_usd": unit,
                "observed_at": at,
            }
        )
    samples = await risk_repository.observation_samples(
        session,
        {(o["hs6"], o["origin"]) for o in observed},
        since=at - timedelta(days=rule.window_days),
        until=at,
        exclude_ref=facts.declaration_ref,
    )
    hits = []
    for o in observed:
        sample = [float(v) for v in samples.get((o["hs6"], o["origin"]), [])]
        reason = risk.valuation_outlier(float(o["value_per_kg_usd"]), sample, rule)
        if reason is not None:
            hits.append(
                ProfileHit(
                    profile_code=risk.VALUATION_PROFILE_CODE,
                    profile_version=rule.version,
                    lane=rule.lane,
                    measure=rule.measure,
                    reason=f"HS6 {o['hs6']} from {o['origin']}: {reason}",
                    item_number=o["item_number"],
                )
            )
    await risk_repository.record_observations(session, observed)
    return hits


async def screen(session: AsyncSession, facts: ScreeningFacts) -> RiskDecision:
    """Give the lane of a declaration under the profiles in force when it was registered, with the hits.

    Records the items' unit values for the valuation outlier profile; the caller's commit persists them.
    """
    at = ensure_utc(facts.registered_at)
    profile_set = await profiles_in_force(session, at)
    key = selection_key()
    hits = risk.screen_compiled(profile_set.compiled, [facts], key=key, set_version=profile_set.version)[0]
    hits.extend(await _valuation_hits(session, facts, at))
    return risk.decide(facts, hits, key=key, set_version=profile_set.version, rates=profile_set.rates)


# ---------------------------------------------------------------------------------------------------------
# Profile management
# ---------------------------------------------------------------------------------------------------------


def _may_manage(principal: Principal, conditions: tuple[risk.Condition, ...]) -> bool:
    if principal.role is Role.ADMINISTRATOR:
        return True
    if principal.role is not Role.CUSTOMS_OFFICER or principal.country is None:
        return False
    states = [c.value for c in conditions if c.field == "state"]
    return states == [(principal.country,)]


_CODE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{1,39}$")


async def _profile(session: AsyncSession, code: str, *, lock: bool = False) -> RiskProfile:
    """Give the profile of a code, or 404 (a code that cannot exist is not looked up)."""
    profile = (
        await risk_repository.profile_by_code(session, code, lock=lock) if _CODE.fullmatch(code) else None
    )
    if profile is None:
        raise NotFound(f"no risk profile {code!r}")
    return profile


def _require_reader(principal: Principal) -> None:
    if principal.role not in (Role.ADMINISTRATOR, Role.CUSTOMS_OFFICER):
        raise Forbidden("risk profiles are for customs officers and administrators")


def _refuse_manage(principal: Principal) -> Forbidden:
    if principal.role is Role.CUSTOMS_OFFICER:
        return Forbidden(
            f"a customs officer manages only the profiles of their state: "
            f'a condition {{"field": "state", "op": "in", "value": ["{principal.country}"]}}; '
            "Union-wide profiles are the administrators'"
        )
    return Forbidden("risk profiles are managed by customs officers and administrators")


def _effective_from(value: datetime | None, now: datetime, path: str) -> datetime:
    """Give when a change takes effect: never before now, so that no decision already taken changes.

    A time a little in the past (the client's "now") is taken as now; earlier is refused.
    """
    if value is None or now - BACKDATING_SLACK <= value < now:
        return now
    if value < now:
        raise ValidationFailed(
            [FieldError(path, "must not be in the past: decisions already taken must stay reproducible")]
        )
    return value


def _version_snapshot(row: RiskProfileVersion) -> dict[str, Any]:
    return {
        "version": row.version,
        "effective_from": row.effective_from,
        "retired": row.retired,
        "lane": row.lane,
        "measure": row.measure,
        "conditions": row.conditions,
        "random_rate": row.random_rate,
        "note": row.note,
    }


def _new_version(
    profile_id: int,
    version: int,
    data: risk_schemas.RiskProfileVersionCreate,
    conditions: tuple[risk.Condition, ...],
    lane: Lane,
    effective_from: datetime,
    actor: str,
    now: datetime,
) -> RiskProfileVersion:
    return RiskProfileVersion(
        profile_id=profile_id,
        version=version,
        effective_from=effective_from,
        retired=False,
        name=data.name,
        lane=lane.value,
        measure=data.measure,
        conditions=[c.as_dict() for c in conditions],
        random_rate=data.random_rate,
        note=data.note,
        created_at=now,
        created_by=actor,
    )


def _validated(
    data: risk_schemas.RiskProfileVersionCreate,
) -> tuple[tuple[risk.Condition, ...], Lane]:
    """Give the parsed conditions and lane, refusing every field at fault at once."""
    errors: list[FieldError] = []
    conditions: tuple[risk.Condition, ...] = ()
    lane = Lane.GREEN
    try:
        conditions = risk.parse_conditions(data.conditions)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    try:
        lane = risk.parse_lane(data.lane)
    except ValidationFailed as exc:
        errors.extend(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return conditions, lane


async def create_profile(
    session: AsyncSession, principal: Principal, data: risk_schemas.RiskProfileCreate
) -> tuple[RiskProfile, list[RiskProfileVersion]]:
    """Give a new profile with its first version."""
    _require_reader(principal)
    conditions, lane = _validated(data)
    if not _may_manage(principal, conditions):
        raise _refuse_manage(principal)
    now = utcnow()
    effective_from = _effective_from(data.effective_from, now, "body.effective_from")
    if await risk_repository.profile_by_code(session, data.code) is not None:
        raise Conflict(f"a risk profile {data.code} exists; give it a new version instead")
    profile = RiskProfile(code=data.code, created_at=now, created_by=principal.subject)
    session.add(profile)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a risk profile {data.code} exists; give it a new version instead") from exc
    row = _new_version(profile.id, 1, data, conditions, lane, effective_from, principal.subject, now)
    session.add(row)
    await session.flush()
    audit.record(
        session,
        actor=principal.subject,
        action="risk_profile.create",
        entity_type="risk_profile",
        entity_id=profile.code,
        before=None,
        after=_version_snapshot(row),
    )
    return profile, [row]


async def _managed(
    session: AsyncSession, principal: Principal, code: str
) -> tuple[RiskProfile, list[RiskProfileVersion]]:
    _require_reader(principal)
    profile = await _profile(session, code, lock=True)
    versions = await risk_repository.versions_of(session, [profile.id])
    latest = versions[-1]
    current = risk.parse_conditions(latest.conditions) if not latest.retired else ()
    # A retired profile's last conditions are those of the version before its retirement.
    if latest.retired:
        live = [v for v in versions if not v.retired]
        current = risk.parse_conditions(live[-1].conditions) if live else ()
    if not _may_manage(principal, current):
        raise _refuse_manage(principal)
    return profile, versions


def _not_before_latest(value: datetime, latest: RiskProfileVersion, path: str) -> None:
    if value < latest.effective_from:
        raise ValidationFailed(
            [
                FieldError(
                    path,
                    f"before version {latest.version}, effective from {latest.effective_from.isoformat()}",
                )
            ]
        )


async def add_version(
    session: AsyncSession, principal: Principal, code: str, data: risk_schemas.RiskProfileVersionCreate
) -> tuple[RiskProfile, list[RiskProfileVersion]]:
    """Give the profile with a new version, effective from the given date (versions are never changed)."""
    conditions, lane = _validated(data)
    profile, versions = await _managed(session, principal, code)
    if not _may_manage(principal, conditions):
        raise _refuse_manage(principal)
    now = utcnow()
    effective_from = _effective_from(data.effective_from, now, "body.effective_from")
    latest = versions[-1]
    _not_before_latest(effective_from, latest, "body.effective_from")
    row = _new_version(
        profile.id, latest.version + 1, data, conditions, lane, effective_from, principal.subject, now
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"risk profile {code} was changed at the same time; try again") from exc
    audit.record(
        session,
        actor=principal.subject,
        action="risk_profile.version",
        entity_type="risk_profile",
        entity_id=code,
        before=_version_snapshot(latest),
        after=_version_snapshot(row),
    )
    return profile, [*versions, row]


async def retire(
    session: AsyncSession, principal: Principal, code: str, data: risk_schemas.RiskProfileRetire
) -> tuple[RiskProfile, list[RiskProfileVersion]]:
    """Give the profile with a retirement version: from its date, it screens nothing."""
    profile, versions = await _managed(session, principal, code)
    latest = versions[-1]
    if latest.retired:
        raise Conflict(f"risk profile {code} is already retired (version {latest.version})")
    now = utcnow()
    effective_from = _effective_from(data.effective_from, now, "body.effective_from")
    _not_before_latest(effective_from, latest, "body.effective_from")
    row = RiskProfileVersion(
        profile_id=profile.id,
        version=latest.version + 1,
        effective_from=effective_from,
        retired=True,
        name=latest.name,
        lane=latest.lane,
        measure=latest.measure,
        conditions=latest.conditions,
        random_rate=latest.random_rate,
        note=data.note,
        created_at=now,
        created_by=principal.subject,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"risk profile {code} was changed at the same time; try again") from exc
    audit.record(
        session,
        actor=principal.subject,
        action="risk_profile.retire",
        entity_type="risk_profile",
        entity_id=code,
        before=_version_snapshot(latest),
        after=_version_snapshot(row),
    )
    return profile, [*versions, row]


async def get_profile(
    session: AsyncSession, principal: Principal, code: str
) -> tuple[RiskProfile, list[RiskProfileVersion]]:
    """Give a profile with all its versions."""
    _require_reader(principal)
    profile = await _profile(session, code)
    return profile, await risk_repository.versions_of(session, [profile.id])


async def list_profiles(
    session: AsyncSession, principal: Principal, *, after: int | None, limit: int
) -> list[tuple[RiskProfile, list[RiskProfileVersion]]]:
    """Give a page of profiles with their versions."""
    _require_reader(principal)
    profiles = await risk_repository.list_profiles(session, after=after, limit=limit)
    versions = await risk_repository.versions_of(session, [p.id for p in profiles])
    by_profile: dict[int, list[RiskProfileVersion]] = {}
    for v in versions:
        by_profile.setdefault(v.profile_id, []).append(v)
    return [(p, by_profile.get(p.id, [])) for p in profiles]


def version_view(row: RiskProfileVersion) -> risk_schemas.RiskProfileVersion:
    return risk_schemas.RiskProfileVersion(
        version=row.version,
        effective_from=row.effective_from,
        retired=row.retired,
        name=row.name,
        lane=row.lane,
        measure=row.measure,
        conditions=[risk_schemas.Condition(**c) for c in row.conditions],
        random_rate=row.random_rate,
        note=row.note,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def view(
    profile: RiskProfile, versions: list[RiskProfileVersion], now: datetime | None = None
) -> risk_schemas.RiskProfile:
    """Give the API view of a profile, with the version in force now."""
    now = now or utcnow()
    effective = [v for v in versions if v.effective_from <= now]
    current = max(effective, key=lambda v: (v.effective_from, v.version), default=None)
    return risk_schemas.RiskProfile(
        id=profile.id,
        code=profile.code,
        created_at=profile.created_at,
        created_by=profile.created_by,
        in_force=version_view(current) if current is not None and not current.retired else None,
        versions=[version_view(v) for v in versions],
    )


async def seed_default_profiles(session: AsyncSession, actor: str) -> int:
    """Give how many of the default profiles were created (those missing); idempotent."""
    doc = _load("default_profiles.json")
    effective_from = ensure_utc(datetime.fromisoformat(doc["effective_from"]))
    entries = doc["profiles"]
    present = await risk_repository.codes_present(session, [e["code"] for e in entries])
    now = utcnow()
    created = 0
    for i, entry in enumerate(entries):
        if entry["code"] in present:
            continue
        conditions = risk.parse_conditions(entry["conditions"], f"profiles[{i}].conditions")
        lane = risk.parse_lane(entry["lane"], f"profiles[{i}].lane")
        rate = entry.get("random_rate")
        profile = RiskProfile(code=entry["code"], created_at=now, created_by=actor)
        session.add(profile)
        await session.flush()
        row = RiskProfileVersion(
            profile_id=profile.id,
            version=1,
            effective_from=effective_from,
            retired=False,
            name=entry["name"],
            lane=lane.value,
            measure=entry["measure"],
            conditions=[c.as_dict() for c in conditions],
            random_rate=Decimal(rate) if rate is not None else None,
            note="default profile set (illustrative thresholds)",
            created_at=now,
            created_by=actor,
        )
        session.add(row)
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="risk_profile.create",
            entity_type="risk_profile",
            entity_id=profile.code,
            before=None,
            after=_version_snapshot(row),
        )
        created += 1
    return created


# ---------------------------------------------------------------------------------------------------------
# Random selection rates (administrators: they apply to every declaration of both states)
# ---------------------------------------------------------------------------------------------------------


def _rates_view(
    rates: risk.SelectionRates, *, row: SelectionRatesRow | None, note: str
) -> risk_schemas.SelectionRates:
    def decimals(stored: Mapping[str, str] | None, m: Mapping[Lane, float]) -> dict[str, Decimal]:
        if stored is not None:  # as set, not through a float
            return {lane.value: Decimal(stored.get(lane.value, "0")) for lane in risk.SELECTABLE_LANES}
        return {lane.value: Decimal(str(m.get(lane, 0.0))) for lane in risk.SELECTABLE_LANES}

    return risk_schemas.SelectionRates(
        effective_from=row.effective_from if row else None,
        rates=decimals(row.rates if row else None, rates.rates),
        aeo_rates=decimals(row.aeo_rates if row else None, rates.aeo_rates),
        note=row.note if row else note,
        created_at=row.created_at if row else None,
        created_by=row.created_by if row else None,
    )


def _row_rates(row: SelectionRatesRow) -> risk.SelectionRates:
    return risk.SelectionRates(rates=_lane_rates(row.rates), aeo_rates=_lane_rates(row.aeo_rates))


async def selection_rates_history(
    session: AsyncSession, principal: Principal
) -> risk_schemas.SelectionRatesHistory:
    """Give the random selection rates in force now and every setting made."""
    _require_reader(principal)
    now = utcnow()
    rows = await risk_repository.selection_rates_history(session)
    current = await risk_repository.selection_rates_at(session, now)
    default_note = "built-in default (clearance/data/risk/selection.json)"
    in_force = (
        _rates_view(_row_rates(current), row=current, note="")
        if current
        else _rates_view(default_selection_rates(), row=None, note=default_note)
    )
    return risk_schemas.SelectionRatesHistory(
        in_force=in_force, history=[_rates_view(_row_rates(r), row=r, note="") for r in rows]
    )


async def set_selection_rates(
    session: AsyncSession, principal: Principal, data: risk_schemas.SelectionRatesSet
) -> risk_schemas.SelectionRates:
    """Give the new random selection rates, in force from their date (administrators only)."""
    if principal.role is not Role.ADMINISTRATOR:
        raise Forbidden("random selection rates apply to both states: administrators set them")
    errors = [
        FieldError(f"body.{name}", "the lanes' rates add up to more than 1")
        for name, group in (("rates", data.rates), ("aeo_rates", data.aeo_rates))
        if group.red + group.yellow + group.blue > 1
    ]
    now = utcnow()
    try:
        effective_from = _effective_from(data.effective_from, now, "body.effective_from")
    except ValidationFailed as exc:
        errors.extend(exc.errors)
        effective_from = now
    latest = await risk_repository.latest_selection_rates(session)
    if latest is not None and effective_from < latest.effective_from:
        errors.append(
            FieldError(
                "body.effective_from", f"before the rates set from {latest.effective_from.isoformat()}"
            )
        )
    if errors:
        raise ValidationFailed(errors)
    row = SelectionRatesRow(
        effective_from=effective_from,
        rates={k: str(v) for k, v in data.rates.model_dump().items()},
        aeo_rates={k: str(v) for k, v in data.aeo_rates.model_dump().items()},
        note=data.note,
        created_at=now,
        created_by=principal.subject,
    )
    session.add(row)
    await session.flush()
    audit.record(
        session,
        actor=principal.subject,
        action="risk_selection_rates.set",
        entity_type="risk_selection_rates",
        entity_id=row.id,
        before={"rates": latest.rates, "aeo_rates": latest.aeo_rates} if latest else None,
        after={"rates": row.rates, "aeo_rates": row.aeo_rates, "effective_from": effective_from},
    )
    return _rates_view(_row_rates(row), row=row, note="")
