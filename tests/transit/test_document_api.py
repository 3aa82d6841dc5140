"""GET /movements/{ref}/document over the live server, on each database: the document of 1,999 items
(about a second of rendering) renders while the requests that arrive meanwhile are served."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from tests.support.builders import BREST, declaration, item, ok, world

from tamga.transit import endpoints
from tamga.transit.document import TransitDocumentData


async def test_a_long_document_renders_while_other_requests_are_served(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = await world(http, seals=1)
    items = [item(n, description=f"lot {n}", value="10.00") for n in range(1, 2000)]
    m = ok(await http.post("/api/v1/movements", json=declaration(w, items=items), headers=w.declarant), 201)
    ok(await http.post(f"/api/v1/movements/{m['id']}/accept", headers=w.officer(BREST)))
    rendering, rendered = threading.Event(), threading.Event()
    render = endpoints.render_transit_document

    def observed(data: TransitDocumentData) -> bytes:
        rendering.set()
        try:
            return render(data)
        finally:
            rendered.set()

    monkeypatch.setattr(endpoints, "render_transit_document", observed)
    url = f"/api/v1/movements/{m['id']}/document"
    document = asyncio.create_task(http.get(url, headers=w.declarant))
    assert await asyncio.to_thread(rendering.wait, 60)
    # a request that needs the database (on SQLite its one connection) while the document renders
    other = ok(await http.get("/api/v1/movements", params={"limit": 1}, headers=w.declarant))
    assert not rendered.is_set(), "the request waited for the rendering"
    assert other["items"]
    pdf = await document
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
