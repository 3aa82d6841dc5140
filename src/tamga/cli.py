"""The `tamga` command: serve, migrate, manage users, verify the audit chain, run the demo."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tamga.auth.domain import Role
from tamga.clearance.cli import app as clearance_app
from tamga.config import get_settings
from tamga.rates.cli import app as rates_app
from tamga.taxation.cli import app as tax_app

app = typer.Typer(help="tamga: cross-border trade platform of the Union State", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
users_app = typer.Typer(help="People's accounts", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit record", no_args_is_help=True)
transit_app = typer.Typer(help="Transit procedure tasks", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(transit_app, name="transit")
app.add_typer(rates_app, name="rates")
app.add_typer(clearance_app, name="clearance")
app.add_typer(tax_app, name="tax")
console = Console()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: TAMGA_HTTP_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default: TAMGA_HTTP_PORT or 8000")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
    migrate: Annotated[bool, typer.Option(help="upgrade the schema first")] = True,
    gateways: Annotated[
        bool, typer.Option(help="run the device gateways (EGTS, Wialon IPS, MQTT) in the same process")
    ] = True,
) -> None:
    """Serve the HTTP API, and the device gateways with it (one worker; else run `tamga ingest`).

    With TAMGA_BUS_URL (NATS JetStream) and several workers, the workers do not monitor: run
    `tamga monitor` once beside them."""
    import uvicorn

    from tamga.kit.migrate import upgrade

    settings = get_settings()
    if migrate:
        upgrade(settings.database_url)
    bind_host, bind_port = host or settings.http_host, port or settings.http_port
    if gateways and workers == 1:
        from tamga.app import create_app

        in_app = settings.model_copy(update={"gateways_in_app": True})
        uvicorn.run(create_app(in_app), host=bind_host, port=bind_port, log_level="warning", access_log=False)
        return
    if gateways:
        console.print(
            "[yellow]several workers: the gateways are not started; run `tamga ingest` "
            + ("(it publishes what they store)" if settings.bus_url else "(it monitors what they store)")
            + "[/yellow]"
        )
    if settings.bus_url:
        # one consumer of the bus for the whole installation, not one per worker (the workers read
        # their settings from the environment)
        os.environ["TAMGA_MONITORING_IN_APP"] = "false"
        console.print("[yellow]fix bus on NATS: the workers publish; run `tamga monitor` once[/yellow]")
    uvicorn.run(
        "tamga.app:create_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@app.command()
def ingest(
    migrate: Annotated[bool, typer.Option(help="upgrade the schema first")] = True,
) -> None:
    """Run the device gateways (EGTS, Wialon IPS, MQTT as configured) without the HTTP API, and the
    monitoring of the fixes they store (unless TAMGA_MONITORING_IN_APP=false).

    With TAMGA_BUS_URL (NATS JetStream) it runs the gateways only and publishes what they store; the
    monitoring runs in `tamga serve` or `tamga monitor`."""
    from tamga.auth.security import configure_password_hashing
    from tamga.ingest.bus import FixBus
    from tamga.ingest.gateways import run_until_stopped
    from tamga.kit.db import Database
    from tamga.kit.migrate import upgrade
    from tamga.monitoring.service import AlarmHub
    from tamga.monitoring.tasks import AlarmRelay, MonitoringTasks

    settings = get_settings()
    if migrate:
        upgrade(settings.database_url)
    configure_password_hashing(settings.argon2_time_cost, settings.argon2_memory_kib)

    def announce(line: str) -> None:
        console.print(f"ingest: {line}")

    def monitoring(db: Database, bus: FixBus) -> MonitoringTasks:
        announce("monitoring the fixes stored here")
        hub = AlarmHub()  # no live streams here: on PostgreSQL the alarms it raises go to the API's
        relay = AlarmRelay.for_database(db, hub, listen=False)
        return MonitoringTasks(db, bus, settings, hub, relay=relay)

    in_process = settings.monitoring_in_app and not settings.bus_url
    asyncio.run(run_until_stopped(settings, announce, monitoring if in_process else None))


@app.command()
def monitor() -> None:
    """Run the monitoring alone: consume the NATS JetStream fix bus (TAMGA_BUS_URL) through its durable
    consumer, apply the time rules, and relay alarm changes to the API processes (PostgreSQL). One such
    process (or one `tamga serve` with its monitoring on) per installation."""
    import signal

    from tamga.ingest.nats_bus import NatsBusConfig, NatsFixConsumer
    from tamga.kit.db import Database
    from tamga.monitoring.service import AlarmHub
    from tamga.monitoring.tasks import AlarmRelay, MonitoringTasks

    settings = get_settings()
    if not settings.bus_url:
        console.print(
            "[red]TAMGA_BUS_URL is not set[/red]: with the in-process bus, the fixes are monitored in the "
            "process that stores them (`tamga serve`, `tamga ingest`)"
        )
        raise typer.Exit(2)
    config = NatsBusConfig.from_settings(settings)

    async def run() -> None:
        db = Database(settings.database_url, pool_size=settings.database_pool_size)
        hub = AlarmHub()  # no live streams here: on PostgreSQL the alarms it raises go to the API's
        tasks = MonitoringTasks(
            db, NatsFixConsumer(config), settings, hub, relay=AlarmRelay.for_database(db, hub, listen=False)
        )
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        tasks.start()
        console.print(f"monitor: consuming {config.stream} on {config.url} as {config.consumer}")
        try:
            await stopping.wait()
        finally:
            await tasks.stop()
            await db.dispose()

    asyncio.run(run())


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Bring the database schema up to date (Alembic)."""
    from tamga.kit.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url, revision)
    console.print(f"[green]schema at {revision}[/green] on {settings.database_url.split('@')[-1]}")


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(case_sensitive=False)],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    country: Annotated[str | None, typer.Option(help="RU or BY, for state roles")] = None,
    office: Annotated[str | None, typer.Option(help="customs office code, for officers")] = None,
    operator_id: Annotated[int | None, typer.Option(help="economic operator, for businesses")] = None,
    full_name: str = "",
) -> None:
    """Create a person's account."""
    from tamga.auth import service
    from tamga.kit.db import Database, commit
    from tamga.kit.errors import TamgaError

    async def run() -> int:
        settings = get_settings()
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                user = await service.create_user(
                    session,
                    None,
                    username=username,
                    password=password,
                    role=role,
                    full_name=full_name,
                    country=country,
                    office_code=office,
                    operator_id=operator_id,
                )
                await commit(session)
                return user.id
        finally:
            await db.dispose()

    try:
        user_id = asyncio.run(run())
    except TamgaError as exc:
        console.print(f"[red]refused:[/red] {exc.detail}")
        raise typer.Exit(2) from exc
    console.print(f"[green]created user {username}[/green] (id {user_id}, {role.value})")


