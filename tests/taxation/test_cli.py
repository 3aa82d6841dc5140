"""`tamga tax`: keygen, deadlines and send, run as the operators of a node would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tamga.kit.migrate import upgrade_async
from tamga.taxation.signing import load_private_key, load_public_key, sign, verify

TAMGA = [sys.executable, "-m", "tamga.cli"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TAMGA, "tax", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


async def test_keygen_deadlines_and_send(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'node.db'}"
    await upgrade_async(url)
    env = {"TAMGA_DATABASE_URL": url, "COLUMNS": "200"}

    key_path = tmp_path / "keys" / "ru.pem"
    made = _run(["keygen", str(key_path)], env)
    assert made.returncode == 0, made.stderr
    assert key_path.stat().st_mode & 0o777 == 0o600
    private, public = load_private_key(key_path), load_public_key(made.stdout)
    assert verify(public, b"register", sign(private, b"register"))

    deadlines = _run(["deadlines", "--today", "2026-07-13"], env)
    assert deadlines.returncode == 0 and "lapsed to the standard rate: 0" in deadlines.stdout

    refused = _run(["send"], env)
    assert refused.returncode == 2 and "TAMGA_TAX_NODE" in refused.stdout
    nothing = _run(
        ["send"],
        {
            **env,
            "TAMGA_TAX_NODE": "RU",
            "TAMGA_TAX_PRIVATE_KEY_PATH": str(key_path),
            "TAMGA_TAX_PEER_URL": "http://127.0.0.1:9",
        },
    )
    assert nothing.returncode == 0 and "registers acknowledged: 0" in nothing.stdout
