"""Thresholds per goods category and per movement: the category from the goods' codes, an operator's
settings through `PUT /api/v1/movements/{ref}/monitoring` (validated, audited, on the timeline), and
their effect on the alarms the pipeline raises, on each database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from tests.conftest import Backend
from tests.monitoring.pipeline import PLAIN_GOODS, Pipeline, expected_outcomes, numbered, running
from tests.monitoring.tracks import Trip
from tests.support.builders import item, ok, user

from tamga.audit.service import verify
from tamga.models import AuditRecord
from tamga.monitoring.domain import (
    GoodsCategory,
    MonitoringSettings,
    Rule,
    effective_thresholds,
    goods_category,
    settings_problems,
)
from tamga.simulate.corridors import CORRIDORS

KOZLOVICHI_MINSK = CORRIDORS["m1-kozlovichi-brest-minsk"]
LAPTOPS = item(3, hs_code="8471300000", description="Portable computers")


def test_the_category_follows_the_tracked_goods() -> None:
    assert goods_category(["0808108000", "8708999709"]) is None
    assert goods_category(["0808108000", "8471300000"]) is GoodsCategory.ELECTRONICS
    assert goods_category(["6403999800"]) is GoodsCategory.FOOTWEAR
    assert goods_category(["6109100000", "6203420000"]) is GoodsCategory.CLOTHING
    assert goods_category(["2939790000"]) is GoodsCategory.TOBACCO
    assert goods_category(["2939110000"]) is None
    # of several, the first in the list's order: alcohol before electronics
    assert goods_category(["8517130000", "2208203000"]) is GoodsCategory.ALCOHOL


def test_an_operators_category_and_overrides_come_over_the_goods() -> None:
    plain, defaults = effective_thresholds(MonitoringSettings(), None)
    assert plain is None and defaults.deviation_dwell == timedelta(minutes=3)
    category, tight = effective_thresholds(MonitoringSettings(), GoodsCategory.FOOTWEAR)
    assert category is GoodsCategory.FOOTWEAR and tight.deviation_dwell == timedelta(minutes=1)
    settings = MonitoringSettings(GoodsCategory.SANCTIONED, 800.0, {"stop_dwell": 300, "max_speed_kmh": 150})
    category, mine = effective_thresholds(settings, GoodsCategory.FOOTWEAR)
    assert category is GoodsCategory.SANCTIONED
    assert (mine.stop_dwell, mine.max_speed_kmh, mine.deviation_min_fixes) == (timedelta(minutes=5), 150, 2)
    assert MonitoringSettings.from_document(settings.as_document()) == settings
    assert settings_problems(settings) == []
    assert settings_problems(
        MonitoringSettings(thresholds={"stop_speed_kmh": 160, "max_speed_kmh": 150})
    ) == [("stop_speed_kmh", "must be under max_speed_kmh")]
    assert settings_problems(MonitoringSettings(thresholds={"speed": 1})) == [("speed", "not a threshold")]


@pytest.fixture(scope="module")
async def pipeline(backend: Backend) -> AsyncIterator[Pipeline]:
    async with running(backend) as p:
        yield p


async def test_settings_are_read_set_validated_and_audited(pipeline: Pipeline, backend: Backend) -> None:
    http = pipeline.http
    released = await pipeline.release(KOZLOVICHI_MINSK, goods=[*PLAIN_GOODS, LAPTOPS])
    path = f"/api/v1/movements/{released.id}/monitoring"
    operator = await user(http, "monitoring_operator", country="BY")
    shown = ok(await http.get(path, headers=operator))
    assert (shown["category"], shown["category_from"], shown["goods_category"]) == (
        "electronics",
        "goods",
        "electronics",
    )
    assert shown["thresholds"]["deviation_dwell_s"] == 60 and shown["corridor_width_m"] == 500
    assert released.plan.thresholds.deviation_dwell == timedelta(minutes=1)

    body = {"category": "sanctioned", "corridor_width_m": 1000, "thresholds": {"stop_dwell_s": 600}}
    officer = await pipeline.officer("09131", None)
    assert (await http.put(path, json=body, headers=officer)).status_code == 403
    russian = await user(http, "monitoring_operator", country="RU")
    assert (await http.put(path, json=body, headers=russian)).status_code == 404  # a Belarusian route
    for wrong, field in (
        ({"thresholds": {"stop_speed_kmh": 30, "max_speed_kmh": 20}}, "body.thresholds.stop_speed_kmh"),
        ({"thresholds": {"stop_dwell_s": -1}}, "body.thresholds.stop_dwell_s"),
        ({"corridor_width_m": 10}, "body.corridor_width_m"),
        ({"category": "fruit"}, "body.category"),
        ({"thresholds": {"speed": 1}}, "body.thresholds.speed"),
    ):
        r = await http.put(path, json=wrong, headers=operator)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in r.json()["errors"]], r.text
    assert ok(await http.get(path, headers=operator))["overrides"]["category"] is None  # nothing written

    updated = ok(await http.put(path, json=body, headers=operator))
    assert (updated["category"], updated["category_from"], updated["corridor_width_m"]) == (
        "sanctioned",
        "operator",
        1000,
    )
    assert updated["thresholds"]["stop_dwell_s"] == 600 and updated["thresholds"]["deviation_dwell_s"] == 60
    assert updated["overrides"]["thresholds"]["stop_dwell_s"] == 600
    await pipeline.replan(released)
    assert released.plan.corridor_width_m == 1000 and released.plan.thresholds.stop_dwell == timedelta(
        minutes=10
    )

    timeline = await pipeline.timeline(released)
    assert [e["details"]["category"] for e in timeline if e["kind"] == "monitoring"] == ["sanctioned"]
    from sqlalchemy import select

    async with backend.db.session() as session:
        records = (
            (
                await session.execute(
                    select(AuditRecord).where(
                        AuditRecord.action == "movement.monitoring_set",
                        AuditRecord.entity_id == str(released.id),
                    )
                )
            )
            .scalars()
            .all()
        )
        assert [(r.before, r.after["category"]) for r in records] == [(None, "sanctioned")]
        assert not (await verify(session)).findings


async def test_an_operators_thresholds_change_what_the_pipeline_raises(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    operator = await user(pipeline.http, "monitoring_operator", country="BY")
    body = {"thresholds": {"stop_dwell_s": 600}}
    ok(await pipeline.http.put(f"/api/v1/movements/{released.id}/monitoring", json=body, headers=operator))
    await pipeline.replan(released)
    t = Trip(released.plan, start=released.released_at + timedelta(seconds=30), period_s=60.0)
    t.drive(30, 80)
    stopped = len(t.samples)
    t.stop(15).drive(10, 80)  # fifteen minutes: nothing by default, an alarm after ten here
    fixes = numbered([f for _, f in t.fixes()], released.device_id)
    await pipeline.send(released, fixes)
    got = await pipeline.outcomes(released)
    assert got == expected_outcomes(released)
    assert [(r, k, fixes.index(next(f for f in fixes if f.time == fix))) for r, k, _, fix in got] == [
        (Rule.UNSCHEDULED_STOP, "open", stopped + 10),
        (Rule.UNSCHEDULED_STOP, "close", stopped + 15),
    ]


async def test_tracked_goods_raise_a_deviation_sooner(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK, goods=[LAPTOPS])
    t = Trip(released.plan, start=released.released_at + timedelta(seconds=30), period_s=60.0)
    t.drive(30, 80).drive(0.5, 60, offset_to=1500)
    first_out = len(t.samples)
    t.drive(4, 60).drive(0.5, 60, offset_to=0).drive(5, 80)
    fixes = numbered([f for _, f in t.fixes()], released.device_id)
    await pipeline.send(released, fixes)
    got = await pipeline.outcomes(released)
    assert got == expected_outcomes(released)
    # one minute and two fixes outside, not three and three
    assert [(r, k, fixes.index(next(f for f in fixes if f.time == fix))) for r, k, _, fix in got] == [
        (Rule.CORRIDOR_DEVIATION, "open", first_out + 1),
        (Rule.CORRIDOR_DEVIATION, "close", first_out + 5),
    ]