def _set_active(username: str, active: bool) -> None:
    from tamga.auth import service
    from tamga.kit.db import Database, commit
    from tamga.kit.errors import TamgaError

    async def run() -> None:
        db = Database(get_settings().database_url)
        try:
            async with db.session() as session:
                user = await service.user_named(session, username)
                await service.set_user_active(session, None, user.id, active=active)
                await commit(session)
                await service.revoked(session, f"user:{user.id}")
        finally:
            await db.dispose()

    try:
        asyncio.run(run())
    except TamgaError as exc:
        console.print(f"[red]refused:[/red] {exc.detail}")
        raise typer.Exit(2) from exc
    console.print(f"[green]{username} {'reactivated' if active else 'deactivated'}[/green]")


@users_app.command("deactivate")
def users_deactivate(username: str) -> None:
    """Deactivate a person's account: its tokens stop working and it cannot log in (audited)."""
    _set_active(username, False)


@users_app.command("reactivate")
def users_reactivate(username: str) -> None:
    """Reactivate a deactivated account (audited); also for an administrator who cannot log in."""
    _set_active(username, True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every audit record against the hash chain; exit 1 on any break."""
    from tamga.audit.service import verify
    from tamga.kit.db import Database

    async def run() -> tuple[int, list[tuple[int, int, str]]]:
        db = Database(get_settings().database_url)
        try:
            async with db.session() as session:
                report = await verify(session)
                return report.records, [(f.chain, f.seq, f.problem) for f in report.findings]
        finally:
            await db.dispose()

    count, findings = asyncio.run(run())
    if not findings:
        console.print(f"[green]audit chain intact[/green]: {count} records")
        return
    table = Table("chain", "record", "problem", title=f"audit chain BROKEN ({count} records read)")
    for chain, seq, problem in findings:
        table.add_row(str(chain), str(seq), problem)
    console.print(table)
    raise typer.Exit(1)


@transit_app.command("enquiries")
def transit_enquiries() -> None:
    """Open non-arrival enquiries for every movement past its time limit."""
    from tamga.kit.db import Database, commit
    from tamga.transit.service import open_overdue_enquiries

    async def run() -> list[str]:
        db = Database(get_settings().database_url)
        try:
            async with db.session() as session:
                opened = await open_overdue_enquiries(session)
                await commit(session)
                return opened
        finally:
            await db.dispose()

    opened = asyncio.run(run())
    console.print(f"opened {len(opened)} enquiries" + (": " + ", ".join(opened) if opened else ""))


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="default: TAMGA_HTTP_PORT or 8000")] = None,
    movements: Annotated[int, typer.Option(help="sample movements to run through the procedure")] = 6,
    trucks: Annotated[int, typer.Option(help="simulated trucks under seal, one per released movement")] = 6,
    speed_up: Annotated[float, typer.Option(help="simulated seconds per real second")] = 600.0,
    sim_hours: Annotated[
        float | None, typer.Option(help="simulated hours to drive; default: every truck to its end")
    ] = None,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="keep serving after the demo")
    ] = True,
) -> None:
    """Seed the platform, run movements to discharge, then drive trucks under seal through the gateways.

    Serves the API (TAMGA_HTTP_PORT), EGTS (TAMGA_EGTS_PORT) and Wialon IPS (TAMGA_WIALON_PORT) on
    127.0.0.1, and MQTT when TAMGA_MQTT_URL is set; exit 1 if a truck failed.
    """
    from tamga.demo import run_demo

    code = run_demo(
        get_settings(),
        port=port,
        movements=movements,
        serve_after=serve_after,
        console=console,
        trucks=trucks,
        speed_up=speed_up,
        sim_hours=sim_hours,
    )
    sys.exit(code)


@app.command()
def simulate(
    trucks: Annotated[int, typer.Option(help="trucks to drive (at most one per seal)")] = 3,
    speed_up: Annotated[float, typer.Option(help="simulated seconds per real second")] = 600.0,
    duration: Annotated[
        float | None, typer.Option(help="simulated hours to drive; default: every truck to its end")
    ] = None,
    egts_host: Annotated[str, typer.Option(help="host of the EGTS and Wialon IPS gateways")] = "127.0.0.1",
    egts_port: Annotated[int | None, typer.Option(help="default: TAMGA_EGTS_PORT or 5020")] = None,
    wialon_port: Annotated[int | None, typer.Option(help="default: TAMGA_WIALON_PORT or 5021")] = None,
    mqtt_url: Annotated[
        str | None, typer.Option(help="broker for MQTT seals; default: TAMGA_MQTT_URL")
    ] = None,
    seed: Annotated[int, typer.Option(help="the same seed drives the same tracks and incidents")] = 1,
    device_file: Annotated[
        Path | None,
        typer.Option(help="CSV of device_id,protocol,secret; default: the seals in TAMGA_DATABASE_URL"),
    ] = None,
) -> None:
    """Drive simulated trucks along the Union's corridors, reporting to the gateways over the real protocols.

    Without --device-file the seals in service are read from the database, with the secrets `tamga demo`
    gave them. Exit 1 if any truck failed. The monitoring of a `tamga serve` judges fixes by the wall
    clock and refuses those more than five minutes ahead of it: to see alarms from accelerated trucks,
    run `tamga demo`, whose monitoring runs on the simulation's clock (or drive with --speed-up 1).
    """
    from datetime import timedelta

    from tamga.kit.clock import utcnow
    from tamga.simulate.runner import (
        Endpoints,
        plan_fleet,
        read_device_file,
        run_with_progress,
        seals_from_database,
    )

    settings = get_settings()
    seals = (
        read_device_file(device_file)
        if device_file is not None
        else asyncio.run(seals_from_database(settings.database_url))
    )[:trucks]
    if not seals:
        console.print("[red]no seals to drive[/red]: run `tamga demo` or give --device-file")
        raise typer.Exit(2)
    endpoints = Endpoints(
        host=egts_host,
        egts_port=egts_port or settings.egts_port,
        wialon_port=wialon_port or settings.wialon_port,
        mqtt_url=mqtt_url or settings.mqtt_url,
        mqtt_topic=settings.mqtt_topic,
    )
    start = utcnow().replace(microsecond=0)
    plans = plan_fleet(seals, seed=seed, start=start)
    span = timedelta(hours=duration) if duration is not None else None
    results = asyncio.run(
        run_with_progress(console, plans, endpoints, start=start, speed_up=speed_up, duration=span)
    )
    table = Table("device", "protocol", "corridor", "incidents", "live", "black box", "resent", "error")
    for r in results:
        row = (r.device_id, r.protocol, r.corridor, ", ".join(r.incidents), str(r.live), str(r.black_box))
        table.add_row(*row, str(r.retransmitted), r.error or "")
    console.print(table)
    if any(r.error for r in results):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
