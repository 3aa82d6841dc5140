"""Tables of the clearance feature."""

from __future__ import annotations
