# The README's commands. Each target bootstraps what it needs on a fresh clone: uv (installed with
# pip when missing), then the locked environment: `make run` only the service's runtime dependencies,
# every other target the whole environment (`uv sync --frozen`: dev and infra groups too).

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
ENSURE_UV := $(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv \
	|| python3 -m pip install --quiet --user --break-system-packages uv
RUN := $(UV) run --frozen

.PHONY: help sync run test lint fmt bench docs index eval eval-baseline bootstrap cost rename
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.venv/.synced: pyproject.toml uv.lock
	@$(ENSURE_UV)
	$(UV) sync --frozen
	@touch $@

sync: .venv/.synced ## install the locked environment into .venv

# The image's install step (runtime dependencies only), added to .venv without removing anything the
# other targets installed; the code is found on the path. A .env file, when there is one, is read.
RUNTIME_SYNC := $(UV) sync --frozen --no-default-groups --no-install-project --inexact

run: ## serve the API on http://127.0.0.1:8000 (PORT overrides); local stub when OPENAI_API_KEY is unset
	@$(ENSURE_UV)
	$(RUNTIME_SYNC)
	$(RUN) --no-sync $(if $(wildcard .env),--env-file .env) python -m service.local

bootstrap: .venv/.synced ## bring up a stack in AWS and wire GitHub to it: STACK=staging|prod (docs/deploying.md)
	$(RUN) python -m scripts.bootstrap --stack "$(STACK)" $(if $(DRY_RUN),--dry-run) $(if $(YES),--yes)

test: .venv/.synced ## run the whole test suite
	@bash scripts/ensure-system-tools.sh redis-server chromium
	@bash scripts/npm-ci.sh tests/service/api/node_sdk
	$(RUN) pytest $(PYTEST_ARGS)

lint: .venv/.synced ## ruff, mypy --strict, README and .env.example drift, hadolint, actionlint, zizmor
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) python scripts/render_settings_table.py --check
	UV="$(UV)" bash scripts/lint-ci.sh

index: .venv/.synced ## embed the knowledge base for /v1/answers (the local stub when OPENAI_API_KEY is unset)
	$(RUN) python -m service.answers index

eval: .venv/.synced ## evaluate retrieval Q&A on the stub against evals/baseline/stub.json (EVAL_ARGS adds options)
	$(RUN) python -m evals --baseline evals/baseline/stub.json $(EVAL_ARGS)

eval-baseline: .venv/.synced ## after a stack's first deploy: write evals/baseline/<STACK>.json from it, then commit it
	$(RUN) python -m evals.first_baseline $(STACK) $(EVAL_ARGS)

docs: .venv/.synced ## regenerate the README's configuration table, .env.example and the docs' cost figures
	$(RUN) python scripts/render_settings_table.py
	$(RUN) python -m infra.pricing --write

cost: .venv/.synced ## price a stack's AWS resources a month at minimum size: STACK=staging|prod (COST_ARGS="--set k=v")
	$(RUN) python -m infra.pricing $(STACK) $(COST_ARGS)

fmt: .venv/.synced ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

bench: .venv/.synced ## benchmark the service against the stub (prints a table; see README)
	@bash scripts/ensure-system-tools.sh wrk redis-server
	$(RUN) python -m bench

rename: .venv/.synced ## give the project a fork's own name, before its first deploy: NAME=acme-api
	$(RUN) python scripts/rename.py $(NAME)
