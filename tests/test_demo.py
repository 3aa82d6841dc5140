"""`tamga demo` (what `make demo` runs) seeds a fresh SQLite database and drives movements to discharge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import _free_port


def test_demo_lodges_releases_and_discharges(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TAMGA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        "TAMGA_HTTP_PORT": str(_free_port()),
        "COLUMNS": "200",
    }
    tamga = Path(sys.executable).with_name("tamga")
    run = subprocess.run(
        [str(tamga), "demo", "--no-serve", "--movements", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("│ discharged │") == 3, run.stdout
    assert "RUB" in run.stdout and "BYN" in run.stdout

    verify = subprocess.run(
        [str(tamga), "audit", "verify"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert verify.returncode == 0 and "intact" in verify.stdout, verify.stdout + verify.stderr
