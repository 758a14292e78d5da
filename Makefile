# The two commands of the README: `make plan STACK=prod` and `make test`.
# The first run of either creates ./venv from requirements.txt; later runs reuse it.
PYTHON ?= python3
VENV := venv
BIN := $(VENV)/bin
STACK ?= prod
ARGS ?=

.PHONY: test plan graph bench lint clean schema mutate

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

schema: $(BIN)/.installed
	$(BIN)/python -m tools.config_schema --write

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Mutation testing (issue 11): mutmut mutates MODULES one change at a time and runs the tests
# that reach each change; a mutant no test notices is a promise no test holds. It runs in a
# copy of the work tree under build/mutate (mutmut reads its settings from setup.cfg there),
# so its mutants/ never lands beside the code. MODULES are files or packages under
# components/; MUTATE_TESTS selects the tests (default: the whole suite); KEEP=1 keeps the
# verdicts of the last run for unchanged functions instead of starting afresh. Triage of the
# survivors: docs/mutation-survivors.md.
MODULES ?= components/config components/proxy.py components/cloudinit.py components/network.py \
	components/database.py components/cache.py components/edge.py components/origin.py \
	components/monitoring.py components/backups.py
MUTATE_TESTS ?= tests
MUTATE_JOBS ?= 2
MUTATE_DIR := build/mutate
KEEP ?=

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

define MUTATE_CFG
[mutmut]
source_paths = components
only_mutate =
$(foreach m,$(MODULES),	$(if $(filter %.py,$(m)),$(m),$(m)/*)
)also_copy =
$(foreach f,$(filter-out components build mutants setup.cfg venv,$(notdir $(wildcard * .github .ci))),	$(f)
)pytest_add_cli_args_test_selection =
$(foreach t,$(MUTATE_TESTS),	$(t)
)use_git_change_detection = false
endef
export MUTATE_CFG

# Per module: killed / total, the survivors by name, and the summed time of its mutants'
# test runs (mutants run MUTATE_JOBS at a time; fail-fast, fastest tests first).
define MUTATE_REPORT
import json, pathlib, re
from collections import defaultdict
killed = {1, 3}
rows = defaultdict(lambda: {"killed": 0, "total": 0, "seconds": 0.0, "other": defaultdict(list)})
for meta in sorted(pathlib.Path("mutants/components").rglob("*.py.meta")):
    data = json.loads(meta.read_text())
    for key, code in data["exit_code_by_key"].items():
        module = re.split(r"\.x(?:_|\u01c1)", key, maxsplit=1)[0]
        row = rows[module]
        row["total"] += 1
        row["seconds"] += data.get("durations_by_key", {}).get(key) or 0.0
        if code in killed:
            row["killed"] += 1
        else:
            row["other"][{0: "survived", 33: "no tests", 5: "no tests"}.get(code, f"exit {code}")].append(key)
print(f"{'module':32} {'killed':>7} {'total':>6} {'score':>7} {'test time':>10}")
for module, row in sorted(rows.items()):
    score = 100.0 * row["killed"] / row["total"] if row["total"] else 0.0
    print(f"{module:32} {row['killed']:7} {row['total']:6} {score:6.1f}% {row['seconds']:9.0f}s")
for module, row in sorted(rows.items()):
    for status, keys in sorted(row["other"].items()):
        for key in keys:
            print(f"{status}: {key}")
endef
export MUTATE_REPORT

mutate: $(BIN)/.installed-dev
	mkdir -p $(MUTATE_DIR)
	find $(MUTATE_DIR) -mindepth 1 -maxdepth 1 ! -name mutants -exec rm -rf {} +
	git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - \
		| tar -xpf - -C $(MUTATE_DIR)
	printf '%s\n' "$$MUTATE_CFG" > $(MUTATE_DIR)/setup.cfg
	$(if $(KEEP),,rm -rf $(MUTATE_DIR)/mutants)
	cd $(MUTATE_DIR) && PATH="$(abspath $(BIN)):$$PATH" /usr/bin/time -f "mutmut run: %e s wall" \
		$(abspath $(BIN))/mutmut run --max-children $(MUTATE_JOBS) > mutmut.log 2>&1 \
		|| { tail -40 mutmut.log; exit 1; }
	@grep -E "mutations/second|wall" $(MUTATE_DIR)/mutmut.log | tail -2
	@cd $(MUTATE_DIR) && $(abspath $(BIN))/python -c "$$MUTATE_REPORT" | tee mutmut-report.txt
	@echo "Inspect one: cd $(MUTATE_DIR) && $(abspath $(BIN))/mutmut show <name>"

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
