# One command for the main job (`make demo`), one for the tests (`make test`).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install meltano-install lint test test-fast simulate demo settings dist clean fleet fleet-ui

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

# The dev virtualenv: the tap (editable) with pytest, ruff, mypy, duckdb, psycopg. Installed
# with uv (one wheel from pip first), bytecode compiled as pip would: the same packages as
# `pip install -e '.[dev]'` in 24 s instead of 46 s of wall clock (31 s of CPU instead of 42 s;
# a fresh .venv, the box's uv cache, 2026-12-04 21:03 UTC, load ~2-3). CI starts from a clean
# clone, so it pays this on every run.
install: $(STAMP)

# Meltano in .tools/meltano and every plugin of meltano.yml under .meltano/ (skips what is
# current; the integration tests and the demo call the same script).
meltano-install:
	$(PY) scripts/meltano_install.py

lint: $(STAMP)
	$(BIN)/ruff check tap_knowbe4 tests bench scripts orchestrate
	$(BIN)/ruff format --check tap_knowbe4 tests bench scripts orchestrate
	$(BIN)/mypy

# Lint, then every test under tests/ (the integration tests run Meltano into DuckDB and into
# a throwaway PostgreSQL cluster). Plugins are installed first, once, not by a test worker.
test: lint meltano-install
	$(BIN)/pytest -n 2 --dist loadgroup

# The quick loop while editing: unit and sandbox tests, no Meltano, no PostgreSQL, no slow
# modules; Hypothesis properties try a fifth of their examples (tests/property_examples.py);
# without the SDK's pytest plugin (it only parametrizes tests/test_core.py, a slow module, and
# would make every process assertion-rewrite the whole SDK). `make test` is what CI and a pull
# request run: every test, every example.
test-fast: $(STAMP)
	$(BIN)/pytest -n 2 -q -m "not integration and not slow" -p no:singer_testing --hypothesis-profile=fast

# The simulation across runs (tests/simulation): seeds for SECONDS (default 600) from a random
# first seed, or one SEED replayed exactly. By hand: /work/tools/heavy make simulate SECONDS=3600.
# JOBS sequences run at once (default 2: one per core).
SECONDS ?= 600
JOBS ?= 2
simulate: $(STAMP)
	$(BIN)/python -m tests.simulation $(if $(SEED),--seed $(SEED),--seconds $(SECONDS) --jobs $(JOBS))

# Sandbox (or the real API when TAP_KNOWBE4_API_KEY and TAP_KNOWBE4_REGION are set) ->
# meltano run tap-knowbe4 target-duckdb -> a short report from output/knowbe4*.duckdb.
demo:
	$(PY) scripts/demo.py

# A fleet of accounts: fleet.yml (format: fleet.example.yml) -> fleet.meltano.yml, one Meltano
# extractor per account, which meltano.yml includes (README "Many accounts").
fleet: meltano-install
	.tools/meltano/bin/python scripts/fleet.py

# Dagster's web UI and daemon over the fleet (orchestrate/): one partition per account. The UI
# gets a virtualenv of its own (.tools/dagster, scripts/dagster_install.py).
fleet-ui: fleet
	$(PY) scripts/dagster_install.py
	DAGSTER_HOME=$(CURDIR)/orchestrate .tools/dagster/bin/dagster dev -f orchestrate/definitions.py

# Regenerate what is derived from the tap (`--about`, the endpoint table, the schemas):
# meltano.yml's extractor and hub/tap-knowbe4.yml, the README's tables, the dbt sources.
settings: $(STAMP)
	$(BIN)/python scripts/meltano_settings.py
	$(BIN)/python scripts/update_readme_settings.py
	$(BIN)/python scripts/dbt_sources.py

# The tap's wheel and sdist, the target-duckdb wrapper's wheel, and Meltano definitions that
# install them (dist/tap-knowbe4.yml, dist/loaders/*.yml): README "Add it to your Meltano
# project". DIST=elsewhere writes them there.
DIST ?= dist
dist: $(STAMP)
	$(BIN)/python scripts/dist.py --outdir $(DIST)

clean:
	rm -rf $(VENV) .tools .meltano output
