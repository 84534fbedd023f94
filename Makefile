# gapmap: two commands on a fresh machine — `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test install bench lint clean sample

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[test,dev]"
	touch $(STAMP)

install: $(STAMP)

## Start the dashboard on the bundled synthetic sample data (`streamlit run dashboard.py` plus a
## thread that fills the Overview's shared caches while the first browser loads the page).
run: $(STAMP)
	$(PY) -m app_pages._warm --server.headless true --browser.gatherUsageStats false

## Install everything and run the whole test suite.
test: $(STAMP)
	$(VENV)/bin/pytest -q

## Benchmarks print figures; copy them into BENCHMARKS.md.
bench: $(STAMP)
	$(PY) -m bench.run_all

lint: $(STAMP)
	$(VENV)/bin/ruff check .

## Regenerate the bundled synthetic sample (seeded, deterministic).
sample: $(STAMP)
	$(PY) -m data.generate

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
