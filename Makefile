# Two commands on a fresh machine with Python 3.11: `make train` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup train test test-all lint bench images

# Idempotent set-up: a venv with the pinned requirements and the package (editable).
setup: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

# The main job: DynaMITE-RL on the 21-goal GridNavi, where a belief is worth most (the
# best memoryless policy gets -2.9), on an embedded local Ray;
# it ends with its greedy evaluation beside scripted references on the same episodes.
train: $(STAMP)
	$(BIN)/rllib-dynamite train --env rllib_dynamite/GridNavi-v0 --preset dynamite \
		--stop-timesteps 650000 --eval-interval 200 --eval-episodes 100 \
		--output results/quickstart

# The default test run (CI): everything but the `slow` studies.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

# Everything, including the end-to-end learning test (several minutes).
test-all: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# The benchmarks of docs/benchmarks.md, in its order: env and training throughput,
# where an iteration's time goes, time to solve, scaling over env runners. Kept to
# about 25 minutes on 2 CPUs (estimated from the timings there): time to solve stops
# at 200k env steps (docs/benchmarks.md runs it to 600k). Run it on an idle machine:
# anything beside it distorts the figures. Studies are not benchmarks: calibration is
# `tune_configs/calibration/`, offline GridNavi `benchmarks/offline_gridnavi.py`
# (docs/offline.md).
bench: $(STAMP)
	$(BIN)/python benchmarks/env_throughput.py
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/profile_iteration.py
	$(BIN)/python benchmarks/gru.py
	$(BIN)/python benchmarks/time_to_solve.py --max-timesteps 200000 --eval-interval 20
	$(BIN)/python benchmarks/scaling.py

images: $(STAMP)
	MUJOCO_GL=egl $(BIN)/python scripts/render_envs.py
