"""`tamga clearance queue | show | accounts | statement` against a real database."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from tests.clearance.support import SMOLENSK, declarant, declaration, funded_account, officer, prepare
from tests.conftest import Backend
from tests.support.builders import PASSWORD, admin, ok
from typer.testing import CliRunner

from tamga.clearance.cli import app
from tamga.config import get_settings


@pytest.fixture
def on_backend(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Backend]:
    monkeypatch.setenv("TAMGA_DATABASE_URL", backend.url)
    get_settings.cache_clear()
    yield backend
    get_settings.cache_clear()


async def _cli(*args: str) -> tuple[int, str]:
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


async def test_queue_show_and_statement(on_backend: Backend, http: httpx.AsyncClient) -> None:
    await prepare(on_backend)
    operator_id, headers = await declarant(http)
    account_id = await funded_account(http, operator_id, "1234.56", await officer(http, SMOLENSK))
    d = ok(await http.post("/api/v1/declarations", json=declaration(SMOLENSK), headers=headers), 201)

    code, out = await _cli("queue", "--office", SMOLENSK)
    assert code == 0, out
    assert d["ref"] in out and "RP-TEST-SMOLENSK-RED" in out

    code, out = await _cli("show", d["ref"])
    assert code == 0, out
    assert d["registration_number"] in out and "lane red" in out
    assert "RP-TEST-SMOLENSK-RED" in out and f"total {d['total_payable']} RUB" in out

    code, out = await _cli("statement", str(account_id))
    assert code == 0, out
    assert "1234.56" in out and "deposit" in out

    code, out = await _cli("show", "10113110-010101-9999999")
    assert code == 1 and "no goods declaration" in out


async def test_an_officer_takes_inspects_and_releases_from_the_console(
    on_backend: Backend, http: httpx.AsyncClient
) -> None:
    await prepare(on_backend)
    operator_id, headers = await declarant(http)
    await funded_account(http, operator_id, "100000000.00", await officer(http, SMOLENSK))
    name = f"officer.cli.{operator_id}"
    body = {
        "username": name,
        "password": PASSWORD,
        "role": "customs_officer",
        "country": "RU",
        "office_code": SMOLENSK,
    }
    ok(await http.post("/api/v1/users", json=body, headers=await admin(http)), 201)
    d = ok(await http.post("/api/v1/declarations", json=declaration(SMOLENSK), headers=headers), 201)

    code, out = await _cli("release", d["ref"], "--as", name)
    assert code == 1, out  # not taken yet: an illegal transition, refused
    code, out = await _cli("take", d["ref"], "--as", name)
    assert code == 0 and "in_control" in out, out
    args = ("--kind", "inspection", "--outcome", "compliant", "--note", "seals intact")
    code, out = await _cli("results", d["ref"], "--as", name, *args)
    assert code == 0, out
    code, out = await _cli("release", d["ref"], "--as", name)
    assert code == 0 and "released" in out, out
    got = ok(await http.get(f"/api/v1/declarations/{d['ref']}", headers=headers))
    assert got["status"] == "released"
    assert any(h["actor"].startswith("user:") and h["action"] == "release" for h in got["history"])
    code, out = await _cli("take", d["ref"], "--as", "nobody-here")
    assert code == 1 and "no active account" in out
