# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench bench-dashboard bench-webhook clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bot run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Every benchmark against freshly started services; writes bench/RESULTS.md (under 15 minutes on
# 2 cores). BENCH_ARGS=--quick for small sizes, --only webhook,admin,sending,insights for some.
bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

bench-dashboard: $(STAMP)
	$(BIN)/python bench/dashboard.py

bench-webhook: $(STAMP)
	$(BIN)/python bench/webhook.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
