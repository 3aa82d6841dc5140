"""Tables of the taxation feature."""

from __future__ import annotations
