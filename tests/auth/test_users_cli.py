"""`tamga users deactivate` and `reactivate` on each database: for whoever runs the platform's shell,
including when no administrator can log in."""

from __future__ import annotations

from tests.support.builders import tag
from typer.testing import CliRunner

from tamga.cli import app


def test_an_account_is_deactivated_and_reactivated_from_the_shell(cli: CliRunner) -> None:
    name = f"shell.{tag()}"
    made = cli.invoke(
        app,
        [
            "users",
            "create",
            name,
            "--role",
            "tax_officer",
            "--country",
            "RU",
            "--password",
            "pw-for-the-shell",
        ],
    )
    assert made.exit_code == 0, made.output
    off = cli.invoke(app, ["users", "deactivate", name])
    assert off.exit_code == 0 and "deactivated" in off.output, off.output
    again = cli.invoke(app, ["users", "deactivate", name])  # nothing changes
    assert again.exit_code == 0, again.output
    on = cli.invoke(app, ["users", "reactivate", name])
    assert on.exit_code == 0 and "reactivated" in on.output, on.output
    missing = cli.invoke(app, ["users", "deactivate", "nobody-of-that-name"])
    assert missing.exit_code == 2 and "no user" in missing.output, missing.output
    # the administrator, whom the API will not let deactivate themself, can be from the shell
    admin_off = cli.invoke(app, ["users", "deactivate", "admin"])
    assert admin_off.exit_code == 0, admin_off.output
    assert cli.invoke(app, ["users", "reactivate", "admin"]).exit_code == 0
