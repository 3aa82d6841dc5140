"""The clearance part of `make demo`: made through the real use cases, one released, one in the queue."""

from __future__ import annotations

from decimal import Decimal

import httpx
from tests.clearance.support import declarant, prepare
from tests.conftest import Backend
from tests.support.builders import ok

from tamga.clearance.demo import seed_demo
from tamga.kit.db import commit


async def test_seed_demo_releases_the_aeo_and_queues_the_other(
    backend: Backend, http: httpx.AsyncClient
) -> None:
    await prepare(backend)
    aeo_id, aeo_headers = await declarant(http, "RU", aeo=True)
    other_id, other_headers = await declarant(http, "BY")
    async with backend.db.session() as session:
        made = await seed_demo(session, aeo_operator_id=aeo_id, other_operator_id=other_id)
        await commit(session)
    (released_ref, released, lane), (queued_ref, queued, queued_lane) = made.declarations
    assert released == "released" and lane in ("green", "blue")
    assert queued == "registered" and queued_lane in ("yellow", "red")
    d = ok(await http.get(f"/api/v1/declarations/{queued_ref}", headers=other_headers))
    assert d["currency"] == "BYN" and d["hold_reason"] is None
    assert {h["profile_code"] for h in d["risk"]["hits"]}  # the profile that sent it to the queue is named
    statement = ok(await http.get(f"/api/v1/accounts/{made.accounts['ru']}/statement", headers=aeo_headers))
    assert [e["kind"] for e in statement["entries"]] == ["deposit", "debit"]
    assert statement["entries"][1]["declaration_ref"] == released_ref
    assert Decimal(statement["account"]["balance"]) < Decimal("3000000.00")
