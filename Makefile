# The front door. Every target sets itself up on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: run test lint typecheck unit soak bench build synth models clean venv

# localcore is its own distribution (./localcore); the bundle depends on it, so it goes in first.
$(STAMP): pyproject.toml localcore/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e './localcore[cloud,view,testing]'
	$(PY) -m pip install -q -e '.[dev,infra,console]'
	@touch $(STAMP)

venv: $(STAMP)

# Under nucleus lite (ARGS="--nucleus lite") the deployment names no ShadowManager, which lite cannot resolve.
DEPLOYMENT ?= $(if $(findstring --nucleus lite,$(ARGS)),deployments/lite.yaml,deployments/local.yaml)
CONSOLE ?= on

## run: the whole bundle on simulated hardware against the embedded cloud (ARGS="--duration 60"; "--nucleus lite"); prints the web console's URL (CONSOLE=off: none)
run: $(STAMP)
	BUNDLE_CONSOLE=$(CONSOLE) $(PY) -m localcore run --recipes recipes --root .localcore --thing-name dev-1 --deployment $(DEPLOYMENT) --view $(ARGS)

## test: lint, type-check and the whole test suite (what CI runs)
test: lint typecheck unit

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy localcore components bundlespec bundlebuild bundledev infra models benchmarks tests

# The console's browser tests drive Debian's headless Chromium (they skip, saying so, without it).
unit: $(STAMP)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) || echo "no chromium: the console's browser tests will skip"
	$(PY) -m pytest

## soak: the long whole-system runs
soak: $(STAMP)
	$(PY) -m pytest -m soak -o addopts='-q -p no:cacheprovider'

## bench: every benchmark, each printing a table
bench: $(STAMP)
	@command -v mosquitto >/dev/null || (apt-get update -qq && apt-get install -y -qq mosquitto)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## synth: the cloud assembly into cdk.out/, offline, cdk-nag checked (deploy: see docs/cloud.md)
synth: $(STAMP)
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(PY) -m infra.app

## models: retrain and re-export the models (a separate .venv-train with TensorFlow; the runtime never needs it)
TRAIN_VENV := .venv-train
$(TRAIN_VENV)/.installed:
	@test -x $(TRAIN_VENV)/bin/python || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/pip install -q 'tensorflow-cpu>=2.16' 'numpy>=1.23' 'ai-edge-litert>=1.2' 'msgspec>=0.18'
	@touch $@

models: $(TRAIN_VENV)/.installed
	PYTHONPATH=. $(TRAIN_VENV)/bin/python models/train.py $(ARGS)

## build: greengrass-build/ in GDK's layout, per-component zips (ARGS="--arch aarch64 --arch amd64": device wheels for CPython 3.11 and 3.13)
build: $(STAMP)
	$(PY) -m bundlebuild.build $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache greengrass-build cdk.out .localcore
