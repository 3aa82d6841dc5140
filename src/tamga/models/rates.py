"""Tables of the rates feature."""

from __future__ import annotations
