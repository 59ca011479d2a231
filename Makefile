# Two commands do all set-up on a fresh machine:
#   make demo   create .venv, install brainsim, run the flagship scenario (12-AX) in quick mode
#   make test   create/update .venv, install brainsim[test] and the example plugin (examples/plugin), lint, run the tests
#   make lint   check that the layers point one way (import-linter contracts in pyproject.toml), ruff check
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint venv bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml examples/plugin/pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]' -e examples/plugin
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/brainsim run twelve_ax --quick --force --out runs/demo
	@echo "open runs/demo/report.html"

lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadfile -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) runs .pytest_cache .import_linter_cache
