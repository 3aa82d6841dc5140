"""`tamga ingest`, the real CLI, in a process of its own, for the tests that need one."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tamga.kit.db import Database
from tamga.models import Alarm
from tamga.simulate.devices import EgtsDevice


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`tamga ingest` in a process of its own."""

    def __init__(self, url: str, port: int, log: Path) -> None:
        self.url, self.port, self.log = url, port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, **settings: str) -> None:
        """Start it on the database and EGTS port, with these `TAMGA_` settings (name: value) besides."""
        tamga = Path(sys.executable).with_name("tamga")
        command = [str(tamga)] if tamga.exists() else [sys.executable, "-m", "tamga.cli"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAMGA_")}
        env.update(
            TAMGA_DATABASE_URL=self.url,
            TAMGA_GATEWAY_HOST="127.0.0.1",
            TAMGA_EGTS_PORT=str(self.port),
            TAMGA_WIALON_ENABLED="false",
            TAMGA_INGEST_MAX_MESSAGES_PER_S="100000",
            TAMGA_INGEST_MESSAGE_BURST="100000",
            TAMGA_ARGON2_TIME_COST="1",
            TAMGA_ARGON2_MEMORY_KIB="1024",
        )
        env.update({f"TAMGA_{name.upper()}": value for name, value in settings.items()})
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "ingest", "--no-migrate"], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    async def ready(self, wait_s: float = 30) -> None:
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(
                    f"tamga ingest exited {self.process.returncode}:\n{self.log.read_text()}"
                )
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"tamga ingest did not listen:\n{self.log.read_text()}") from None
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


async def alarms_after_egts(
    server: Server, db: Database, movement_id: int, device_id: str, fixes: Any
) -> list[str]:
    """Send the fixes to the running server's EGTS port as a terminal (every record must be confirmed),
    then give the rules of the movement's alarms once there are any (or after 90 s: a cold start loads
    the boundaries and compiles the engine first)."""
    await server.ready()
    terminal = EgtsDevice(device_id, 7, "127.0.0.1", server.port)
    await terminal.connect()
    try:
        assert await terminal.send(fixes) == 0  # every record confirmed
    finally:
        await terminal.close()
    query = select(Alarm.rule).where(Alarm.movement_id == movement_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 90
    while True:
        async with db.session() as session:
            rules = list((await session.execute(query)).scalars().all())
        if rules or loop.time() > deadline:
            return rules
        await asyncio.sleep(0.2)
