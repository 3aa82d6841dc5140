"""`tamga demo` (what `make demo` runs) seeds a fresh SQLite database, drives movements to discharge, and
drives trucks under seal through the EGTS and Wialon IPS gateways in accelerated time, so that their fixes
are stored and the monitoring raises alarms."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import _free_port


def test_demo_discharges_movements_and_monitors_trucks_through_the_gateways(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    env = {
        **os.environ,
        "TAMGA_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "TAMGA_HTTP_PORT": str(_free_port()),
        "TAMGA_EGTS_PORT": str(_free_port()),
        "TAMGA_WIALON_PORT": str(_free_port()),
        "TAMGA_ARGON2_TIME_COST": "1",
        "TAMGA_ARGON2_MEMORY_KIB": "1024",
        "COLUMNS": "200",
    }
    env.pop("TAMGA_MQTT_URL", None)
    tamga = Path(sys.executable).with_name("tamga")
    # Two trucks: one over Wialon IPS on the M7 (a detour, a stop in a field), one over EGTS on the M6
    # (a lost signal); two simulated hours at 1200x.
    command = ["demo", "--no-serve", "--movements", "3", "--trucks", "2", "--speed-up", "1200"]
    run = subprocess.run(
        [str(tamga), *command, "--sim-hours", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("│ discharged │") == 3, run.stdout
    assert "RUB" in run.stdout and "BYN" in run.stdout
    assert "trucks under seal" in run.stdout and "/docs" in run.stdout

    with sqlite3.connect(database) as db:
        by_protocol = dict(db.execute("SELECT protocol, count(*) FROM fixes GROUP BY protocol").fetchall())
        rules = {rule for (rule,) in db.execute("SELECT rule FROM alarms").fetchall()}
        arrived = db.execute("SELECT count(*) FROM movements WHERE status = 'released'").fetchone()[0]
    assert by_protocol.get("egts", 0) > 80 and by_protocol.get("wialon_ips", 0) > 80, by_protocol
    assert {"corridor_deviation", "unscheduled_stop", "signal_lost"} <= rules, rules
    assert arrived == 2  # neither truck reached its end in two hours: both still under monitoring

    verify = subprocess.run(
        [str(tamga), "audit", "verify"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert verify.returncode == 0 and "intact" in verify.stdout, verify.stdout + verify.stderr
