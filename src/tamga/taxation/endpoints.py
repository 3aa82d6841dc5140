"""HTTP endpoints of the taxation package (mounted under /api/v1 by tamga.app)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["taxation"])
