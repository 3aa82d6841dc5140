"""The live alarm stream across processes (PostgreSQL): an alarm a monitoring process raises, `tamga
ingest` beside its gateways say, reaches the streams the API serves in another process; a change too
large for a notification reaches them too, read again from the database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from tests.conftest import Backend
from tests.monitoring.pipeline import Pipeline, Released, running
from tests.support.builders import admin

from tamga.kit import notify
from tamga.kit.db import Database, commit
from tamga.models import Alarm
from tamga.monitoring.service import AlarmHub, Monitor, alarm_change
from tamga.monitoring.tasks import AlarmRelay
from tamga.simulate.corridors import CORRIDORS

KOZLOVICHI_MINSK = CORRIDORS["m1-kozlovichi-brest-minsk"]


@pytest.fixture(scope="module")
async def pipeline(backend: Backend) -> AsyncIterator[Pipeline]:
    if backend.kind != "postgres":
        pytest.skip("a SQLite database is served by one process: there is no other to relay from")
    async with running(backend) as p:
        relay = p.app.state.alarm_relay
        assert relay is not None
        await asyncio.wait_for(relay.listening.wait(), 10)
        yield p


async def alarm_events(http: httpx.AsyncClient, headers: dict[str, str]) -> AsyncIterator[dict[str, Any]]:
    """The `alarm` events of a live stream, from when it is connected."""
    async with http.stream(
        "GET", "/api/v1/alarms/stream", headers={**headers, "Accept": "text/event-stream"}
    ) as r:
        assert r.status_code == 200
        event = None
        async for line in r.aiter_lines():
            if line == ": connected":
                yield {}
            elif line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "alarm":
                yield json.loads(line.removeprefix("data: "))


async def next_for(events: AsyncIterator[dict[str, Any]], movement_id: int) -> dict[str, Any]:
    async for data in events:
        if data and data["alarm"]["movement_id"] == movement_id:
            return data
    raise AssertionError("the stream ended")


@asynccontextmanager
async def other_process(pipeline: Pipeline) -> AsyncIterator[tuple[Database, AlarmHub]]:
    """Another process's database and hub, relaying without listening (as `tamga ingest`'s)."""
    other_db = Database(pipeline.backend.url, pool_size=2)
    other_hub = AlarmHub()
    relay = AlarmRelay(other_db, other_hub, listen=False)
    relay.start()
    try:
        yield other_db, other_hub
    finally:
        await relay.stop()
        await other_db.dispose()


async def stored_alarm(pipeline: Pipeline, released: Released, **fields: Any) -> int:
    """An alarm of the movement stored straight in the database (no process published it); give its id."""
    async with pipeline.backend.db.session() as session:
        alarm = Alarm(
            movement_id=released.id, opened_at=released.plan.released_at, evidence=[], details={}, **fields
        )
        session.add(alarm)
        await session.flush()
        await commit(session)
        return alarm.id


async def test_an_alarm_raised_in_another_process_reaches_the_live_stream(pipeline: Pipeline) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    events = alarm_events(pipeline.http, await admin(pipeline.http))
    assert await anext(events) == {}  # connected
    async with other_process(pipeline) as (other_db, other_hub):
        at = released.plan.released_at + released.plan.signal_lost_after + timedelta(seconds=1)
        await Monitor(hub=other_hub).tick(other_db, at)
        data = await asyncio.wait_for(next_for(events, released.id), 10)
    await events.aclose()
    assert (data["action"], data["alarm"]["rule"], data["alarm"]["status"]) == (
        "opened",
        "signal_lost",
        "open",
    )


async def test_a_change_too_large_for_a_notification_reaches_the_stream_read_again(
    pipeline: Pipeline,
) -> None:
    released = await pipeline.release(KOZLOVICHI_MINSK)
    comment = ("ПломбавскрытаприосмотревприсутствииперевозчикаЁ" * 90)[:4000]  # two bytes a letter
    assert len(comment.encode()) > notify.MAX_PAYLOAD  # with the rest of the alarm, too large to notify
    alarm_id = await stored_alarm(
        pipeline,
        released,
        rule="seal_opened",
        severity="critical",
        status="resolved",
        resolved_by="officer",
        resolved_at=released.plan.released_at,
        comment=comment,
    )
    events = alarm_events(pipeline.http, await admin(pipeline.http))
    assert await anext(events) == {}
    async with other_process(pipeline) as (other_db, other_hub):
        async with other_db.session() as session:
            change = await alarm_change(session, alarm_id, "resolved")
        assert change is not None
        other_hub.publish([change])  # as the other process's endpoint does after its commit
        data = await asyncio.wait_for(next_for(events, released.id), 10)
    await events.aclose()
    assert (data["action"], data["alarm"]["id"], data["alarm"]["comment"]) == ("resolved", alarm_id, comment)


async def test_a_change_made_in_this_process_reaches_its_stream_once(pipeline: Pipeline) -> None:
    """The process's hub delivers its own changes when they are published: the relay's echo of them
    (every listener hears every notification) is left out."""
    released = await pipeline.release(KOZLOVICHI_MINSK)
    alarm_id = await stored_alarm(
        pipeline, released, rule="unscheduled_stop", severity="warning", status="open"
    )
    headers = await admin(pipeline.http)
    events = alarm_events(pipeline.http, headers)
    assert await anext(events) == {}
    response = await pipeline.http.post(f"/api/v1/alarms/{alarm_id}/acknowledge", headers=headers)
    assert response.status_code == 200, response.text
    data = await asyncio.wait_for(next_for(events, released.id), 10)
    assert (data["action"], data["alarm"]["id"]) == ("acknowledged", alarm_id)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(next_for(events, released.id), 1.0)
    await events.aclose()


LISTENERS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'"


async def test_a_listener_that_lost_its_connection_listens_again(pipeline: Pipeline) -> None:
    """The server ends the listener's connection (a restart, a failover): it connects again, and what is
    sent from then on reaches the stream."""
    async with pipeline.backend.db.session() as session:
        before = set((await session.execute(text(LISTENERS))).scalars().all())
        assert before
        for pid in before:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    for _ in range(500):  # it reconnects within RECONNECT_S (1 s) of noticing
        await asyncio.sleep(0.02)
        async with pipeline.backend.db.session() as session:
            now = set((await session.execute(text(LISTENERS))).scalars().all())
        if now - before and pipeline.app.state.alarm_relay.listening.is_set():
            break
    else:
        raise AssertionError("the listener did not connect again")

    released = await pipeline.release(KOZLOVICHI_MINSK)
    events = alarm_events(pipeline.http, await admin(pipeline.http))
    assert await anext(events) == {}
    async with other_process(pipeline) as (other_db, other_hub):
        at = released.plan.released_at + released.plan.signal_lost_after + timedelta(seconds=1)
        await Monitor(hub=other_hub).tick(other_db, at)
        data = await asyncio.wait_for(next_for(events, released.id), 10)
    await events.aclose()
    assert (data["action"], data["alarm"]["rule"]) == ("opened", "signal_lost")
