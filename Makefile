# The two commands of the README: `make plan STACK=prod` and `make test`.
# The first run of either creates ./venv from requirements.txt; later runs reuse it.
PYTHON ?= python3
VENV := venv
BIN := $(VENV)/bin
STACK ?= prod
ARGS ?=

.PHONY: test plan graph bench lint clean

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/pytest

plan: $(BIN)/.installed
	@$(BIN)/python -m tools.plan $(STACK) $(ARGS)

graph: $(BIN)/.installed
	$(BIN)/python -m tools.graph $(STACK)

bench: $(BIN)/.installed
	$(BIN)/python -m tools.bench

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
