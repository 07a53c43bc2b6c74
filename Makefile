# Two commands do all setup on a fresh machine: `make demo` and `make test` (`make lint` for CI).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# CPU build of torch from the local wheel cache; an unpinned torch pulls CUDA (GBs).
TORCH   ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: demo test lint venv clean bench info

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test,ml,fftw,dev]" "$(TORCH)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hifft info
	$(BIN)/hifft run pipelines/demo.yaml

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (rules in pyproject.toml) over the repository, mypy over hifft/; both run, then fail if either did.
lint: $(STAMP)
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

info: $(STAMP)
	$(BIN)/hifft info

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_fft.py

clean:
	rm -rf $(VENV) out *.egg-info
