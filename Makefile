# tamga: `make demo` runs the platform on its embedded defaults; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-deps demo serve test lint typecheck unit bench bench-deps clean
FONT := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

install: system-deps $(STAMP)

# Debian packages the platform needs at run time: the fonts of the transit accompanying document.
system-deps:
	@test -f $(FONT) || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core)

$(STAMP): pyproject.toml package.json package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund
	touch $(STAMP)

# Seeds var/tamga.db, serves HTTP on 127.0.0.1:8000, EGTS on 5020 and Wialon IPS on 5021 (MQTT when
# TAMGA_MQTT_URL is set), drives trucks under seal through the gateways at 600x, serves until Ctrl-C.
demo: install
	$(VENV)/bin/tamga demo

serve: install
	$(VENV)/bin/tamga serve

lint: install
	$(VENV)/bin/ruff check src tests bench scripts
	$(VENV)/bin/ruff format --check src tests bench scripts

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(PY) -m pytest -q

test: lint typecheck unit

# The issues' benchmarks (clearance.py runs clearance_risk.py and clearance_tariff.py, which also run alone).
BENCHES := transit_api monitoring clearance tax rates_lookup

# monitoring.py's baseline (b) is PostGIS answering the corridor question: Debian's package for the
# PostgreSQL of this machine (15), when apt can install it; without it that part reports null.
POSTGIS := /usr/share/postgresql/15/extension/postgis.control

bench-deps:
	@test -f $(POSTGIS) || ! command -v apt-get >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-postgis-3) || echo "PostGIS could not be installed: monitoring.py will say so"

bench: install bench-deps
	@for b in $(BENCHES); do echo "== bench/$$b.py"; $(PY) bench/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
