# neural-style: `make demo` stylizes the sample photo, `make test` runs the tests.
# Everything goes into .venv, created with the first Python 3.12 ... 3.8 found.
# MXNet flavour: cu112 when nvidia-smi lists a GPU, else cpu; override with MXNET=cpu|cu112.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
MXNET_CHOSEN := $(if $(filter undefined,$(origin MXNET)),auto,given)
MXNET ?= $(shell nvidia-smi -L 2>/dev/null | grep -q '^GPU' && echo cu112 || echo cpu)
PYTHON_CANDIDATES := python3.12 python3.11 python3.10 python3.9 python3.8 python3 python
# Also the interpreters of pyenv, whose shims may refuse versions that are not selected.
PYTHON_CANDIDATES += $(sort $(wildcard $(HOME)/.pyenv/versions/3.1[0-2]*/bin/python3 $(HOME)/.pyenv/versions/3.[89].*/bin/python3))
DEMO_OUT := output/demo
MXNET_PACKAGE_cpu := mxnet
MXNET_PACKAGE_cu112 := mxnet-cu112

.PHONY: install weights demo test test-slow typecheck lint check bench dist clean help

help:
	@echo "make demo       install, fetch the weights, stylize input/cat.jpg with input/starry_night.jpg"
	@echo "make test       install and run the test suite"
	@echo "make test-slow  the slow tests: real VGG19 weights, big images, worker processes"
	@echo "make weights    fetch and verify models/vgg19.params"
	@echo "make check      lint (ruff check), formatting (ruff format --check) and types (mypy)"
	@echo "make typecheck  mypy over the package, the tests and the benchmarks"
	@echo "make bench      the speed benchmarks (benchmarks/)"
	@echo "make dist       build the sdist and the wheel into dist/"

$(PY):
	@py=""; for c in $(PYTHON_CANDIDATES); do \
	  if $$c -c 'import sys, venv; sys.exit(not (3, 8) <= sys.version_info[:2] <= (3, 12))' 2>/dev/null; then py=$$c; break; fi; \
	done; \
	if [ -z "$$py" ]; then \
	  echo "No Python 3.8-3.12 found (MXNet 1.9.1 needs numpy<2, which has no wheels for 3.13)."; \
	  echo "Install one, e.g. 'apt-get install python3.11-venv', 'pyenv install 3.12', or 'uv python install 3.12',"; \
	  echo "then run make again (or: make PYTHON_CANDIDATES=/path/to/python3.12)."; \
	  exit 1; \
	fi; \
	echo "Creating $(VENV) with $$py ($$($$py --version 2>&1))"; \
	$$py -m venv $(VENV)

# One stamp per flavour: switching flavours uninstalls the other (they are the same module).
$(VENV)/.installed-$(MXNET): $(PY) pyproject.toml constraints.txt
	@case "$(MXNET)" in cpu|cu112) ;; *) echo "MXNET must be cpu or cu112, not '$(MXNET)'"; exit 2;; esac
	@if [ "$(MXNET_CHOSEN)" = auto ] && [ "$(MXNET)" = cpu ]; then \
	  echo "Installing the CPU build of MXNet: nvidia-smi lists no GPU here. On a cluster login node"; \
	  echo "whose compute nodes have GPUs, install the GPU build instead: make install MXNET=cu112"; \
	  echo "(or: pip install -c constraints.txt '.[cu112]')."; \
	fi
	rm -f $(VENV)/.installed-*
	$(PY) -m pip uninstall -y -q $(filter-out $(MXNET_PACKAGE_$(MXNET)),mxnet mxnet-cu112) 2>/dev/null || true
	$(PY) -m pip install -q --upgrade pip -c constraints.txt
	$(PY) -m pip install -q -c constraints.txt -e '.[$(MXNET),test]'
	touch $@

install: $(VENV)/.installed-$(MXNET)

models/vgg19.params: | install
	PYTHON=$(PY) scripts/download_vgg.sh

weights: install
	PYTHON=$(PY) scripts/download_vgg.sh

demo: install weights
	$(VENV)/bin/neural-style --content-image input/cat.jpg --style-image input/starry_night.jpg \
	  --max-long-edge 256 --output-dir $(DEMO_OUT) --output $(DEMO_OUT)/cat_starry_night.jpg --seed 0
	@echo "Done: the result is $(DEMO_OUT)/cat_starry_night.jpg (snapshots beside it)"

test: install
	$(PY) -m pytest

test-slow: install weights
	$(PY) -m pytest -m slow

# The checked tree: the package, its tests and the benchmarks (docs/ scripts are linted too).
CHECKED := neural_style tests benchmarks

typecheck: install
	$(PY) -m mypy $(CHECKED)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

check: lint typecheck

bench: install weights
	$(PY) benchmarks/epoch_speed.py
	$(PY) benchmarks/batch_throughput.py
	$(PY) benchmarks/precision_quality.py --floor

dist: $(PY)
	$(PY) -m pip install -q -c constraints.txt build
	rm -rf dist
	$(PY) -m build --outdir dist .

clean:
	rm -rf $(VENV) output .pytest_cache *.egg-info dist build
