# Two commands on a fresh machine: `make demo` runs the main job, `make test` runs every check.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint typecheck pytest notebooks benchmark clean venv docs graphviz schemas

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "installing python3 and build tools with apt-get"; \
	  apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-dev gcc >/dev/null; }
	@command -v gcc >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq gcc python3-dev >/dev/null; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/painreason validate
	$(BIN)/painreason diagnose knowledge/examples/cauda_equina.yaml

lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/ruff format --check

typecheck: $(STAMP)
	$(BIN)/mypy

# graphviz's `dot` renders trace graphs as SVG (notebook, export tests); without it graphs fall
# back to Mermaid and the rendering tests skip, so a failed install does not stop the run.
graphviz:
	@command -v dot >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq graphviz >/dev/null; } \
	  || echo "graphviz not installed: trace graphs fall back to Mermaid"

pytest: $(STAMP) graphviz
	$(BIN)/pytest -q -n 2 --dist loadfile

notebooks: $(STAMP) graphviz
	@if ls docs/notebooks/*.ipynb >/dev/null 2>&1; then $(BIN)/pytest -q -p no:cacheprovider --nbmake docs/notebooks; fi

test: lint typecheck pytest notebooks

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

docs: $(STAMP) schemas
	$(BIN)/python -m painreason._docgen > docs/knowledge.md

schemas: $(STAMP)
	$(BIN)/python -m painreason._schemas schemas
