# Two commands set everything up on a fresh machine (each creates/refreshes .venv as needed):
#   make sample   - sample 100 molecules with the shipped checkpoint into samples/quickstart.sdf
#   make test     - run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gen3d-installed
# CPU build of torch by default (~200 MB instead of several GB of CUDA libraries).
# For CUDA: make TORCH_INDEX=https://download.pytorch.org/whl/cu128 test
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: install sample test benchmark clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --retries 1 --extra-index-url $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

sample: $(STAMP)
	$(BIN)/gen3d molecules sample --n 100 --out samples/quickstart.sdf --seed 0

test: $(STAMP)
	$(BIN)/python -m pytest

benchmark: $(STAMP)
	$(BIN)/python benchmarks/sample_molecules.py

clean:
	rm -rf $(VENV) build *.egg-info
