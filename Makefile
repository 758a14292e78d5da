# The two commands of the README: `make plan STACK=prod` and `make test`.
# The first run of either creates ./venv from requirements.txt; later runs reuse it.
PYTHON ?= python3
VENV := venv
BIN := $(VENV)/bin
STACK ?= prod
ARGS ?=

.PHONY: test plan graph bench lint clean schema mutate mutate-each

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# Two workers (this is a 2-core machine), one test file per worker at a time so a file's
# cached recordings serve all its tests.
test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/pytest -n 2 --dist loadfile

plan: $(BIN)/.installed
	@$(BIN)/python -m tools.plan $(STACK) $(ARGS)

graph: $(BIN)/.installed
	$(BIN)/python -m tools.graph $(STACK)

bench: $(BIN)/.installed
	$(BIN)/python -m tools.dev.bench

schema: $(BIN)/.installed
	$(BIN)/python -m tools.dev.config_schema --write

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Mutation testing: mutmut mutates MODULES one change at a time and runs the tests
# that reach each change; a mutant no test notices is a promise no test holds. It runs in a
# copy of the work tree under build/mutate (mutmut reads its settings from setup.cfg there),
# so its mutants/ never lands beside the code. MODULES are files or packages under
# components/; MUTATE_TESTS selects the tests (default: the whole suite); KEEP=1 keeps the
# verdicts of the last run for unchanged functions instead of starting afresh, and with
# MUTANTS="name or glob ..." retests just those (e.g. the survivors, after adding tests).
# Triage of the survivors: docs/mutation-survivors.md.
# Mutants run in children of a fork server that has only collected the tests: a process that
# has run the program keeps asyncio's thread pool, and a child forked from it waits forever
# on threads it does not have. Timeouts: (the mutant's tests' time in the stats run + 30 s) x 3.
MODULES ?= components/config components/render/nginx.py components/render/cloudinit.py components/cloud/network.py \
	components/cloud/database.py components/cloud/cache.py components/cloud/edge.py components/cloud/origin.py \
	components/cloud/monitoring.py components/cloud/backups.py
MUTATE_TESTS ?= tests
MUTATE_JOBS ?= 2
MUTATE_DIR := build/mutate
KEEP ?=
MUTANTS ?=

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
process_isolation = forkserver
timeout_constant = 30
timeout_multiplier = 3
endef
export MUTATE_CFG

# Per module: killed / total and the mutants not killed, by name and status (survived, no
# tests, timeout: a mutant that hangs or loops, to triage like a survivor). The wall time of
# the whole run is the line above the table.
define MUTATE_REPORT
import json, pathlib, re
from collections import defaultdict
status = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout",
          152: "timeout", 255: "timeout", -9: "killed by a signal", -11: "segfault", None: "not checked"}
rows = defaultdict(lambda: {"killed": 0, "total": 0, "other": defaultdict(list)})
for meta in sorted(pathlib.Path("mutants/components").rglob("*.py.meta")):
    data = json.loads(meta.read_text())
    for key, code in data["exit_code_by_key"].items():
        module = re.split(r"\.x(?:_|\u01c1)", key, maxsplit=1)[0]
        row = rows[module]
        row["total"] += 1
        if code in (1, 3):
            row["killed"] += 1
        else:
            row["other"][status.get(code, f"exit {code}")].append(key)
print(f"{'module':32} {'killed':>7} {'total':>6} {'score':>7}  not killed")
for module, row in sorted(rows.items()):
    score = 100.0 * row["killed"] / row["total"] if row["total"] else 0.0
    rest = ", ".join(f"{len(keys)} {what}" for what, keys in sorted(row["other"].items()))
    print(f"{module:32} {row['killed']:7} {row['total']:6} {score:6.1f}%  {rest}")
for module, row in sorted(rows.items()):
    for what, keys in sorted(row["other"].items()):
        for key in keys:
            print(f"{what}: {key}")
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
		$(abspath $(BIN))/mutmut run --max-children $(MUTATE_JOBS) $(MUTANTS) > mutmut.log 2>&1 \
		|| { tail -40 mutmut.log; exit 1; }
	@grep -E "mutations/second|wall" $(MUTATE_DIR)/mutmut.log | tail -2
	@cd $(MUTATE_DIR) && $(abspath $(BIN))/python -c "$$MUTATE_REPORT" | tee mutmut-report.txt
	@echo "Inspect one: cd $(MUTATE_DIR) && $(abspath $(BIN))/mutmut show <name>"

