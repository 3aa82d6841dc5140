"""Two tax authorities' nodes side by side (two apps on two live uvicorn servers, two SQLite databases):
registers of signed messages cross real HTTP, with the link cut for a while, and forged or unknown
senders are refused without a trace.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from tests.conftest import (
    ADMIN_PASSWORD,
    POSTGRES_URL,
    _create_postgres_database,
    _drop_postgres_database,
    _free_port,
)
from tests.support.builders import ok
from tests.taxation.support import Business, application, business, claim, line, outside_party, tax_officer

from tamga.app import create_app
from tamga.auth import service as auth_service
from tamga.auth.domain import Role
from tamga.auth.security import configure_password_hashing
from tamga.config import Settings
from tamga.kit.db import Database, commit
from tamga.kit.migrate import upgrade_async
from tamga.models.taxation import TaxConfirmation, TaxInboxMessage, TaxOutboxMessage, TaxRegister
from tamga.rates.service import load_samples
from tamga.taxation.exchange import REGISTERS_PATH
from tamga.taxation.service import local_today
from tamga.taxation.signing import (
    DIGEST_HEADER,
    NODE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    body_digest,
    generate_private_key_pem,
    message_bytes,
    private_key_from_pem,
    public_key_pem,
    request_bytes,
    sign,
)

API = "/api/v1/tax"


class Node:
    """One tax authority's tamga: its own database, key, settings and live server."""

    def __init__(self, state: str, db: Database, settings: Settings, port: int, key_pem: bytes) -> None:
        self.state, self.db, self.settings, self.port, self.key_pem = state, db, settings, port, key_pem
        self.base_url = f"http://127.0.0.1:{port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = uvicorn.Config(
            create_app(self.settings, self.db),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None

    async def count(self, model: Any) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _prepare(url: str) -> None:
    """Migrate a database, add an administrator and load the sample rates."""
    await upgrade_async(url)
    db = Database(url, pool_size=1)
    async with db.session() as session:
        await auth_service.create_user(
            session, None, username="admin", password=ADMIN_PASSWORD, role=Role.ADMINISTRATOR
        )
        await load_samples(session)
        await commit(session)
    await db.dispose()  # on SQLite the last connection closed checkpoints the WAL into the file


async def _node(
    state: str, url: str, tmp: Path, port: int, peer_port: int, key: bytes, peer_key: bytes
) -> Node:
    key_path = tmp / f"{state}.pem"
    key_path.write_bytes(key)
    settings = Settings(
        database_url=url,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        principal_cache_seconds=0,
        monitoring_in_app=False,
        tax_node=state,
        tax_private_key_path=key_path,
        tax_peer_url=f"http://127.0.0.1:{peer_port}",
        tax_peer_public_key=public_key_pem(peer_key),
        tax_send_interval_s=0.25,
        tax_retry_base_s=0.1,
        tax_retry_cap_s=0.4,
    )
    node = Node(state, Database(url, pool_size=5), settings, port, key)
    await node.start()
    return node


@pytest.fixture(scope="module")
async def nodes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Node]]:
    """The Belarusian node on SQLite; the Russian one on PostgreSQL when it is configured, else SQLite."""
    configure_password_hashing(1, 1024)
    tmp = tmp_path_factory.mktemp("tax-nodes")
    template = tmp / "template.db"
    await _prepare(f"sqlite+aiosqlite:///{template}")
    shutil.copyfile(template, tmp / "BY.db")
    pg_name = None
    if POSTGRES_URL:
        ru_url, pg_name = await _create_postgres_database()
        await _prepare(ru_url)
    else:
        shutil.copyfile(template, tmp / "RU.db")
        ru_url = f"sqlite+aiosqlite:///{tmp / 'RU.db'}"
    ru_port, by_port = _free_port(), _free_port()
    ru_key, by_key = generate_private_key_pem(), generate_private_key_pem()
    ru = await _node("RU", ru_url, tmp, ru_port, by_port, ru_key, by_key)
    by = await _node("BY", f"sqlite+aiosqlite:///{tmp / 'BY.db'}", tmp, by_port, ru_port, by_key, ru_key)
    yield {"RU": ru, "BY": by}
    for node in (ru, by):
        await node.stop()
        await node.db.dispose()
    if pg_name:
        await _drop_postgres_database(pg_name)


