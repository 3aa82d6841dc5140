"""/reference: the reference data the platform validates against, with its sources."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from tamga.kit.errors import NotFound
from tamga.reference.catalog import load_catalog

router = APIRouter(prefix="/reference", tags=["reference"])


class Office(BaseModel):
    code: str
    country: str
    role: str
    roles: list[str]
    names: dict[str, str]
    lat: float
    lon: float
    region: str
    border_with: str | None
    illustrative: bool


class Source(BaseModel):
    file: str
    version: str
    source: str


@router.get("/offices", response_model=list[Office])
async def offices(country: str | None = Query(default=None, pattern=r"^(RU|BY)$")) -> list[Office]:
    """List the customs offices of both states (or of one)."""
    return [
        Office(
            code=o.code,
            country=o.country,
            role=o.role,
            roles=sorted(o.roles),
            names={"ru": o.name_ru, "be": o.name_be, "en": o.name_en},
            lat=o.lat,
            lon=o.lon,
            region=o.region,
            border_with=o.border_with,
            illustrative=o.illustrative,
        )
        for o in load_catalog().offices(country)
    ]


@router.get("/hs/{code}")
async def hs_code(code: str) -> dict[str, Any]:
    """Give an HS 2022 heading (6 digits) or an EAEU subheading (10 digits)."""
    catalog = load_catalog()
    if len(code) == 10 and (sub := catalog.subheading(code)) is not None:
        return {
            "code": sub.code,
            "description_en": sub.description_en,
            "description_ru": sub.description_ru,
            "unit": sub.unit,
            "illustrative": sub.illustrative,
        }
    if len(code) == 6 and (h := catalog.hs6(code)) is not None:
        return {"code": h.code, "description": h.description, "section": h.section, "chapter": h.chapter}
    raise NotFound(f"no HS code {code}")


@router.get("/sources", response_model=list[Source])
async def sources() -> list[Source]:
    """Name each reference data file's version and source."""
    return [Source(file=f, version=v, source=s) for f, (v, s) in sorted(load_catalog().sources().items())]