# The measured run behind docs/mutation-survivors.md, per module of tools/dev/mutate-tests.txt
# (ONLY="proxy edge" picks some): mutmut against the module's cheap test files, then each
# survivor against all its files (tools/dev/mutate_recheck.py); the tally is build/mutate-<module>/recheck.txt.
# SAMPLE=N rechecks a seeded sample of N survivors and estimates the score (with its 95% interval).
mutate-each: $(BIN)/.installed-dev
	@grep -v '^#' tools/dev/mutate-tests.txt | while IFS=: read -r mod tests; do \
		case " $(ONLY) " in "  ") ;; *" $${mod##*/} "*) ;; *) continue ;; esac; \
		path=components/$$mod.py; [ -d components/$$mod ] && path=components/$$mod; \
		cheap=$$(for t in $${tests%%|*}; do printf 'tests/%s.py ' $$t; done); \
		all=$$(for t in $$(echo "$$tests" | tr -d '|'); do printf 'tests/%s.py ' $$t; done); \
		echo "== $$mod"; \
		$(MAKE) --no-print-directory mutate MODULES=$$path MUTATE_DIR=build/mutate-$${mod##*/} MUTATE_TESTS="$$cheap" \
			&& $(BIN)/python -m tools.dev.mutate_recheck $(if $(SAMPLE),--sample $(SAMPLE)) build/mutate-$${mod##*/} $$all || exit 1; \
	done

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache

# Operations on a deployed stack (tools/ops.py, docs/operations.md). They read
# the stack outputs through the Automation API (tools/stackapi.py, never --show-secrets) and reach the droplets over ssh as deploy:
#   make exec STACK=prod CMD="python manage.py createsuperuser"   # release env, first droplet
#   make logs STACK=prod PROCESS=web                               # every droplet running it
#   make ssh STACK=prod DROPLET=1
# ARGS adds options (--dry-run; logs: --tail N, --no-follow). The command goes in CMD, raw
# ($(value): no make expansion), single-quoted for the shell: words after `--` would reach make
# as goals (`test`, `clean` would run), lose their quotes and VAR=value, so they are refused.
.PHONY: exec logs ssh
ifeq (exec,$(firstword $(MAKECMDGOALS)))
ifneq (,$(word 2,$(MAKECMDGOALS)))
$(error make cannot pass the words after `--` intact (quotes, VAR=value and target names such as `test` are make's); write: make exec STACK=$(STACK) CMD="$(wordlist 2,$(words $(MAKECMDGOALS)),$(MAKECMDGOALS))")
endif
endif

exec: $(BIN)/.installed
	@$(BIN)/python -m tools.ops exec --stack '$(STACK)' $(ARGS) --command='$(subst ','\'',$(value CMD))'

logs: $(BIN)/.installed
	@$(BIN)/python -m tools.ops logs --stack '$(STACK)' --process '$(PROCESS)' $(ARGS)

ssh: $(BIN)/.installed
	@$(BIN)/python -m tools.ops ssh --stack '$(STACK)' --droplet '$(or $(DROPLET),0)' $(ARGS)

# Operator's commands on Pulumi's Automation API (tools/stackapi.py; README "Operating a stack"):
#   make rollback STACK=prod [ARGS="--to 41 | --list | --dry-run | --yes"]
#   make doctor STACK=prod
#   make refresh-prices            # DIGITALOCEAN_TOKEN: rewrites tools/data/prices.yaml
.PHONY: rollback doctor refresh-prices
rollback: $(BIN)/.installed
	@$(BIN)/python -m tools.rollback --stack '$(STACK)' $(ARGS)

doctor: $(BIN)/.installed
	@$(BIN)/python -m tools.doctor --stack '$(STACK)' $(ARGS)

refresh-prices: $(BIN)/.installed
	@$(BIN)/python -m tools.refresh_prices $(ARGS)
