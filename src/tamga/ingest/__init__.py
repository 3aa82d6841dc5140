"""Device protocol gateways for electronic navigation seals: pure codecs (`egts`, `wialon`), the
protocol-neutral `Fix` they produce, and the per-model profiles that turn inputs into seal state."""

from tamga.ingest.fix import Fix

__all__ = ["Fix"]