async def _eventually(check: Any, within_s: float = 20.0) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.1)


async def _trade(
    nodes: dict[str, Node],
) -> tuple[Business, dict[str, Any], Business, dict[str, str], dict[str, Any]]:
    """A Russian exporter ships to a Belarusian importer and claims 0 % at the RU node; the importer files
    and pays at the BY node. Gives (exporter, claim, importer, BY officer headers, application)."""
    async with httpx.AsyncClient(base_url=nodes["RU"].base_url, timeout=30) as ru:
        exporter = await business(ru, "RU")
        async with httpx.AsyncClient(base_url=nodes["BY"].base_url, timeout=30) as by:
            importer = await business(by, "BY")
            officer = await tax_officer(by, "BY")
            shipped = local_today() - timedelta(days=12)
            invoice = (f"INV-{uuid.uuid4().hex[:6]}", shipped, "2400000.00", "RUB")
            c = ok(
                await ru.post(
                    f"{API}/claims",
                    json=claim(importer.party(), shipped, [invoice]),
                    headers=exporter.headers,
                ),
                201,
            )
            assert c["status"] == "pending"
            registered = shipped + timedelta(days=4)
            body = application(
                exporter.party(), registered, [line("2400000.00", "RUB")], invoices=[(invoice[0], shipped)]
            )
            a = ok(await by.post(f"{API}/applications", json=body, headers=importer.headers), 201)
            assert a["currency"] == "BYN" and a["lines"][0]["nominal"] == 100
            pay = {"amount": a["total_due"], "paid_on": registered.isoformat(), "reference": "PP-77"}
            ok(
                await by.post(
                    f"{API}/applications/{a['number']}/payments", json=pay, headers=importer.headers
                )
            )
    return exporter, c, importer, officer, a


async def _claim(nodes: dict[str, Node], exporter: Business, number: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=nodes["RU"].base_url, timeout=30) as ru:
        return ok(await ru.get(f"{API}/claims/{number}", headers=exporter.headers))


async def test_confirmation_crosses_to_the_exporters_node_and_confirms_the_claim(
    nodes: dict[str, Node],
) -> None:
    exporter, c, _importer, officer, a = await _trade(nodes)
    async with httpx.AsyncClient(base_url=nodes["BY"].base_url, timeout=30) as by:
        confirmed = ok(await by.post(f"{API}/applications/{a['number']}/confirm", headers=officer))
    assert confirmed["status"] == "confirmed"

    async def confirmed_at_ru() -> dict[str, Any] | None:
        claim_now = await _claim(nodes, exporter, c["number"])
        return claim_now if claim_now["status"] == "confirmed" else None

    done = await _eventually(confirmed_at_ru)  # the BY node's background sender delivers it
    assert done["confirmation"] == a["number"]
    async with nodes["RU"].db.session() as session:
        conf = (
            await session.execute(
                select(TaxConfirmation).where(TaxConfirmation.application_number == a["number"])
            )
        ).scalar_one()
    assert (conf.sender, conf.status, conf.payload["amounts"]) == ("BY", "active", {"RUB": "2400000.00"})
    assert conf.payload["importer"]["region"] == "BY-HM" and conf.payload["seller"]["region"] == "RU-SMO"
    assert [(x["hs_code"], x["value"], x["currency"]) for x in conf.payload["lines"]] == [
        ("851713", "2400000.00", "RUB")
    ]
    assert conf.payload["lines"][0]["invoice"] == conf.payload["invoices"][0]
    async with nodes["BY"].db.session() as session:
        pending = await session.scalar(
            select(func.count())
            .select_from(TaxOutboxMessage)
            .where(TaxOutboxMessage.acknowledged_at.is_(None))
        )
    assert pending == 0


