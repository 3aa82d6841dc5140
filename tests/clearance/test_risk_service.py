"""`risk_service.screen` on each database: the contract the declaration workflow calls."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from tests.clearance.test_risk_facts import facts, item
from tests.conftest import Backend

from tamga.auth.domain import Principal, Role
from tamga.clearance import risk, risk_schemas, risk_service
from tamga.clearance.screening import Lane
from tamga.kit.db import commit

ADMIN = Principal(subject="user:test-admin", name="admin", role=Role.ADMINISTRATOR)


async def unselected_ref(session: AsyncSession, aeo: bool, at: datetime) -> str:
    """Give a declaration reference that random selection leaves alone under the profile set at `at`."""
    profile_set = await risk_service.profiles_in_force(session, at)
    rates = profile_set.rates.for_declarant(aeo)
    while True:
        ref = f"TEST/{uuid.uuid4().hex[:12]}"
        if risk.random_lane(risk_service.selection_key(), ref, profile_set.version, rates) is None:
            return ref


@asynccontextmanager
async def seeded(backend: Backend) -> AsyncIterator[AsyncSession]:
    """A session with the default profiles, rolled back at the end: the database is shared with every
    other test of the run, whose declarations these profiles must not screen."""
    async with backend.db.session() as session:
        assert await risk_service.seed_default_profiles(session, "test") >= 0
        try:
            yield session
        finally:
            await session.rollback()


async def test_seeding_is_idempotent(backend: Backend) -> None:
    async with seeded(backend) as session:
        assert await risk_service.seed_default_profiles(session, "test") == 0
        listed = await risk_service.list_profiles(session, ADMIN, after=None, limit=200)
        codes = {p.code for p, _ in listed}
        assert {"RP-8517-CN-LOWVAL", "RP-SEAL-OPENED", "RP-NEW-DECLARANT"} <= codes


async def test_aeo_with_clean_history_and_no_hits_is_green(backend: Backend) -> None:
    at = datetime.now(UTC)
    async with seeded(backend) as session:
        laptops = item(hs_code="8471300000", origin="BV", mass="25", value_usd="6000")
        f = facts(laptops, ref=await unselected_ref(session, True, at), aeo=True, registered_at=at)
        decision = await risk_service.screen(session, f)
        version = (await risk_service.profiles_in_force(session, at)).version
    assert decision.lane is Lane.GREEN
    assert decision.hits == () and not decision.random_selected and decision.random_lane is None
    assert decision.profile_set_version == version


async def test_phones_from_china_below_the_value_per_kg_go_yellow_with_the_reason(backend: Backend) -> None:
    at = datetime.now(UTC)
    cheap = item(number=2, hs_code="8517130000", origin="CN", mass="100", value_usd="1500")
    fair = item(number=1, hs_code="8517130000", origin="CN", mass="10", value_usd="8000")
    async with seeded(backend) as session:
        decision = await risk_service.screen(session, facts(fair, cheap, registered_at=at))
    hits = [h for h in decision.hits if h.profile_code == "RP-8517-CN-LOWVAL"]
    assert len(hits) == 1
    hit = hits[0]
    assert hit.item_number == 2 and hit.lane is Lane.YELLOW and hit.profile_version == 1
    assert "hs_code 8517130000 starts with {8517}" in hit.reason
    assert "origin CN in {CN}" in hit.reason
    assert "value_per_kg_usd 15 < 40" in hit.reason
    assert decision.lane.rank >= Lane.YELLOW.rank


async def test_the_same_declaration_and_profile_version_give_the_same_decision(backend: Backend) -> None:
    at = datetime.now(UTC)
    f = facts(
        item(number=1, hs_code="2208300000", origin="GB", mass="100", value_usd="500"),
        item(
            number=2, hs_code="6109100000", origin="BD", mass="100", value_usd="200", preference="developing"
        ),
        aeo=False,
        declarations=1,
        transit_alarms=("seal_opened",),
        registered_at=at,
    )
    async with seeded(backend) as session:
        first = await risk_service.screen(session, f)
        again = await risk_service.screen(session, f)  # its own unit values, now recorded, do not count
    assert first == again
    assert first.lane is Lane.RED
    codes = {h.profile_code for h in first.hits}
    assert {"RP-SEAL-OPENED", "RP-NEW-DECLARANT", "RP-EXCISE-STAMPS", "RP-TEXTILE-LOWVAL"} <= codes
    seal = next(h for h in first.hits if h.profile_code == "RP-SEAL-OPENED")
    assert seal.item_number is None and seal.reason == "transit_alarms {seal_opened} any in {seal_opened}"


async def test_a_unit_value_far_below_recent_declarations_is_an_outlier(backend: Backend) -> None:
    origin = "BV"  # an (HS6, origin) of its own, so other tests' observations do not mix in
    hs = f"9503{uuid.uuid4().int % 100:02d}0000"
    start = datetime.now(UTC) - timedelta(days=30)
    async with backend.db.session() as session:
        for k in range(25):
            value = Decimal(800 + 10 * k)  # 8.00 to 10.40 USD/kg
            f = facts(item(hs_code=hs, origin=origin, mass="100", value_usd=str(value)), registered_at=start)
            decision = await risk_service.screen(session, f)
            assert all(h.profile_code != risk.VALUATION_PROFILE_CODE for h in decision.hits)
            start += timedelta(hours=1)
        await commit(session)
    async with backend.db.session() as session:
        low = facts(item(hs_code=hs, origin=origin, mass="100", value_usd="120"))
        usual = facts(item(hs_code=hs, origin=origin, mass="100", value_usd="900"))
        low_decision = await risk_service.screen(session, low)
        usual_decision = await risk_service.screen(session, usual)
        await session.rollback()
    outliers = [h for h in low_decision.hits if h.profile_code == risk.VALUATION_PROFILE_CODE]
    assert len(outliers) == 1 and outliers[0].item_number == 1 and outliers[0].lane is Lane.YELLOW
    assert f"HS6 {hs[:6]} from BV" in outliers[0].reason and "of 25 declarations" in outliers[0].reason
    assert not [h for h in usual_decision.hits if h.profile_code == risk.VALUATION_PROFILE_CODE]


async def test_a_new_version_takes_effect_from_its_date(backend: Backend) -> None:
    code = f"T-{uuid.uuid4().hex[:10].upper()}"
    origin = "BV"  # Bouvet Island: no other test declares goods from there
    conditions = [
        {"field": "hs_code", "op": "starts_with", "value": ["4202"]},
        {"field": "origin", "op": "in", "value": [origin]},
    ]
    now = datetime.now(UTC)
    later = now + timedelta(days=10)
    async with backend.db.session() as session:
        await risk_service.create_profile(
            session,
            ADMIN,
            risk_schemas.RiskProfileCreate(
                code=code, name="bags", lane="yellow", measure="check", conditions=conditions
            ),
        )
        await risk_service.add_version(
            session,
            ADMIN,
            code,
            risk_schemas.RiskProfileVersionCreate(
                name="bags", lane="red", measure="inspect", conditions=conditions, effective_from=later
            ),
        )
        await commit(session)
    bag = item(hs_code="4202210000", origin=origin, mass="10", value_usd="500")

    async def hit_at(at: datetime) -> tuple[int, Lane] | None:
        async with backend.db.session() as session:
            decision = await risk_service.screen(session, facts(bag, registered_at=at))
            await session.rollback()
        hits = [(h.profile_version, h.lane) for h in decision.hits if h.profile_code == code]
        return hits[0] if hits else None

    assert await hit_at(now - timedelta(minutes=5)) is None  # before the profile existed
    assert await hit_at(now + timedelta(days=1)) == (1, Lane.YELLOW)
    assert await hit_at(later + timedelta(seconds=1)) == (2, Lane.RED)
    async with backend.db.session() as session:
        await risk_service.retire(
            session,
            ADMIN,
            code,
            risk_schemas.RiskProfileRetire(effective_from=later + timedelta(days=5), note="done"),
        )
        await commit(session)
    assert await hit_at(later + timedelta(days=1)) == (2, Lane.RED)
    assert await hit_at(later + timedelta(days=6)) is None
