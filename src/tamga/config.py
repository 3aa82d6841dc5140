"""Settings: one object, read from the environment with the TAMGA_ prefix."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every tunable of the platform; defaults run the embedded set-up (SQLite, in-process bus)."""

    model_config = SettingsConfigDict(env_prefix="TAMGA_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{Path('var/tamga.db')}",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    # Connections per process, opened once and kept (no overflow): requests beyond them wait their turn.
    # PostgreSQL does more work, not less, with more concurrent transactions than the cores can run:
    # with 50 clients on the transit path, 12 connections gave 180 movements/s and 3.0 ms of database
    # CPU per movement, 20 + 20 overflow gave 135/s and 5.9 ms (bench/transit_api.py, 2 cores).
    # PostgreSQL's: a SQLite file is served through one connection (`kit.db.SQLITE_POOL_SIZE`).
    database_pool_size: int = 12
    database_echo: bool = False

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    egts_port: int = 5020
    wialon_port: int = 5021

    # Device gateways (`tamga ingest`, and `tamga serve` unless --no-gateways): EGTS and Wialon IPS over
    # TCP on `gateway_host`, MQTT when `mqtt_url` is set. `gateways_in_app` runs them in the HTTP app's
    # lifespan (what `tamga serve` sets; off for apps built by tests and scripts).
    gateway_host: str = "127.0.0.1"
    egts_enabled: bool = True
    wialon_enabled: bool = True
    gateways_in_app: bool = False
    mqtt_url: str | None = Field(default=None, description="mqtt://[user:password@]host:port; unset: no MQTT")
    mqtt_topic: str = "tamga/telemetry/{device_id}"
    mqtt_client_id: str = "tamga-ingest"
    # Per connection: cut when silent this long, when more than this is buffered undecoded, when a frame
    # or line is longer, when messages come faster than the rate (over the burst), after this many
    # undecodable messages. Other connections are not affected.
    ingest_idle_timeout_s: float = 900.0
    ingest_max_buffered_bytes: int = 2 * 1024 * 1024
    ingest_max_frame_bytes: int = 65553  # the longest EGTS frame: 16-byte header, 65535 data, CRC
    ingest_max_line_bytes: int = 1024 * 1024  # a Wialon black box of 5000 messages fits
    ingest_max_messages_per_s: float = 50.0
    ingest_message_burst: int = 500
    ingest_max_decode_errors: int = 5
    ingest_bus_max_queued: int = 200_000

    # The fix bus from the gateways to the monitoring. Unset: in the process (the embedded default; the
    # fixes are monitored in the process that stored them). A NATS server with JetStream: the gateways
    # publish to the stream, and one process consumes it through the durable consumer `bus_consumer`
    # (`tamga serve`, or `tamga monitor` beside several API workers); `tamga ingest` then runs the
    # gateways only. The stream keeps at most `bus_max_age_s` and `bus_max_bytes`, the oldest dropped
    # first (the `fixes` table is the record; the monitoring catches up from it).
    bus_url: str | None = Field(
        default=None,
        pattern=r"^(nats|tls)://",
        description="nats://host:4222 (JetStream): the fix bus between processes; unset: in the process",
    )
    bus_stream: str = Field(default="TAMGA_FIXES", pattern=r"^[A-Za-z0-9_-]+$")
    bus_subject: str = "tamga.fixes"
    bus_consumer: str = Field(default="monitoring", pattern=r"^[A-Za-z0-9_-]+$")
    bus_max_age_s: float = Field(default=86_400.0, gt=0)
    bus_max_bytes: int = Field(default=1 << 30, gt=0)

    # Monitoring: the bus consumer and the time tick run in the HTTP app's lifespan, and (in-process bus
    # only) in `tamga ingest` beside its gateways, when `monitoring_in_app` is on; the corridor is this
    # wide on each side of the declared route.
    monitoring_in_app: bool = True
    monitoring_corridor_width_m: float = 500.0
    monitoring_batch_max_items: int = 5000
    # a batch waits at most this long for company: under load batches fill while the previous one runs,
    # and a fix's alarm reaches the live stream within a second
    monitoring_batch_max_wait_s: float = 0.05
    monitoring_tick_s: float = 60.0

    jwt_secret: SecretStr = SecretStr("change-me-in-production-this-is-the-embedded-default")
    jwt_issuer: str = "tamga"
    jwt_ttl_minutes: int = 60

    # How long a resolved token or key is trusted without a database lookup (0: never cached).
    principal_cache_seconds: float = 5.0

    # argon2id cost of new password hashes; lower only for tests.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536

    # Failed logins: from `login_slowdown_after` failures on, every attempt waits
    # `login_slowdown_base_s * 2**(n - after)` (capped); `login_lockout_after` failures lock
    # the account for `login_lockout_minutes`.
    login_slowdown_after: int = 3
    login_slowdown_base_s: float = 0.25
    login_slowdown_cap_s: float = 4.0
    login_lockout_after: int = 10
    login_lockout_minutes: int = 15

    max_body_bytes: int = 4 * 1024 * 1024

    # Transit time limit: days = ceil(route km / norm), never beyond the EAEU Customs Code
    # art. 144 ceiling of 2,000 km per month for road transport.
    transit_speed_norm_km_per_day: Decimal = Decimal(500)
    transit_legal_km_per_month: Decimal = Decimal(2000)

    demo_seed: int = 7

    # Taxation of mutual trade (tamga.taxation): the tax authority this node serves (RU or BY; unset: one
    # node for both states, confirmations applied locally), its Ed25519 private key (PKCS#8 PEM file), the
    # peer node's base URL and public key (PEM text or a path to a PEM file). The sender and the daily
    # deadline tick run in the HTTP app's lifespan when `tax_tasks_in_app` is on.
    tax_node: str | None = Field(default=None, pattern=r"^(RU|BY)$")
    tax_private_key_path: Path | None = None
    tax_peer_url: str | None = None
    tax_peer_public_key: str | None = None
    tax_tasks_in_app: bool = True
    tax_send_interval_s: float = 10.0
    tax_retry_base_s: float = 5.0
    tax_retry_cap_s: float = 3600.0
    tax_request_max_skew_s: float = 300.0
    tax_deadlines_tick_s: float = 3600.0
    tax_register_max_messages: int = 500


@cache
def get_settings() -> Settings:
    """Give the process-wide settings, read once."""
    return Settings()