async def test_with_the_link_cut_nothing_is_lost_and_nothing_applied_twice(nodes: dict[str, Node]) -> None:
    exporter, c, importer, officer, a = await _trade(nodes)
    inbox_before = await nodes["RU"].count(TaxInboxMessage)
    await nodes["RU"].stop()  # the link is down: the RU node does not answer
    async with httpx.AsyncClient(base_url=nodes["BY"].base_url, timeout=30) as by:
        ok(await by.post(f"{API}/applications/{a['number']}/confirm", headers=officer))

        async def failed_twice() -> bool:
            async with nodes["BY"].db.session() as session:
                rows = (
                    (
                        await session.execute(
                            select(TaxRegister).where(
                                TaxRegister.direction == "out", TaxRegister.acknowledged_at.is_(None)
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
            return any(r.attempts >= 2 and r.last_error for r in rows)

        await _eventually(failed_twice)  # retried, with backoff, while the peer is down
        status = ok(await by.get(f"{API}/exchange/status", headers=officer))
        assert status["pending_messages"] >= 1 and status["registers_awaiting_ack"] >= 1

        # the importer withdraws meanwhile: the withdrawal queues behind the confirmation
        second = application(exporter.party(), local_today() - timedelta(days=3), [line("10.00", "RUB")])
        b = ok(await by.post(f"{API}/applications", json=second, headers=importer.headers), 201)
        ok(
            await by.post(
                f"{API}/applications/{b['number']}/payments",
                json={"amount": b["total_due"], "paid_on": second["registered_on"], "reference": "P"},
                headers=importer.headers,
            )
        )
        ok(await by.post(f"{API}/applications/{b['number']}/confirm", headers=officer))
        ok(
            await by.post(
                f"{API}/applications/{b['number']}/withdraw",
                json={"reason": "returned"},
                headers=importer.headers,
            )
        )

    await nodes["RU"].start()  # the link is back

    async def delivered() -> bool:
        async with nodes["BY"].db.session() as session:
            left = await session.scalar(
                select(func.count())
                .select_from(TaxOutboxMessage)
                .where(TaxOutboxMessage.acknowledged_at.is_(None))
            )
        return left == 0

    await _eventually(delivered)
    assert (await _claim(nodes, exporter, c["number"]))["status"] == "confirmed"
    assert (
        await nodes["RU"].count(TaxInboxMessage) == inbox_before + 3
    )  # confirmation, confirmation, withdrawal
    async with nodes["RU"].db.session() as session:
        withdrawn = (
            await session.execute(
                select(TaxConfirmation).where(TaxConfirmation.application_number == b["number"])
            )
        ).scalar_one()
    assert withdrawn.status == "withdrawn"

    # the BY node sends its registers again (say the acknowledgement had been lost): applied once only
    async with nodes["BY"].db.session() as session:
        registers = (
            (await session.execute(select(TaxRegister).where(TaxRegister.direction == "out"))).scalars().all()
        )
        last = registers[-1].register_id
        messages = (
            (await session.execute(select(TaxOutboxMessage).where(TaxOutboxMessage.register_id == last)))
            .scalars()
            .all()
        )
    register = {
        "register_id": last,
        "sender": "BY",
        "recipient": "RU",
        "created_at": "2026-01-01T00:00:00+00:00",
        "messages": [
            {"message_id": m.message_id, "kind": m.kind, "payload": m.payload, "signature": m.signature}
            for m in messages
        ],
    }
    r = await _post_register(nodes["RU"], register, nodes["BY"].key_pem)
    assert r.status_code == 200, r.text
    ack = r.json()
    assert ack["applied"] == [] and sorted(ack["already_applied"]) == sorted(m.message_id for m in messages)
    assert await nodes["RU"].count(TaxInboxMessage) == inbox_before + 3


async def _post_register(
    node: Node,
    register: dict[str, Any],
    key_pem: bytes,
    *,
    sender: str = "BY",
    stamp: int | None = None,
    digest: str | None = None,
) -> httpx.Response:
    body = json.dumps(register).encode()
    ts = str(stamp if stamp is not None else int(time.time()))
    key = private_key_from_pem(key_pem)
    headers = {
        "Content-Type": "application/json",
        NODE_HEADER: sender,
        TIMESTAMP_HEADER: ts,
        DIGEST_HEADER: digest or body_digest(body),
        SIGNATURE_HEADER: sign(key, request_bytes("POST", REGISTERS_PATH, ts, sender, body)),
    }
    async with httpx.AsyncClient(base_url=node.base_url, timeout=30) as client:
        return await client.post(REGISTERS_PATH, content=body, headers=headers)


def _forged_confirmation(
    exporter: Business, importer_tax_id: str, invoice: tuple[str, str], key_pem: bytes
) -> dict[str, Any]:
    payload = {
        "application_number": f"BY2026A{uuid.uuid4().int % 10**9:09d}",
        "version": 1,
        "state": "BY",
        "importer": {"country": "BY", "tax_id": importer_tax_id, "name": "x"},
        "seller": exporter.party(),
        "invoices": [{"number": invoice[0], "date": invoice[1]}],
        "amounts": {"RUB": "2400000.00"},
    }
    message_id = str(uuid.uuid4())
    signature = sign(private_key_from_pem(key_pem), message_bytes("BY", message_id, "confirmation", payload))
    return {
        "register_id": str(uuid.uuid4()),
        "sender": "BY",
        "recipient": "RU",
        "created_at": "2026-01-01T00:00:00+00:00",
        "messages": [
            {"message_id": message_id, "kind": "confirmation", "payload": payload, "signature": signature}
        ],
    }


async def test_forged_stale_or_unknown_registers_are_refused_and_change_nothing(
    nodes: dict[str, Node],
) -> None:
    ru = nodes["RU"]
    async with httpx.AsyncClient(base_url=ru.base_url, timeout=30) as client:
        exporter = await business(client, "RU")
        shipped = local_today() - timedelta(days=2)
        importer = outside_party("BY")
        inv = (f"F-{uuid.uuid4().hex[:6]}", shipped)
        c = ok(
            await client.post(
                f"{API}/claims",
                json=claim(importer, shipped, [(*inv, "2400000.00", "RUB")]),
                headers=exporter.headers,
            ),
            201,
        )
    counts = [await ru.count(m) for m in (TaxInboxMessage, TaxConfirmation, TaxRegister)]
    by_key, impostor = nodes["BY"].key_pem, generate_private_key_pem()
    genuine = _forged_confirmation(exporter, importer["tax_id"], (inv[0], inv[1].isoformat()), by_key)

    # a register signed by another key (request and message)
    forged = _forged_confirmation(exporter, importer["tax_id"], (inv[0], inv[1].isoformat()), impostor)
    r = await _post_register(ru, forged, impostor)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    # a request signed by the peer carrying a message signed by someone else
    r = await _post_register(ru, forged, by_key)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.messages[0].signature"
    # a genuine message whose payload was altered in transit
    altered = json.loads(json.dumps(genuine))
    altered["messages"][0]["payload"]["amounts"] = {"RUB": "1.00"}
    r = await _post_register(ru, altered, by_key)
    assert r.status_code == 422
    # an unknown node, and the node's own name
    for sender in ("KZ", "RU"):
        r = await _post_register(ru, genuine, by_key, sender=sender)
        assert r.status_code == 401 and "unknown node" in r.json()["detail"]
    # a stale timestamp (replayed ten minutes later), and a body that is not the one signed
    r = await _post_register(ru, genuine, by_key, stamp=int(time.time()) - 600)
    assert r.status_code == 401 and "timestamp" in r.json()["detail"]
    r = await _post_register(ru, genuine, by_key, digest=body_digest(b"{}"))
    assert r.status_code == 401
    # no signature headers at all
    async with httpx.AsyncClient(base_url=ru.base_url, timeout=30) as client:
        r = await client.post(REGISTERS_PATH, json=genuine)
    assert r.status_code == 401

    assert [await ru.count(m) for m in (TaxInboxMessage, TaxConfirmation, TaxRegister)] == counts
    assert (await _claim(nodes, exporter, c["number"]))["status"] == "pending"

    # the same register, genuinely signed, does confirm the claim: the refusals above were the signatures
    r = await _post_register(ru, genuine, by_key)
    assert r.status_code == 200, r.text
    assert (await _claim(nodes, exporter, c["number"]))["status"] == "confirmed"


async def test_an_acknowledgement_not_signed_by_the_peer_is_not_counted(
    nodes: dict[str, Node], tmp_path: Path
) -> None:
    """The sender checks the receiver's signature: a node that believes another key for its peer retries."""
    from tamga.taxation.exchange import send_pending
    from tamga.taxation.outbox import enqueue

    by = nodes["BY"]
    wrong = by.settings.model_copy(
        update={
            "tax_peer_public_key": public_key_pem(generate_private_key_pem()),
            "tax_retry_base_s": 3600.0,
            "tax_retry_cap_s": 7200.0,
        }
    )
    # the running BY node's own sender must not deliver this one first: use a separate database
    url = f"sqlite+aiosqlite:///{tmp_path / 'by-copy.db'}"
    await upgrade_async(url)
    db = Database(url, pool_size=2)
    try:
        settings = wrong.model_copy(update={"database_url": url})
        async with db.session() as session:
            enqueue(
                session,
                settings,
                "withdrawal",
                {
                    "application_number": "BY2026A999999999",
                    "version": 1,
                    "state": "BY",
                    "importer": {"country": "BY", "tax_id": "190542315", "name": "x"},
                    "seller": {"country": "RU", "tax_id": "7707083893", "name": "y"},
                    "invoices": [],
                    "amounts": {},
                },
            )
            await commit(session)
        report = await send_pending(db, settings)
        # the RU node accepts the request (signed with the BY key it knows) and answers a signed
        # acknowledgement, which this sender cannot verify with the wrong key for RU: not delivered
        assert report.registers_sent == 0 and report.failures
        assert "signature" in report.failures[0]
        async with db.session() as session:
            register = (await session.execute(select(TaxRegister))).scalar_one()
        assert register.acknowledged_at is None and register.attempts == 1
        assert register.next_attempt_at is not None
        assert Decimal((register.next_attempt_at - register.created_at).total_seconds()) > 3000
    finally:
        await db.dispose()


async def test_the_same_register_twice_at_once_is_applied_once(nodes: dict[str, Node]) -> None:
    ru = nodes["RU"]
    async with httpx.AsyncClient(base_url=ru.base_url, timeout=30) as client:
        exporter = await business(client, "RU")
    importer = outside_party("BY")
    register = _forged_confirmation(
        exporter, importer["tax_id"], ("DUP-1", "2026-11-01"), nodes["BY"].key_pem
    )
    before = await ru.count(TaxInboxMessage)
    first, second = await asyncio.gather(
        _post_register(ru, register, nodes["BY"].key_pem), _post_register(ru, register, nodes["BY"].key_pem)
    )
    assert {first.status_code, second.status_code} <= {200, 409} and 200 in (
        first.status_code,
        second.status_code,
    )
    assert await ru.count(TaxInboxMessage) == before + 1
    again = await _post_register(ru, register, nodes["BY"].key_pem)
    assert again.status_code == 200 and again.json()["applied"] == []


async def test_each_node_serves_its_own_state(nodes: dict[str, Node]) -> None:
    async with httpx.AsyncClient(base_url=nodes["RU"].base_url, timeout=30) as ru:
        belarusian = await business(ru, "BY")  # a Belarusian business registered at the Russian node
        shipped = local_today() - timedelta(days=1)
        body = claim(outside_party("RU"), shipped, [("X-1", shipped, "10.00", "BYN")])
        r = await ru.post(f"{API}/claims", json=body, headers=belarusian.headers)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.exporter"
        app_body = application(outside_party("RU"), shipped, [line("10.00", "RUB")])
        r = await ru.post(f"{API}/applications", json=app_body, headers=belarusian.headers)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.importer"


async def test_the_audit_chains_of_both_nodes_hold(nodes: dict[str, Node]) -> None:
    from tamga.audit.service import verify as verify_audit

    for node in nodes.values():
        async with node.db.session() as session:
            report = await verify_audit(session)
        assert report.ok, report.findings
        assert report.records > 0
