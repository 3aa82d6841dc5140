"""`tamga rates import`, `show` and `load-samples` against a real database."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.rates.fixtures import cbr_xml, nbrb_json
from typer.testing import CliRunner

from tamga.cli import app


def test_import_detects_the_format_and_refuses_a_clash(cli: CliRunner, tmp_path: Path) -> None:
    day = date(2033, 6, 7)
    xml = tmp_path / "XML_daily.asp"
    xml.write_bytes(cbr_xml(day))
    first = cli.invoke(app, ["rates", "import", str(xml)])
    assert first.exit_code == 0, first.output
    assert "CBR 2033-06-07" in first.output and "4 added" in first.output
    again = cli.invoke(app, ["rates", "import", str(xml), "--authority", "cbr"])
    assert again.exit_code == 0 and "0 added, 4 unchanged" in again.output

    xml.write_bytes(cbr_xml(day, usd="80,0000"))
    clash = cli.invoke(app, ["rates", "import", str(xml)])
    assert clash.exit_code == 2 and "body.USD" in clash.output
    replaced = cli.invoke(app, ["rates", "import", str(xml), "--replace"])
    assert replaced.exit_code == 0 and "replaced USD" in replaced.output

    shown = cli.invoke(app, ["rates", "show", "--authority", "CBR", "--date", "2033-06-09"])
    assert shown.exit_code == 0 and "80.0000" in shown.output and "0.498237" in shown.output
    nothing = cli.invoke(app, ["rates", "show", "--authority", "cbr", "--date", "2033-07-09"])
    assert nothing.exit_code == 1


def test_import_of_a_malformed_file_names_the_field(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "rates.json"
    path.write_bytes(nbrb_json(date(2033, 6, 8)).replace(b'"Cur_Scale": 100', b'"Cur_Scale": -1'))
    result = cli.invoke(app, ["rates", "import", str(path), "--authority", "nbrb"])
    assert result.exit_code == 2 and "body[1].Cur_Scale" in result.output


def test_load_samples(cli: CliRunner) -> None:
    result = cli.invoke(app, ["rates", "load-samples"])
    assert result.exit_code == 0 and "sample rates added" in result.output
    again = cli.invoke(app, ["rates", "load-samples"])
    assert again.exit_code == 0 and "0 sample rates added" in again.output
