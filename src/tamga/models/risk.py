"""Tables of the risk feature."""

from __future__ import annotations
