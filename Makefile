# Entry points for a fresh machine with only Python 3.11+ and make:
#   make demo   runs the main job
#   make test   runs lint, format check and strict types once, then the whole test suite under
#               every supported Python (the pyproject classifiers) in its own .venv-3.N;
#               a missing version is skipped, or fails under CI=true (tools/pythons.py);
#               under CI=true it installs Chromium with apt-get for the browser tests when it
#               is missing (tools/chromium.py)
#   make check  lint, format check, strict types and the test suite on .venv only (landing gate)
PYTHON  ?= python3
# The extras every virtual environment gets (.venv and each .venv-3.N): the one place to add one.
EXTRAS  := dev,serve,gm,metrics,postgres
# Empty: every version in the classifiers. Set it to run fewer, e.g. make test PYTHONS=3.13
PYTHONS ?=
VENV    := .venv
BIN     := $(VENV)/bin
comma   := ,
# The stamp names the extras, so adding one reinstalls.
STAMP   := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: demo test check lint types pytest schemas bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/deltafed demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(PYTHON) tools/chromium.py
	$(BIN)/python tools/pythons.py --extras '$(EXTRAS)' $(if $(PYTHONS),--versions $(PYTHONS)) -- -q

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

schemas: $(STAMP)
	$(BIN)/deltafed schemas export docs/schemas

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .venv-3.* .mypy_cache .pytest_cache .ruff_cache build dist
