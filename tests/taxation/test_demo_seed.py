"""The taxation demo's synthetic trade goes through the real use cases and leaves a tax gap to look at."""

from __future__ import annotations

from tests.conftest import Backend

from tamga.auth.domain import Principal, Role
from tamga.kit.db import commit
from tamga.rates.service import load_samples
from tamga.taxation import demo, reconciliation


async def test_demo_trade_is_filed_confirmed_and_reconciled(backend: Backend) -> None:
    officer = Principal(subject="test", name="tax", role=Role.TAX_OFFICER, country="RU")
    async with backend.db.session() as session:
        await load_samples(session)
        before = (await reconciliation.documents(session, officer, state=None)).result.counts()
        made = await demo.seed_demo(session, backend.settings, trades=40, seed=11)
        await commit(session)
    assert made.claims > 0 and made.applications > 0
    assert made.claims + sum(made.refused.values()) == 40
    async with backend.db.session() as session:
        after = (await reconciliation.documents(session, officer, state=None)).result.counts()
    grown = {k: after[k] - before[k] for k in after}
    # Russian exporters' share of the plan: some matched, and the plan's misses show as gaps
    assert grown["matched"] > 0
    assert grown["unconfirmed"] + grown["mismatched"] + grown["unclaimed"] > 0
