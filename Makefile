# The README's commands. Each target bootstraps what it needs on a fresh clone:
# uv (installed with pip when missing), then the locked environment (`uv sync --frozen`).

UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
endif
RUN := $(UV) run --frozen

.PHONY: help sync run test lint fmt bench docs index eval
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv \
		|| python3 -m pip install --quiet --user --break-system-packages uv
	$(UV) sync --frozen
	@touch $@

sync: .venv/.synced ## install the locked environment into .venv

run: .venv/.synced ## serve the API on http://127.0.0.1:8000 (PORT overrides); local stub when OPENAI_API_KEY is unset
	$(RUN) python -m service.local

test: .venv/.synced ## run the whole test suite
	@bash scripts/ensure-system-tools.sh redis-server
	$(RUN) pytest $(PYTEST_ARGS)

lint: .venv/.synced ## ruff, mypy --strict, README drift, hadolint, actionlint, zizmor
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) python scripts/render_settings_table.py --check
	UV="$(UV)" bash scripts/lint-ci.sh

index: .venv/.synced ## embed the knowledge base for /v1/answers (the local stub when OPENAI_API_KEY is unset)
	$(RUN) python -m service.answers index

eval: .venv/.synced ## evaluate retrieval Q&A on the stub against evals/baseline/stub.json (EVAL_ARGS adds options)
	$(RUN) python -m evals --baseline evals/baseline/stub.json $(EVAL_ARGS)

docs: .venv/.synced ## regenerate the README's configuration table from service/settings.py
	$(RUN) python scripts/render_settings_table.py

fmt: .venv/.synced ## apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

bench: .venv/.synced ## benchmark the service against the stub (prints a table; see README)
	@bash scripts/ensure-system-tools.sh wrk
	$(RUN) python -m bench
